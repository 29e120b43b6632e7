//! `deployer run` end to end against moto, with the child process manager running a real HTTP
//! server (python's `http.server`, serving the release directory) and no load balancer:
//! bootstrap, detecting and deploying a new release, refusing a tampered one, rolling back
//! a release that never becomes ready while marking it bad, and refusing every `current`
//! pointer it cannot trust (unsigned, another key, another environment, a downgrade that is not
//! a signed rollback, a replayed older pointer) while the running release stays.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use clap::Parser;
use deployer::{
    Result,
    daemon::Deployer,
    publish::{Signing, publish, upload_only},
    settings::RunSettings,
    store::{InstanceReport, ReleaseStore, S3},
};
use owp_release::{Pointer, SignedPointer};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::helpers::{
    bucket, free_port, keypair, package, point, put_current, rewrite_tarball, sdk_config, signed_by, store,
    version,
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
    publish(&store, Some(&v1.tarball), None, None, signed_by(&secret)).await.unwrap();

    let (daemon, shutdown) = start_daemon(&s3, port, &root, &state, &public_path).await;

    // Bootstrap: nothing installed, so the current release is installed and started.
    owp_testkit::until("v1 serving after bootstrap", Duration::from_secs(30), || async {
        serving(port).await.as_deref() == Some("v1")
    })
    .await;
    assert_eq!(current_link(&root).as_deref(), Some("releases/v1"));

    // Detect and deploy a new release.
    let v2 = package(dir.path(), "v2", &serve, &secret);
    let published_at = Instant::now();
    publish(&store, Some(&v2.tarball), None, None, signed_by(&secret)).await.unwrap();
    owp_testkit::until("v2 serving", Duration::from_secs(30), || async {
        serving(port).await.as_deref() == Some("v2")
    })
    .await;
    assert!(published_at.elapsed() < Duration::from_secs(15), "v2 took {:?}", published_at.elapsed());
    assert_eq!(current_link(&root).as_deref(), Some("releases/v2"));
    owp_testkit::until("an idle report on v2", Duration::from_secs(10), || async {
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
    // publish would refuse to sign a pointer to it; someone holding the key could.
    upload_only(&store, &tampered, None, None).await.unwrap();
    point(&store, &secret, "test", "v3", &v3.manifest.created_at, false).await;
    owp_testkit::until("the tampered v3 refused", Duration::from_secs(20), || async {
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
    publish(&store, Some(&v4.tarball), None, None, signed_by(&secret)).await.unwrap();
    owp_testkit::until("v4 marked bad", Duration::from_secs(40), || async {
        store.bad_marker(&version("v4")).await.unwrap().is_some()
    })
    .await;
    let marker = store.bad_marker(&version("v4")).await.unwrap().unwrap();
    assert!(marker.reason.contains("ready failed") && marker.instance == "test-1", "{marker:?}");
    owp_testkit::until("v2 serving again", Duration::from_secs(20), || async {
        serving(port).await.as_deref() == Some("v2")
    })
    .await;
    assert_eq!(current_link(&root).as_deref(), Some("releases/v2"));
    owp_testkit::until("a rollback note", Duration::from_secs(10), || async {
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

/// Starts `deployer run` for instance `test-1` of environment `test`, with tight timings.
async fn start_daemon(
    s3: &S3,
    port: u16,
    root: &Path,
    state: &Path,
    public_path: &Path,
) -> (JoinHandle<Result<()>>, CancellationToken) {
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
    (tokio::spawn(deployer.run()), shutdown)
}

/// The one instance's report.
async fn report(store: &ReleaseStore) -> Option<InstanceReport> {
    store.reports().await.unwrap().into_iter().next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_pointers_it_cannot_trust_and_keeps_running_what_runs() {
    let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("deployer=debug").try_init();
    let dir = tempfile::tempdir().unwrap();
    let (secret, public, public_path) = keypair(dir.path(), "release");
    let (attacker, _, _) = keypair(dir.path(), "attacker");
    let s3 = bucket().await;
    let store = store(s3.clone());
    let port = free_port();
    let serve = format!("exec python3 -m http.server --bind 127.0.0.1 {port}");
    let (root, state) = (dir.path().join("root"), dir.path().join("state"));
    let _stop = StopService(state.join("run/svc.pid"));

    let v1 = package(dir.path(), "v1", &serve, &secret);
    publish(&store, Some(&v1.tarball), None, None, signed_by(&secret)).await.unwrap();
    let v1_pointer = store.current().await.unwrap().unwrap().bytes;
    let (daemon, shutdown) = start_daemon(&s3, port, &root, &state, &public_path).await;
    owp_testkit::until("v1 serving after bootstrap", Duration::from_secs(30), || async {
        serving(port).await.as_deref() == Some("v1")
    })
    .await;
    let v2 = package(dir.path(), "v2", &serve, &secret);
    publish(&store, Some(&v2.tarball), None, None, signed_by(&secret)).await.unwrap();
    owp_testkit::until("v2 serving", Duration::from_secs(30), || async {
        serving(port).await.as_deref() == Some("v2")
    })
    .await;
    let v2_created = v2.manifest.created_at.clone();

    // Each refusal: the report says why, the instance keeps serving v2 from releases/v2.
    let refused = |what: &'static str, expected: &[&str]| {
        let expected: Vec<String> = expected.iter().map(|part| part.to_string()).collect();
        let (store, root) = (store.clone(), root.clone());
        async move {
            owp_testkit::until(what, Duration::from_secs(20), || async {
                report(&store).await.and_then(|r| r.note).is_some_and(|note| {
                    note.starts_with("current pointer refused")
                        && expected.iter().all(|part| note.contains(part.as_str()))
                        && note.ends_with("still running v2")
                })
            })
            .await;
            assert_eq!(serving(port).await.as_deref(), Some("v2"), "{what}: the service changed");
            assert_eq!(current_link(&root).as_deref(), Some("releases/v2"), "{what}: current moved");
            let report = report(&store).await.unwrap();
            assert_eq!((report.version.as_deref(), report.phase.as_str()), (Some("v2"), "idle"), "{what}");
        }
    };

    // Unsigned: the pointer format from before pointers were signed.
    let sha1 = store.release_sha256(&version("v1")).await.unwrap().unwrap();
    put_current(&store, format!(r#"{{"version":"v1","published_at":"now","sha256":"{sha1}"}}"#).into_bytes())
        .await;
    refused("an unsigned pointer", &["not a signed pointer"]).await;

    // Signed by a key the deployer does not trust (even as a rollback).
    point(&store, &attacker, "test", "v1", &v1.manifest.created_at, true).await;
    let trusted = public.key_id();
    refused("a pointer signed by another key", &["signature check failed", "signed with key", &trusted])
        .await;

    // Signed with the release key, for another environment.
    let v3 = package(dir.path(), "v3", &serve, &secret);
    upload_only(&store, &v3.tarball, None, None).await.unwrap();
    point(&store, &secret, "prod", "v3", &v3.manifest.created_at, false).await;
    refused("a pointer for another environment", &["signed for environment \"prod\""]).await;
    assert!(!root.join("releases/v3").exists(), "nothing is fetched for a refused pointer");

    // Signed, newer, but naming an older release without being a rollback.
    point(&store, &secret, "test", "v1", &v1.manifest.created_at, false).await;
    refused("a downgrade that is not a rollback", &["release v1", "older than v2", "not a signed rollback"])
        .await;

    // The pointer that once made v1 current, replayed byte for byte: validly signed, but older
    // than the newest pointer this instance accepted (v2's).
    put_current(&store, v1_pointer.clone()).await;
    refused("a replayed older pointer", &["replayed older pointer"]).await;

    // `deployer status` shows the refusal, and the pointer's own verdict.
    let fleet = deployer::status::fleet_status(&store, Some(&public)).await.unwrap();
    let text = deployer::status::render(&fleet);
    assert!(text.contains("note test-1: current pointer refused (replayed older pointer"), "{text}");
    assert!(text.contains(&format!("verified by key {}", public.key_id())), "{text}");

    // A signed rollback is what takes the instance back to v1.
    publish(&store, None, Some(version("v1")), None, Signing::Key { key: &secret, rollback: true })
        .await
        .unwrap();
    owp_testkit::until("v1 serving after the rollback", Duration::from_secs(30), || async {
        serving(port).await.as_deref() == Some("v1")
    })
    .await;
    owp_testkit::until("the rollback done and the refusal note cleared", Duration::from_secs(20), || async {
        report(&store)
            .await
            .is_some_and(|r| r.note.is_none() && r.version.as_deref() == Some("v1") && r.phase == "idle")
    })
    .await;
    let accepted: Pointer =
        serde_json::from_slice(&std::fs::read(state.join("pointer.json")).unwrap()).unwrap();
    assert_eq!((accepted.version.as_str(), accepted.rollback), ("v1", true));

    // The high-water mark survives a restart: v2's pointer, replayed to a new process, is refused.
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(20), daemon).await.expect("the daemon stops").unwrap().unwrap();
    let v2_pointer = Pointer::new(
        "test",
        version("v2"),
        store.release_sha256(&version("v2")).await.unwrap().unwrap(),
        v2_created,
        false,
        None,
    );
    let stale =
        SignedPointer::sign(&Pointer { sequence: accepted.sequence - 1, ..v2_pointer }, &secret).unwrap();
    put_current(&store, stale.to_bytes().unwrap()).await;
    let (daemon, shutdown) = start_daemon(&s3, port, &root, &state, &public_path).await;
    owp_testkit::until("the stale pointer refused after a restart", Duration::from_secs(20), || async {
        report(&store).await.and_then(|r| r.note).is_some_and(|note| note.contains("replayed older pointer"))
    })
    .await;
    assert_eq!(serving(port).await.as_deref(), Some("v1"));
    assert_eq!(current_link(&root).as_deref(), Some("releases/v1"));
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(20), daemon).await.expect("the daemon stops").unwrap().unwrap();
}
