//! The `owp` command: every service in one process (`owp up`) and the operator's tools
//! (`owp topics`, `owp read`, `owp replay`, …). Each subcommand lives in its own module; this crate
//! only composes the service crates, it implements none of their logic.

pub mod cli;
pub mod database;
pub mod deadletter;
pub mod read;
pub mod replay;
pub mod topics;
pub mod translator;
pub mod up;

pub use cli::{Cli, run};
