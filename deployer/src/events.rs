//! The deploy's structured events: one JSON log line per phase (`event = "deploy.<phase>"`)
//! with the deploy id, the version, the instance, how long the phase took and how it ended.
//! CloudWatch metric filters match on these (`terraform/modules/app/alarms.tf` counts
//! `deploy.rollback`), and the local fleet example reads them back for its report.

use std::time::{Duration, Instant};

use owp_release::Version;

use crate::state::Phase;

/// One deploy of one release on one instance.
#[derive(Debug, Clone)]
pub struct DeployCtx {
    pub id: String,
    pub version: Version,
    pub started: Instant,
}

impl DeployCtx {
    pub fn new(version: Version) -> Self {
        // Eight hex digits are plenty to tell deploys apart in one environment's logs.
        let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        Self { id, version, started: Instant::now() }
    }
}

/// How a phase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Refused,
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Refused => "refused",
            Self::Skipped => "skipped",
        }
    }
}

/// Logs the event for `phase` of `deploy`, measured from `since`.
pub fn phase(
    instance: &str,
    deploy: &DeployCtx,
    phase: Phase,
    since: Instant,
    outcome: Outcome,
    detail: &str,
) {
    let duration_ms = millis(since.elapsed());
    let event = format!("deploy.{}", phase.as_str());
    let (id, version, outcome) = (deploy.id.as_str(), deploy.version.as_str(), outcome.as_str());
    match outcome {
        "ok" | "skipped" => tracing::info!(
            event,
            deploy_id = id,
            version,
            instance,
            duration_ms,
            outcome,
            detail,
            "{event} {outcome}"
        ),
        _ => tracing::error!(
            event,
            deploy_id = id,
            version,
            instance,
            duration_ms,
            outcome,
            detail,
            "{event} {outcome}: {detail}"
        ),
    }
}

/// The summary of a finished deploy: the figures the rollout report is built from.
pub fn done(instance: &str, deploy: &DeployCtx, swap: Duration, lock_wait: Duration, outcome: Outcome) {
    tracing::info!(
        event = "deploy.done",
        deploy_id = deploy.id.as_str(),
        version = deploy.version.as_str(),
        instance,
        duration_ms = millis(deploy.started.elapsed()),
        swap_ms = millis(swap),
        lock_wait_ms = millis(lock_wait),
        outcome = outcome.as_str(),
        "deploy of {} {}",
        deploy.version,
        outcome.as_str()
    );
}

/// A `current` pointer this instance refused (unsigned, wrongly signed, for another
/// environment, replayed, or an unsigned-off downgrade); nothing was changed.
pub fn pointer_refused(instance: &str, version: Option<&str>, detail: &str) {
    tracing::error!(
        event = "deploy.pointer",
        instance,
        version = version.unwrap_or(""),
        outcome = Outcome::Refused.as_str(),
        detail,
        "deploy.pointer refused: {detail}"
    );
}

pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
