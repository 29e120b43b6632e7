//! The ingest benchmark. Three phases on one fresh topic of the same broker, in one run:
//! 1. baseline — the documents' commands produced directly with rdkafka, by a producer built by
//!    the same function with the same settings as the write point's (`kafka::producer` with the
//!    write point's `Settings`: acks, idempotence, linger, queue, delivery timeout; compression
//!    is that function's too), by as many concurrent senders as the write point gets
//!    connections, each waiting for its acknowledgement, as a write-point client does;
//! 2. the write point at full speed over M keep-alive connections; the ratio to 1 is the figure
//!    the issue sets a target for. 1 and 2 run in alternating rounds, the median round counting,
//!    since other work on the machine shifts both;
//! 3. the write point at a fixed rate (open loop), for the 202 latency percentiles, each timed
//!    from its scheduled time (no coordinated omission).

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use owp_platform::kafka::{self, KafkaSettings, ProducerTuning, TopicSpec};
use owp_protocol::{Registry, SessionId, TopicName};
use rdkafka::{
    message::OwnedHeaders,
    producer::{FutureProducer, FutureRecord},
};
use serde_json::json;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::stats::{self, Target};

/// The write point's rate against the direct producer's.
const RATIO_TARGET: Target = Target::AtLeast(0.7);
/// The 202 latency at the fixed rate, p99 in milliseconds.
const LATENCY_TARGET: Target = Target::AtMost(20.0);

#[derive(Debug, Clone, clap::Args)]
pub struct IngestArgs {
    /// Documents per throughput phase and round.
    #[arg(long, default_value_t = 20_000)]
    pub documents: usize,
    /// Rounds of the two throughput phases (direct, then the write point; the other way round
    /// in every second round).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Concurrent keep-alive connections (and concurrent direct senders for the baseline).
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Request rate of the latency phase, documents/s.
    #[arg(long, default_value_t = 1000)]
    pub rate: u32,
    /// Length of the latency phase.
    #[arg(long, default_value = "10s", value_parser = owp_platform::duration::parse)]
    pub latency_duration: Duration,
    /// Partitions of the benchmark topic.
    #[arg(long, default_value_t = 3)]
    pub partitions: i32,
}

struct Prepared {
    bodies: Vec<Vec<u8>>,
    commands: Vec<Record>,
}

/// A command as the write point appends it: key, payload, headers.
type Record = (String, Vec<u8>, OwnedHeaders);

/// N business documents with fresh ids: the HTTP bodies and, for the baseline, the exact
/// record the write point would produce for them.
fn prepare(registry: &Registry, count: usize, run: &str, session: SessionId) -> anyhow::Result<Prepared> {
    let mut bodies = Vec::with_capacity(count);
    let mut commands = Vec::with_capacity(count);
    for index in 0..count {
        let document = json!({
            "item_type": "business",
            "document_id": uuid::Uuid::new_v4(),
            "name": format!("Bench business {run} #{index}"),
        });
        bodies.push(serde_json::to_vec(&document)?);
        let submission = registry.parse_document(document, Some(session), OffsetDateTime::now_utc())?;
        commands.push((
            submission.key.as_str().to_owned(),
            submission.command.to_json(),
            kafka::command_headers(&submission.command),
        ));
    }
    Ok(Prepared { bodies, commands })
}

pub async fn run(kafka_settings: &KafkaSettings, args: &IngestArgs) -> anyhow::Result<()> {
    if args.connections == 0 || args.documents == 0 || args.rate == 0 {
        bail!("--documents, --connections and --rate must be greater than zero");
    }
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let topic = TopicName::parse(format!("owp.bench.{}", &run_id[..12]))?;
    kafka::ensure_topics(kafka_settings, &[TopicSpec::new(topic.clone(), args.partitions)]).await?;
    let registry = Registry::embedded()?;
    println!(
        "owp-bench ingest: {} documents, {} connections, broker {}, topic {} ({} partitions)",
        args.documents, args.connections, kafka_settings.kafka_brokers, topic, args.partitions
    );

    // The write point's settings, as it reads them (flags' defaults and OWP_* variables), for
    // both the write point and the baseline's producer.
    let mut settings = owp_writepoint::Settings::defaults();
    settings.addr = ([127, 0, 0, 1], 0).into();
    let tuning = producer_tuning(&settings);
    println!(
        "  producer settings of both: acks=all, idempotent {}, linger {:?}, delivery timeout {:?}, \
         queue {} messages (owp_platform::kafka::producer)",
        tuning.idempotent, tuning.linger, tuning.delivery_timeout, tuning.queue_max_messages
    );

    // A business needs a session; nothing here decides, so any session id does, sent as clients
    // send it: one header on every request.
    let session = SessionId::new_random();
    // Both sides, warmed up: the producer, and the write point in this process on the same topic.
    let producer = kafka::producer(kafka_settings, "owp-bench-direct", &tuning)?;
    let warmup = prepare(&registry, 200.min(args.documents), &run_id, session)?;
    direct(&producer, &topic, Arc::new(warmup.commands), args.connections).await?;
    let names = owp_platform::topics::Topics { commands_topic: topic.clone(), ..Default::default() };
    let shutdown = owp_platform::shutdown::ShutdownSettings::default();
    let app = owp_writepoint::Application::build(kafka_settings, &names, &shutdown, settings).await?;
    let base = format!("http://{}", app.local_addr());
    let stop = CancellationToken::new();
    let server = tokio::spawn(app.run(stop.clone()));
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {session}").parse()?);
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(args.connections)
        .timeout(Duration::from_secs(30))
        .build()?;
    wait_ready(&client, &base).await?;
    let url = format!("{base}/v1/documents");
    let warmup = prepare(&registry, 200.min(args.documents), &run_id, session)?;
    post_all(&client, &url, Arc::new(warmup.bodies), args.connections).await?;

    // Phases 1 and 2, in rounds that alternate which goes first, so that a change in what else
    // the machine does weighs on both alike; the median round's ratio counts.
    let (mut direct_latency, mut http_latency) = (stats::histogram(), stats::histogram());
    let mut ratios = Vec::with_capacity(args.rounds);
    for round in 1..=args.rounds.max(1) {
        let baseline_docs = prepare(&registry, args.documents, &run_id, session)?;
        let docs = prepare(&registry, args.documents, &run_id, session)?;
        let commands = Arc::new(baseline_docs.commands);
        let bodies = Arc::new(docs.bodies);
        let ((direct_rate, direct_hist), (http_rate, http_hist)) = if round % 2 == 1 {
            let direct = direct(&producer, &topic, commands, args.connections).await?;
            (direct, post_all(&client, &url, bodies, args.connections).await?)
        } else {
            let http = post_all(&client, &url, bodies, args.connections).await?;
            (direct(&producer, &topic, commands, args.connections).await?, http)
        };
        direct_latency.add(&direct_hist)?;
        http_latency.add(&http_hist)?;
        ratios.push(http_rate / direct_rate);
        println!(
            "  round {round}: direct rdkafka produce (baseline) {direct_rate:>7.0} docs/s, write point \
             POST /v1/documents {http_rate:>7.0} docs/s, ratio {:.2}",
            http_rate / direct_rate
        );
    }
    println!("  direct rdkafka produce (baseline), ack: {}", stats::summary(&direct_latency));
    println!("  write point POST /v1/documents, 202:    {}", stats::summary(&http_latency));
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios[ratios.len() / 2];
    println!(
        "  ratio write point / direct         {ratio:>9.2}          (the median round; {})",
        RATIO_TARGET.line(ratio, "x")
    );

    // Phase 3: fixed rate, open loop.
    let total = (f64::from(args.rate) * args.latency_duration.as_secs_f64()).round() as usize;
    let paced = prepare(&registry, total.max(1), &run_id, session)?;
    let (achieved, errors, latency) = paced_posts(&client, &url, paced.bodies, args.rate).await?;
    let p99_ms = stats::quantile_ms(&latency, 0.99);
    println!(
        "  202 latency at {} docs/s for {:?} ({} requests, {achieved:.0} docs/s achieved, {errors} errors, \
         from each request's scheduled time): {}",
        args.rate,
        args.latency_duration,
        total,
        stats::summary(&latency),
    );
    println!(
        "  202 latency p99 {p99_ms:.2} ms   ({}{})",
        LATENCY_TARGET.line(p99_ms, " ms"),
        match errors {
            0 => String::new(),
            n => format!("; {n} requests failed"),
        }
    );

    stop.cancel();
    server.await??;
    Ok(())
}

/// The producer tuning the write point derives from its settings (services/writepoint/src/app.rs
/// builds it the same way; the producer itself comes from the same `kafka::producer`).
fn producer_tuning(settings: &owp_writepoint::Settings) -> ProducerTuning {
    ProducerTuning {
        delivery_timeout: settings.produce_timeout,
        queue_max_messages: settings.producer_queue_messages,
        linger: settings.producer_linger,
        idempotent: settings.producer_idempotent,
    }
}

async fn wait_ready(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("the write point did not become ready within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Produces every command with `senders` concurrent senders, each awaiting its ack.
async fn direct(
    producer: &FutureProducer,
    topic: &TopicName,
    commands: Arc<Vec<Record>>,
    senders: usize,
) -> anyhow::Result<(f64, hdrhistogram::Histogram<u64>)> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks = (0..senders).map(|_| {
        let (producer, topic, commands, next) =
            (producer.clone(), topic.clone(), commands.clone(), next.clone());
        tokio::spawn(async move {
            let mut latency = stats::histogram();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some((key, payload, headers)) = commands.get(index) else { break };
                let sent = Instant::now();
                let record =
                    FutureRecord::to(topic.as_str()).key(key).payload(payload).headers(headers.clone());
                producer
                    .send(record, Duration::from_secs(5))
                    .await
                    .map_err(|(err, _)| anyhow::anyhow!("direct produce failed: {err}"))?;
                stats::record(&mut latency, sent.elapsed());
            }
            anyhow::Ok(latency)
        })
    });
    let mut merged = stats::histogram();
    for task in futures::future::join_all(tasks).await {
        merged.add(task??)?;
    }
    Ok((commands.len() as f64 / start.elapsed().as_secs_f64(), merged))
}

/// POSTs every body over `connections` keep-alive connections; every answer must be 202.
async fn post_all(
    client: &reqwest::Client,
    url: &str,
    bodies: Arc<Vec<Vec<u8>>>,
    connections: usize,
) -> anyhow::Result<(f64, hdrhistogram::Histogram<u64>)> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks = (0..connections).map(|_| {
        let (client, url, bodies, next) = (client.clone(), url.to_owned(), bodies.clone(), next.clone());
        tokio::spawn(async move {
            let mut latency = stats::histogram();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(index) else { break };
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .context("POST failed")?;
                if response.status() != reqwest::StatusCode::ACCEPTED {
                    bail!(
                        "expected 202, got {}: {}",
                        response.status(),
                        response.text().await.unwrap_or_default()
                    );
                }
                stats::record(&mut latency, sent.elapsed());
            }
            anyhow::Ok(latency)
        })
    });
    let mut merged = stats::histogram();
    for task in futures::future::join_all(tasks).await {
        merged.add(task??)?;
    }
    Ok((bodies.len() as f64 / start.elapsed().as_secs_f64(), merged))
}

/// Sends one request every `1/rate` s whatever the previous ones are doing (open loop), and
/// times each from its scheduled time, so that neither a slow answer nor a late sender can hide
/// the queueing it causes.
async fn paced_posts(
    client: &reqwest::Client,
    url: &str,
    bodies: Vec<Vec<u8>>,
    rate: u32,
) -> anyhow::Result<(f64, usize, hdrhistogram::Histogram<u64>)> {
    let latency = Arc::new(Mutex::new(stats::histogram()));
    let errors = Arc::new(AtomicUsize::new(0));
    let interval = Duration::from_secs(1) / rate;
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(bodies.len());
    for (index, body) in bodies.into_iter().enumerate() {
        let scheduled = start + interval * u32::try_from(index).unwrap_or(u32::MAX);
        tokio::time::sleep_until(scheduled).await;
        let (client, url, latency, errors) =
            (client.clone(), url.to_owned(), latency.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let result = client.post(&url).header("content-type", "application/json").body(body).send().await;
            match result {
                Ok(response) if response.status() == reqwest::StatusCode::ACCEPTED => {
                    if let Ok(mut histogram) = latency.lock() {
                        stats::record(&mut histogram, scheduled.elapsed());
                    }
                }
                _ => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let sent_in = start.elapsed();
    futures::future::join_all(tasks).await;
    let achieved = tasks_len_rate(latency.lock().map(|h| h.len()).unwrap_or(0), sent_in);
    let histogram =
        latency.lock().map(|h| h.clone()).map_err(|_| anyhow::anyhow!("latency lock poisoned"))?;
    Ok((achieved, errors.load(Ordering::Relaxed), histogram))
}

fn tasks_len_rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(f64::EPSILON)
}
