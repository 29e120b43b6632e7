#!/usr/bin/env bash
# Last step of every image: removes what must not be shared between the
# instances launched from it (SSH host keys, machine id, apt caches, logs).
# Only meaningful on the machine being baked; refuses to run elsewhere.
#
# usage: cleanup.sh --yes-this-is-the-image-builder
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

[[ "${1:-}" == --yes-this-is-the-image-builder ]] ||
  die "this wipes host keys and the machine id; pass --yes-this-is-the-image-builder"

apt-get clean
rm -rf "${ROOT}"/var/lib/apt/lists/*
rm -f "${ROOT}"/etc/ssh/ssh_host_*
# An empty machine-id makes systemd generate a fresh one at first boot.
: >"${ROOT}/etc/machine-id"
rm -rf "${ROOT}"/var/log/journal/*
find "${ROOT}/var/log" -type f -name '*.log' -delete
rm -rf "${ROOT}"/tmp/owp-packer
log "image cleaned"
