//! Tests only: a private Kafka stack per test, started and disrupted through `scripts/services`
//! exactly as a person runs it on a laptop, so a test may stop, kill and restart servers without
//! touching the shared development broker or another test's.
//!
//! It must never skip: when the servers cannot start (the jars are missing, say), the script's
//! own message is the test's failure.

mod error;
mod eventually;
mod node;
mod ports;
#[cfg(feature = "read-path")]
pub mod read_path;
#[cfg(feature = "services")]
pub mod services;
mod stack;
mod status;

pub use error::{Error, Result};
pub use eventually::{eventually, until};
pub use node::{Node, Role, Shape};
pub use stack::{KafkaUser, PrivateStack};
pub use status::Status;
