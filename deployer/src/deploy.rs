//! One deploy of one release on this instance:
//!
//! fetch → verify (both before the lock, so a bad download never holds up the fleet) → lock →
//! min-healthy guard → drain → stop → swap → start → ready → register and healthy → stable →
//! release the lease.
//!
//! The fence (`LeaseGuard::check`) runs before every step that changes what the load balancer
//! or the instance serves. A gate that fails after the swap (start, ready, healthy, stable) rolls
//! back to the previous release and marks the release bad in S3; a lost lease, an API failure or
//! a shutdown signal restores the previous release without blaming it.

use std::time::{Duration, Instant};

use owp_release::Version;
use tokio_util::sync::CancellationToken;

use crate::{
    Error, Result,
    events::{self, DeployCtx, Outcome},
    lease::{Attempt, LeaseGuard},
    state::Phase,
    store::{BadMarker, now_rfc3339},
};

/// Why a deploy stopped after the lock was taken.
struct Failure {
    phase: Phase,
    error: Error,
}

impl Failure {
    /// Whether the release itself is to blame (and so is marked bad): it would not start, become
    /// ready, become healthy or stay so. Infrastructure trouble is not the release's fault.
    fn blames_release(&self) -> bool {
        matches!(self.phase, Phase::Start | Phase::Ready | Phase::Healthy | Phase::Stable)
            && !matches!(
                self.error,
                Error::LeaseLost(_)
                    | Error::Shutdown
                    | Error::S3 { .. }
                    | Error::LoadBalancer(_)
                    | Error::Haproxy { .. }
            )
    }
}

impl crate::daemon::Deployer {
    pub(crate) async fn deploy(&mut self, version: Version) -> Result<()> {
        let deploy = DeployCtx::new(version.clone());
        let Some(previous) = self.install.current() else {
            return Err(Error::Process(
                "no release is installed; the instance must be reconciled first".into(),
            ));
        };
        tracing::info!(deploy_id = %deploy.id, %version, %previous, "new release published");

        if !self.fetch_and_verify(&deploy).await? {
            return Ok(());
        }

        let lock_started = Instant::now();
        self.enter(Phase::Lock, Some(&version), Some(&deploy.id), Some(&previous))?;
        let Some(guard) = self.acquire(&deploy).await? else {
            self.enter(Phase::Idle, None, None, Some(&previous))?;
            return Ok(());
        };
        let lock_wait = lock_started.elapsed();
        let held_since = Instant::now();

        // The gates run on a token that fires on shutdown or when the lease is lost.
        let cancel = CancellationToken::new();
        let watch = {
            let (cancel, shutdown, lost) = (cancel.clone(), self.shutdown.clone(), guard.lost());
            tokio::spawn(async move {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = lost.cancelled() => {}
                    () = cancel.cancelled() => {}
                }
                cancel.cancel();
            })
        };

        let mut swap = Duration::ZERO;
        let outcome = self.roll(&deploy, &guard, &previous, &cancel, &mut swap).await;
        watch.abort();
        match outcome {
            Ok(()) => {
                self.enter(Phase::Release, None, Some(&deploy.id), Some(&version))?;
                let result = guard.release().await;
                events::phase(
                    &self.instance,
                    &deploy,
                    Phase::Release,
                    held_since,
                    if result.is_ok() { Outcome::Ok } else { Outcome::Failed },
                    "lease released",
                );
                if let Err(err) = result {
                    tracing::warn!(error = %err, "the lease could not be released cleanly; it will expire");
                }
                self.enter(Phase::Idle, None, None, Some(&version))?;
                events::done(&self.instance, &deploy, swap, lock_wait, Outcome::Ok);
                self.prune(&version, &previous);
                Ok(())
            }
            Err(failure) => {
                let detail = failure.error.to_string();
                events::phase(
                    &self.instance,
                    &deploy,
                    failure.phase,
                    self.phase_started(),
                    Outcome::Failed,
                    &detail,
                );
                let blame = failure.blames_release();
                self.recover(&deploy, &previous, &failure, blame).await;
                let result = guard.release().await;
                events::phase(
                    &self.instance,
                    &deploy,
                    Phase::Release,
                    held_since,
                    if result.is_ok() { Outcome::Ok } else { Outcome::Failed },
                    "lease released after recovery",
                );
                if let Err(err) = result {
                    tracing::warn!(error = %err, "the lease could not be released cleanly; it will expire");
                }
                events::done(&self.instance, &deploy, swap, lock_wait, Outcome::Failed);
                if matches!(failure.error, Error::Shutdown) && self.shutdown.is_cancelled() {
                    return Err(Error::Shutdown);
                }
                Err(failure.error)
            }
        }
    }

    /// Downloads and verifies the release into `releases/<version>/`. `false` when it was
    /// refused (logged, and never tried again by this process).
    pub(crate) async fn fetch_and_verify(&mut self, deploy: &DeployCtx) -> Result<bool> {
        let version = &deploy.version;
        let release_dir = self.install.release_dir(version);
        let tarball = self.downloads.join(owp_release::tarball_name(version));
        if !release_dir.is_dir() {
            self.set_status(Phase::Fetch, Some(version), Some(&deploy.id));
            let started = Instant::now();
            if let Err(err) = self.store.download(version, &tarball).await {
                events::phase(
                    &self.instance,
                    deploy,
                    Phase::Fetch,
                    started,
                    Outcome::Failed,
                    &err.to_string(),
                );
                return Err(err);
            }
            let size = std::fs::metadata(&tarball).map(|m| m.len()).unwrap_or(0);
            events::phase(
                &self.instance,
                deploy,
                Phase::Fetch,
                started,
                Outcome::Ok,
                &format!("{size} bytes"),
            );
        }

        self.set_status(Phase::Verify, Some(version), Some(&deploy.id));
        let started = Instant::now();
        let (releases_dir, key, expected, path) =
            (self.install.releases_dir(), self.public_key.clone(), version.clone(), tarball.clone());
        let verified = tokio::task::spawn_blocking(move || {
            owp_release::unpack_verified(&path, &releases_dir, &expected, &key)
        })
        .await
        .map_err(|err| Error::Process(format!("the verification task failed: {err}")))?;
        let _ = std::fs::remove_file(&tarball);
        match verified {
            Ok((_, manifest)) => {
                let detail = format!(
                    "signature ok, {} files match, commit {}",
                    manifest.files.len(),
                    manifest.git_commit
                );
                events::phase(&self.instance, deploy, Phase::Verify, started, Outcome::Ok, &detail);
                Ok(true)
            }
            Err(err @ owp_release::Error::Refused { .. }) => {
                events::phase(
                    &self.instance,
                    deploy,
                    Phase::Verify,
                    started,
                    Outcome::Refused,
                    &err.to_string(),
                );
                self.refused.insert(version.clone());
                self.note(err.to_string());
                self.set_status(Phase::Idle, None, None);
                Ok(false)
            }
            Err(err) => {
                events::phase(
                    &self.instance,
                    deploy,
                    Phase::Verify,
                    started,
                    Outcome::Failed,
                    &err.to_string(),
                );
                Err(err.into())
            }
        }
    }

    /// Takes the fleet lease, waiting while another deployer holds it. `None` when the release
    /// stopped being worth deploying meanwhile (marked bad, or no longer current).
    async fn acquire(&self, deploy: &DeployCtx) -> Result<Option<LeaseGuard>> {
        let started = Instant::now();
        let mut last_log: Option<Instant> = None;
        loop {
            match self.lease.try_acquire(&deploy.id, deploy.version.as_str()).await {
                Ok(Attempt::Acquired(guard)) => {
                    // Re-check under the lease: the previous holder may have just marked it bad.
                    if let Some(reason) = self.not_worth_deploying(&deploy.version).await? {
                        let _ = guard.release().await;
                        events::phase(
                            &self.instance,
                            deploy,
                            Phase::Lock,
                            started,
                            Outcome::Skipped,
                            &reason,
                        );
                        return Ok(None);
                    }
                    let detail = match guard.took_over_from() {
                        Some(holder) => format!(
                            "fencing counter {}; took over the expired lease of {} (session {})",
                            guard.counter(),
                            holder.instance,
                            holder.session
                        ),
                        None => format!("fencing counter {}", guard.counter()),
                    };
                    events::phase(&self.instance, deploy, Phase::Lock, started, Outcome::Ok, &detail);
                    return Ok(Some(guard));
                }
                Ok(Attempt::Busy { holder, expires_in }) => {
                    if last_log.is_none_or(|at| at.elapsed() >= Duration::from_secs(5)) {
                        last_log = Some(Instant::now());
                        tracing::info!(
                            deploy_id = %deploy.id,
                            holder = holder.as_ref().map_or("unknown", |h| h.instance.as_str()),
                            holder_version = holder.as_ref().map_or("", |h| h.version.as_str()),
                            expires_in_ms = expires_in.map(events::millis),
                            "waiting for the fleet lease"
                        );
                    }
                }
                Err(err) => tracing::warn!(error = %err, "cannot read or take the fleet lease; retrying"),
            }
            if let Some(reason) = self.not_worth_deploying(&deploy.version).await? {
                events::phase(&self.instance, deploy, Phase::Lock, started, Outcome::Skipped, &reason);
                return Ok(None);
            }
            self.pause(self.timings.lock_retry, &self.shutdown).await?;
        }
    }

    async fn not_worth_deploying(&self, version: &Version) -> Result<Option<String>> {
        if let Some(marker) = self.store.bad_marker(version).await? {
            return Ok(Some(format!("marked bad by {}: {}", marker.instance, marker.reason)));
        }
        let Some(current) = self.store.current().await? else {
            return Ok(Some("the current-release pointer is gone".into()));
        };
        match self.judge_pointer(&current.bytes) {
            Ok(pointer) if &pointer.version == version => Ok(None),
            Ok(pointer) => Ok(Some(format!("no longer current (now {})", pointer.version))),
            Err(reason) => Ok(Some(format!("the current pointer is now refused: {reason}"))),
        }
    }

    /// Everything between taking and releasing the lease.
    async fn roll(
        &self,
        deploy: &DeployCtx,
        guard: &LeaseGuard,
        previous: &Version,
        cancel: &CancellationToken,
        swap: &mut Duration,
    ) -> Result<(), Failure> {
        let version = &deploy.version;
        let id = Some(deploy.id.as_str());
        let fail = |phase: Phase| move |error: Error| Failure { phase, error };
        let step = |phase: Phase, started: Instant, detail: &str| {
            events::phase(&self.instance, deploy, phase, started, Outcome::Ok, detail);
        };

        // Min-healthy guard: never take this instance out unless the others can carry the load.
        self.guard_min_healthy(cancel).await.map_err(fail(Phase::Lock))?;

        // Drain.
        guard.check().await.map_err(fail(Phase::Drain))?;
        self.enter(Phase::Drain, Some(version), id, Some(previous)).map_err(fail(Phase::Drain))?;
        let drain_started = Instant::now();
        let detail = self.drain(cancel).await.map_err(fail(Phase::Drain))?;
        step(Phase::Drain, drain_started, &detail);

        // Stop.
        guard.check().await.map_err(fail(Phase::Stop))?;
        self.enter(Phase::Stop, Some(version), id, Some(previous)).map_err(fail(Phase::Stop))?;
        let started = Instant::now();
        self.processes.stop().await.map_err(fail(Phase::Stop))?;
        step(Phase::Stop, started, "services stopped");

        // Swap and start.
        guard.check().await.map_err(fail(Phase::Swap))?;
        self.enter(Phase::Swap, Some(version), id, Some(previous)).map_err(fail(Phase::Swap))?;
        let started = Instant::now();
        self.install.flip(version).map_err(fail(Phase::Swap))?;
        self.enter(Phase::Start, Some(version), id, Some(previous)).map_err(fail(Phase::Start))?;
        self.processes.start().await.map_err(fail(Phase::Start))?;
        step(Phase::Start, started, &format!("current -> releases/{version}"));

        // Local readiness.
        self.enter(Phase::Ready, Some(version), id, Some(previous)).map_err(fail(Phase::Ready))?;
        let started = Instant::now();
        self.probe.wait_ready(self.timings.ready_timeout, cancel).await.map_err(fail(Phase::Ready))?;
        step(Phase::Ready, started, "local /readyz answered");

        // Register and wait for the load balancer.
        guard.check().await.map_err(fail(Phase::Healthy))?;
        self.enter(Phase::Healthy, Some(version), id, Some(previous)).map_err(fail(Phase::Healthy))?;
        let started = Instant::now();
        self.lb.register().await.map_err(fail(Phase::Healthy))?;
        self.wait_lb_healthy(self.timings.healthy_timeout, cancel).await.map_err(fail(Phase::Healthy))?;
        step(Phase::Healthy, started, "the load balancer reports the instance healthy");
        // The swap: from taking the instance out to the load balancer sending it traffic again.
        *swap = drain_started.elapsed();

        // Stability window.
        self.enter(Phase::Stable, Some(version), id, Some(previous)).map_err(fail(Phase::Stable))?;
        let started = Instant::now();
        self.hold_stable(cancel).await.map_err(fail(Phase::Stable))?;
        step(Phase::Stable, started, &format!("swap took {} ms", events::millis(*swap)));
        Ok(())
    }

    async fn guard_min_healthy(&self, cancel: &CancellationToken) -> Result<()> {
        let deadline = Instant::now() + self.timings.guard_timeout;
        loop {
            let health = self.lb.health().await?;
            if health.others_healthy >= self.timings.min_healthy {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!(
                        "{} other healthy target(s) before taking this instance out (there are {} of {})",
                        self.timings.min_healthy, health.others_healthy, health.others
                    ),
                    after: self.timings.guard_timeout,
                });
            }
            tracing::info!(
                others_healthy = health.others_healthy,
                needed = self.timings.min_healthy,
                "waiting for peers to be healthy"
            );
            self.pause(self.timings.lb_poll_interval, cancel).await?;
        }
    }

    /// Deregisters, waits until the load balancer shows the target out, then until its in-flight
    /// requests are done (or, when it cannot say, the settle time); bounded by the drain timeout.
    async fn drain(&self, cancel: &CancellationToken) -> Result<String> {
        let deadline = Instant::now() + self.timings.drain_timeout;
        let poll = self.timings.lb_poll_interval.min(Duration::from_millis(20));
        self.lb.deregister().await?;
        loop {
            let health = self.lb.health().await?;
            if health.me.is_out() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!("the load balancer taking the target out (it says {})", health.me),
                    after: self.timings.drain_timeout,
                });
            }
            self.pause(poll, cancel).await?;
        }
        // The settle time is a floor: enough for a load balancer that cannot count in-flight
        // requests (the ALB) to stop routing here; where it can count them, also wait for zero.
        let settled = Instant::now() + self.timings.drain_settle.min(self.timings.drain_timeout);
        let Some(mut in_flight) = self.lb.in_flight().await? else {
            self.pause(settled.saturating_duration_since(Instant::now()), cancel).await?;
            return Ok(format!("deregistered; settled {} ms", events::millis(self.timings.drain_settle)));
        };
        let mut most = in_flight;
        while in_flight > 0 || Instant::now() < settled {
            if Instant::now() >= deadline {
                tracing::warn!(
                    in_flight,
                    "drain timeout: stopping with requests in flight (the service drains them on SIGTERM)"
                );
                break;
            }
            self.pause(poll, cancel).await?;
            in_flight = self.lb.in_flight().await?.unwrap_or(0);
            most = most.max(in_flight);
        }
        Ok(format!("deregistered; {most} request(s) were in flight, {in_flight} left"))
    }

    async fn hold_stable(&self, cancel: &CancellationToken) -> Result<()> {
        let end = Instant::now() + self.timings.stability_window;
        loop {
            self.probe.check().await.map_err(|reason| Error::Timeout {
                what: format!("staying ready through the stability window ({reason})"),
                after: self.timings.stability_window,
            })?;
            let health = self.lb.health().await?;
            if !health.me.is_healthy() {
                return Err(Error::Timeout {
                    what: format!(
                        "staying healthy through the stability window (the load balancer says {})",
                        health.me
                    ),
                    after: self.timings.stability_window,
                });
            }
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            self.pause(self.timings.lb_poll_interval.min(end - now), cancel).await?;
        }
    }

    /// After a failed deploy: marks the release bad when it is to blame, then brings the previous
    /// release back, serving and registered. Not cancellable: a shutdown waits for it (bounded by
    /// the timeouts), because leaving the instance out of the load balancer is worse.
    async fn recover(&mut self, deploy: &DeployCtx, previous: &Version, failure: &Failure, blame: bool) {
        let started = Instant::now();
        let reason = format!("{} failed: {}", failure.phase.as_str(), failure.error);
        let _ = self.enter(Phase::Rollback, Some(&deploy.version), Some(&deploy.id), Some(previous));
        if blame {
            let marker = BadMarker {
                version: deploy.version.clone(),
                reason: reason.clone(),
                instance: self.instance.clone(),
                deploy_id: deploy.id.clone(),
                marked_at: now_rfc3339(),
            };
            if let Err(err) = self.store.mark_bad(&marker).await {
                tracing::error!(error = %err, "cannot mark the release bad");
            }
        }
        let restored = self.restore(previous).await;
        let detail = match &restored {
            Ok(()) => {
                format!("{reason}; back on {previous}{}", if blame { "; release marked bad" } else { "" })
            }
            Err(err) => format!("{reason}; restoring {previous} failed too: {err}"),
        };
        let outcome = if restored.is_ok() { Outcome::Ok } else { Outcome::Failed };
        events::phase(&self.instance, deploy, Phase::Rollback, started, outcome, &detail);
        self.note(format!("release {} rolled back: {detail}", deploy.version));
        if restored.is_ok() {
            let _ = self.enter(Phase::Idle, None, None, Some(previous));
        }
        if blame {
            // This process will not try it again even if the marker could not be written.
            self.refused.insert(deploy.version.clone());
        }
    }

    /// Brings `version` back: out of the load balancer, stopped, flipped, started, ready,
    /// registered, healthy. Each step is idempotent, so it also finishes an interrupted swap.
    pub(crate) async fn restore(&self, version: &Version) -> Result<()> {
        let never = CancellationToken::new();
        if self.install.current().as_ref() != Some(version) {
            let _ = self.lb.deregister().await;
            self.processes.stop().await?;
            self.install.flip(version)?;
        }
        if !self.processes.running().await? {
            self.processes.start().await?;
        }
        self.probe.wait_ready(self.timings.ready_timeout, &never).await?;
        self.lb.register().await?;
        self.wait_lb_healthy(self.timings.healthy_timeout, &never).await
    }

    fn prune(&self, current: &Version, previous: &Version) {
        match self.install.prune(self.timings.keep_releases, &[current, previous]) {
            Ok(removed) if !removed.is_empty() => tracing::info!(?removed, "removed old releases"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "cannot remove old releases"),
        }
    }
}
