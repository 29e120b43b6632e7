#!/usr/bin/env bash
# Packages this build's release: the binaries build.sh made, the systemd units, the default
# configuration and the migrations, in owp-<version>.tar.gz with a manifest signed by the
# release key (`deployer package`); then, with OWP_DEPLOYER_ENVIRONMENT set, signs the current
# pointer that deploys it there (`deployer sign-pointer`: pointer.json, published by deploy.sh,
# which never sees the key). Leaves the tarball, VERSION and pointer.json in $OWP_PIPELINE_DIR
# for the later steps.
#
#   jenkins/steps/package.sh [--throwaway-key]
#   OWP_RELEASE_SECRET_KEY   path of the minisign secret key (Jenkins: a secret file credential;
#                            OWP_DEPLOYER_SECRET_KEY_PASSWORD when the key is encrypted)
#   --throwaway-key          sign with a key made for this run instead (branch builds: proves
#                            the packaging works; no instance trusts the result)
#   OWP_RELEASE_VERSION      the version; default <workspace version>-<build>.g<commit>, where
#                            <build> is b$BUILD_NUMBER in Jenkins, else local<unix time>
set -euo pipefail
# shellcheck source=jenkins/steps/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo"
if [ "${1:-}" = --throwaway-key ]; then
  mkdir -p "$OWP_PIPELINE_DIR"
  OWP_RELEASE_SECRET_KEY="$OWP_PIPELINE_DIR/throwaway.key"
  rm -f "$OWP_RELEASE_SECRET_KEY" "$OWP_PIPELINE_DIR/throwaway.pub"
  "$(deployer_bin)" keygen --secret-key "$OWP_RELEASE_SECRET_KEY" --public-key "$OWP_PIPELINE_DIR/throwaway.pub"
fi
need OWP_RELEASE_SECRET_KEY

commit="$(git rev-parse HEAD)"
if [ -z "${OWP_RELEASE_VERSION:-}" ]; then
  workspace_version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
  # Versions are unique per build: releases are create-only in S3, and the build number (or the
  # time, on a laptop) keeps a rebuild of one commit from colliding with the first build.
  build="${BUILD_NUMBER:+b$BUILD_NUMBER}"
  OWP_RELEASE_VERSION="$workspace_version-${build:-local$(date +%s)}.g${commit:0:9}"
fi

# Every binary target of the workspace but the benchmarks': a service added later ships without
# editing this file, and no instance carries a load generator.
mapfile -t bins < <(cargo metadata --locked --no-deps --format-version 1 | python3 -c '
import json, sys
for package in json.load(sys.stdin)["packages"]:
    if package["name"] == "owp-bench":
        continue
    for target in package["targets"]:
        if "bin" in target["kind"]:
            print(target["name"])' | sort -u)

# deployer package takes the binaries from one directory; the deployer comes from its own build.
stage="$OWP_PIPELINE_DIR/bin"
rm -rf "$stage"
mkdir -p "$stage"
for bin in "${bins[@]}"; do
  source_bin="$CARGO_TARGET_DIR/release/$bin"
  [ "$bin" != deployer ] || source_bin="$CARGO_TARGET_DIR/deployer-size/release/deployer"
  [ -x "$source_bin" ] || die "$source_bin is missing: run jenkins/steps/build.sh"
  ln -s "$source_bin" "$stage/$bin"
done

say "deployer package $OWP_RELEASE_VERSION (${bins[*]})"
rm -f "$OWP_PIPELINE_DIR"/owp-*.tar.gz "$OWP_PIPELINE_DIR/VERSION" "$OWP_PIPELINE_DIR/pointer.json"
"$(deployer_bin)" package --release-version "$OWP_RELEASE_VERSION" \
  --bins "$(IFS=,; echo "${bins[*]}")" --bin-dir "$stage" \
  --secret-key "$OWP_RELEASE_SECRET_KEY" --out-dir "$OWP_PIPELINE_DIR"
printf '%s\n' "$OWP_RELEASE_VERSION" >"$OWP_PIPELINE_DIR/VERSION"
if [ -n "${OWP_DEPLOYER_ENVIRONMENT:-}" ]; then
  # Signed now, where the key is; its sequence is this moment, so a pointer signed by a later
  # build supersedes it and it can never be replayed over that one.
  "$(deployer_bin)" sign-pointer --tarball "$OWP_PIPELINE_DIR/owp-$OWP_RELEASE_VERSION.tar.gz" \
    --environment "$OWP_DEPLOYER_ENVIRONMENT" --secret-key "$OWP_RELEASE_SECRET_KEY" \
    --out "$OWP_PIPELINE_DIR/pointer.json"
fi
