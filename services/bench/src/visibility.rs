//! `owp-bench visibility`: end-to-end read-your-writes. Documents are posted on a fixed schedule
//! (open loop: the schedule does not wait for answers), and each is timed from its *scheduled*
//! time, not from when its request actually left, so a stack (or a load generator) that falls
//! behind cannot hide the queueing it causes (no coordinated omission). It is visible when the
//! read point answers its outcome `accepted` (`GET /v1/documents/{id}?wait=…`). Every document
//! counts: one rejected, refused, failed, or not readable within 5 s of its scheduled time
//! counts as a miss at 5 s.
//!
//! The stack runs on its own topics, consumer groups and database, against the real broker,
//! PostgreSQL and read store, in either topology (see [`super::stack`]). The baseline printed
//! beside it is the write point's own 202 latency in the same run (also from the scheduled time):
//! the part of the delay that is only getting onto the log.
//!
//! In a search engine (`--read-store URL`), the run's indices are its own too
//! (`<prefix>-bench-<run>-*`), removed at the end like its database.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use anyhow::Context;
use hdrhistogram::Histogram;
use owp_platform::{
    db::DatabaseSettings,
    kafka::{self, KafkaSettings},
    topics::Topics,
};
use owp_readstore::{ElasticStore, ReadStoreSettings};
use serde_json::{Value, json};
use tokio::{task::JoinSet, time::Instant};
use uuid::Uuid;

use super::{
    stack::{Stack, StackSettings, Topology},
    stats::{self, Target},
};

/// A document not readable this long after its scheduled time is a miss, counted at this value.
const CAP: Duration = Duration::from_secs(5);
/// The target for the p99, in milliseconds.
const TARGET: Target = Target::AtMost(50.0);

#[derive(Debug, Clone, clap::Args)]
pub struct VisibilityArgs {
    /// Documents per second.
    #[arg(long, default_value_t = 500)]
    pub rate: u32,
    /// How long to post.
    #[arg(long, default_value = "60s", value_parser = owp_platform::duration::parse)]
    pub duration: Duration,
    /// `in-process`: every service in this process, as `owp up` runs them; `processes`: each
    /// service binary a child process, as the systemd units run them.
    #[arg(long, value_enum, default_value = "in-process")]
    pub topology: Topology,
    /// Where the service binaries are (`--topology processes`); by default beside `owp`.
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// The read store: `postgres`, or the URL of an OpenSearch/Elasticsearch cluster (the run's
    /// indices are named under `<prefix>-bench-<run>`).
    #[command(flatten)]
    pub read_store: ReadStoreSettings,
    /// The translator configuration to run.
    #[arg(long, default_value = "translator.toml")]
    pub translator_config: PathBuf,
    /// The benchmark's topics are laid out as `owp topics` and `owp up` lay them out, from the
    /// same settings.
    #[command(flatten)]
    pub topics: owp::topics::TopicSettings,
}

pub async fn run(
    kafka_settings: &KafkaSettings,
    database: &DatabaseSettings,
    args: &VisibilityArgs,
) -> anyhow::Result<()> {
    let run_id = Uuid::new_v4().simple().to_string();
    let run_id = &run_id[..12];
    let prefix = format!("owp.bench.{run_id}");
    let topics = Topics::prefixed(&prefix)?;
    kafka::ensure_topics(kafka_settings, &args.topics.specs(&topics)).await?;
    let database = super::sibling_database(database, &format!("owp_bench_{run_id}"));
    let read_store = ReadStoreSettings {
        index_prefix: format!("{}-bench-{run_id}", args.read_store.index_prefix),
        ..args.read_store.clone()
    };
    println!(
        "owp-bench visibility: {} documents/s for {}, topology {}, read store {}, topics {prefix}.* ({} command and {} event partitions), database {}",
        args.rate,
        humantime::format_duration(args.duration),
        args.topology.describe(),
        read_store.redacted(),
        args.topics.commands_partitions,
        args.topics.events_partitions,
        database.redacted()
    );
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()?.parent().context("owp has no directory")?.to_path_buf(),
    };
    let log_dir = std::env::temp_dir().join(format!("owp-bench-visibility-{run_id}"));
    let settings = StackSettings {
        kafka: kafka_settings,
        topics: &topics,
        database: &database,
        read_store: &read_store,
        group_prefix: format!("{prefix}.robot."),
        translator_config: args.translator_config.clone(),
        bin_dir,
        log_dir: log_dir.clone(),
    };
    let report = match Stack::start(args.topology, &settings).await {
        Ok(mut stack) => {
            let measured = measure(&mut stack, args).await;
            measured.and(stack.stop().await)
        }
        Err(err) => Err(err),
    };
    let report = report.and(super::drop_database(&database).await).and(drop_indices(&read_store).await);
    if report.is_ok() && args.topology == Topology::Processes {
        let _ = std::fs::remove_dir_all(&log_dir);
    }
    report
}

/// Removes the run's indices from a search engine (nothing to do in PostgreSQL: they went with
/// the database).
async fn drop_indices(read_store: &ReadStoreSettings) -> anyhow::Result<()> {
    if !read_store.read_store.contains("://") {
        return Ok(());
    }
    let store = ElasticStore::connect_with_prefix(&read_store.read_store, &read_store.index_prefix)?;
    Ok(store.drop_all().await?)
}

/// What became of one document.
#[derive(Debug)]
struct Fate {
    /// From the scheduled time to the write point's 202, if it answered one.
    ack: Option<Duration>,
    /// From the scheduled time to readable, or why it is a miss.
    visible: Result<Duration, String>,
    /// How late its request left against the schedule (the load generator's own lag).
    lag: Duration,
}

async fn measure(stack: &mut Stack, args: &VisibilityArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(512).build()?;
    let session = login(&client, &stack.auth_url).await?;
    let (writepoint, readpoint) = (stack.writepoint_url.clone(), stack.readpoint_url.clone());

    // Warm-up (not measured): one document all the way through, which also waits until the
    // session is projected and the translator has published its collections.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let fate = document(&client, &writepoint, &readpoint, &session, Instant::now()).await;
        if fate.visible.is_ok() {
            break;
        }
        stack.check()?;
        anyhow::ensure!(
            Instant::now() < deadline,
            "the stack did not make a document visible within 60 s (last: {:?})",
            fate.visible
        );
    }

    let mut requests = JoinSet::new();
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    let total = (args.duration.as_secs_f64() * f64::from(args.rate)).round() as u64;
    let start = Instant::now();
    for i in 0..total {
        let scheduled = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled).await;
        let (client, writepoint, readpoint, session) =
            (client.clone(), writepoint.clone(), readpoint.clone(), session.clone());
        requests.spawn(async move { document(&client, &writepoint, &readpoint, &session, scheduled).await });
    }
    let sent_in = start.elapsed();

    let (mut visible, mut acks) = (stats::histogram(), stats::histogram());
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut lag = Duration::ZERO;
    while let Some(joined) = requests.join_next().await {
        let fate = joined.context("a request task panicked")?;
        lag = lag.max(fate.lag);
        if let Some(ack) = fate.ack {
            stats::record(&mut acks, ack);
        }
        let (latency, outcome) = match fate.visible {
            Ok(latency) => (latency, format!("accepted within {}", humantime::format_duration(CAP))),
            Err(miss) => (CAP, miss),
        };
        stats::record(&mut visible, latency);
        *outcomes.entry(outcome).or_default() += 1;
    }
    stack.check()?;
    report(args, total, sent_in, lag, &outcomes, &acks, &visible);
    Ok(())
}

fn report(
    args: &VisibilityArgs,
    total: u64,
    sent_in: Duration,
    lag: Duration,
    outcomes: &BTreeMap<String, u64>,
    acks: &Histogram<u64>,
    visible: &Histogram<u64>,
) {
    println!(
        "  posted {total} documents in {:.1} s ({:.0}/s); the latest request left {:.1} ms after its \
         scheduled time",
        sent_in.as_secs_f64(),
        total as f64 / sent_in.as_secs_f64(),
        lag.as_secs_f64() * 1000.0
    );
    let outcomes: Vec<String> = outcomes.iter().map(|(outcome, n)| format!("{outcome}: {n}")).collect();
    println!("  outcomes: {}", outcomes.join(", "));
    println!("  write point 202 (baseline, from the scheduled time): {}", stats::summary(acks));
    println!(
        "  scheduled → readable at the read point (every document, a miss counted at {}): {}",
        humantime::format_duration(CAP),
        stats::summary(visible)
    );
    let p99 = stats::quantile_ms(visible, 0.99);
    let topology = match args.topology {
        Topology::InProcess => "in-process",
        Topology::Processes => "processes",
    };
    let store = if args.read_store.read_store.contains("://") { "opensearch" } else { "postgres" };
    println!("  visibility p99 ({topology}, {store}) {p99:.2} ms   ({})", TARGET.line(p99, " ms"));
}

/// The outcome of a document that was not readable by the cap.
fn late() -> String {
    format!("not readable within {}", humantime::format_duration(CAP))
}

async fn login(client: &reqwest::Client, auth: &str) -> anyhow::Result<String> {
    let username = format!("bench-{}", &Uuid::new_v4().simple().to_string()[..12]);
    let body = json!({"username": username, "password": "a bench password"});
    let response = client.post(format!("{auth}/v1/signup")).json(&body).send().await?;
    anyhow::ensure!(response.status() == 201, "signup: {}", response.text().await?);
    let response = client.post(format!("{auth}/v1/login")).json(&body).send().await?;
    anyhow::ensure!(response.status() == 200, "login: {}", response.text().await?);
    let answer: Value = response.json().await?;
    Ok(answer["session_id"].as_str().context("login answered no session_id")?.to_owned())
}

/// Posts one business at (or after) `scheduled` and waits for its outcome until `scheduled` +
/// [`CAP`].
async fn document(
    client: &reqwest::Client,
    writepoint: &str,
    readpoint: &str,
    session: &str,
    scheduled: Instant,
) -> Fate {
    let deadline = scheduled + CAP;
    let lag = scheduled.elapsed();
    let miss = |ack: Option<Duration>, reason: String| Fate { ack, visible: Err(reason), lag };
    let id = Uuid::new_v4();
    let posted = client
        .post(format!("{writepoint}/v1/documents"))
        .bearer_auth(session)
        .json(&json!({"item_type": "business", "document_id": id, "name": format!("Bench {id}")}))
        .timeout(deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)))
        .send()
        .await;
    let response = match posted {
        Ok(response) => response,
        Err(err) if err.is_timeout() => {
            return miss(None, format!("no 202 within {}", humantime::format_duration(CAP)));
        }
        Err(err) => return miss(None, format!("write point unreachable ({err})")),
    };
    if response.status() != reqwest::StatusCode::ACCEPTED {
        return miss(None, format!("write point {}", response.status()));
    }
    let ack = Some(scheduled.elapsed());
    let remaining = deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return miss(ack, late());
    }
    // The read point answers `pending` when the wait ends; a little slack lets that answer
    // arrive rather than cutting the connection.
    let wait_ms = remaining.as_micros().div_ceil(1000);
    let read = client
        .get(format!("{readpoint}/v1/documents/{id}?wait={wait_ms}ms"))
        .bearer_auth(session)
        .timeout(remaining + Duration::from_secs(2))
        .send()
        .await;
    let response = match read {
        Ok(response) => response,
        Err(err) if err.is_timeout() => return miss(ack, late()),
        Err(err) => return miss(ack, format!("read point unreachable ({err})")),
    };
    if response.status() != reqwest::StatusCode::OK {
        return miss(ack, format!("read point {}", response.status()));
    }
    let seen = Instant::now();
    let status = match response.json::<Value>().await {
        Ok(answer) => answer["status"].as_str().unwrap_or("no status").to_owned(),
        Err(err) => return miss(ack, format!("read point answer unreadable ({err})")),
    };
    match status.as_str() {
        "accepted" if seen <= deadline => Fate { ack, visible: Ok(seen - scheduled), lag },
        "accepted" | "pending" => miss(ack, late()),
        other => miss(ack, other.to_owned()),
    }
}
