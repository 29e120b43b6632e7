#!/usr/bin/env bash
# Bakes the AMIs whose inputs changed, and only those. Each AMI carries the git commit it was
# baked from (tag GitCommit, packer/*.pkr.hcl); an image is baked again when there is no AMI of
# it yet, when its commit is not in this clone's history, or when its inputs differ between that
# commit and HEAD: packer/ for every image, and dist/systemd for the app image (whose units it
# installs). Deciding from the AMI rather than from the build's changeset means a first build,
# a retried build or a build after a failed bake still bakes what is missing.
#
#   OWP_BAKE_FORCE=true   bake every image (the Jenkins parameter FORCE_BAKE)
#   OWP_RELEASE_PUBLIC_KEY  the release public key file (minisign .pub) the app image trusts
#                         and verifies its release against (required to bake the app image)
#   OWP_RDS_CA_BUNDLE_SHA256  sha256 of the RDS global CA bundle as last reviewed: the app image
#                         fetches the bundle at bake time and refuses any other (required to
#                         bake the app image; a Jenkins global variable, bumped when AWS
#                         publishes a new bundle)
#   OWP_BAKE_IMAGES       images to consider (default "app kafka zookeeper")
#   OWP_STATE_BUCKET      where terraform/env reads the manifests from (default
#                         owp-tfstate-<account>-<region>, as terraform/env computes it)
#   AWS_REGION            region of the AMIs (default us-east-1)
# Packer writes packer/manifests/<image>.json; each is copied to s3://<state bucket>/images/.
set -euo pipefail
# shellcheck source=jenkins/steps/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo"

export AWS_REGION="${AWS_REGION:-us-east-1}"
read -r -a images <<<"${OWP_BAKE_IMAGES:-app kafka zookeeper}"
head="$(git rev-parse HEAD)"

# The inputs of an image, as paths of this repository.
inputs() {
  case "$1" in
    app) echo packer dist/systemd ;;
    *) echo packer ;;
  esac
}

# The commit recorded on the newest AMI of an image ("" when there is none).
baked_commit() {
  local commit
  # shellcheck disable=SC2016 # JMESPath backquotes a literal, nothing for the shell to expand
  commit="$(aws ec2 describe-images --owners self --filters "Name=tag:Image,Values=$1" \
    --query 'sort_by(Images, &CreationDate)[-1].Tags[?Key==`GitCommit`].Value | [0]' --output text)"
  [ "$commit" = None ] || printf '%s\n' "$commit"
}

# Why an image must be baked, or nothing when its newest AMI is up to date.
bake_reason() {
  local image=$1 commit paths
  if [ "${OWP_BAKE_FORCE:-false}" = true ]; then
    echo "forced"
    return
  fi
  commit="$(baked_commit "$image")"
  if [ -z "$commit" ]; then
    echo "no AMI yet"
  elif ! git cat-file -e "$commit^{commit}" 2>/dev/null; then
    echo "its commit $commit is not in this clone's history"
  else
    read -r -a paths <<<"$(inputs "$image")"
    git diff --quiet "$commit" "$head" -- "${paths[@]}" || echo "${paths[*]} changed since $commit"
  fi
}

# A shallow clone cannot tell what changed since an older commit.
if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
  git fetch --quiet --unshallow
fi

bake=()
for image in "${images[@]}"; do
  reason="$(bake_reason "$image")"
  if [ -n "$reason" ]; then
    say "$image: baking ($reason)"
    bake+=("$image")
  else
    say "$image: the newest AMI is up to date, not baking"
  fi
done
((${#bake[@]})) || exit 0

manifests="$repo/packer/manifests"
mkdir -p "$manifests"
logs="$OWP_PIPELINE_DIR/bake"
mkdir -p "$logs"
# Bakes take minutes each and wait on AWS, not on this machine: run them side by side.
declare -A pids=()
for image in "${bake[@]}"; do
  args=(-var "git_commit=$head" -var "aws_region=$AWS_REGION" -var "manifest_dir=$manifests")
  if [ "$image" = app ]; then
    need OWP_RELEASE_PUBLIC_KEY
    need OWP_RDS_CA_BUNDLE_SHA256
    args+=(-var "version=$(release_version)" -var "release_tarball=$(release_tarball)"
      -var "release_public_key=$(sed -n 2p "$OWP_RELEASE_PUBLIC_KEY")"
      -var "rds_ca_bundle_sha256=$OWP_RDS_CA_BUNDLE_SHA256")
  fi
  packer build -color=false "${args[@]}" "packer/$image.pkr.hcl" >"$logs/$image.log" 2>&1 &
  pids[$image]=$!
done
failed=()
for image in "${bake[@]}"; do
  if wait "${pids[$image]}"; then
    say "$image: baked"
  else
    tail -n 40 "$logs/$image.log" >&2
    failed+=("$image")
  fi
done
((${#failed[@]} == 0)) || die "baking failed: ${failed[*]} (logs in $logs)"

state_bucket="${OWP_STATE_BUCKET:-owp-tfstate-$(aws sts get-caller-identity --query Account --output text)-$AWS_REGION}"
for image in "${bake[@]}"; do
  aws s3 cp --only-show-errors "$manifests/$image.json" "s3://$state_bucket/images/$image.json"
done
say "manifests of ${bake[*]} are in s3://$state_bucket/images/ (terraform/env reads them)"
