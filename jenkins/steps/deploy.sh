#!/usr/bin/env bash
# Deploys this build's release to one environment: publishes the current pointer package.sh
# signed for it (pointer.json), after checking it against the release public key and that it is
# newer than the pointer in place. Every instance's deployer checks it the same way, sees the
# pointer move within its poll interval and the fleet rolls, one instance at a time under the
# fleet lease (deployer/README.md). Jenkins runs this under the environment's lock, behind a
# milestone; an older build's pointer is refused here and by every deployer anyway.
#
#   OWP_DEPLOYER_ENVIRONMENT   the environment (leases/<environment>/ in the bucket)
#   OWP_DEPLOYER_BUCKET        its releases bucket (default owp-<environment>-releases-<account>)
#   OWP_RELEASE_PUBLIC_KEY     path of the release public key the instances trust
set -euo pipefail
# shellcheck source=jenkins/steps/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need OWP_RELEASE_PUBLIC_KEY
use_releases_bucket
pointer="$OWP_PIPELINE_DIR/pointer.json"
[ -s "$pointer" ] || die "no signed pointer in $OWP_PIPELINE_DIR: package.sh signs one when OWP_DEPLOYER_ENVIRONMENT is set"

deployer="$(deployer_bin)"
say "fleet before the deploy ($OWP_DEPLOYER_ENVIRONMENT)"
"$deployer" status --public-key "$OWP_RELEASE_PUBLIC_KEY"
say "deployer publish --pointer (release $(release_version))"
"$deployer" publish --release-version "$(release_version)" --pointer "$pointer" \
  --public-key "$OWP_RELEASE_PUBLIC_KEY"
