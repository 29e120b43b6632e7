//! The one write point: `POST /v1/documents` and `POST /v1/documents/batch`.
//!
//! A document is validated against its item type's schema and appended to `owp.commands.v1`;
//! the client hears `202` only after the broker acknowledged the write. This service decides
//! nothing about the document's meaning — that is the robots' job — and never writes anywhere
//! but the commands topic.

mod app;
mod error;
mod log;
mod metrics;
pub mod openapi;
mod routes;
mod settings;

pub use app::Application;
pub use error::{Error, Result};
pub use log::{CommandLog, ProduceError, Receipt};
pub use settings::Settings;
