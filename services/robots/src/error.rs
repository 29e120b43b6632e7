//! The one error type of the robots process and of replay. A document that cannot be accepted is
//! a decision (a rejection fact), and a message that fails is the robot framework's error; this
//! is what stops the process or a replay.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Settings, the listener, the HTTP server, Kafka clients and database pools.
    #[error(transparent)]
    Platform(#[from] owp_platform::Error),
    /// A robot could not start or stopped (its bookkeeping, its consumer, its batches).
    #[error(transparent)]
    Framework(#[from] owp_robot_framework::Error),
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    #[error("PostgreSQL: cannot create the projection tables: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Replay copies the live schema's privileges onto the rebuilt one.
    #[error("PostgreSQL: cannot run {statement}: {source}")]
    Grant { statement: String, source: sqlx::Error },
    #[error("topic {0} does not exist")]
    NoTopic(String),
    #[error("the broker sent nothing for 30 s during the rebuild")]
    Stalled,
    #[error("{0} panicked or was cancelled: {1}")]
    Task(&'static str, tokio::task::JoinError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
