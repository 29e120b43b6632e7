#!/usr/bin/env bash
# One engineer's environment, non-interactively (the Jenkinsfile.env job; the same on a laptop):
#   jenkins/steps/env.sh [--plan-only] ENGINEER plan|apply|destroy
# --plan-only shows what the action would change (for destroy: what it would remove, for the
# person who confirms it) and changes nothing. Everything else is terraform/env's: state,
# variables, images, the destroy flow (deletion protection lifted in one visible apply, the
# final snapshot kept). The shared environments are not reachable from here.
#
#   OWP_DNS_ZONE   the account's public Route 53 zone (required by terraform/env)
#   OWP_OWNER      owner tag of a new <engineer>.tfvars (default: the engineer)
set -euo pipefail
# shellcheck source=jenkins/steps/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

plan_only=false
if [ "${1:-}" = --plan-only ]; then
  plan_only=true
  shift
fi
(($# == 2)) || die "usage: jenkins/steps/env.sh [--plan-only] ENGINEER plan|apply|destroy"
engineer=$1 action=$2
case "$engineer" in
  staging | prod | bootstrap) die "$engineer is not an engineer environment; use terraform/env by hand" ;;
esac
[[ "$engineer" =~ ^[a-z][a-z0-9]{1,15}$ ]] ||
  die "engineer must be 2-16 lowercase letters or digits, starting with a letter (got '$engineer')"
case "$action" in plan | apply | destroy) ;; *) die "unknown action '$action' (plan, apply or destroy)" ;; esac
export OWP_OWNER="${OWP_OWNER:-$engineer}"
env="$repo/terraform/env"

if $plan_only || [ "$action" = plan ]; then
  destroy=()
  [ "$action" != destroy ] || destroy=(-destroy)
  exec "$env" "$engineer" plan -input=false "${destroy[@]}"
fi
exec "$env" "$engineer" "$action" -input=false -auto-approve
