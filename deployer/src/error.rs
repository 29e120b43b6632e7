//! The one error type of the deployer library. Every message names what failed and, where it
//! helps, what to do about it; callers add no context of their own.

use std::{path::PathBuf, time::Duration};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An S3 call failed for a reason other than a missing object or a failed precondition.
    #[error("S3 {operation} s3://{bucket}/{key}: {message}")]
    S3 { operation: &'static str, bucket: String, key: String, message: String },
    #[error("load balancer: {0}")]
    LoadBalancer(String),
    #[error("HAProxy runtime API at {socket}: {message}")]
    Haproxy { socket: String, message: String },
    /// A release failed verification: bad signature, wrong key, a file that does not match the
    /// signed manifest, or a tarball that is not a release at all.
    #[error("release {version} refused: {reason}")]
    Refused { version: String, reason: String },
    #[error("invalid release version {value:?}: {reason}")]
    InvalidVersion { value: String, reason: String },
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("key {}: {message}", path.display())]
    Key { path: PathBuf, message: String },
    #[error("packaging: {0}")]
    Package(String),
    #[error("publishing: {0}")]
    Publish(String),
    #[error("process manager: {0}")]
    Process(String),
    /// The fleet lease is no longer ours: it could not be renewed in time, or another deployer
    /// holds it with a higher fencing counter. Whoever sees this must stop changing the fleet.
    #[error("the fleet lease was lost: {0}")]
    LeaseLost(String),
    #[error("{what} did not happen within {}", humantime::format_duration(*after))]
    Timeout { what: String, after: Duration },
    #[error("configuration: {0}")]
    Config(String),
    #[error("{context}: {source}")]
    Json { context: String, source: serde_json::Error },
    #[error("stopped by a shutdown signal")]
    Shutdown,
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
