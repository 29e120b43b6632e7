//! The deployer's local journal, `<state>/deploy.json`: the phase it is in and the release the
//! instance ran before the deploy began. Written (atomically) at the start of every phase, so
//! that a deployer restarted after a crash knows whether the instance was left deregistered or
//! half-swapped, and what to bring back.

use std::path::{Path, PathBuf};

use owp_release::{Pointer, Version};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A deploy phase; each one also names the JSON event logged when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Idle,
    Fetch,
    Verify,
    Lock,
    Drain,
    Stop,
    Swap,
    Start,
    Ready,
    Healthy,
    Stable,
    Release,
    Rollback,
    Reconcile,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Fetch => "fetch",
            Self::Verify => "verify",
            Self::Lock => "lock",
            Self::Drain => "drain",
            Self::Stop => "stop",
            Self::Swap => "swap",
            Self::Start => "start",
            Self::Ready => "ready",
            Self::Healthy => "healthy",
            Self::Stable => "stable",
            Self::Release => "release",
            Self::Rollback => "rollback",
            Self::Reconcile => "reconcile",
        }
    }

    /// Whether the instance may be out of the load balancer or on an unconfirmed release.
    pub fn disturbs_instance(self) -> bool {
        !matches!(self, Self::Idle | Self::Fetch | Self::Verify | Self::Lock | Self::Release)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub phase: Phase,
    pub deploy_id: Option<String>,
    /// The release being deployed.
    pub target: Option<Version>,
    /// The release the instance ran, healthy, before this deploy: what a rollback restores.
    pub previous: Option<Version>,
}

impl Journal {
    pub fn idle(previous: Option<Version>) -> Self {
        Self { phase: Phase::Idle, deploy_id: None, target: None, previous }
    }
}

#[derive(Debug, Clone)]
pub struct JournalFile {
    path: PathBuf,
}

impl JournalFile {
    pub fn new(state_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(state_dir)
            .map_err(|err| Error::io(format!("cannot create {}", state_dir.display()), err))?;
        Ok(Self { path: state_dir.join("deploy.json") })
    }

    pub fn load(&self) -> Result<Option<Journal>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|err| {
                Error::json(format!("{} is damaged (delete it to start clean)", self.path.display()), err)
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(Error::io(format!("cannot read {}", self.path.display()), err)),
        }
    }

    pub fn save(&self, journal: &Journal) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(journal).map_err(|err| Error::json("journal", err))?;
        write_atomically(&self.path, &bytes)
    }
}

/// `<state>/pointer.json`: the newest signed pointer this instance accepted. Its sequence is the
/// high-water mark below which every pointer is a replay; kept on disk so that a restart does
/// not forget it.
#[derive(Debug, Clone)]
pub struct AcceptedPointerFile {
    path: PathBuf,
}

impl AcceptedPointerFile {
    pub fn new(state_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(state_dir)
            .map_err(|err| Error::io(format!("cannot create {}", state_dir.display()), err))?;
        Ok(Self { path: state_dir.join("pointer.json") })
    }

    pub fn load(&self) -> Result<Option<Pointer>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|err| {
                Error::json(
                    format!(
                        "{} is damaged (delete it only if you know the newest published pointer is genuine)",
                        self.path.display()
                    ),
                    err,
                )
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(Error::io(format!("cannot read {}", self.path.display()), err)),
        }
    }

    pub fn save(&self, pointer: &Pointer) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(pointer).map_err(|err| Error::json("accepted pointer", err))?;
        write_atomically(&self.path, &bytes)
    }
}

/// Writes through a temporary file renamed over `path`, so a crash leaves the old or the new
/// contents, never a torn file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let partial = path.with_extension("json.partial");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut file = std::fs::File::create(&partial)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&partial, path)
    };
    write().map_err(|err| Error::io(format!("cannot write {}", path.display()), err))
}
