//! PostgreSQL restarted mid-stream: robots pause, retry with backoff and catch up; nothing is
//! lost. Restarts the machine's PostgreSQL server with pg_ctlcluster.

use std::{process::Command, time::Duration};

use crate::{
    flow,
    support::{Names, Stack, producer},
};

fn restart_postgres() {
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("PostgreSQL's clusters are under /etc/postgresql")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .max_by_key(|name| name.parse::<u32>().unwrap_or(0))
        .expect("one PostgreSQL cluster");
    let status = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", "restart", "--", "-m", "fast"])
        .status()
        .expect("pg_ctlcluster must be installed");
    assert!(status.success(), "pg_ctlcluster restart failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_mid_stream_loses_nothing() {
    let _serial = crate::SERIAL.lock().await;
    let names = Names::create().await;
    let stack = Stack::start_on(names.clone(), true).await;
    let session = flow::session(&stack.auth, &stack.client).await;
    let producer = producer(&names.kafka);

    let documents = flow::documents();
    let mut restarted = false;
    let sent = flow::send(&producer, &names, &session, documents, 500, async |done| {
        if done >= documents / 2 && !restarted {
            tokio::task::spawn_blocking(restart_postgres).await.unwrap();
            restarted = true;
        }
    })
    .await;
    assert!(restarted);
    flow::check(&names, &sent, Duration::from_secs(600)).await;
    stack.stop().await;
}
