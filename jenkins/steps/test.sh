#!/usr/bin/env bash
# The Test stage: every test of the repository (scripts/test), exactly as CI and a laptop run
# them. With OWP_TESTED_TREES (an s3:// prefix), a tree that already passed in an earlier build
# is not tested again: a merge to main whose pull request was built merged with an up-to-date
# main has exactly the tree that build tested, so the merge goes to production in minutes, not
# after a second full run. Each pass is recorded as <prefix>/<tree id>.
set -euo pipefail
# shellcheck source=jenkins/steps/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo"

tree="$(git rev-parse 'HEAD^{tree}')"
# An uncommitted change is not part of the tree id: always test a dirty work tree.
clean=false
[ -n "$(git status --porcelain)" ] || clean=true
if [ -n "${OWP_TESTED_TREES:-}" ] && $clean && aws s3 ls "${OWP_TESTED_TREES%/}/$tree" >/dev/null 2>&1; then
  say "tree $tree passed scripts/test in an earlier build ($(aws s3 cp "${OWP_TESTED_TREES%/}/$tree" - 2>/dev/null)); not testing it again"
  exit 0
fi
"$repo/scripts/test"
if [ -n "${OWP_TESTED_TREES:-}" ] && $clean; then
  printf 'tested by %s at %s\n' "${BUILD_TAG:-$(hostname)}" "$(date -u +%FT%TZ)" |
    aws s3 cp --only-show-errors - "${OWP_TESTED_TREES%/}/$tree"
fi
