//! Checking a release before anything runs it: the manifest's signature against the configured
//! public key, then every file against the sha256 and size the signed manifest lists, and
//! nothing in the tarball that the manifest does not list.
//!
//! A tarball is untrusted until this module says otherwise, so unpacking accepts only plain files
//! and directories with relative paths, bounded in number and size, into a staging directory;
//! only a release that passed every check is renamed into `releases/<version>/`.

use std::{
    collections::BTreeSet,
    fs,
    io::Read,
    os::unix::fs::PermissionsExt,
    path::{Component, Path, PathBuf},
};

use flate2::read::GzDecoder;

use crate::{Error, MANIFEST, MANIFEST_FORMAT, Manifest, PublicKey, Result, SIGNATURE, Version, sha256_file};

/// More entries than any real release has; a bound against a tarball built to exhaust the disk.
const MAX_ENTRIES: usize = 10_000;
/// Unpacked size bound, for the same reason.
const MAX_UNPACKED_BYTES: u64 = 4 << 30;

/// Unpacks `tarball` into a staging directory under `releases_dir`, verifies it, and moves it to
/// `releases_dir/<expected>`. When that directory exists already (downloaded before) it is
/// verified in place instead. Returns the release directory and its manifest. Fuzzed: any
/// tarball is installed or refused with an error, never a panic.
pub fn unpack_verified(
    tarball: &Path,
    releases_dir: &Path,
    expected: &Version,
    key: &PublicKey,
) -> Result<(PathBuf, Manifest)> {
    let target = releases_dir.join(expected.as_str());
    if target.is_dir() {
        let manifest = verify_dir(&target, expected, key)?;
        return Ok((target, manifest));
    }
    fs::create_dir_all(releases_dir)
        .map_err(|err| Error::io(format!("cannot create {}", releases_dir.display()), err))?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".incoming-{expected}-"))
        .tempdir_in(releases_dir)
        .map_err(|err| Error::io("cannot create a staging directory", err))?;
    unpack(tarball, staging.path(), expected)?;
    let manifest = verify_dir(staging.path(), expected, key)?;
    let staged = staging.keep();
    fs::rename(&staged, &target).map_err(|err| {
        let _ = fs::remove_dir_all(&staged);
        Error::io(format!("cannot move the verified release to {}", target.display()), err)
    })?;
    Ok((target, manifest))
}

/// Verifies an unpacked release directory: signature, then every file, then that nothing else
/// is there. Sets each file's mode from the manifest.
pub fn verify_dir(dir: &Path, expected: &Version, key: &PublicKey) -> Result<Manifest> {
    let refused = |reason: String| Error::refused(expected.as_str(), reason);
    let manifest_bytes = fs::read(dir.join(MANIFEST))
        .map_err(|err| refused(format!("no readable {MANIFEST} (unsigned or not a release): {err}")))?;
    let signature = fs::read_to_string(dir.join(SIGNATURE))
        .map_err(|err| refused(format!("no readable {SIGNATURE} (the release is unsigned): {err}")))?;
    key.verify(&manifest_bytes, &signature)
        .map_err(|reason| refused(format!("signature check failed: {reason}")))?;
    let manifest = Manifest::from_json(&manifest_bytes).map_err(|err| match err {
        Error::BadManifest(source) => refused(format!("the signed manifest is not readable: {source}")),
        other => other,
    })?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(refused(format!(
            "manifest format {} is not {MANIFEST_FORMAT}; this deployer is too old for it",
            manifest.format
        )));
    }
    if &manifest.version != expected {
        return Err(refused(format!("the signed manifest is for version {}", manifest.version)));
    }

    let mut present = BTreeSet::new();
    collect_files(dir, dir, &mut present)?;
    present.remove(MANIFEST);
    present.remove(SIGNATURE);
    let listed: BTreeSet<String> = manifest.files.keys().cloned().collect();
    if let Some(extra) = present.difference(&listed).next() {
        return Err(refused(format!("{extra} is not listed in the signed manifest")));
    }
    if let Some(missing) = listed.difference(&present).next() {
        return Err(refused(format!("{missing} is listed in the manifest but missing")));
    }
    for (name, entry) in &manifest.files {
        if !is_safe_relative(Path::new(name)) {
            return Err(refused(format!("manifest entry {name:?} is not a plain relative path")));
        }
        let path = dir.join(name);
        let (sha256, size) = sha256_file(&path)?;
        if size != entry.size || sha256 != entry.sha256 {
            return Err(refused(format!(
                "{name} does not match the signed manifest (sha256 {sha256}, {size} bytes; expected {}, {} bytes)",
                entry.sha256, entry.size
            )));
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(entry.mode & 0o755))
            .map_err(|err| Error::io(format!("cannot set the mode of {}", path.display()), err))?;
    }
    Ok(manifest)
}

/// Reads the manifest out of a tarball without verifying anything: for `publish`, to learn the
/// version it is about to upload. Fuzzed: any file gives a manifest or an error, never a panic.
pub fn read_manifest_from_tarball(tarball: &Path) -> Result<Manifest> {
    let file = fs::File::open(tarball)
        .map_err(|err| Error::io(format!("cannot open {}", tarball.display()), err))?;
    let mut archive = tar::Archive::new(GzDecoder::new(file));
    let not_a_release = |reason: String| Error::NotARelease { path: tarball.to_owned(), reason };
    let entries = archive.entries().map_err(|err| not_a_release(err.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|err| not_a_release(err.to_string()))?;
        let is_manifest = entry.path().map(|path| path == Path::new(MANIFEST)).unwrap_or(false);
        if is_manifest {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(|err| not_a_release(err.to_string()))?;
            return Manifest::from_json(&bytes).map_err(|err| not_a_release(err.to_string()));
        }
    }
    Err(not_a_release(format!("it has no {MANIFEST}")))
}

fn unpack(tarball: &Path, staging: &Path, expected: &Version) -> Result<()> {
    let refused = |reason: String| Error::refused(expected.as_str(), reason);
    let file = fs::File::open(tarball)
        .map_err(|err| Error::io(format!("cannot open {}", tarball.display()), err))?;
    let mut archive = tar::Archive::new(GzDecoder::new(file));
    archive.set_preserve_permissions(false);
    archive.set_unpack_xattrs(false);
    let entries = archive.entries().map_err(|err| refused(format!("not a readable tar.gz: {err}")))?;
    let mut seen = BTreeSet::new();
    let mut total = 0u64;
    for (index, entry) in entries.enumerate() {
        let mut entry = entry.map_err(|err| refused(format!("not a readable tar.gz: {err}")))?;
        if index >= MAX_ENTRIES {
            return Err(refused(format!("more than {MAX_ENTRIES} entries")));
        }
        let path = entry.path().map_err(|err| refused(format!("unreadable entry name: {err}")))?.into_owned();
        if !is_safe_relative(&path) {
            return Err(refused(format!("entry {} is not a plain relative path", path.display())));
        }
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Directory => continue,
            other => {
                return Err(refused(format!("entry {} is a {other:?}, not a plain file", path.display())));
            }
        }
        if !seen.insert(path.clone()) {
            return Err(refused(format!("entry {} appears twice", path.display())));
        }
        total = total.saturating_add(entry.size());
        if total > MAX_UNPACKED_BYTES {
            return Err(refused(format!("unpacks to more than {MAX_UNPACKED_BYTES} bytes")));
        }
        let unpacked = entry
            .unpack_in(staging)
            .map_err(|err| Error::io(format!("cannot unpack {} from the release", path.display()), err))?;
        if !unpacked {
            return Err(refused(format!("entry {} points outside the release", path.display())));
        }
    }
    Ok(())
}

fn collect_files(root: &Path, dir: &Path, out: &mut BTreeSet<String>) -> Result<()> {
    let entries =
        fs::read_dir(dir).map_err(|err| Error::io(format!("cannot list {}", dir.display()), err))?;
    for entry in entries {
        let entry = entry.map_err(|err| Error::io(format!("cannot list {}", dir.display()), err))?;
        let path = entry.path();
        let kind =
            entry.file_type().map_err(|err| Error::io(format!("cannot stat {}", path.display()), err))?;
        if kind.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            out.insert(relative.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

fn is_safe_relative(path: &Path) -> bool {
    path.components().count() > 0 && path.components().all(|c| matches!(c, Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::{Compression, write::GzEncoder};

    use super::*;
    use crate::generate_keypair;

    /// A tar.gz of `(name, type, declared size, data)` entries, headers as written, whatever
    /// they claim.
    fn tarball(entries: &[(&str, tar::EntryType, u64, &[u8])]) -> Vec<u8> {
        let mut out = GzEncoder::new(Vec::new(), Compression::fast());
        for (name, kind, size, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_path(name).unwrap();
            header.set_entry_type(*kind);
            header.set_size(*size);
            header.set_mode(0o644);
            header.set_cksum();
            out.write_all(header.as_bytes()).unwrap();
            out.write_all(data).unwrap();
            out.write_all(&vec![0; (512 - data.len() % 512) % 512]).unwrap();
        }
        out.write_all(&[0; 1024]).unwrap();
        out.finish().unwrap()
    }

    #[test]
    fn malformed_tarballs_are_refused_with_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_keypair(&dir.path().join("k.key"), &dir.path().join("k.pub")).unwrap();
        let (releases, v1) = (dir.path().join("releases"), "v1".parse::<Version>().unwrap());
        let path = dir.path().join("in.tar.gz");
        let regular = tar::EntryType::Regular;
        let cases = [
            ("empty", Vec::new()),
            ("not gzip", b"owp release".to_vec()),
            ("truncated gzip", vec![0x1f, 0x8b, 8, 0, 0]),
            ("no entries", tarball(&[])),
            ("a symlink", tarball(&[("bin/svc", tar::EntryType::Symlink, 0, b"")])),
            ("a manifest that is not one", tarball(&[(MANIFEST, regular, 2, b"{}")])),
            (
                "a size far past the bound",
                tarball(&[("a", regular, 1, b"a"), (MANIFEST, regular, u64::MAX - 4096, b"")]),
            ),
        ];
        for (case, bytes) in cases {
            fs::write(&path, bytes).unwrap();
            assert!(read_manifest_from_tarball(&path).is_err(), "{case}: read a manifest");
            let err = unpack_verified(&path, &releases, &v1, &key).unwrap_err();
            assert!(matches!(err, Error::Refused { .. } | Error::Io { .. }), "{case}: {err}");
            assert!(!releases.join("v1").exists(), "{case}: installed");
        }
    }
}
