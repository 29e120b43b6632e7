#!/usr/bin/env bash
# Bakes the app image contents: one release unpacked under
# /opt/owp/releases/<version> with /opt/owp/current pointing at it, the
# systemd units from dist/systemd (the same files the release tarball
# ships), the deployer's user and its polkit grant, the release public key
# every deployer verifies against (/etc/owp/release.pub), the launch gate and
# the boot helpers. The release is verified like a deployer verifies one
# before it is baked: its manifest's minisign signature against that key,
# its version, and the sha256 and size of every file, with nothing unlisted.
# Run base.sh first. ROOT=/some/dir fills a staging directory instead of /.
#
# The RDS CA bundle every service verifies the database server against
# (sslmode=verify-full) is fetched from AWS's trust store and checked against
# the sha256 the build pins (--rds-ca-sha256; packer's rds_ca_bundle_sha256), or
# taken from --rds-ca-bundle FILE, checked the same way.
#
# usage: app-image.sh --release-tarball FILE --version X.Y.Z
#          --release-public-key FILE --rds-ca-sha256 HEX [--rds-ca-url URL]
#          [--rds-ca-bundle FILE]
#          [--units-dir DIR] [--files-dir DIR]
# On the image builder (ROOT=/) the key and the CA checksum are required. A
# staging directory without them (laptop runs of the other steps) skips the
# verification, or the bundle, and says so.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

tarball="" version="" public_key="" rds_ca_sha256="" rds_ca_bundle=""
rds_ca_url="https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
units_dir="$SCRIPT_DIR/../../dist/systemd"
files_dir="$SCRIPT_DIR/../files"
while (($#)); do
  case "$1" in
    --release-tarball) tarball="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --release-public-key) public_key="$2"; shift 2 ;;
    --rds-ca-sha256) rds_ca_sha256="$2"; shift 2 ;;
    --rds-ca-bundle) rds_ca_bundle="$2"; shift 2 ;;
    --rds-ca-url) rds_ca_url="$2"; shift 2 ;;
    --units-dir) units_dir="$2"; shift 2 ;;
    --files-dir) files_dir="$2"; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
[[ -f "$tarball" ]] || die "--release-tarball FILE is required (got '${tarball}')"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] ||
  die "--version must look like 1.2.3 (got '${version}')"

if [[ -n "$public_key" ]]; then
  [[ -f "$public_key" ]] || die "--release-public-key $public_key does not exist"
  # A minisign public key file: a comment line and an Ed25519 key ("RW" + 54).
  grep -Eq '^RW[A-Za-z0-9+/]{54}$' "$public_key" || die "$public_key is not a minisign public key"
elif live_system; then
  die "--release-public-key FILE is required: the image must trust the key releases are signed with"
else
  log "no --release-public-key: release signature NOT verified (staging directory only)"
fi

if [[ -n "$rds_ca_sha256" ]]; then
  [[ "$rds_ca_sha256" =~ ^[0-9a-f]{64}$ ]] || die "--rds-ca-sha256 must be 64 lowercase hex digits"
elif live_system; then
  die "--rds-ca-sha256 HEX is required: the services verify the database against the RDS CA bundle"
elif [[ -n "$rds_ca_bundle" ]]; then
  die "--rds-ca-bundle needs --rds-ca-sha256 to check it against"
fi

services=(writepoint readpoint auth robots translator)
# owp: `owp database setup`, run by owp-database-setup.service.
binaries=("${services[@]}" owp deployer)

# libssl3: the services' librdkafka links OpenSSL (TLS and SCRAM to the brokers).
apt_install polkitd minisign libssl3

# Users and directories first: the release tree belongs to the deployer.
put 0644 "$files_dir/app/owp.sysusers" /usr/lib/sysusers.d/owp.conf
put 0644 "$files_dir/app/owp.tmpfiles" /usr/lib/tmpfiles.d/owp.conf
apply_sysusers owp.conf
apply_tmpfiles owp.conf
deployer_uid="$(uid_in_target owp-deployer)"

# The release: a tarball whose bin/ holds the binaries, either at its top
# level or inside one top-level directory (owp-<version>/bin/...).
release_dir="${ROOT}/opt/owp/releases/${version}"
rm -rf "$release_dir"
mkdir -p "$release_dir"
tar -xzf "$tarball" -C "$release_dir" --no-same-owner
if [[ ! -d "$release_dir/bin" ]]; then
  mapfile -t top < <(find "$release_dir" -mindepth 1 -maxdepth 1)
  if ((${#top[@]} == 1)) && [[ -d "${top[0]}/bin" ]]; then
    find "${top[0]}" -mindepth 1 -maxdepth 1 -exec mv -t "$release_dir" {} +
    rmdir "${top[0]}"
  fi
fi
if [[ -n "$public_key" ]]; then
  [[ -f "$release_dir/manifest.json" && -f "$release_dir/manifest.json.minisig" ]] ||
    die "release tarball has no signed manifest (manifest.json, manifest.json.minisig)"
  minisign -Vq -m "$release_dir/manifest.json" -p "$public_key" ||
    die "the release manifest's signature does not verify with $public_key"
  # Signed, so the manifest can be trusted: the version, and every file as listed.
  python3 - "$release_dir" "$version" <<'PY' || die "release tarball does not match its signed manifest"
import hashlib, json, os, sys
root, version = sys.argv[1], sys.argv[2]
manifest = json.load(open(os.path.join(root, "manifest.json")))
problems = []
if manifest.get("version") != version:
    problems.append(f"manifest version {manifest.get('version')!r}, expected {version!r}")
listed = manifest.get("files", {})
present = set()
for directory, _, names in os.walk(root):
    for name in names:
        rel = os.path.relpath(os.path.join(directory, name), root)
        if rel not in ("manifest.json", "manifest.json.minisig"):
            present.add(rel)
for rel in sorted(present - set(listed)):
    problems.append(f"{rel} is not in the manifest")
for rel, entry in sorted(listed.items()):
    path = os.path.join(root, rel)
    if not os.path.isfile(path):
        problems.append(f"{rel} is missing")
        continue
    data = open(path, "rb").read()
    if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
        problems.append(f"{rel} does not match its sha256 and size")
for p in problems:
    print(f"app-image.sh: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
  log "release ${version}: signature and every file verified"
fi
for bin in "${binaries[@]}"; do
  [[ -x "$release_dir/bin/$bin" ]] || die "release tarball has no executable bin/$bin"
done
chown -R "$deployer_uid:$deployer_uid" "$release_dir"
# Relative, so the link is right both in a staging directory and on /.
ln -sfn "releases/${version}" "${ROOT}/opt/owp/current.tmp"
mv -T "${ROOT}/opt/owp/current.tmp" "${ROOT}/opt/owp/current"

# Units: from dist/systemd, the single source the release packaging uses.
for svc in "${services[@]}" deployer database-setup; do
  put 0644 "$units_dir/owp-${svc}.service" "/etc/systemd/system/owp-${svc}.service"
done
# The RDS CA bundle, for sslmode=verify-full (owp-database-env renders sslrootcert with this path).
if [[ -n "$rds_ca_sha256" ]]; then
  ca_work="$(mktemp -d)"
  if [[ -n "$rds_ca_bundle" ]]; then
    cp "$rds_ca_bundle" "$ca_work/bundle.pem"
  else
    # file: for scripts/test-image's stand-in; the checksum below decides either way.
    curl -fsSL --proto '=https,file' --retry 3 -o "$ca_work/bundle.pem" "$rds_ca_url" ||
      die "cannot fetch the RDS CA bundle from $rds_ca_url"
  fi
  echo "$rds_ca_sha256  $ca_work/bundle.pem" | sha256sum --check --status ||
    die "the RDS CA bundle's sha256 is $(sha256sum "$ca_work/bundle.pem" | cut -d' ' -f1), not the pinned $rds_ca_sha256"
  grep -q -- '-----BEGIN CERTIFICATE-----' "$ca_work/bundle.pem" || die "the RDS CA bundle holds no certificate"
  put 0644 "$ca_work/bundle.pem" /etc/owp/rds-global-bundle.pem
  rm -rf "$ca_work"
  log "RDS CA bundle verified (sha256 $rds_ca_sha256) at /etc/owp/rds-global-bundle.pem"
else
  log "no --rds-ca-sha256: no RDS CA bundle (staging directory only)"
fi
put 0644 "$files_dir/app/owp-database-env.service" /etc/systemd/system/owp-database-env.service
put 0644 "$files_dir/app/owp-database-env.py" /usr/local/lib/owp/owp-database-env.py
put 0644 "$files_dir/app/50-owp-deployer.polkit.rules" /etc/polkit-1/rules.d/50-owp-deployer.rules
put 0644 "$files_dir/app/owp-launch-gate.service" /etc/systemd/system/owp-launch-gate.service
put 0644 "$files_dir/app/owp-launch-gate.py" /usr/local/lib/owp/owp-launch-gate.py
put 0644 "$files_dir/app/owp-search-signer.service" /etc/systemd/system/owp-search-signer.service
put 0644 "$files_dir/app/owp-search-signer.py" /usr/local/lib/owp/owp-search-signer.py
# The key every deployer verifies releases against (owp-deployer reads it:
# /etc/owp is 0755, the key 0644; owp.env next to it stays 0600).
if [[ -n "$public_key" ]]; then
  put 0644 "$public_key" /etc/owp/release.pub
fi

put_text 0644 /etc/owp/image-release <<INFO
OWP_IMAGE=app
OWP_IMAGE_RELEASE=${version}
INFO

# Nothing is enabled here: user data writes /etc/owp/owp.env first and then
# enables the units, so no service ever starts without its configuration
# (enabled units would race cloud-init on the first boot).
log "app image ${version} installed into ${ROOT:-/}"
