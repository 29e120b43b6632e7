//! The one error type of the platform crate.

use std::path::PathBuf;

/// Non-exhaustive: the Kafka and database variants exist only with their features.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration file could not be used; names the file, the entry and why.
    #[error("{}: entry `{entry}`: {reason}", file.display())]
    Config { file: PathBuf, entry: String, reason: String },
    #[error("cannot read configuration file {}: {source}", file.display())]
    ConfigRead { file: PathBuf, source: std::io::Error },
    #[cfg(feature = "kafka")]
    #[error("Kafka: {context}: {source}")]
    Kafka { context: String, source: rdkafka::error::KafkaError },
    /// A Kafka client setting that cannot work; names the setting and why.
    #[cfg(feature = "kafka")]
    #[error("Kafka setting {setting}: {reason}")]
    KafkaSetting { setting: &'static str, reason: String },
    #[cfg(feature = "db")]
    #[error("PostgreSQL: {context}: {source}")]
    Database { context: String, source: sqlx::Error },
    #[error("telemetry: {0}")]
    Telemetry(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("background task failed: {0}")]
    Task(String),
    #[error("HTTP server: {0}")]
    Serve(std::io::Error),
}

#[cfg(feature = "kafka")]
impl Error {
    pub(crate) fn kafka(context: impl Into<String>, source: rdkafka::error::KafkaError) -> Self {
        Self::Kafka { context: context.into(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
