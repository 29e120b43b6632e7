//! Auth: `POST /v1/signup`, `/v1/login`, `/v1/logout`.
//!
//! Auth must answer a login with a session id at once, so it is the one service besides the
//! write point allowed to write to the log — and it writes facts, straight to `owp.events.v1`.
//! It reads only the projector's tables, and answers once its own fact is visible there, so the
//! client's next request (through the write point) finds the session. Passwords reach the log
//! only as argon2 hashes.

mod app;
pub mod openapi;
mod password;
mod routes;
mod settings;

pub use app::Application;
pub use settings::Settings;
