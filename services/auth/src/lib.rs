//! Auth: `POST /v1/signup`, `/v1/login`, `/v1/logout`.
//!
//! Auth must answer a login with a session id at once, so it is the one service besides the
//! write point allowed to write to the log — and it writes facts, straight to `owp.events.v1`.
//! It reads the projector's tables, and answers once its own fact is visible there, so the
//! client's next request (through the write point) finds the session. Passwords reach the log
//! only as argon2 hashes. Its own tables (login throttling, in [`AUTH_SCHEMA`]) are not a
//! projection: whether a login may be tried is decided, and counted, before the password is
//! checked, which a fact applied later could not do.

mod app;
mod client;
mod error;
pub mod openapi;
mod password;
mod routes;
mod settings;
mod throttle;

pub use app::{Application, prepare_database};
pub use error::Error;
pub use settings::Settings;

/// Where auth's own tables live.
pub const AUTH_SCHEMA: &str = "owp_auth";

/// Auth's own tables' migrations, run into [`AUTH_SCHEMA`].
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
