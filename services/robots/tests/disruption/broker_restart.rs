//! The broker restarted mid-stream: robots pause, retry and catch up; nothing is lost. Runs its
//! own tansu with its log in SQLite in a temporary directory, so the log survives the restart.

use std::time::Duration;

use owp_platform::kafka::KafkaSettings;

use crate::{
    broker::start_broker,
    flow,
    support::{Names, Stack, producer},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_stream_loses_nothing() {
    let _serial = crate::SERIAL.lock().await;
    let (dir, port) = crate::broker::place();
    let mut broker = start_broker(&dir, port, "sqlite://tansu.db");
    let names = Names::create_with(KafkaSettings::new(format!("127.0.0.1:{port}"))).await;
    let stack = Stack::start_on(names.clone(), true).await;
    let session = flow::session(&stack.auth, &stack.client).await;
    let producer = producer(&names.kafka);

    let documents = flow::documents();
    let mut restarted = false;
    let sent = flow::send(&producer, &names, &session, documents, 500, async |done| {
        if done >= documents / 2 && !restarted {
            broker.kill().unwrap();
            broker.wait().unwrap();
            tokio::time::sleep(Duration::from_secs(2)).await;
            broker = start_broker(&dir, port, "sqlite://tansu.db");
            restarted = true;
        }
    })
    .await;
    assert!(restarted);
    flow::check(&names, &sent, Duration::from_secs(600)).await;
    stack.stop().await;
    broker.kill().unwrap();
    broker.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
