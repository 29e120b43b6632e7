//! The one error type of the read point, for starting and running it. A request's failure is a
//! `Problem` (see `routes`), never this.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// PostgreSQL, the listener or the HTTP server.
    #[error(transparent)]
    Platform(#[from] owp_platform::Error),
    #[error(transparent)]
    ReadStore(#[from] owp_readstore::Error),
    /// `translator.toml` cannot be served (it names the file, the entry and why).
    #[error(transparent)]
    Config(#[from] owp_collections::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
