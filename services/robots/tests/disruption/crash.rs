//! The robots process killed with SIGKILL at random moments while 50,000 documents flow.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use rand::Rng;

use crate::{
    flow,
    support::{Names, Stack, producer},
};

fn spawn_robots(names: &Names, log: &std::fs::File) -> Child {
    Command::new(env!("CARGO_BIN_EXE_robots"))
        .envs(names.env())
        .stdout(Stdio::null())
        .stderr(log.try_clone().unwrap())
        .spawn()
        .unwrap()
}

/// Waits (bounded) until more documents have an outcome than `before`; returns how many.
async fn wait_for_progress(pool: &sqlx::PgPool, before: i64) -> i64 {
    let progress = owp_testkit::eventually(Duration::from_secs(120), Duration::from_millis(20), async || {
        let now: i64 =
            sqlx::query_scalar("SELECT count(*) FROM messages").fetch_one(pool).await.unwrap_or(before);
        (now > before).then_some(now)
    })
    .await;
    progress.expect("the restarted robots made no progress in 120 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robots_killed_with_sigkill_ten_times_lose_and_double_nothing() {
    let _serial = crate::SERIAL.lock().await;
    let documents = flow::documents();
    // The broker is not disrupted here: the shared one (OWP_KAFKA_BROKERS) serves.
    let names = Names::create().await;
    let log_path = std::env::temp_dir().join(format!("{}.robots.log", names.prefix));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut robots = spawn_robots(&names, &log);
    let stack = Stack::start_on(names.clone(), false).await;
    let session = flow::session(&stack.auth, &stack.client).await;
    let producer = producer(&names.kafka);

    let mut kills = 0;
    let mut outcomes = 0;
    let chunk = documents / 15;
    let sent = flow::send(&producer, &names, &session, documents, chunk.max(1), async |_| {
        // Kill while the robots are working: once they made progress since the last kill, at a
        // random moment after that.
        outcomes = wait_for_progress(&stack.pool, outcomes).await;
        let pause = rand::thread_rng().gen_range(0..300);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        robots.kill().unwrap();
        robots.wait().unwrap();
        kills += 1;
        robots = spawn_robots(&names, &log);
    })
    .await;
    assert!(kills >= 10, "only {kills} kills");
    crate::report(&format!(
        "robots killed {kills} times while {documents} documents flowed (log: {})",
        log_path.display()
    ));

    flow::check(&names, &sent, Duration::from_secs(600)).await;
    robots.kill().unwrap();
    robots.wait().unwrap();
    stack.stop().await;
}
