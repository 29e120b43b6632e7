//! Crash recovery, run once when the deployer starts: whatever a crash left behind (the
//! instance deregistered mid-drain, half-swapped to an unconfirmed release, services stopped),
//! the instance ends up on its last good release, serving, registered and healthy. On a fresh
//! instance with nothing installed it installs the current release the same way.
//!
//! Bringing an instance back never needs the fleet lease: it only adds capacity.

use std::time::{Duration, Instant};

use owp_platform::retry::Backoff;
use owp_release::Version;

use crate::{
    Error, Result,
    events::{self, DeployCtx, Outcome},
    state::{Journal, Phase},
};

/// Longest pause between two reconcile attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

impl crate::daemon::Deployer {
    /// Reconciles until it succeeds or a shutdown signal arrives.
    pub(crate) async fn reconcile_until_done(&mut self) -> Result<()> {
        let mut backoff = Backoff::new(Duration::from_millis(500), MAX_BACKOFF);
        loop {
            match self.reconcile().await {
                Ok(()) => return Ok(()),
                Err(Error::Shutdown) => return Err(Error::Shutdown),
                Err(err) => {
                    tracing::error!(error = %err, retry_in_ms = events::millis(backoff.next_pause()), "cannot bring the instance to a healthy state")
                }
            }
            if !backoff.pause_unless_cancelled(&self.shutdown).await {
                return Err(Error::Shutdown);
            }
        }
    }

    async fn reconcile(&mut self) -> Result<()> {
        let journal = self.journal.load()?;
        let installed = self.install.current();
        let wanted = match (&installed, &journal) {
            (None, _) => return self.bootstrap().await,
            // Interrupted while the instance was out or on an unconfirmed release: go back to
            // the release it ran before the deploy began.
            (Some(installed), Some(Journal { phase, previous: Some(previous), .. }))
                if phase.disturbs_instance() && self.install.release_dir(previous).is_dir() =>
            {
                if previous != installed {
                    tracing::warn!(%installed, %previous, phase = phase.as_str(), "found a half-finished swap; returning to the previous release");
                } else {
                    tracing::warn!(phase = phase.as_str(), "found the instance mid-deploy; bringing it back");
                }
                previous.clone()
            }
            (Some(installed), _) => installed.clone(),
        };
        let deploy = DeployCtx::new(wanted.clone());
        let started = Instant::now();
        self.enter(Phase::Reconcile, Some(&wanted), Some(&deploy.id), Some(&wanted))?;
        match self.restore(&wanted).await {
            Ok(()) => {
                self.enter(Phase::Idle, None, None, Some(&wanted))?;
                events::phase(
                    &self.instance,
                    &deploy,
                    Phase::Reconcile,
                    started,
                    Outcome::Ok,
                    "serving, registered and healthy",
                );
                Ok(())
            }
            Err(err) => {
                events::phase(
                    &self.instance,
                    &deploy,
                    Phase::Reconcile,
                    started,
                    Outcome::Failed,
                    &err.to_string(),
                );
                Err(err)
            }
        }
    }

    /// Nothing installed yet: fetch, verify and start the current release.
    async fn bootstrap(&mut self) -> Result<()> {
        let Some(current) = self.store.current().await? else {
            return Err(Error::Config("nothing is installed and no release is published yet".into()));
        };
        let Some(pointer) = self.accept_pointer(&current.bytes)? else {
            return Err(Error::Config(
                "nothing is installed and the current pointer is refused (see the deploy.pointer event)"
                    .into(),
            ));
        };
        let version: Version = pointer.version;
        if let Some(marker) = self.store.bad_marker(&version).await? {
            return Err(Error::Config(format!(
                "nothing is installed and the current release {version} is marked bad ({})",
                marker.reason
            )));
        }
        let deploy = DeployCtx::new(version.clone());
        tracing::info!(%version, "nothing installed; installing the current release");
        if !self.fetch_and_verify(&deploy).await? {
            return Err(owp_release::Error::Refused {
                version: version.to_string(),
                reason: "see the verify event above".into(),
            }
            .into());
        }
        let started = Instant::now();
        self.enter(Phase::Reconcile, Some(&version), Some(&deploy.id), Some(&version))?;
        self.install.flip(&version)?;
        let restored = self.restore(&version).await;
        let outcome = if restored.is_ok() { Outcome::Ok } else { Outcome::Failed };
        let detail = match &restored {
            Ok(()) => "installed, serving, registered and healthy".to_owned(),
            Err(err) => err.to_string(),
        };
        events::phase(&self.instance, &deploy, Phase::Reconcile, started, outcome, &detail);
        restored?;
        self.enter(Phase::Idle, None, None, Some(&version))
    }
}
