#!/usr/bin/env bash
# Common first step of every OWP image: OS updates, the packages every node
# needs (the journal shipper's Python libraries, EBS/NVMe device naming),
# and the journal settings. Runs under Packer (ROOT=/) or into a staging
# directory (ROOT=/some/dir, package installs skipped).
#
# usage: base.sh [--packages "pkg pkg ..."]
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

FILES_DIR="${FILES_DIR:-$SCRIPT_DIR/../files}"
extra_packages=""
while (($#)); do
  case "$1" in
    --packages) extra_packages="$2"; shift 2 ;;
    --files-dir) FILES_DIR="$2"; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done

if live_system; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get -y -o Dpkg::Options::=--force-confold upgrade
fi
# amazon-ec2-utils: udev links from NVMe EBS devices to their /dev/sdX
# names; curl: IMDSv2 calls from boot scripts; python3-*: journal shipper.
# shellcheck disable=SC2086 # the package list is meant to split
apt_install amazon-ec2-utils curl nvme-cli xfsprogs python3 python3-boto3 \
  python3-systemd unattended-upgrades $extra_packages

put 0644 "$FILES_DIR/common/journald-owp.conf" /etc/systemd/journald.conf.d/owp.conf
put 0755 "$FILES_DIR/common/owp-mount-disk" /usr/local/sbin/owp-mount-disk
put 0644 "$FILES_DIR/common/owp-journal-shipper.py" /usr/local/lib/owp/owp-journal-shipper.py
put 0644 "$FILES_DIR/common/owp-journal-shipper.service" /etc/systemd/system/owp-journal-shipper.service
# Enabled by user data once /etc/owp/owp.env names the log group. /etc/owp
# is traversable by the services' users (the deployer reads release.pub);
# owp.env in it is 0600 root (systemd reads it for the units).
install -d -m 0755 "${ROOT}/etc/owp"
log "base layer installed into ${ROOT:-/}"
