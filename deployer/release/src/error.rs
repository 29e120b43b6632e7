//! The one error type of this crate. The deployer wraps it transparently, so these messages are
//! the ones its log, `deployer status` and its command line print.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A release failed verification: bad signature, wrong key, a file that does not match the
    /// signed manifest, or a tarball that is not a release at all.
    #[error("release {version} refused: {reason}")]
    Refused { version: String, reason: String },
    #[error("invalid release version {value:?}: {reason}")]
    InvalidVersion { value: String, reason: String },
    /// A tarball read without verifying it ([`crate::read_manifest_from_tarball`]) is no release.
    #[error("{} is not a release: {reason}", path.display())]
    NotARelease { path: PathBuf, reason: String },
    /// Bytes that are not a `manifest.json` ([`crate::Manifest::from_json`]).
    #[error("bad manifest.json: {0}")]
    BadManifest(#[source] serde_json::Error),
    #[error("key {}: {message}", path.display())]
    Key { path: PathBuf, message: String },
    #[error("packaging: {0}")]
    Package(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("{context}: {source}")]
    Json { context: String, source: serde_json::Error },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }

    pub(crate) fn json(context: impl Into<String>, source: serde_json::Error) -> Self {
        Self::Json { context: context.into(), source }
    }

    pub(crate) fn refused(version: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Refused { version: version.into(), reason: reason.into() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
