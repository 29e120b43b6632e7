//! The framework's error type, and the error a handler reports.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Platform(#[from] owp_platform::Error),
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// Worth retrying the same batch after a pause: the database or the broker went away.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Database(err) => owp_platform::db::is_transient(err),
            Error::Kafka(_) => true,
            Error::Platform(owp_platform::Error::Database { source, .. }) => {
                owp_platform::db::is_transient(source)
            }
            Error::Platform(_) | Error::Invalid(_) => false,
        }
    }
}

/// What a handler says went wrong with a message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The message cannot be handled as it is (bad payload, a constraint it breaks). Retried a
    /// few times, then parked.
    #[error("{0}")]
    Rejected(String),
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
}

impl HandlerError {
    pub fn is_transient(&self) -> bool {
        match self {
            HandlerError::Database(err) => owp_platform::db::is_transient(err),
            HandlerError::Rejected(_) => false,
        }
    }
}

impl From<HandlerError> for Error {
    fn from(err: HandlerError) -> Self {
        match err {
            HandlerError::Database(err) => Error::Database(err),
            HandlerError::Rejected(reason) => Error::Invalid(reason),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
