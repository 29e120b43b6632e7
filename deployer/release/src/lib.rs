//! OWP release artifacts: what a release is (a version name, a tarball of stripped binaries,
//! systemd units, default configuration and migrations, and a `manifest.json` listing the sha256
//! of every file, signed with ed25519 in minisign format), the signed `current` pointer that says
//! which release an environment runs, and the code that builds them ([`package`],
//! [`SignedPointer::sign`]) and checks them ([`unpack_verified`], [`judge`]). Building and checking
//! live side by side so that the format has exactly one definition.
//!
//! It is a crate of its own, apart from the deployer daemon, because it decides what an instance
//! installs from bytes that anyone able to write to the bucket could have put there. With no
//! cloud, network or async client it builds in seconds, so it is fuzzed (cargo-fuzz, nightly,
//! ASan), and the packaging step links the very code the deployers verify with. Its entry points
//! for untrusted input, [`Manifest::from_json`], [`SignedPointer::from_bytes`], [`judge`],
//! [`read_manifest_from_tarball`] and [`unpack_verified`], give an error for any input, never a
//! panic: a panic there is a bug.

mod error;
mod keys;
mod package;
mod pointer;
mod verify;

use std::{collections::BTreeMap, fmt, str::FromStr};

use serde::{Deserialize, Serialize};

pub use error::{Error, Result};
pub use keys::{PublicKey, SecretKey, generate_keypair};
pub use package::{PackageSpec, Packaged, git_commit, package, sha256_file, tarball_name};
pub use pointer::{Judging, POINTER_FORMAT, Pointer, SignedPointer, judge};
pub use verify::{read_manifest_from_tarball, unpack_verified, verify_dir};

/// The signed manifest's file name inside a release.
pub const MANIFEST: &str = "manifest.json";
/// The minisign signature of [`MANIFEST`].
pub const SIGNATURE: &str = "manifest.json.minisig";
/// Bumped when the manifest's meaning changes; older deployers refuse newer formats.
pub const MANIFEST_FORMAT: u32 = 1;

/// A release version. It names an S3 prefix and a directory, so only `[A-Za-z0-9._-]` are
/// allowed, it cannot start with a dot, and `current` is reserved for the pointer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Version(String);

impl Version {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Version {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidVersion { value: value.to_owned(), reason: reason.into() };
        if value.is_empty() || value.len() > 64 {
            return Err(invalid("must be 1 to 64 characters"));
        }
        if !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
            return Err(invalid("only letters, digits, '.', '_' and '-' are allowed"));
        }
        if value.starts_with('.') {
            return Err(invalid("must not start with '.'"));
        }
        if value == "current" {
            return Err(invalid("`current` names the release pointer"));
        }
        Ok(Self(value.to_owned()))
    }
}

impl TryFrom<String> for Version {
    type Error = Error;

    fn try_from(value: String) -> Result<Self> {
        value.parse()
    }
}

impl From<Version> for String {
    fn from(version: Version) -> Self {
        version.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One file of a release, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub sha256: String,
    pub size: u64,
    /// Unix permission bits the file is installed with (0755 for binaries, 0644 otherwise).
    pub mode: u32,
}

/// `manifest.json`: what a release contains. Signed, so every field can be trusted once the
/// signature checked out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub version: Version,
    pub git_commit: String,
    /// RFC 3339, when the release was packaged.
    pub created_at: String,
    /// Every file of the release except the manifest and its signature, by relative path.
    pub files: BTreeMap<String, FileEntry>,
}

impl Manifest {
    /// Parses `manifest.json`, without checking its signature (see [`verify_dir`]). Any bytes give
    /// a manifest or [`Error::BadManifest`], never a panic: it is fuzzed.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(Error::BadManifest)
    }

    pub fn to_json(&self) -> Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|err| Error::json("manifest", err))?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// The minisign trusted comment of a release signature: signed along with the manifest, and
/// shown by `minisign -V`, so a person checking by hand sees what they are looking at.
pub(crate) fn trusted_comment(manifest: &Manifest) -> String {
    format!("owp release {} commit {}", manifest.version, manifest.git_commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_safe_path_and_key_segments() {
        assert!("2024.06.01-42-abc1234".parse::<Version>().is_ok());
        assert!("v1".parse::<Version>().is_ok());
        for bad in ["", "../etc", "a/b", ".hidden", "current", "with space", &"x".repeat(65)] {
            let err = bad.parse::<Version>().unwrap_err().to_string();
            assert!(err.contains("invalid release version"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_manifest_with_unknown_fields_is_refused() {
        let text =
            r#"{"format":1,"version":"v1","git_commit":"abc","created_at":"now","files":{},"extra":1}"#;
        let err = Manifest::from_json(text.as_bytes()).unwrap_err().to_string();
        assert!(err.starts_with("bad manifest.json: unknown field `extra`"), "{err}");
    }
}
