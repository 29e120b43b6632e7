//! `deployer run`: the daemon on every instance. It builds its edges from the settings, brings
//! the instance to a healthy, registered state (see `reconcile`), then polls the current-release
//! pointer and deploys each new release (see `deploy`) until a shutdown signal.
//!
//! It must never take its instance out of the load balancer without holding the fleet lease,
//! and never leave the lease held when it gives up on a deploy.

use std::{
    collections::HashSet,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use aws_config::SdkConfig;
use owp_release::{Judging, Manifest, Pointer, PublicKey, SignedPointer, Version};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{
    Error, Result, events,
    health::ReadyProbe,
    install::InstallRoot,
    lb::{Alb, AlbTarget, Haproxy, LoadBalancer, NoLoadBalancer},
    lease::{Lease, LeaseSettings},
    process::{Children, ProcessManager, Systemd},
    settings::{LbKind, ProcessKind, RunSettings},
    state::{AcceptedPointerFile, Journal, JournalFile, Phase},
    store::{InstanceReport, ReleaseStore, now_rfc3339},
};

/// How often the instance's status report is refreshed while nothing changes.
const REPORT_EVERY: Duration = Duration::from_secs(15);

/// The timings and bounds a deploy runs with.
#[derive(Debug, Clone)]
pub struct Timings {
    pub poll_interval: Duration,
    pub lock_retry: Duration,
    pub min_healthy: usize,
    pub guard_timeout: Duration,
    pub drain_timeout: Duration,
    pub drain_settle: Duration,
    pub ready_timeout: Duration,
    pub healthy_timeout: Duration,
    pub stability_window: Duration,
    pub lb_poll_interval: Duration,
    pub keep_releases: usize,
}

/// A status change for the reporter task.
#[derive(Debug, Clone)]
pub(crate) struct Status {
    pub phase: Phase,
    pub target: Option<Version>,
    pub deploy_id: Option<String>,
    /// The last thing an operator should know about (a refused or rolled-back release).
    pub note: Option<String>,
}

#[derive(Debug)]
pub struct Deployer {
    pub(crate) instance: String,
    pub(crate) store: ReleaseStore,
    pub(crate) lease: Lease,
    pub(crate) lb: Arc<LoadBalancer>,
    pub(crate) processes: ProcessManager,
    pub(crate) install: InstallRoot,
    pub(crate) journal: JournalFile,
    pub(crate) probe: ReadyProbe,
    pub(crate) public_key: PublicKey,
    pub(crate) downloads: PathBuf,
    pub(crate) timings: Timings,
    pub(crate) shutdown: CancellationToken,
    pub(crate) refused: HashSet<Version>,
    pub(crate) skipped_bad: HashSet<Version>,
    /// The newest signed pointer this instance accepted (persisted: the replay high-water mark).
    pub(crate) accepted: Option<Pointer>,
    accepted_file: AcceptedPointerFile,
    /// The bytes of the last `current` object refused, so one refusal is logged once.
    refused_pointer: Option<Vec<u8>>,
    status: watch::Sender<Status>,
    /// When the current phase began, for the event of a phase that fails.
    phase_started: std::sync::Mutex<Instant>,
}

impl Deployer {
    /// Checks every setting and connects the edges; nothing is changed on the instance yet.
    pub async fn build(settings: RunSettings, shutdown: CancellationToken) -> Result<Self> {
        // Settings first: loading the AWS configuration may ask the instance metadata service.
        settings.store.bucket()?;
        PublicKey::from_file(&settings.public_key)?;
        let config = crate::aws::sdk_config(&settings.store.aws).await;
        Self::build_with_config(settings, &config, shutdown).await
    }

    /// [`Deployer::build`] with a loaded AWS configuration (tests bring their own credentials).
    pub async fn build_with_config(
        settings: RunSettings,
        config: &SdkConfig,
        shutdown: CancellationToken,
    ) -> Result<Self> {
        let public_key = PublicKey::from_file(&settings.public_key)?;
        let store = ReleaseStore::from_config(&settings.store, config)?;
        let instance = match &settings.instance_id {
            Some(id) => id.clone(),
            None if settings.load_balancer == LbKind::Alb => ec2_instance_id().await?,
            None => hostname()?,
        };
        if settings.lease_renew >= settings.lease_ttl {
            return Err(Error::Config(format!(
                "--lease-renew ({:?}) must be shorter than --lease-ttl ({:?})",
                settings.lease_renew, settings.lease_ttl
            )));
        }
        let lb =
            match settings.load_balancer {
                LbKind::Alb => LoadBalancer::Alb(Alb::from_config(
                    config,
                    settings.target_group_arns.clone(),
                    AlbTarget {
                        id: settings.target_id.clone().unwrap_or_else(|| instance.clone()),
                        port: settings.target_port,
                    },
                )?),
                LbKind::Haproxy => {
                    let socket = settings.haproxy_socket.clone().ok_or_else(|| {
                        Error::Config("--load-balancer haproxy needs --haproxy-socket".into())
                    })?;
                    let backend = settings.haproxy_backend.clone().ok_or_else(|| {
                        Error::Config("--load-balancer haproxy needs --haproxy-backend".into())
                    })?;
                    let server = settings.haproxy_server.clone().unwrap_or_else(|| instance.clone());
                    LoadBalancer::Haproxy(Haproxy::new(socket, backend, server))
                }
                LbKind::None => LoadBalancer::None(NoLoadBalancer::default()),
            };
        let install = InstallRoot::new(&settings.install_root)?;
        let processes = match settings.process_manager {
            ProcessKind::Systemd => ProcessManager::Systemd(Systemd::new(settings.units.clone())?),
            ProcessKind::Child => ProcessManager::Child(Children::new(
                &settings.install_root,
                &settings.state_dir,
                settings.services.clone(),
                settings.stop_timeout,
            )?),
        };
        let journal = JournalFile::new(&settings.state_dir)?;
        let accepted_file = AcceptedPointerFile::new(&settings.state_dir)?;
        let accepted = accepted_file.load()?;
        let downloads = settings.state_dir.join("downloads");
        std::fs::create_dir_all(&downloads)
            .map_err(|err| Error::io(format!("cannot create {}", downloads.display()), err))?;
        let lease = Lease::new(
            store.s3().clone(),
            store.layout().lease(),
            instance.clone(),
            LeaseSettings { ttl: settings.lease_ttl, renew_every: settings.lease_renew },
        );
        let (status, _) =
            watch::channel(Status { phase: Phase::Reconcile, target: None, deploy_id: None, note: None });
        Ok(Self {
            instance,
            store,
            lease,
            lb: Arc::new(lb),
            processes,
            install,
            journal,
            probe: ReadyProbe::new(settings.ready_urls.clone())?,
            public_key,
            downloads,
            timings: Timings {
                poll_interval: settings.poll_interval,
                lock_retry: settings.lock_retry,
                min_healthy: settings.min_healthy,
                guard_timeout: settings.guard_timeout,
                drain_timeout: settings.drain_timeout,
                drain_settle: settings.drain_settle,
                ready_timeout: settings.ready_timeout,
                healthy_timeout: settings.healthy_timeout,
                stability_window: settings.stability_window,
                lb_poll_interval: settings.lb_poll_interval,
                keep_releases: settings.keep_releases,
            },
            shutdown,
            refused: HashSet::new(),
            skipped_bad: HashSet::new(),
            accepted,
            accepted_file,
            refused_pointer: None,
            status,
            phase_started: std::sync::Mutex::new(Instant::now()),
        })
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Runs until the shutdown token is cancelled.
    pub async fn run(mut self) -> Result<()> {
        tracing::info!(
            instance = %self.instance,
            session = %self.lease.session(),
            load_balancer = %self.lb.describe(),
            processes = %self.processes.describe(),
            public_key = %self.public_key.key_id(),
            "deployer starting"
        );
        let reporter = tokio::spawn(report_loop(
            self.store.clone(),
            Arc::clone(&self.lb),
            self.instance.clone(),
            self.install.clone(),
            self.status.subscribe(),
            self.shutdown.clone(),
        ));
        let result = self.serve().await;
        // Let the reporter write the final state before it stops.
        self.set_status(Phase::Idle, None, None);
        drop(self.status);
        let _ = tokio::time::timeout(Duration::from_secs(5), reporter).await;
        match result {
            Ok(()) | Err(Error::Shutdown) => {
                tracing::info!("deployer stopped");
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    async fn serve(&mut self) -> Result<()> {
        self.reconcile_until_done().await?;
        loop {
            match self.poll_once().await {
                Ok(()) => {}
                Err(Error::Shutdown) => return Err(Error::Shutdown),
                Err(err) => tracing::error!(error = %err, "deploy attempt failed; will retry"),
            }
            tokio::select! {
                () = self.shutdown.cancelled() => return Err(Error::Shutdown),
                () = tokio::time::sleep(self.timings.poll_interval) => {}
            }
        }
    }

    /// Looks at the pointer once and deploys when it names a release this instance should run.
    async fn poll_once(&mut self) -> Result<()> {
        let Some(current) = self.store.current().await? else { return Ok(()) };
        let Some(pointer) = self.accept_pointer(&current.bytes)? else { return Ok(()) };
        let version = pointer.version;
        if self.install.current().as_ref() == Some(&version) || self.refused.contains(&version) {
            return Ok(());
        }
        if let Some(marker) = self.store.bad_marker(&version).await? {
            if self.skipped_bad.insert(version.clone()) {
                tracing::warn!(%version, reason = %marker.reason, by = %marker.instance, "the current release is marked bad; not deploying it");
            }
            return Ok(());
        }
        self.deploy(version).await
    }

    /// Judges the `current` object (see `owp_release::judge`). An accepted pointer becomes the new
    /// high-water mark; a refused one is logged once, noted in the status report, and changes
    /// nothing: the instance keeps running what it runs.
    pub(crate) fn accept_pointer(&mut self, bytes: &[u8]) -> Result<Option<Pointer>> {
        if self.refused_pointer.as_deref() == Some(bytes) {
            return Ok(None);
        }
        match self.judge_pointer(bytes) {
            Ok(pointer) => {
                if self.accepted.as_ref() != Some(&pointer) {
                    self.accepted_file.save(&pointer)?;
                    tracing::info!(pointer = %pointer.describe(), "accepted the current pointer");
                    self.accepted = Some(pointer.clone());
                }
                if self.refused_pointer.take().is_some() {
                    self.clear_note();
                }
                Ok(Some(pointer))
            }
            Err(reason) => {
                let named = SignedPointer::from_bytes(bytes).ok().and_then(|signed| signed.unverified());
                let version = named.as_ref().map(|pointer| pointer.version.as_str());
                events::pointer_refused(&self.instance, version, &reason);
                let running = self.install.current().map_or_else(|| "nothing".into(), String::from);
                self.note(format!("current pointer refused ({reason}); still running {running}"));
                self.refused_pointer = Some(bytes.to_vec());
                Ok(None)
            }
        }
    }

    /// [`owp_release::judge`] with what this instance knows; no side effects.
    pub(crate) fn judge_pointer(&self, bytes: &[u8]) -> Result<Pointer, String> {
        let running = self.install.current();
        let created_at = running.as_ref().and_then(|version| self.release_created_at(version));
        owp_release::judge(
            bytes,
            Judging {
                key: &self.public_key,
                environment: self.store.layout().environment(),
                accepted: self.accepted.as_ref(),
                running: running.as_ref().zip(created_at.as_deref()),
            },
        )
    }

    /// The `created_at` of an installed release's manifest (verified when it was installed).
    fn release_created_at(&self, version: &Version) -> Option<String> {
        let path = self.install.release_dir(version).join(owp_release::MANIFEST);
        let bytes = std::fs::read(path).ok()?;
        Manifest::from_json(&bytes).ok().map(|manifest| manifest.created_at)
    }

    /// Records the phase: the journal (for crash recovery) and the status report.
    pub(crate) fn enter(
        &self,
        phase: Phase,
        target: Option<&Version>,
        deploy_id: Option<&str>,
        previous: Option<&Version>,
    ) -> Result<()> {
        self.journal.save(&Journal {
            phase,
            deploy_id: deploy_id.map(str::to_owned),
            target: target.cloned(),
            previous: previous.cloned(),
        })?;
        self.set_status(phase, target, deploy_id);
        *self.phase_started.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Instant::now();
        Ok(())
    }

    /// When the phase last entered through [`Deployer::enter`] began.
    pub(crate) fn phase_started(&self) -> Instant {
        *self.phase_started.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn set_status(&self, phase: Phase, target: Option<&Version>, deploy_id: Option<&str>) {
        self.status.send_modify(|status| {
            status.phase = phase;
            status.target = target.cloned();
            status.deploy_id = deploy_id.map(str::to_owned);
        });
    }

    /// Puts a line into the status report that stays until the next note.
    pub(crate) fn note(&self, text: String) {
        self.status.send_modify(|status| status.note = Some(text));
    }

    fn clear_note(&self) {
        self.status.send_modify(|status| status.note = None);
    }

    /// Waits `duration` unless `cancel` fires first.
    pub(crate) async fn pause(&self, duration: Duration, cancel: &CancellationToken) -> Result<()> {
        tokio::select! {
            () = cancel.cancelled() => Err(Error::Shutdown),
            () = tokio::time::sleep(duration) => Ok(()),
        }
    }

    /// Waits until the load balancer reports this instance healthy.
    pub(crate) async fn wait_lb_healthy(&self, timeout: Duration, cancel: &CancellationToken) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let health = self.lb.health().await?;
            if health.me.is_healthy() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!(
                        "the load balancer reporting this instance healthy (it says {})",
                        health.me
                    ),
                    after: timeout,
                });
            }
            self.pause(self.timings.lb_poll_interval, cancel).await?;
        }
    }
}

/// Writes the instance's status report whenever the phase changes, and every [`REPORT_EVERY`].
/// One writer, always the latest state: a slow S3 write never delays a deploy step.
async fn report_loop(
    store: ReleaseStore,
    lb: Arc<LoadBalancer>,
    instance: String,
    install: InstallRoot,
    mut changes: watch::Receiver<Status>,
    shutdown: CancellationToken,
) {
    loop {
        let status = changes.borrow_and_update().clone();
        let target_health = match lb.health().await {
            Ok(health) => health.me.to_string(),
            Err(err) => format!("unknown ({err})"),
        };
        let report = InstanceReport {
            instance: instance.clone(),
            version: install.current().map(String::from),
            phase: status.phase.as_str().to_owned(),
            target: status.target.map(String::from),
            target_health,
            deploy_id: status.deploy_id,
            note: status.note,
            updated_at: now_rfc3339(),
        };
        if let Err(err) = store.put_report(&report).await {
            tracing::warn!(error = %err, "cannot write the status report");
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(REPORT_EVERY) => {}
            () = shutdown.cancelled(), if !shutdown.is_cancelled() => {}
        }
    }
}

/// The EC2 instance id, from the instance metadata service (IMDSv2).
async fn ec2_instance_id() -> Result<String> {
    let client = aws_config::imds::Client::builder().build();
    client.get("/latest/meta-data/instance-id").await.map(|id| id.as_ref().to_owned()).map_err(|err| {
        Error::Config(format!(
            "cannot read the instance id from the instance metadata service ({err}); pass --instance-id"
        ))
    })
}

/// The host name, from uname(2): the unit's `ProcSubset=pid` hides /proc/sys/kernel/hostname.
fn hostname() -> Result<String> {
    let name = nix::unistd::gethostname()
        .map_err(|err| Error::io("cannot read the host name (pass --instance-id)", err.into()))?;
    Ok(name.to_string_lossy().trim().to_owned())
}
