//! Steady load through HAProxy: POST /v1/documents at a fixed rate (open loop, so a slow or
//! failing instance cannot slow the sender down and hide failures), bounded in count and time.
//! Every response that is not 2xx and every transport error is counted as a failure.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{sync::Semaphore, task::JoinHandle};
use tokio_util::sync::CancellationToken;

/// Requests allowed in flight at once; far above what 500 req/s at a few ms each needs.
const MAX_IN_FLIGHT: usize = 1024;

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    ok: AtomicU64,
    non_2xx: AtomicU64,
    errors: AtomicU64,
    /// Ticks skipped because MAX_IN_FLIGHT requests were outstanding.
    skipped: AtomicU64,
}

#[derive(Debug, Clone, Default)]
pub struct Traffic {
    pub sent: u64,
    pub ok: u64,
    pub non_2xx: u64,
    pub errors: u64,
    pub skipped: u64,
    pub duration: Duration,
    /// The first few failures, for the report.
    pub samples: Vec<String>,
}

pub struct Load {
    stop: CancellationToken,
    task: JoinHandle<Traffic>,
}

impl Load {
    /// Starts sending to `frontend` at `rps`; stops by itself after `limit` at the latest.
    pub fn start(frontend: String, rps: u32, limit: Duration) -> Self {
        let stop = CancellationToken::new();
        let task = tokio::spawn(send(frontend, rps, limit, stop.clone()));
        Self { stop, task }
    }

    pub async fn stop(self) -> Traffic {
        self.stop.cancel();
        self.task.await.unwrap_or_default()
    }
}

async fn send(frontend: String, rps: u32, limit: Duration, stop: CancellationToken) -> Traffic {
    // A business needs a session; the write point only checks that one is sent (the robots,
    // which would refuse a made-up one, play no part in a rollout), so any id does.
    let mut headers = reqwest::header::HeaderMap::new();
    if let Ok(value) = format!("Bearer {}", uuid::Uuid::new_v4()).parse() {
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(256)
        .build()
        .unwrap_or_default();
    let url = format!("http://{frontend}/v1/documents");
    let counters = Arc::new(Counters::default());
    let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let started = tokio::time::Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rps);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut number = 0u64;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        if started.elapsed() >= limit {
            break;
        }
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            counters.skipped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        number += 1;
        let body = format!(
            r#"{{"item_type":"business","document_id":"{}","name":"fleet load {number}"}}"#,
            uuid::Uuid::new_v4()
        );
        let (client, url, counters, samples) =
            (client.clone(), url.clone(), Arc::clone(&counters), Arc::clone(&samples));
        counters.sent.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let _permit = permit;
            let result = client.post(&url).header("content-type", "application/json").body(body).send().await;
            let failure = match result {
                Ok(response) if response.status().is_success() => {
                    counters.ok.fetch_add(1, Ordering::Relaxed);
                    None
                }
                Ok(response) => {
                    counters.non_2xx.fetch_add(1, Ordering::Relaxed);
                    let status = response.status();
                    Some(format!("{status}: {}", response.text().await.unwrap_or_default()))
                }
                Err(err) => {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    Some(format!("transport: {err}"))
                }
            };
            if let Some(failure) = failure {
                if let Ok(mut samples) = samples.lock() {
                    if samples.len() < 5 {
                        samples.push(failure);
                    }
                }
            }
        });
    }
    let duration = started.elapsed();
    // Every request finishes (or times out) before counting: take all permits back.
    let _ = permits.acquire_many(MAX_IN_FLIGHT as u32).await;
    Traffic {
        sent: counters.sent.load(Ordering::Relaxed),
        ok: counters.ok.load(Ordering::Relaxed),
        non_2xx: counters.non_2xx.load(Ordering::Relaxed),
        errors: counters.errors.load(Ordering::Relaxed),
        skipped: counters.skipped.load(Ordering::Relaxed),
        duration,
        samples: samples.lock().map(|s| s.clone()).unwrap_or_default(),
    }
}
