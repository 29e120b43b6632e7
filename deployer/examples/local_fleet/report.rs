//! The scenario's report: traffic, per-instance phase durations, swap and rollout times, the
//! deployers' memory, and the outcomes the issue requires, each marked ok or FAILED.

use std::fmt::{self, Write as _};

use anyhow::Result;

use crate::{
    Args,
    fleet::{Event, Fleet, Outcome},
    load::Traffic,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Normal,
    BadRelease,
    KillDeployer,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::Normal => "normal rollout",
            Self::BadRelease => "bad release (--bad-release)",
            Self::KillDeployer => "deployer killed mid-drain (--kill-deployer)",
        }
    }
}

/// Local target for the deployer's own part of a swap, on top of the service's start-up.
const SWAP_BUDGET_MS: u64 = 3000;
/// Target resident memory of one deployer.
const RSS_TARGET_KIB: u64 = 15 * 1024;
const PHASES: [&str; 8] = ["lock", "drain", "stop", "start", "ready", "healthy", "stable", "rollback"];

pub struct Report {
    text: String,
    /// What the issue requires of the scenario; any failure fails the run.
    checks: Vec<(String, bool)>,
    /// Figures the issue sets targets for; reported as met or not, they do not fail the run.
    targets: Vec<(String, bool)>,
}

impl Report {
    pub async fn build(
        scenario: Scenario,
        args: &Args,
        fleet: &Fleet,
        outcome: &Outcome,
        traffic: &Traffic,
        old: &str,
        new: &str,
    ) -> Result<Self> {
        let mut text = String::new();
        let mut checks = Vec::new();
        let mut targets = Vec::new();
        let events = fleet.events();
        let failed = traffic.non_2xx + traffic.errors;
        writeln!(text, "== local fleet: {} ==", scenario.name())?;
        writeln!(text, "{} instances of writepoint behind HAProxy; release {old} -> {new}", args.instances)?;
        writeln!(
            text,
            "requests sent: {} in {:.1} s ({:.0}/s, target {}/s); 2xx: {}; non-2xx: {}; transport errors: {}; failed: {failed}; not sent (sender saturated): {}",
            traffic.sent,
            traffic.duration.as_secs_f64(),
            traffic.sent as f64 / traffic.duration.as_secs_f64().max(0.001),
            args.rps,
            traffic.ok,
            traffic.non_2xx,
            traffic.errors,
            traffic.skipped
        )?;
        for sample in &traffic.samples {
            writeln!(text, "  failure: {sample}")?;
        }

        writeln!(text, "per-instance phases for {new} (ms):")?;
        writeln!(text, "  {:<9} {}  {:>8}", "instance", PHASES.map(|p| format!("{p:>8}")).join(""), "swap")?;
        let mut swaps = Vec::new();
        for instance in &fleet.instances {
            let last = |event: &str| -> Option<&Event> {
                events
                    .iter()
                    .rev()
                    .find(|e| e.instance == instance.name && e.version == new && e.event == event)
            };
            let cells: Vec<String> = PHASES
                .iter()
                .map(|phase| match last(&format!("deploy.{phase}")) {
                    Some(e) if e.outcome == "ok" => format!("{:>8}", e.duration_ms),
                    Some(e) => format!("{:>8}", e.outcome),
                    None => format!("{:>8}", "-"),
                })
                .collect();
            let swap = last("deploy.done").and_then(|e| e.swap_ms);
            let start_up = ["deploy.start", "deploy.ready"]
                .iter()
                .filter_map(|e| last(e))
                .map(|e| e.duration_ms)
                .sum::<u64>();
            if let Some(swap) = swap.filter(|swap| *swap > 0) {
                swaps.push((instance.name.clone(), swap, start_up));
            }
            writeln!(
                text,
                "  {:<9} {}  {:>8}",
                instance.name,
                cells.join(""),
                swap.map_or("-".into(), |s| s.to_string())
            )?;
        }
        for (name, swap, start_up) in &swaps {
            writeln!(
                text,
                "swap time {name}: {swap} ms (drain -> load balancer healthy), of which service start-up {start_up} ms; deployer's own part {} ms",
                swap.saturating_sub(*start_up)
            )?;
        }
        let rollout = outcome.finished.saturating_duration_since(outcome.published);
        writeln!(
            text,
            "total rollout time for {} instances: {:.2} s (publish -> last instance {})",
            args.instances,
            rollout.as_secs_f64(),
            if scenario == Scenario::BadRelease {
                "settled on the old release"
            } else {
                "released the lease"
            }
        )?;
        if let Some(killed) = &outcome.killed {
            writeln!(
                text,
                "killed: the deployer of {} by SIGKILL mid-drain, {:.2} s after publishing; restarted at once",
                killed.instance,
                killed.after_publish.as_secs_f64()
            )?;
        }
        let memory = fleet.deployer_memory();
        for (name, rss, peak) in &memory {
            writeln!(
                text,
                "deployer RSS {name}: {:.1} MB now, {:.1} MB peak",
                *rss as f64 / 1024.0,
                *peak as f64 / 1024.0
            )?;
        }
        let peak = memory.iter().map(|(_, _, peak)| *peak).max().unwrap_or(0);
        writeln!(
            text,
            "deployer RSS peak: {:.1} MB (target under {} MB)",
            peak as f64 / 1024.0,
            RSS_TARGET_KIB / 1024
        )?;

        // Outcomes.
        let servers = fleet.servers().await?;
        let all_up = servers.len() == fleet.instances.len() && servers.iter().all(|s| s.status == "UP");
        let lease = fleet.lease().await?;
        let lease_free = lease.as_ref().is_some_and(|l| l.holder.is_none());
        let on = |version: &str| fleet.instances.iter().all(|i| fleet.current(i).as_deref() == Some(version));
        let expected = (args.rps as f64 * traffic.duration.as_secs_f64()) as u64;
        checks.push((format!("0 failed requests (got {failed})"), failed == 0));
        checks.push((
            format!("steady load: {} sent of ~{expected} scheduled", traffic.sent),
            traffic.sent * 10 >= expected * 9,
        ));
        checks.push(("every HAProxy server UP at the end".into(), all_up));
        checks.push(("the fleet lease is free at the end".into(), lease_free));
        match scenario {
            Scenario::Normal | Scenario::KillDeployer => {
                checks.push((format!("every instance on the new release {new}"), on(new)));
                let over: Vec<_> = swaps
                    .iter()
                    .filter(|(_, swap, start_up)| swap.saturating_sub(*start_up) >= SWAP_BUDGET_MS)
                    .collect();
                targets.push((
                    format!(
                        "per-instance swap under 3 s plus the service's start-up ({} of {} measured)",
                        swaps.len() - over.len(),
                        swaps.len()
                    ),
                    over.is_empty() && swaps.len() == fleet.instances.len(),
                ));
            }
            Scenario::BadRelease => {
                checks.push((format!("every instance back on the old release {old}"), on(old)));
                let marked = fleet.store.bad_marker(&new.parse()?).await?;
                checks.push((
                    format!(
                        "release {new} marked bad in S3 ({})",
                        marked.as_ref().map_or("no marker".into(), |m| m.reason.clone())
                    ),
                    marked.is_some(),
                ));
                let rollbacks =
                    events.iter().filter(|e| e.event == "deploy.rollback" && e.version == new).count();
                checks.push((
                    format!("only one instance tried the bad release ({rollbacks} rollback)"),
                    rollbacks == 1,
                ));
            }
        }
        if scenario == Scenario::KillDeployer {
            let takeover = events
                .iter()
                .find(|e| e.event == "deploy.lock" && e.detail.contains("took over the expired lease"));
            checks.push((
                format!(
                    "the killed deployer's lease expired by itself and was taken over ({})",
                    takeover.map_or("no takeover seen".into(), |e| format!("{} took it over", e.instance))
                ),
                takeover.is_some(),
            ));
            let killed = outcome.killed.as_ref().map(|k| k.instance.as_str());
            let restarted =
                fleet.instances.iter().any(|i| Some(i.name.as_str()) == killed && i.pids.len() == 2);
            checks.push((
                "the killed deployer was restarted and its instance upgraded".into(),
                restarted && on(new),
            ));
        }
        targets.push((
            format!("deployer RSS peak under 15 MB ({:.1} MB)", peak as f64 / 1024.0),
            peak > 0 && peak < RSS_TARGET_KIB,
        ));
        Ok(Self { text, checks, targets })
    }

    pub fn passed(&self) -> bool {
        self.checks.iter().all(|(_, ok)| *ok)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        writeln!(f, "required outcomes:")?;
        for (check, ok) in &self.checks {
            writeln!(f, "  [{}] {check}", if *ok { "ok" } else { "FAILED" })?;
        }
        writeln!(f, "targets (reported; they do not fail the run):")?;
        for (target, met) in &self.targets {
            writeln!(f, "  [{}] {target}", if *met { "met" } else { "NOT MET" })?;
        }
        write!(f, "result: {}", if self.passed() { "PASSED" } else { "FAILED" })
    }
}
