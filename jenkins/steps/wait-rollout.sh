#!/usr/bin/env bash
# Waits until `deployer status` shows the fleet done with a release: the current pointer names
# it, every instance that reported recently runs it, idle and healthy in the load balancer, and
# nobody holds the fleet lease. Fails at once when the release was marked bad (a deployer rolled
# it back), and at the deadline otherwise, printing the status either way.
#
#   jenkins/steps/wait-rollout.sh [VERSION]      default: this build's release (package.sh)
#   OWP_ROLLOUT_TIMEOUT    seconds to wait (default 600)
#   OWP_EXPECT_INSTANCES   fewest instances that must report (default 1)
#   OWP_REPORT_MAX_AGE     seconds after which an instance's report is stale, i.e. the instance
#                          is gone (default 90; a deployer reports at least every 15 s)
set -euo pipefail
# shellcheck source=jenkins/steps/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_releases_bucket

version="${1:-$(release_version)}"
timeout="${OWP_ROLLOUT_TIMEOUT:-600}"
deployer="$(deployer_bin)"

# judge VERSION < status JSON: prints one line; exit 0 rolled out, 1 not yet, 2 marked bad.
judge() {
  python3 -c '
import datetime, json, os, sys
version = sys.argv[1]
expect = int(os.environ.get("OWP_EXPECT_INSTANCES", "1"))
max_age = float(os.environ.get("OWP_REPORT_MAX_AGE", "90"))
status = json.load(sys.stdin)
current = (status.get("current") or {}).get("version")
bad = status.get("current_is_bad")
if current == version and bad:
    print(f"release {version} is marked bad: {bad}")
    sys.exit(2)
now = datetime.datetime.now(datetime.timezone.utc)
def age(report):
    at = datetime.datetime.fromisoformat(report["updated_at"].replace("Z", "+00:00"))
    return (now - at).total_seconds()
live = [r for r in status.get("instances", []) if age(r) <= max_age]
done = [r for r in live if r.get("version") == version and r.get("phase") == "idle"
        and r.get("target_health") == "healthy"]
holder = (status.get("lease") or {}).get("holder")
who = holder.get("instance") if holder else None
held = f"; lease held by {who}" if holder else ""
print(f"current {current}; {len(done)}/{len(live)} instances on {version}, idle and healthy{held}")
ok = current == version and len(live) >= expect and len(done) == len(live) and not holder
sys.exit(0 if ok else 1)' "$version"
}

say "waiting until every instance runs $version (up to $timeout s)"
deadline=$((SECONDS + timeout))
last=""
while :; do
  verdict=0
  line="$("$deployer" status --json | judge)" || verdict=$?
  [ "$line" = "$last" ] || echo "$line"
  last="$line"
  case "$verdict" in
    0) break ;;
    2) "$deployer" status; die "release $version was rolled back (see runbooks/roll-back-a-release.md)" ;;
  esac
  if ((SECONDS >= deadline)); then
    "$deployer" status
    die "the fleet did not finish rolling out $version within $timeout s (see runbooks/deploy-stuck-or-lease-held.md)"
  fi
  sleep 1
done
"$deployer" status
say "every instance runs $version"
