//! The projection's read side. The robots own the projection schema: they migrate it and they
//! are its only writer. Every other service that reads it (auth, the read point) does so through
//! this crate, so the tables' names and columns are spelled out in one place beside the robots'
//! own reads, and a reader links neither Kafka nor the robots.
//!
//! - [`sessions`]: whether a session is live, as the command robots decide it for a document and
//!   as the read point decides it for a request;
//! - [`accounts`]: the users, credentials and sessions auth looks up.

pub mod accounts;
pub mod sessions;

pub use sessions::SessionLimits;
