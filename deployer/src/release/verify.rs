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

use super::{MANIFEST, MANIFEST_FORMAT, Manifest, PublicKey, SIGNATURE, Version, package::sha256_file};
use crate::{Error, Result};

/// More entries than any real release has; a bound against a tarball built to exhaust the disk.
const MAX_ENTRIES: usize = 10_000;
/// Unpacked size bound, for the same reason.
const MAX_UNPACKED_BYTES: u64 = 4 << 30;

/// Unpacks `tarball` into a staging directory under `releases_dir`, verifies it, and moves it to
/// `releases_dir/<expected>`. When that directory exists already (downloaded before) it is
/// verified in place instead. Returns the release directory and its manifest.
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
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|err| refused(format!("the signed manifest is not readable: {err}")))?;
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
/// version it is about to upload.
pub fn read_manifest_from_tarball(tarball: &Path) -> Result<Manifest> {
    let file = fs::File::open(tarball)
        .map_err(|err| Error::io(format!("cannot open {}", tarball.display()), err))?;
    let mut archive = tar::Archive::new(GzDecoder::new(file));
    let not_a_release =
        |reason: String| Error::Publish(format!("{} is not a release: {reason}", tarball.display()));
    let entries = archive.entries().map_err(|err| not_a_release(err.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|err| not_a_release(err.to_string()))?;
        let is_manifest = entry.path().map(|path| path == Path::new(MANIFEST)).unwrap_or(false);
        if is_manifest {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(|err| not_a_release(err.to_string()))?;
            return serde_json::from_slice(&bytes)
                .map_err(|err| not_a_release(format!("bad {MANIFEST}: {err}")));
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
        total += entry.size();
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
