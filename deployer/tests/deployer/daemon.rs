//! `deployer run` end to end against moto, with the child process manager running a real HTTP
//! server (python's `http.server`, serving the release directory) and no load balancer:
//! bootstrap, detecting and deploying a new release, refusing a tampered one, and rolling back
//! a release that never becomes ready while marking it bad.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use clap::Parser;
use deployer::{daemon::Deployer, publish::publish, settings::RunSettings};
use tokio_util::sync::CancellationToken;

use crate::helpers::{
    bucket, eventually, free_port, keypair, package, rewrite_tarball, sdk_config, store, version,
};

#[derive(Parser)]
struct Wrapper {
    #[command(flatten)]
    run: RunSettings,
}

/// Stops the service the deployer started when the test ends, however it ends: services
/// outlive their deployer by design.
struct StopService(PathBuf);

impl Drop for StopService {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(&self.0).ok().and_then(|text| text.trim().parse().ok()) {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
        }
    }
}

/// The version the service answers with: it serves its release directory, manifest included.
async fn serving(port: u16) -> Option<String> {
    let response = reqwest::get(format!("http://127.0.0.1:{port}/manifest.json")).await.ok()?;
    let manifest: serde_json::Value = response.json().await.ok()?;
    manifest["version"].as_str().map(str::to_owned)
}

fn current_link(root: &Path) -> Option<String> {
    std::fs::read_link(root.join("current")).ok().map(|target| target.display().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_new_releases_refuses_tampered_ones_and_rolls_back_bad_ones() {
    // The daemon's events, shown when the test fails.
    let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("deployer=debug").try_init();
    let dir = tempfile::tempdir().unwrap();
    let (secret, _, public_path) = keypair(dir.path(), "release");
    let s3 = bucket().await;
    let store = store(s3.clone());
    let port = free_port();
    let serve = format!("exec python3 -m http.server --bind 127.0.0.1 {port}");
    let (root, state) = (dir.path().join("root"), dir.path().join("state"));
    let _stop = StopService(state.join("run/svc.pid"));

    let v1 = package(dir.path(), "v1", &serve, &secret);
    publish(&store, Some(&v1.tarball), None, None).await.unwrap();

    let args = [
        "deployer",
        "--bucket",
        s3.bucket(),
        "--environment",
        "test",
        "--instance-id",
        "test-1",
        "--install-root",
        root.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--public-key",
        public_path.to_str().unwrap(),
        "--poll-interval",
        "100ms",
        "--lease-ttl",
        "3s",
        "--lease-renew",
        "1s",
        "--lock-retry",
        "100ms",
        "--min-healthy",
        "0",
        "--drain-settle",
        "10ms",
        "--ready-timeout",
        "4s",
        "--healthy-timeout",
        "3s",
        "--stability-window",
        "300ms",
        "--lb-poll-interval",
        "50ms",
        "--load-balancer",
        "none",
        "--process-manager",
        "child",
        "--services",
        "svc",
        "--stop-timeout",
        "5s",
    ];
    let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    args.extend(["--ready-url".into(), format!("http://127.0.0.1:{port}/manifest.json")]);
    let settings = Wrapper::try_parse_from(args).unwrap().run;
    let shutdown = CancellationToken::new();
    let deployer =
        Deployer::build_with_config(settings, &sdk_config().await, shutdown.clone()).await.unwrap();
    let daemon = tokio::spawn(deployer.run());

    // Bootstrap: nothing installed, so the current release is installed and started.
    eventually("v1 serving after bootstrap", Duration::from_secs(30), || async {
        serving(port).await.as_deref() == Some("v1")
    })
    .await;
    assert_eq!(current_link(&root).as_deref(), Some("releases/v1"));

    // Detect and deploy a new release.
    let v2 = package(dir.path(), "v2", &serve, &secret);
    let published_at = Instant::now();
    publish(&store, Some(&v2.tarball), None, None).await.unwrap();
    eventually("v2 serving", Duration::from_secs(30), || async {
        serving(port).await.as_deref() == Some("v2")
    })
    .await;
    assert!(published_at.elapsed() < Duration::from_secs(15), "v2 took {:?}", published_at.elapsed());
    assert_eq!(current_link(&root).as_deref(), Some("releases/v2"));
    eventually("an idle report on v2", Duration::from_secs(10), || async {
        let reports = store.reports().await.unwrap();
        reports.len() == 1 && reports[0].version.as_deref() == Some("v2") && reports[0].phase == "idle"
    })
    .await;
    let (lease, _) = deployer::lease::Lease::new(
        s3.clone(),
        store.layout().lease(),
        "observer".into(),
        deployer::lease::LeaseSettings { ttl: Duration::from_secs(3), renew_every: Duration::from_secs(1) },
    )
    .read()
    .await
    .unwrap()
    .expect("the deploy took the lease");
    assert!(lease.holder.is_none(), "the lease is released after the deploy: {lease:?}");
    assert_eq!(lease.counter, 1);

    // A tampered release is refused before the lease is taken, and the instance stays on v2.
    let v3 = package(dir.path(), "v3", &serve, &secret);
    let tampered = dir.path().join("v3-tampered.tar.gz");
    rewrite_tarball(
        &v3.tarball,
        &tampered,
        |name, bytes| Some(if name == "bin/svc" { b"#!/bin/sh\nexec sleep 600\n".to_vec() } else { bytes }),
        &[],
    );
    publish(&store, Some(&tampered), None, None).await.unwrap();
    eventually("the tampered v3 refused", Duration::from_secs(20), || async {
        let reports = store.reports().await.unwrap();
        reports[0].note.as_deref().is_some_and(|note| {
            note.contains("release v3 refused") && note.contains("bin/svc does not match")
        })
    })
    .await;
    assert_eq!(serving(port).await.as_deref(), Some("v2"));
    assert!(!root.join("releases/v3").exists(), "a refused release is never installed");
    assert_eq!(
        store.bad_marker(&version("v3")).await.unwrap(),
        None,
        "refusal is local, not a verdict on the release"
    );

    // A release that never becomes ready is rolled back and marked bad.
    let v4 = package(dir.path(), "v4", "exec sleep 600", &secret);
    publish(&store, Some(&v4.tarball), None, None).await.unwrap();
    eventually("v4 marked bad", Duration::from_secs(40), || async {
        store.bad_marker(&version("v4")).await.unwrap().is_some()
    })
    .await;
    let marker = store.bad_marker(&version("v4")).await.unwrap().unwrap();
    assert!(marker.reason.contains("ready failed") && marker.instance == "test-1", "{marker:?}");
    eventually("v2 serving again", Duration::from_secs(20), || async {
        serving(port).await.as_deref() == Some("v2")
    })
    .await;
    assert_eq!(current_link(&root).as_deref(), Some("releases/v2"));
    eventually("a rollback note", Duration::from_secs(10), || async {
        let reports = store.reports().await.unwrap();
        reports[0].note.as_deref().is_some_and(|note| note.contains("release v4 rolled back"))
            && reports[0].phase == "idle"
    })
    .await;
    let (lease, _) = deployer::lease::Lease::new(
        s3.clone(),
        store.layout().lease(),
        "observer".into(),
        deployer::lease::LeaseSettings { ttl: Duration::from_secs(3), renew_every: Duration::from_secs(1) },
    )
    .read()
    .await
    .unwrap()
    .unwrap();
    assert!(lease.holder.is_none() && lease.counter == 2, "released after the rollback: {lease:?}");

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(20), daemon)
        .await
        .expect("the daemon stops on shutdown")
        .unwrap()
        .unwrap();
    assert_eq!(serving(port).await.as_deref(), Some("v2"), "the service outlives its deployer");
}
