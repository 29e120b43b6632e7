//! The one error type of the read store.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("read store setting: {0}")]
    Setting(String),
    #[error("no collection named {0:?}")]
    UnknownCollection(String),
    #[error("invalid query: {0}")]
    Query(String),
    #[error("PostgreSQL read store: {context}: {source}")]
    Postgres { context: String, source: sqlx::Error },
    #[error("PostgreSQL read store: cannot migrate schema owp_read: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("search engine read store: {context}: {reason}")]
    Elastic { context: String, reason: String, transient: bool },
}

impl Error {
    pub(crate) fn pg(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Self {
        let context = context.into();
        move |source| Self::Postgres { context, source }
    }

    /// Worth retrying as is: the store went away or asked to slow down.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Postgres { source, .. } => {
                matches!(source, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed)
                    || source.as_database_error().and_then(|e| e.code()).is_some_and(|code| {
                        code.starts_with("08") || code.starts_with("57P") || code == "40001"
                    })
            }
            Self::Elastic { transient, .. } => *transient,
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
