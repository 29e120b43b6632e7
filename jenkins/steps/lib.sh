#!/usr/bin/env bash
# Shared by the pipeline's step scripts: the repository's helpers, where one build's artefacts
# live between steps, the release version of this build, and the deployer binary. Sourced,
# never run. Every step runs the same in Jenkins and on a laptop; what differs (credentials,
# bucket, URLs) comes from the environment.

# A failing command inside $(...) fails the step too, not just yields an empty string.
shopt -s inherit_errexit

steps_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$steps_dir/../.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$repo/scripts/lib.sh"

# One build's artefacts: the tarball and its version, handed from Package to the later steps
# (Jenkins runs each step in a new shell, possibly after a restart of the stage).
OWP_PIPELINE_DIR="${OWP_PIPELINE_DIR:-$repo/target/pipeline}"

# The deployer that packages, publishes and reports: the one release.sh kept from main's clean
# release build, else the size-optimised build the release ships (built by build.sh), else one
# on the PATH (an operator's machine, an instance).
deployer_bin() {
  local kept="$OWP_PIPELINE_DIR/tools/deployer" built="$CARGO_TARGET_DIR/deployer-size/release/deployer"
  if [ -x "$kept" ]; then
    printf '%s\n' "$kept"
  elif [ -x "$built" ]; then
    printf '%s\n' "$built"
  elif command -v deployer >/dev/null 2>&1; then
    command -v deployer
  else
    die "no deployer binary: run jenkins/steps/build.sh"
  fi
}

# The version of the release this build packaged (written by package.sh).
release_version() {
  [ -s "$OWP_PIPELINE_DIR/VERSION" ] || die "no packaged release in $OWP_PIPELINE_DIR: run jenkins/steps/package.sh"
  cat "$OWP_PIPELINE_DIR/VERSION"
}

release_tarball() {
  local version
  version="$(release_version)"
  printf '%s\n' "$OWP_PIPELINE_DIR/owp-$version.tar.gz"
}

# The environment's releases bucket, unless OWP_DEPLOYER_BUCKET names one: terraform names it
# owp-<environment>-releases-<account id> (modules/releases), so the agent's credentials say
# which. Exported for the deployer.
use_releases_bucket() {
  need OWP_DEPLOYER_ENVIRONMENT
  if [ -z "${OWP_DEPLOYER_BUCKET:-}" ]; then
    OWP_DEPLOYER_BUCKET="owp-$OWP_DEPLOYER_ENVIRONMENT-releases-$(aws sts get-caller-identity --query Account --output text)"
  fi
  export OWP_DEPLOYER_BUCKET OWP_DEPLOYER_ENVIRONMENT
}

# need VARIABLE...: die naming every unset one, so a misconfigured job says what it lacks.
need() {
  local missing=() name
  for name in "$@"; do
    [ -n "${!name:-}" ] || missing+=("$name")
  done
  ((${#missing[@]} == 0)) || die "set ${missing[*]} (see jenkins/README.md)"
}
