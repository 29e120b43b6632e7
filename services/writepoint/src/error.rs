//! The one error type of the write point crate.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Platform(#[from] owp_platform::Error),
    #[error(transparent)]
    Protocol(#[from] owp_protocol::Error),
    /// An item schema cannot be stated in the OpenAPI document; a bug in the schema file or here.
    #[error("the schema of item type {item_type} cannot be documented in /openapi.json: {reason}")]
    OpenApi { item_type: String, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
