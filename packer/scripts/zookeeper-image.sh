#!/usr/bin/env bash
# Installs ZooKeeper 3.8 from Debian for the dedicated ensemble nodes, the
# unit that mounts the node's EBS volumes (dataLogDir and dataDir, each on its
# own volume) and installs its myid, and a hardened zookeeper.service. Debian's own zookeeperd service is not
# used: its unit runs unsandboxed and reads /etc/zookeeper/conf, which we
# leave as Debian ships it for the logging configuration.
#
# usage: zookeeper-image.sh [--files-dir DIR]
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

files_dir="$SCRIPT_DIR/../files"
while (($#)); do
  case "$1" in
    --files-dir) files_dir="$2"; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done

apt_install zookeeper openjdk-17-jre-headless
if live_system; then
  zk_version="$(dpkg-query -W -f '${Version}' zookeeper)"
  [[ "$zk_version" == 3.8.* ]] || die "expected ZooKeeper 3.8.x from Debian, got ${zk_version}"
else
  zk_version="unknown (staging directory)"
fi

install -d -m 0755 "${ROOT}/etc/zookeeper/owp"
put 0644 "$files_dir/zookeeper/zookeeper.service" /etc/systemd/system/zookeeper.service
put 0644 "$files_dir/zookeeper/owp-zookeeper-disk.service" /etc/systemd/system/owp-zookeeper-disk.service
put 0755 "$files_dir/zookeeper/owp-zookeeper-node" /usr/local/sbin/owp-zookeeper-node
put_text 0644 /etc/owp/zookeeper-release <<INFO
ZOOKEEPER_VERSION=${zk_version}
INFO
# Not enabled here: user data enables zookeeper.service (ZooKeeper mode) or
# kafka.service (KRaft controllers) once the node knows its role.
log "ZooKeeper installed into ${ROOT:-/}"
