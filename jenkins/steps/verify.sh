#!/usr/bin/env bash
# Verifies a deploy: the whole fleet on this build's release (wait-rollout.sh), then the smoke
# test through the environment's public routes (smoke.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/wait-rollout.sh" "$@"
"$here/smoke.sh"
