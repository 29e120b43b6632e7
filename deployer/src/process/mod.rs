//! Stopping and starting the instance's services around a release swap. Two real managers:
//! systemd units (`systemd`, the production case: the units run `/opt/owp/current/bin/...`), and
//! plain child processes (`child`) for hosts without systemd and for the local fleet.

mod child;
mod systemd;

pub use child::Children;
pub use systemd::Systemd;

use crate::Result;

#[derive(Debug)]
pub enum ProcessManager {
    Systemd(Systemd),
    Child(Children),
}

impl ProcessManager {
    /// Stops every service; returns when they have exited.
    pub async fn stop(&self) -> Result<()> {
        match self {
            Self::Systemd(systemd) => systemd.stop().await,
            Self::Child(children) => children.stop().await,
        }
    }

    /// Starts every service that is not running, from the release `current` points to.
    pub async fn start(&self) -> Result<()> {
        match self {
            Self::Systemd(systemd) => systemd.start().await,
            Self::Child(children) => children.start().await,
        }
    }

    /// Whether every service is running.
    pub async fn running(&self) -> Result<bool> {
        match self {
            Self::Systemd(systemd) => systemd.running().await,
            Self::Child(children) => Ok(children.running()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Systemd(systemd) => systemd.describe(),
            Self::Child(children) => children.describe(),
        }
    }
}
