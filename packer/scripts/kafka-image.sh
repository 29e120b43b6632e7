#!/usr/bin/env bash
# Installs Apache Kafka (3.9.x, the last line with ZooKeeper mode) into
# /opt/kafka-<version> with /opt/kafka pointing at it, plus the boot unit
# that mounts the node's EBS data volume and derives the node id. Used by the
# Kafka broker image and by the ZooKeeper image (whose nodes become KRaft
# controllers when metadata_mode = "kraft"). Run base.sh first.
#
# usage: kafka-image.sh --version 3.9.1 [--scala 2.13]
#          (--tarball FILE | --mirror URL) [--sha512 HEX] [--files-dir DIR]
# Without --sha512 the download is verified against the release's GPG
# signature and Apache's KEYS file instead.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

version="" scala=2.13 tarball="" mirror="" sha512=""
files_dir="$SCRIPT_DIR/../files"
while (($#)); do
  case "$1" in
    --version) version="$2"; shift 2 ;;
    --scala) scala="$2"; shift 2 ;;
    --tarball) tarball="$2"; shift 2 ;;
    --mirror) mirror="${2%/}"; shift 2 ;;
    --sha512) sha512="$2"; shift 2 ;;
    --files-dir) files_dir="$2"; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
[[ "$version" =~ ^3\.9\.[0-9]+$ ]] ||
  die "--version must be a Kafka 3.9.x release (ZooKeeper mode ends with 3.9), got '${version}'"
[[ -n "$tarball" || -n "$mirror" ]] || die "one of --tarball FILE or --mirror URL is required"

name="kafka_${scala}-${version}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [[ -z "$tarball" ]]; then
  tarball="$work/${name}.tgz"
  curl -fsSL --retry 3 -o "$tarball" "$mirror/$version/${name}.tgz"
fi
if [[ -n "$sha512" ]]; then
  printf '%s  %s\n' "$sha512" "$tarball" | sha512sum -c --quiet - ||
    die "sha512 of $tarball does not match --sha512"
elif [[ -n "$mirror" ]]; then
  curl -fsSL --retry 3 -o "$work/${name}.tgz.asc" "$mirror/$version/${name}.tgz.asc"
  curl -fsSL --retry 3 -o "$work/KEYS" "$mirror/KEYS"
  export GNUPGHOME="$work/gnupg"
  mkdir -m 0700 "$GNUPGHOME"
  gpg --batch --quiet --import "$work/KEYS"
  gpg --batch --verify "$work/${name}.tgz.asc" "$tarball" ||
    die "GPG signature of ${name}.tgz does not verify"
else
  die "a local --tarball needs --sha512 to be verified"
fi

# openssl: a secure broker's first boot issues its own certificate (modules/kafka/security.tf).
apt_install openjdk-17-jre-headless openssl

put 0644 "$files_dir/kafka/kafka.sysusers" /usr/lib/sysusers.d/kafka.conf
apply_sysusers kafka.conf

dest="${ROOT}/opt/kafka-${version}"
rm -rf "$dest"
mkdir -p "$dest"
tar -xzf "$tarball" -C "$dest" --strip-components=1 --no-same-owner
[[ -x "$dest/bin/kafka-server-start.sh" ]] || die "tarball has no bin/kafka-server-start.sh"
ln -sfn "kafka-${version}" "${ROOT}/opt/kafka"
kafka_uid="$(uid_in_target kafka)"
# Traversable (owp-node-metrics measures the data volume mounted below it);
# the mounted log directory itself is 0750 kafka.
install -d -m 0755 -o "$kafka_uid" -g "$kafka_uid" "${ROOT}/var/lib/kafka"
install -d -m 0755 "${ROOT}/etc/kafka"

put 0755 "$files_dir/kafka/owp-kafka-node" /usr/local/sbin/owp-kafka-node
put 0755 "$files_dir/kafka/owp-node-health" /usr/local/sbin/owp-node-health
put 0644 "$files_dir/kafka/owp-node-metrics.py" /usr/local/lib/owp/owp-node-metrics.py
put 0644 "$files_dir/kafka/owp-node-metrics.service" /etc/systemd/system/owp-node-metrics.service
put 0644 "$files_dir/kafka/owp-node-metrics.timer" /etc/systemd/system/owp-node-metrics.timer
put 0644 "$files_dir/kafka/owp-kafka-node.service" /etc/systemd/system/owp-kafka-node.service
put 0644 "$files_dir/kafka/kafka.service" /etc/systemd/system/kafka.service
put_text 0644 /etc/owp/kafka-release <<INFO
KAFKA_VERSION=${version}
KAFKA_SCALA=${scala}
INFO
# Not enabled here: user data writes server.properties, then enables
# owp-kafka-node.service and kafka.service (brokers, or KRaft controllers on
# the ZooKeeper image), so Kafka never starts without its configuration.
log "Kafka ${version} installed into ${ROOT:-/}"
