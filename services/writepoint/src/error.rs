//! The one error type of the write point crate.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Platform(#[from] owp_platform::Error),
    #[error(transparent)]
    Protocol(#[from] owp_protocol::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
