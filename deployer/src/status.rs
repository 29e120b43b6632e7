//! `deployer status`: the fleet as S3 shows it: the current pointer (and, given the release
//! public key, whether its signature checks out), the lease holder, bad releases, and per
//! instance its version, phase and target health (each deployer reports its own on every phase
//! change, including a pointer or release it refused).

use owp_release::{Pointer, PublicKey, SignedPointer};
use serde::Serialize;

use crate::{
    Result,
    lease::LeaseRecord,
    store::{InstanceReport, ReleaseStore},
};

/// The `current` pointer as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CurrentStatus {
    #[serde(flatten)]
    pub pointer: Pointer,
    /// `verified by key <id>`, `not checked (no --public-key)`, or `REFUSED: <reason>`.
    pub signature: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FleetStatus {
    /// `None` when nothing is published or the object is not a signed pointer at all.
    pub current: Option<CurrentStatus>,
    /// Why the `current` object is not a signed pointer, when it is not.
    pub current_problem: Option<String>,
    pub lease: Option<LeaseRecord>,
    pub current_is_bad: Option<String>,
    pub instances: Vec<InstanceReport>,
}

pub async fn fleet_status(store: &ReleaseStore, key: Option<&PublicKey>) -> Result<FleetStatus> {
    let (current, current_problem) = match store.current().await? {
        None => (None, None),
        Some(object) => match SignedPointer::from_bytes(&object.bytes) {
            Err(reason) => (None, Some(reason)),
            Ok(signed) => match signed.unverified() {
                None => (None, Some("the signed text is not a pointer".into())),
                Some(pointer) => {
                    let signature = match key.map(|key| (key, signed.verify(key))) {
                        None => "not checked (no --public-key)".to_owned(),
                        Some((key, Ok(_))) => format!("verified by key {}", key.key_id()),
                        Some((_, Err(reason))) => format!("REFUSED: {reason}"),
                    };
                    (Some(CurrentStatus { pointer, signature }), None)
                }
            },
        },
    };
    let lease = store.get_json::<LeaseRecord>(&store.layout().lease()).await?;
    let current_is_bad = match &current {
        Some(current) => store.bad_marker(&current.pointer.version).await?.map(|marker| marker.reason),
        None => None,
    };
    let instances = store.reports().await?;
    Ok(FleetStatus { current, current_problem, lease, current_is_bad, instances })
}

/// The status as a person reads it.
pub fn render(status: &FleetStatus) -> String {
    let mut out = String::new();
    match (&status.current, &status.current_problem) {
        (Some(current), _) => out.push_str(&format!(
            "current release: {}; signature {}",
            current.pointer.describe(),
            current.signature
        )),
        (None, Some(problem)) => {
            out.push_str(&format!("current release: REFUSED by every deployer: {problem}"))
        }
        (None, None) => out.push_str("current release: none published"),
    }
    if let Some(reason) = &status.current_is_bad {
        out.push_str(&format!(" — MARKED BAD: {reason}"));
    }
    out.push('\n');
    match &status.lease {
        None => out.push_str("lease: never taken\n"),
        Some(LeaseRecord { holder: None, counter, written_at, .. }) => {
            out.push_str(&format!("lease: free (fencing counter {counter}, last written {written_at})\n"))
        }
        Some(LeaseRecord { holder: Some(holder), counter, written_at, ttl_ms, .. }) => out.push_str(&format!(
            "lease: held by {} for deploy {} of {} (fencing counter {counter}, ttl {ttl_ms} ms, last renewed {written_at})\n",
            holder.instance, holder.deploy_id, holder.version
        )),
    }
    let holder = status.lease.as_ref().and_then(|lease| lease.holder.as_ref()).map(|h| h.instance.as_str());
    let rows: Vec<[String; 6]> = status
        .instances
        .iter()
        .map(|report| {
            [
                report.instance.clone(),
                report.version.clone().unwrap_or_else(|| "-".into()),
                match &report.target {
                    Some(target) => format!("{} -> {target}", report.phase),
                    None => report.phase.clone(),
                },
                report.target_health.clone(),
                if holder == Some(report.instance.as_str()) { "yes".into() } else { String::new() },
                report.updated_at.clone(),
            ]
        })
        .collect();
    let header = ["INSTANCE", "VERSION", "PHASE", "TARGET HEALTH", "LEASE", "UPDATED"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> =
            row.iter().zip(widths).map(|(cell, width)| format!("{cell:width$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("(no instance has reported yet)\n");
    }
    for report in &status.instances {
        if let Some(note) = &report.note {
            out.push_str(&format!("note {}: {note}\n", report.instance));
        }
    }
    out
}
