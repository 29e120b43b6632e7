//! What every OWP service shares, written once: layered configuration, telemetry, Kafka client
//! setup, RFC 9457 problem responses, health and metrics endpoints, and graceful shutdown.
//!
//! Nothing in here knows about a particular service; services depend on this crate, never the
//! other way round.

pub mod config;
pub mod db;
pub mod duration;
mod error;
pub mod http;
pub mod kafka;
pub mod shutdown;
pub mod telemetry;
pub mod topics;

pub use error::{Error, Result};
