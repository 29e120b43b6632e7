#!/usr/bin/env bash
# The Test stage: every test of the repository (scripts/test), exactly as CI and a laptop run
# them, on every build. There is no way to skip it: a marker saying "this tree passed already"
# would have to live where branch builds could write it, and a branch build could then skip
# main's tests.
set -euo pipefail
# shellcheck source=jenkins/steps/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo"

"$repo/scripts/test"
