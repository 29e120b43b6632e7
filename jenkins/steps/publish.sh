#!/usr/bin/env bash
# Uploads this build's release to the environment's releases bucket, after verifying its
# signature exactly as every deployer will. It does not deploy: the current-release pointer
# moves in deploy.sh, under the environment's lock.
#
#   OWP_DEPLOYER_ENVIRONMENT the environment (prod); OWP_DEPLOYER_BUCKET its releases bucket
#                            (default owp-<environment>-releases-<account>, as terraform names it)
#   OWP_RELEASE_PUBLIC_KEY   path of the release public key the instances trust
#   AWS credentials from the usual chain (the agent's instance profile, or the Jenkins AWS
#   credentials binding); OWP_DEPLOYER_ENDPOINT_URL for an S3-compatible server (the dry run)
set -euo pipefail
# shellcheck source=jenkins/steps/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need OWP_RELEASE_PUBLIC_KEY
use_releases_bucket

say "deployer publish --upload-only $(release_version) to s3://$OWP_DEPLOYER_BUCKET"
"$(deployer_bin)" publish --upload-only --tarball "$(release_tarball)" \
  --release-version "$(release_version)" --public-key "$OWP_RELEASE_PUBLIC_KEY"
