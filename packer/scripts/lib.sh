# shellcheck shell=bash
# Helpers shared by the provisioning scripts in this directory. Every script
# writes below ${ROOT:-/} so that the same script bakes an AMI under Packer
# (ROOT=/) and fills a throwaway directory on a laptop or in the tests.
# Anything that needs a live system (apt, a running kernel) is skipped when
# ROOT is not /, and says so.

ROOT="${ROOT:-/}"
ROOT="${ROOT%/}"

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# True when the target is the machine we run on (Packer), false for a
# staging directory.
live_system() { [[ -z "$ROOT" ]]; }

# put MODE SRC DEST: install one file at DEST inside the target.
put() { install -D -m "$1" "$2" "${ROOT}$3"; }

# put_text MODE DEST: install stdin as DEST inside the target.
put_text() {
  mkdir -p "$(dirname "${ROOT}$2")"
  cat >"${ROOT}$2"
  chmod "$1" "${ROOT}$2"
}

# Create the system users and directories declared by sysusers.d and
# tmpfiles.d fragments (pass the fragment name, e.g. owp.conf: it is looked
# up inside the target). Offline, both tools resolve names in the target.
apply_sysusers() {
  mkdir -p "${ROOT}/etc"
  systemd-sysusers --root="${ROOT:-/}" "$@"
}
apply_tmpfiles() { systemd-tmpfiles --root="${ROOT:-/}" --create "$@"; }

# uid_in_target NAME: the numeric uid of NAME in the target's passwd, so
# that chown works for users that exist only inside a staging directory.
uid_in_target() {
  local uid
  uid="$(awk -F: -v n="$1" '$1 == n { print $3 }' "${ROOT}/etc/passwd")"
  [[ -n "$uid" ]] || die "user $1 does not exist in ${ROOT:-/}/etc/passwd"
  printf '%s\n' "$uid"
}

# apt_install PACKAGE...: only on a live system; a staging directory has no
# package database to install into.
apt_install() {
  if live_system; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
  else
    log "ROOT=${ROOT}: skipping apt-get install $*"
  fi
}
