//! Building a release tarball: stripped binaries under `bin/`, the systemd units under
//! `systemd/`, default configuration under `config/`, migrations under `migrations/`, and the
//! signed manifest. Packaging lives beside verification so that the two can never disagree on
//! the format.
//!
//! The tarball is reproducible given the same inputs and time: entries are sorted, owners are
//! root and modes are normalised.

use std::{
    collections::BTreeMap,
    fs,
    io::{self, Read, Write},
    path::{Path, PathBuf},
    process::Command,
};

use flate2::{Compression, write::GzEncoder};
use sha2::{Digest, Sha256};

use crate::{
    Error, FileEntry, MANIFEST, MANIFEST_FORMAT, Manifest, Result, SIGNATURE, SecretKey, Version,
    trusted_comment,
};

/// What goes into a release.
#[derive(Debug, Clone)]
pub struct PackageSpec {
    pub version: Version,
    pub git_commit: String,
    /// Directory holding the built binaries (`target/release`).
    pub bin_dir: PathBuf,
    /// Binary names to ship; each must exist in `bin_dir`.
    pub bins: Vec<String>,
    /// Directory of systemd unit files to ship (`dist/systemd`).
    pub units_dir: PathBuf,
    /// Directory of default configuration files to ship.
    pub config_dir: PathBuf,
    /// Directory of SQL migrations to ship, when there are any.
    pub migrations_dir: Option<PathBuf>,
    /// Where the tarball is written.
    pub out_dir: PathBuf,
    /// Strip the binaries with `strip` (binutils). Off only for binaries that are not ELF.
    pub strip: bool,
}

/// A packaged release.
#[derive(Debug, Clone)]
pub struct Packaged {
    pub tarball: PathBuf,
    pub manifest: Manifest,
}

/// The tarball's file name for a version.
pub fn tarball_name(version: &Version) -> String {
    format!("owp-{version}.tar.gz")
}

/// Builds and signs the release described by `spec`.
pub fn package(spec: &PackageSpec, key: &SecretKey) -> Result<Packaged> {
    fs::create_dir_all(&spec.out_dir)
        .map_err(|err| Error::io(format!("cannot create {}", spec.out_dir.display()), err))?;
    let staging = tempfile::Builder::new()
        .prefix(".owp-package-")
        .tempdir_in(&spec.out_dir)
        .map_err(|err| Error::io("cannot create a staging directory", err))?;
    let root = staging.path();

    if spec.bins.is_empty() {
        return Err(Error::Package("no binaries to ship (--bins is empty)".into()));
    }
    for name in &spec.bins {
        let source = spec.bin_dir.join(name);
        if !source.is_file() {
            return Err(Error::Package(format!(
                "binary {} does not exist; build it first (cargo build --release --bins)",
                source.display()
            )));
        }
        let target = root.join("bin").join(name);
        copy(&source, &target)?;
        if spec.strip {
            strip(&target)?;
        }
    }
    copy_dir(&spec.units_dir, &root.join("systemd"), |name| name.ends_with(".service"))?;
    copy_dir(&spec.config_dir, &root.join("config"), |_| true)?;
    if let Some(migrations) = &spec.migrations_dir {
        copy_dir(migrations, &root.join("migrations"), |_| true)?;
    }

    let mut files = BTreeMap::new();
    for relative in walk(root)? {
        let path = root.join(&relative);
        let mode = if relative.starts_with("bin/") { 0o755 } else { 0o644 };
        let (sha256, size) = sha256_file(&path)?;
        files.insert(relative, FileEntry { sha256, size, mode });
    }
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        version: spec.version.clone(),
        git_commit: spec.git_commit.clone(),
        created_at: now_rfc3339(),
        files,
    };
    let manifest_bytes = manifest.to_json()?;
    let signature = key.sign(&manifest_bytes, &trusted_comment(&manifest))?;
    write(&root.join(MANIFEST), &manifest_bytes)?;
    write(&root.join(SIGNATURE), signature.as_bytes())?;

    let tarball = spec.out_dir.join(tarball_name(&spec.version));
    let partial = spec.out_dir.join(format!(".{}.partial", tarball_name(&spec.version)));
    write_tarball(root, &manifest, &partial)?;
    fs::rename(&partial, &tarball)
        .map_err(|err| Error::io(format!("cannot move the tarball to {}", tarball.display()), err))?;
    Ok(Packaged { tarball, manifest })
}

fn write_tarball(root: &Path, manifest: &Manifest, out: &Path) -> Result<()> {
    let file =
        fs::File::create(out).map_err(|err| Error::io(format!("cannot create {}", out.display()), err))?;
    let mut builder = tar::Builder::new(GzEncoder::new(io::BufWriter::new(file), Compression::default()));
    // The manifest and its signature first, then every file in manifest order.
    let mut entries: Vec<(String, u32)> = vec![(MANIFEST.to_owned(), 0o644), (SIGNATURE.to_owned(), 0o644)];
    entries.extend(manifest.files.iter().map(|(name, entry)| (name.clone(), entry.mode)));
    let tar_error = |err: io::Error| Error::io(format!("cannot write {}", out.display()), err);
    for (name, mode) in entries {
        let path = root.join(&name);
        let mut source = fs::File::open(&path).map_err(tar_error)?;
        let size = source.metadata().map_err(tar_error)?.len();
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, &name, &mut source).map_err(tar_error)?;
    }
    let encoder = builder.into_inner().map_err(tar_error)?;
    let mut writer = encoder.finish().map_err(tar_error)?;
    writer.flush().map_err(tar_error)?;
    writer.into_inner().map_err(|err| tar_error(err.into_error()))?.sync_all().map_err(tar_error)
}

/// Relative paths (with `/`) of every regular file under `root`, sorted.
fn walk(root: &Path) -> Result<Vec<String>> {
    fn visit(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        let entries =
            fs::read_dir(dir).map_err(|err| Error::io(format!("cannot list {}", dir.display()), err))?;
        for entry in entries {
            let entry = entry.map_err(|err| Error::io(format!("cannot list {}", dir.display()), err))?;
            let path = entry.path();
            if path.is_dir() {
                visit(root, &path, out)?;
            } else {
                let relative = path.strip_prefix(root).unwrap_or(&path);
                let text = relative
                    .to_str()
                    .ok_or_else(|| Error::Package(format!("{} is not a UTF-8 path", relative.display())))?;
                out.push(text.to_owned());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    visit(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

/// Copies the files under `source` that `keep` accepts; refuses a directory with none, since a
/// release without its units or configuration would install but not run.
fn copy_dir(source: &Path, target: &Path, keep: impl Fn(&str) -> bool + Copy) -> Result<()> {
    fn visit(source: &Path, target: &Path, keep: impl Fn(&str) -> bool + Copy) -> Result<usize> {
        let entries = fs::read_dir(source)
            .map_err(|err| Error::Package(format!("cannot read directory {}: {err}", source.display())))?;
        let mut copied = 0;
        for entry in entries {
            let entry = entry.map_err(|err| Error::io(format!("cannot list {}", source.display()), err))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                copied += visit(&path, &target.join(&name), keep)?;
            } else if path.is_file() && keep(&name) {
                copy(&path, &target.join(&name))?;
                copied += 1;
            }
        }
        Ok(copied)
    }
    if visit(source, target, keep)? == 0 {
        return Err(Error::Package(format!("{} holds nothing to ship", source.display())));
    }
    Ok(())
}

fn copy(source: &Path, target: &Path) -> Result<()> {
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent)
            .map_err(|err| Error::io(format!("cannot create {}", parent.display()), err))?;
    }
    fs::copy(source, target)
        .map(|_| ())
        .map_err(|err| Error::io(format!("cannot copy {} to {}", source.display(), target.display()), err))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).map_err(|err| Error::io(format!("cannot write {}", path.display()), err))
}

/// Strips symbols in place. Cargo's release profile already strips, but a binary built some
/// other way must not ship its symbol table, so this step does not trust the build.
fn strip(path: &Path) -> Result<()> {
    let output = Command::new("strip")
        .arg("--strip-all")
        .arg(path)
        .output()
        .map_err(|err| Error::Package(format!("cannot run `strip` (install binutils): {err}")))?;
    if !output.status.success() {
        return Err(Error::Package(format!(
            "strip {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

/// The sha256 (hex) and size of a file.
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut file =
        fs::File::open(path).map_err(|err| Error::io(format!("cannot open {}", path.display()), err))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    let mut size = 0u64;
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|err| Error::io(format!("cannot read {}", path.display()), err))?;
        if read == 0 {
            break;
        }
        size += read as u64;
        hasher.update(&buffer[..read]);
    }
    Ok((hex::encode(hasher.finalize()), size))
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}

/// The commit of the work tree at `dir`, with `-dirty` appended when it has uncommitted changes,
/// so a release built from an uncommitted tree says so.
pub fn git_commit(dir: &Path) -> Result<String> {
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .map_err(|err| Error::Package(format!("cannot run git (pass --git-commit instead): {err}")))
    };
    let head = run(&["rev-parse", "HEAD"])?;
    if !head.status.success() {
        return Err(Error::Package(format!(
            "git rev-parse HEAD failed in {} (pass --git-commit instead): {}",
            dir.display(),
            String::from_utf8_lossy(&head.stderr).trim()
        )));
    }
    let commit = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    let status = run(&["status", "--porcelain", "--untracked-files=no"])?;
    let dirty = status.status.success() && !status.stdout.is_empty();
    Ok(if dirty { format!("{commit}-dirty") } else { commit })
}
