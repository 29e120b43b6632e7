//! The one error type of the translator.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot be used (it names the file, the entry and why) or read.
    #[error(transparent)]
    Config(#[from] owp_collections::Error),
    #[error("PostgreSQL: {context}: {source}")]
    Database { context: String, source: sqlx::Error },
    #[error("PostgreSQL: cannot migrate the translator's tables: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Store(#[from] owp_readstore::Error),
    /// Database pools, the listener, the HTTP server.
    #[error(transparent)]
    Platform(#[from] owp_platform::Error),
    /// What the translator needs before it starts is missing; says what, and how to fix it.
    #[error("{0}")]
    NotReady(String),
    #[error("the status server panicked or was cancelled: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("{0}")]
    Operator(String),
}

impl Error {
    pub(crate) fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Self {
        let context = context.into();
        move |source| Self::Database { context, source }
    }

    /// Worth retrying after a pause: PostgreSQL or the store went away for now.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Database { source, .. } => owp_platform::db::is_transient(source),
            Self::Store(err) => err.is_transient(),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
