#!/usr/bin/env bash
# Bakes the app image contents: one release unpacked under
# /opt/owp/releases/<version> with /opt/owp/current pointing at it, the
# systemd units from dist/systemd (the same files the release tarball
# ships), the deployer's user and its polkit grant, and the boot helpers.
# Run base.sh first. ROOT=/some/dir fills a staging directory instead of /.
#
# usage: app-image.sh --release-tarball FILE --version X.Y.Z
#          [--units-dir DIR] [--files-dir DIR]
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

tarball="" version=""
units_dir="$SCRIPT_DIR/../../dist/systemd"
files_dir="$SCRIPT_DIR/../files"
while (($#)); do
  case "$1" in
    --release-tarball) tarball="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --units-dir) units_dir="$2"; shift 2 ;;
    --files-dir) files_dir="$2"; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
[[ -f "$tarball" ]] || die "--release-tarball FILE is required (got '${tarball}')"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] ||
  die "--version must look like 1.2.3 (got '${version}')"

services=(writepoint readpoint auth robots translator)
binaries=("${services[@]}" deployer)

apt_install polkitd

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
for bin in "${binaries[@]}"; do
  [[ -x "$release_dir/bin/$bin" ]] || die "release tarball has no executable bin/$bin"
done
chown -R "$deployer_uid:$deployer_uid" "$release_dir"
# Relative, so the link is right both in a staging directory and on /.
ln -sfn "releases/${version}" "${ROOT}/opt/owp/current.tmp"
mv -T "${ROOT}/opt/owp/current.tmp" "${ROOT}/opt/owp/current"

# Units: from dist/systemd, the single source the release packaging uses.
for svc in "${services[@]}" deployer; do
  put 0644 "$units_dir/owp-${svc}.service" "/etc/systemd/system/owp-${svc}.service"
done
put 0644 "$files_dir/app/owp-database-env.service" /etc/systemd/system/owp-database-env.service
put 0644 "$files_dir/app/owp-database-env.py" /usr/local/lib/owp/owp-database-env.py
put 0644 "$files_dir/app/50-owp-deployer.polkit.rules" /etc/polkit-1/rules.d/50-owp-deployer.rules

put_text 0644 /etc/owp/image-release <<INFO
OWP_IMAGE=app
OWP_IMAGE_RELEASE=${version}
INFO

# Nothing is enabled here: user data writes /etc/owp/owp.env first and then
# enables the units, so no service ever starts without its configuration
# (enabled units would race cloud-init on the first boot).
log "app image ${version} installed into ${ROOT:-/}"
