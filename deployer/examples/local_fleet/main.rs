//! The zero-downtime scenario with real traffic, on loopback:
//!
//! ```sh
//! cargo run --release -p deployer --example local_fleet -- --instances 3 --rps 500
//! cargo run --release -p deployer --example local_fleet -- --bad-release
//! cargo run --release -p deployer --example local_fleet -- --kill-deployer
//! ```
//!
//! It builds the real `writepoint` and `deployer` binaries, packages and signs two releases of
//! them with `deployer package`, starts moto (S3), HAProxy (runtime API on a unix socket) and N
//! instances — each a `deployer run` with the child process manager, running `writepoint` against
//! the local broker — with `scripts/local-env start --no-services`, sends steady POST
//! /v1/documents load through HAProxy, publishes the second release with `deployer publish`,
//! waits for the rollout, and prints requests sent, non-2xx count, per-instance phase durations,
//! total rollout time and the deployers' RSS. It exits non-zero when a required outcome does not
//! hold.

mod fleet;
mod load;
mod releases;
mod report;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;

use crate::{fleet::Fleet, load::Load, releases::Releases, report::Scenario};

/// Rolls a release across a local fleet behind HAProxy under load, and reports what happened.
#[derive(Debug, Parser)]
struct Args {
    /// Instances (each a deployer and a writepoint).
    #[arg(long, default_value_t = 3)]
    instances: usize,
    /// Requests per second sent through HAProxy for the whole rollout.
    #[arg(long, default_value_t = 500)]
    rps: u32,
    /// Publish a release whose service never becomes ready (its configuration points the write
    /// point at a closed broker port); it must be rolled back and marked bad.
    #[arg(long, conflicts_with = "kill_deployer")]
    bad_release: bool,
    /// SIGKILL the first deployer that starts draining, then restart it; its lease must expire by
    /// itself and the rollout complete.
    #[arg(long)]
    kill_deployer: bool,
    /// Fleet lease TTL given to the deployers.
    #[arg(long, default_value = "6s", value_parser = owp_platform::duration::parse)]
    lease_ttl: Duration,
    /// Longest the whole rollout may take before the scenario fails.
    #[arg(long, default_value = "180s", value_parser = owp_platform::duration::parse)]
    timeout: Duration,
    /// Kafka brokers the write points use.
    #[arg(long, env = "OWP_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    kafka_brokers: String,
    /// Keep the work directory (logs, releases, state) instead of deleting it.
    #[arg(long)]
    keep: bool,
    /// Use the writepoint and deployer binaries already built in the target directory.
    #[arg(long)]
    no_build: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.instances < 2 {
        bail!("--instances must be at least 2: one instance cannot be upgraded without downtime");
    }
    if args.rps == 0 {
        bail!("--rps must be at least 1");
    }
    let scenario = if args.bad_release {
        Scenario::BadRelease
    } else if args.kill_deployer {
        Scenario::KillDeployer
    } else {
        Scenario::Normal
    };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().context("no workspace root")?.to_owned();
    let binaries = build_binaries(&repo, !args.no_build)?;
    let work =
        tempfile::Builder::new().prefix("owp-local-fleet-").tempdir().context("no temporary directory")?;
    let work_path = work.path().to_owned();
    if args.keep {
        let kept = work.keep();
        eprintln!("work directory (kept): {}", kept.display());
    }
    let result = tokio::select! {
        result = run(&args, scenario, &repo, &binaries, &work_path) => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    if let Err(err) = fleet::stop(&repo, &binaries.target_dir, &work_path) {
        eprintln!("{err:#}");
    }
    if let Err(err) = &result {
        eprintln!(
            "local_fleet failed: {err:#}\n(logs: {}; pass --keep to keep them)",
            work_path.join("logs").display()
        );
    }
    result
}

async fn run(args: &Args, scenario: Scenario, repo: &Path, binaries: &Binaries, work: &Path) -> Result<()> {
    let setup_started = Instant::now();
    let topic = releases::create_topic(&args.kafka_brokers).await?;
    let releases = Releases::prepare(repo, binaries, work, &args.kafka_brokers, &topic)?;
    let old = releases.package("v1", false)?;
    let new = releases.package("v2", scenario == Scenario::BadRelease)?;
    // Tighter than the environment's own: a bad release is rolled back after 8 s, and with
    // --kill-deployer the drain is held open for 2 s so that the SIGKILL lands inside it.
    let drain_settle = if scenario == Scenario::KillDeployer { "2s" } else { "1ms" };
    let settings = [
        format!("OWP_DEPLOYER_LEASE_TTL={}ms", args.lease_ttl.as_millis()),
        format!("OWP_DEPLOYER_LEASE_RENEW={}ms", (args.lease_ttl / 4).as_millis()),
        format!("OWP_DEPLOYER_DRAIN_SETTLE={drain_settle}"),
        "OWP_DEPLOYER_READY_TIMEOUT=8s".to_owned(),
    ];
    let mut fleet =
        Fleet::start(repo, &binaries.target_dir, work, &releases, &old, args.instances, &settings).await?;
    eprintln!(
        "fleet up in {:.1} s: {} instances of writepoint {} behind HAProxy on {}",
        setup_started.elapsed().as_secs_f64(),
        args.instances,
        old,
        fleet.frontend()
    );

    let load = Load::start(fleet.frontend(), args.rps, args.timeout + Duration::from_secs(60));
    // Steady state first, so the report shows the fleet serving before the rollout begins.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let published = Instant::now();
    fleet.publish(&releases, &new)?;
    let outcome = fleet.await_rollout(scenario, &old, &new, published, args.timeout).await;
    // And steady state after, on whatever the fleet ended up running.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let traffic = load.stop().await;
    let outcome = outcome?;
    let report = report::Report::build(scenario, args, &fleet, &outcome, &traffic, &old, &new).await?;
    println!("{report}");
    if report.passed() { Ok(()) } else { bail!("a required outcome does not hold (see the report above)") }
}

/// The binaries the releases ship: `writepoint` as the workspace builds it, and `deployer` the
/// way it is meant to ship (see [`DEPLOYER_PROFILE`]).
#[derive(Debug)]
pub struct Binaries {
    pub writepoint: PathBuf,
    pub deployer: PathBuf,
    /// Where scripts/local-env finds the deployer.
    pub target_dir: PathBuf,
}

/// The deployer is built optimised for size: it waits on the network, and most of its resident
/// memory is the code pages of its dependencies (the AWS SDK), which `opt-level = "s"` shrinks by
/// about a fifth. Its own target directory keeps this from invalidating the workspace's release
/// build. The same flags go into the packaging job (see deployer/README.md).
pub const DEPLOYER_PROFILE: &[&str] = &["--config", "profile.release.opt-level=\"s\""];

/// Builds the binaries the releases ship, in release mode, next to the target directory this
/// example runs from.
fn build_binaries(repo: &Path, build: bool) -> Result<Binaries> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    // .../target/release/examples/local_fleet -> .../target/release
    let release_dir =
        exe.parent().and_then(Path::parent).context("cannot find the target directory")?.to_owned();
    let target_dir = release_dir.parent().context("cannot find the target directory")?.to_owned();
    let deployer_target = target_dir.join("deployer-size");
    let binaries = Binaries {
        writepoint: release_dir.join("writepoint"),
        deployer: deployer_target.join("release/deployer"),
        target_dir: target_dir.clone(),
    };
    if build {
        eprintln!("building writepoint, and deployer optimised for size (release)");
        cargo(repo, &target_dir, &["-p", "owp-writepoint", "--bin", "writepoint"])?;
        let mut args = vec!["-p", "deployer", "--bin", "deployer"];
        args.extend_from_slice(DEPLOYER_PROFILE);
        cargo(repo, &deployer_target, &args)?;
    }
    for binary in [&binaries.writepoint, &binaries.deployer] {
        if !binary.is_file() {
            bail!("{} is missing (run without --no-build)", binary.display());
        }
    }
    Ok(binaries)
}

fn cargo(repo: &Path, target_dir: &Path, args: &[&str]) -> Result<()> {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .args(["build", "--release", "--quiet"])
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(repo);
    // `cargo run` sets CARGO_PKG_* and friends for this process; build scripts that watch those
    // (ring's does) would see them change and rebuild on every run.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || matches!(name.as_ref(), "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE")
        {
            command.env_remove(name.as_ref());
        }
    }
    let status = command.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("cargo build {} failed", args.join(" "));
    }
    Ok(())
}
