//! The one error type of the deployer library. Every message names what failed and, where it
//! helps, what to do about it; callers add no context of their own.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An S3 call failed for a reason other than a missing object or a failed precondition.
    #[error("S3 {operation} s3://{bucket}/{key}: {message}")]
    S3 { operation: &'static str, bucket: String, key: String, message: String },
    #[error("load balancer: {0}")]
    LoadBalancer(String),
    #[error("HAProxy runtime API at {socket}: {message}")]
    Haproxy { socket: String, message: String },
    /// The release format, keys and verification; `owp_release::Error::Refused` is a release
    /// that failed verification.
    #[error(transparent)]
    Release(#[from] owp_release::Error),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
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
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
