//! The one read point: the outcome of a submitted document (waiting, bounded, until it is
//! readable: read-your-writes in one call), denormalized documents by key with ETags, filtered
//! and paged listings, and the caller's messages. It reads only the read store, and the
//! sessions of the projection to know who is calling.

mod access;
mod app;
mod error;
mod lookups;
mod openapi;
mod routes;
mod settings;
mod waiters;

pub use access::Access;
pub use app::Application;
pub use error::{Error, Result};
pub use lookups::Lookups;
pub use openapi::document as openapi_document;
pub use owp_collections::CursorKey;
pub use routes::MESSAGES;
pub use settings::Settings;
pub use waiters::Waiters;
