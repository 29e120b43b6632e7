//! The robot framework, written once for every robot.
//!
//! A robot is a consumer group `owp.robot.<name>` with a [`Handler`]. The framework reads
//! batches, skips what was already processed, runs the handler inside one PostgreSQL transaction,
//! publishes the facts the handler decided (waiting for the broker's acknowledgement), and stores
//! the partition offsets and processed ids in that same transaction. Kafka's own committed offsets
//! are only a convenience: on (re)assignment the framework positions each partition at the offset
//! stored in PostgreSQL. A message that keeps failing is parked per key, copied to the dead-letter
//! topic, and reported to its sender; other keys keep flowing.

mod batch;
pub mod deadletter;
mod error;
mod handler;
mod metrics;
pub mod ownership;
mod runner;
mod schema;
mod settings;
pub mod store;

pub use batch::{BatchError, Dedupe, RebuildLedger, Sink, Step, next_offsets};
pub use error::{Error, HandlerError, Result};
pub use handler::{Fact, Handler, Incoming};
pub use metrics::RobotMetrics;
pub use runner::{Robot, RobotContext};
pub use schema::SchemaName;
pub use settings::{GROUP_PREFIX, RobotSettings};
