//! The robots. Command robots consume `owp.commands.v1`, decide, and publish one outcome fact per
//! document to `owp.events.v1`; the projector consumes the facts and maintains the normalized
//! tables in PostgreSQL; [`replay`] rebuilds those tables from the log. The framework that runs
//! them (offsets in PostgreSQL, batching, parking) is `owp-robot-framework`.

pub mod app;
pub mod commands;
mod error;
pub mod messages;
pub mod projector;
pub mod replay;
mod settings;

pub use app::Robots;
pub use error::{Error, Result};
pub use settings::{PROJECTION_SCHEMA, ROBOTS_SCHEMA, RobotsSettings};

/// The projection tables' migrations, run into whichever schema is being built.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
