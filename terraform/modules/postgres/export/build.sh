#!/usr/bin/env bash
# Zips the snapshot export function for modules/postgres: .build/export_snapshot.zip, byte for
# byte the same for the same source (fixed timestamps and modes), so a rebuild never looks like
# a code change. terraform/env runs it before every plan and apply; Terraform itself only reads
# the zip when it creates or updates the function.
#   terraform/modules/postgres/export/build.sh [OUT_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/../.build}"
mkdir -p "$out"
python3 - "$here/export_snapshot.py" "$out/export_snapshot.zip" <<'PY'
import os, sys, zipfile
source, target = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("export_snapshot.py", date_time=(2000, 1, 1, 0, 0, 0))
info.external_attr = 0o644 << 16
info.compress_type = zipfile.ZIP_DEFLATED
with open(source, "rb") as f, zipfile.ZipFile(target + ".tmp", "w") as z:
    z.writestr(info, f.read())
os.replace(target + ".tmp", target)
PY
echo "$out/export_snapshot.zip"
