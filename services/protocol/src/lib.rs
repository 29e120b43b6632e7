//! The contract between OWP services: what travels on the log and how it is named.
//!
//! Everything another service relies on lives here — topic names, id types, the command and event
//! envelopes, the message-key rule and the JSON Schema of every item type — so that a change to
//! the contract is a change to this crate. This crate does no I/O.

mod document;
mod envelope;
mod error;
pub mod facts;
mod ids;
mod schema;
mod topic;

pub use document::{SESSION_IN_DOCUMENT, Submission};
pub use envelope::{Command, Event, MessageKey};
pub use error::{Error, Result, Violation};
pub use ids::{DocumentId, EventId, ItemType, SessionId};
pub use schema::{ItemSchema, Registry, SessionRule};
pub use topic::TopicName;
