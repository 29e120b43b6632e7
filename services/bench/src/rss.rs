//! The idle-memory benchmark: starts the `writepoint` binary that sits next to `owp`, waits
//! until it serves `/healthz` and has answered one `/readyz` (which connects to the broker), and
//! reads its resident set size from `/proc`.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use owp_platform::kafka::KafkaSettings;

#[derive(Debug, Clone, clap::Args)]
pub struct RssArgs {
    /// The writepoint binary; defaults to the one beside this `owp` binary.
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// How long to keep sampling once it is ready.
    #[arg(long, default_value = "3s", value_parser = owp_platform::duration::parse)]
    pub settle: Duration,
    /// Exit non-zero when the peak RSS is above this many megabytes (10^6 bytes).
    #[arg(long)]
    pub max_rss_mb: Option<u64>,
}

pub async fn run(kafka_settings: &KafkaSettings, args: &RssArgs) -> anyhow::Result<()> {
    let binary = match &args.binary {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("writepoint"),
    };
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut child = tokio::process::Command::new(&binary)
        .env("OWP_WRITEPOINT_ADDR", format!("127.0.0.1:{port}"))
        .env("OWP_KAFKA_BROKERS", &kafka_settings.kafka_brokers)
        .env("OWP_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let pid = child.id().context("the writepoint exited at once")?;
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let alive = client.get(format!("http://127.0.0.1:{port}/healthz")).send().await;
        if alive.is_ok_and(|r| r.status().is_success()) {
            // Whatever it answers, /readyz makes the producer talk to the broker.
            let _ = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await;
            break;
        }
        if Instant::now() > deadline {
            bail!("{} did not serve /healthz within 30 s", binary.display());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Sample for a while after readiness; report the highest value seen.
    let mut peak = 0;
    let until = Instant::now() + args.settle;
    while Instant::now() < until {
        peak = peak.max(rss_kib(pid)?);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
    let megabytes = (peak * 1024) as f64 / 1e6;
    println!(
        "owp-bench idle-rss: {} idle RSS {megabytes:.1} MB ({peak} KiB)   (target < 30 MB: {})",
        binary.display(),
        if megabytes < 30.0 { "met" } else { "NOT met" }
    );
    match args.max_rss_mb {
        Some(max) if megabytes >= max as f64 => bail!("idle RSS {megabytes:.1} MB is not below {max} MB"),
        _ => Ok(()),
    }
}

/// `VmRSS` of a process, in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line in /proc/<pid>/status")
}
