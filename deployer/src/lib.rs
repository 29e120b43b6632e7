//! The OWP deployer: signed release tarballs, and the daemon that rolls them out one instance at
//! a time behind the load balancer, under a fleet lease kept in S3.
//!
//! - `owp_release` (its own crate, `deployer/release`): the release format, packaging and
//!   verification (one definition of the format).
//! - `store`, `lease`: S3 as the release store, the fleet lease with fencing.
//! - `lb`, `process`, `install`, `health`: the edges of an instance — load balancer (ALB or
//!   HAProxy), service manager (systemd or child processes), the install root, local readiness.
//! - `daemon`, `deploy`, `reconcile`, `state`, `events`: `deployer run` — polling, one deploy
//!   with its gates and rollback, crash recovery, the local journal and the JSON phase events.
//! - `publish`, `status`, `cli`: the other commands.

pub mod aws;
pub mod cli;
pub mod daemon;
mod deploy;
mod error;
pub mod events;
pub mod health;
pub mod install;
pub mod lb;
pub mod lease;
pub mod process;
pub mod publish;
mod reconcile;
pub mod settings;
pub mod state;
pub mod status;
pub mod store;

pub use error::{Error, Result};
