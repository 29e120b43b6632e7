//! The translator: SQL entries from `translator.toml` turned into denormalized documents in the
//! read store, kept up to date from the projections' outbox, rebuilt in full beside the live
//! version when the configuration changes, the projection is swapped by `owp replay`, or an
//! operator asks.
//!
//! - [`capture`]: change capture of the projection (the outbox and its triggers);
//! - [`config`]: the file's shape; [`plan`]: each entry checked against PostgreSQL;
//! - [`documents`]: documents built from the current state for a set of keys;
//! - [`engine`]: the loop (outbox batches, hot reload, rebuild requests);
//! - [`rebuild`]: one collection rebuilt into a new version;
//! - [`operator`]: what `owp translator …` does;
//! - `app` builds the process (its status server bound first), `routes` serves `GET /status`.

mod app;
pub mod capture;
pub mod documents;
mod engine;
mod error;
mod metrics;
pub mod operator;
pub mod plan;
pub mod rebuild;
mod routes;
mod settings;
pub mod state;
mod status;

use owp_platform::db::{DatabaseSettings, PROJECTION_SCHEMA};

pub use app::Translator;
pub use engine::Engine;
pub use error::{Error, Result};
/// `translator.toml`, shared with the read point (which serves what it defines).
pub use owp_collections::config;
pub use settings::Settings;
pub use status::{CollectionStatus, Role, SharedStatus, Status};

/// Session settings of every translator connection: the projection schema first, and UTC, so
/// that timestamps in documents do not depend on the server's time zone.
pub async fn pool(database: &DatabaseSettings, max_connections: u32) -> Result<sqlx::PgPool> {
    Ok(database.pool_with(PROJECTION_SCHEMA, max_connections, &[("TimeZone", "UTC")]).await?)
}
