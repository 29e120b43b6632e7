#!/usr/bin/env bash
# Deploys this build's release to one environment: makes the uploaded release current. Every
# instance's deployer sees the pointer move within its poll interval and the fleet rolls, one
# instance at a time under the fleet lease (deployer/README.md). Jenkins runs this under the
# environment's lock, behind a milestone, so an older build never moves the pointer back.
#
#   OWP_DEPLOYER_ENVIRONMENT   the environment (leases/<environment>/ in the bucket)
#   OWP_DEPLOYER_BUCKET        its releases bucket (default owp-<environment>-releases-<account>)
set -euo pipefail
# shellcheck source=jenkins/steps/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_releases_bucket

deployer="$(deployer_bin)"
say "fleet before the deploy ($OWP_DEPLOYER_ENVIRONMENT)"
"$deployer" status
say "deployer publish --release-version $(release_version)"
"$deployer" publish --release-version "$(release_version)"
