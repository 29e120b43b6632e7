//! The `writepoint` binary's idle memory. The 30 MB target is on the shipped (release) binary's
//! total RSS and is checked by `owp-bench idle-rss --max-rss-mb 30` in scripts/test; a debug
//! build maps a three times larger binary, so here the test bounds the anonymous memory (heap
//! and stacks: what the code itself allocates) and prints the total.

use std::{process::Stdio, time::Duration};

use crate::helpers::broker_settings;

#[tokio::test]
async fn an_idle_writepoint_allocates_under_20_mb() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_writepoint"))
        .env("OWP_WRITEPOINT_ADDR", format!("127.0.0.1:{port}"))
        .env("OWP_KAFKA_BROKERS", broker_settings().kafka_brokers)
        .env("OWP_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let client = reqwest::Client::new();
    // /healthz, not /readyz: the default commands topic may not exist on the test broker, and
    // idle memory does not depend on it.
    owp_testkit::until("writepoint starts", Duration::from_secs(30), async || {
        let alive = client.get(format!("http://127.0.0.1:{port}/healthz")).send().await;
        alive.is_ok_and(|r| r.status() == 200)
    })
    .await;
    let _ = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    };
    let (rss, anon) = (field("VmRSS:"), field("RssAnon:"));
    println!(
        "idle writepoint (debug build): RSS {:.1} MiB, of which anonymous {:.1} MiB",
        rss as f64 / 1024.0,
        anon as f64 / 1024.0
    );
    assert!(anon * 1024 < 20_000_000, "idle anonymous memory {anon} KiB is over 20 MB");
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}
