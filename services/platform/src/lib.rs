//! What every OWP service shares, written once: layered configuration, telemetry, RFC 9457
//! problem responses, health and metrics endpoints, retries, graceful shutdown, and (behind the `kafka`
//! and `db` features) Kafka and PostgreSQL client set-up.
//!
//! Nothing in here knows about a particular service; services depend on this crate, never the
//! other way round. A service enables the features of the clients it uses, so a binary that uses
//! neither (the deployer) builds neither librdkafka nor sqlx.

pub mod config;
#[cfg(feature = "db")]
pub mod db;
pub mod duration;
mod error;
pub mod http;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod retry;
pub mod shutdown;
pub mod telemetry;
pub mod topics;

pub use error::{Error, Result};
