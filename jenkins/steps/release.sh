#!/usr/bin/env bash
# main's release: builds in a target directory made fresh for this run (never the agents' shared
# build cache, which branch builds write), packages and signs the release and its current
# pointer (package.sh), and keeps the deployer it built next to the tarball, for the later
# stages. Jenkins runs this on an agent only main's pipeline uses, the only place the release
# key is bound.
#
#   jenkins/steps/release.sh [--reuse-target]
#   OWP_RELEASE_SECRET_KEY, OWP_DEPLOYER_ENVIRONMENT   as package.sh needs them
#   --reuse-target   build in $CARGO_TARGET_DIR as it is (the dry run on a laptop, whose cache
#                    no one else writes); never in Jenkins
set -euo pipefail
# shellcheck source=jenkins/steps/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo"
need OWP_RELEASE_SECRET_KEY OWP_DEPLOYER_ENVIRONMENT

if [ "${1:-}" != --reuse-target ]; then
  # mktemp makes a new, empty directory only this user can write: nothing compiled before (by
  # any branch) can end up in what the release key signs.
  CARGO_TARGET_DIR="$(mktemp -d "${TMPDIR:-/tmp}/owp-release-target.XXXXXX")"
  export CARGO_TARGET_DIR
  trap 'rm -rf "$CARGO_TARGET_DIR"' EXIT
  say "building in a fresh target directory, $CARGO_TARGET_DIR"
fi
"$steps_dir/build.sh"
"$steps_dir/package.sh"
# The later stages run this deployer, not one from the shared cache.
mkdir -p "$OWP_PIPELINE_DIR/tools"
install -m 0755 "$CARGO_TARGET_DIR/deployer-size/release/deployer" "$OWP_PIPELINE_DIR/tools/deployer"
say "release $(release_version) signed, with its pointer for $OWP_DEPLOYER_ENVIRONMENT"
