//! Auth's one error type, and the problem each answers with.

use std::time::Duration;

use owp_platform::http::Problem;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Every password hashing slot stayed taken for the whole wait.
    #[error("every password hashing slot is busy")]
    HashingBusy,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database: cannot migrate auth's tables: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Start-up: settings, the listener, the HTTP server, the Kafka producer, database pools.
    #[error(transparent)]
    Platform(#[from] owp_platform::Error),
    /// Password hashing failed in a way no request can cause (parameters, a lost task).
    #[error("{0}")]
    Internal(String),
}

impl From<Error> for Problem {
    fn from(err: Error) -> Self {
        match err {
            Error::HashingBusy => {
                Problem::unavailable("every password hashing slot is busy", Duration::from_secs(1))
            }
            Error::Database(err) => {
                tracing::error!(error = %err, "database error");
                Problem::unavailable("the database is unavailable", Duration::from_secs(1))
            }
            err @ (Error::Migrate(_) | Error::Platform(_) | Error::Internal(_)) => {
                tracing::error!(error = %err, "internal error");
                Problem::internal()
            }
        }
    }
}
