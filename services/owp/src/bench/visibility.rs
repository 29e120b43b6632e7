//! `owp bench visibility`: end-to-end read-your-writes. Documents are posted at a steady rate
//! (open loop: the schedule does not wait for answers), and each is timed from the start of its
//! POST to the read point answering its outcome (`GET /v1/documents/{id}?wait=…`). The whole
//! stack runs in this process on its own topics and database, against the real broker and
//! PostgreSQL. The baseline printed beside it is the write point's own 202 latency in the same
//! run: the part of the delay that is only getting onto the log.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use clap::Parser;
use owp_platform::{
    db::DatabaseSettings,
    handoff::Handoff,
    kafka::{self, KafkaSettings},
    topics::Topics,
};
use owp_readstore::ReadStoreSettings;
use serde_json::{Value, json};
use tokio::{sync::Mutex, task::JoinSet, time::Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::stats;

#[derive(Debug, Clone, clap::Args)]
pub struct VisibilityArgs {
    /// Documents per second.
    #[arg(long, default_value_t = 500)]
    pub rate: u32,
    /// How long to post.
    #[arg(long, default_value = "60s", value_parser = owp_platform::duration::parse)]
    pub duration: Duration,
    /// Produce idempotently from the write point (tansu 0.6's SQLite storage panics on its
    /// idempotence bookkeeping at this rate, see README; robots drop duplicates anyway).
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
    pub idempotent: bool,
    /// The translator configuration to run.
    #[arg(long, default_value = "translator.toml")]
    pub translator_config: std::path::PathBuf,
    /// The benchmark's topics are laid out as `owp topics` and `owp up` lay them out, from the
    /// same settings (the local stack's scripts give each topic one partition).
    #[command(flatten)]
    pub topics: crate::topics::TopicSettings,
}

/// The robot settings, read from the environment only.
#[derive(clap::Parser)]
struct RobotTuning {
    #[command(flatten)]
    robot: owp_robot::RobotSettings,
}

pub async fn run(
    kafka_settings: &KafkaSettings,
    database: &DatabaseSettings,
    args: &VisibilityArgs,
) -> anyhow::Result<()> {
    let run_id = Uuid::new_v4().simple().to_string();
    let prefix = format!("owp.bench.{}", &run_id[..12]);
    let topics = Topics::prefixed(&prefix)?;
    kafka::ensure_topics(kafka_settings, &args.topics.specs(&topics)).await?;
    let database = super::sibling_database(database, &format!("owp_bench_{}", &run_id[..12]));
    println!(
        "owp bench visibility: {} documents/s for {}, idempotent write point {}, topics {prefix}.* \
         ({} command and {} event partitions), database {}",
        args.rate,
        humantime::format_duration(args.duration),
        args.idempotent,
        args.topics.commands_partitions,
        args.topics.events_partitions,
        database.redacted()
    );

    // The stack, on ports of its own.
    let shutdown = CancellationToken::new();
    let mut services = JoinSet::new();
    // The robots' tuning comes from the same OWP_ROBOT_* variables as in `owp up`.
    let robot = RobotTuning::try_parse_from(["owp"]).context("OWP_ROBOT_* settings")?.robot;
    let mut robots =
        owp_robots::RobotsSettings { robot, addr: ([127, 0, 0, 1], 0).into(), ..Default::default() };
    robots.robot.group_prefix = format!("{prefix}.robot.");
    // As in `owp up`: the write point and auth hand what they append to the robots.
    let handoff = Handoff::default();
    handoff.written_here(&topics.commands_topic);
    let robots =
        owp_robots::Robots::build_with_handoff(kafka_settings, &topics, &database, robots, handoff.clone())
            .await?;
    let stop = shutdown.clone();
    services.spawn(async move { robots.run(stop).await });
    let mut auth_settings = owp_auth::Settings::defaults();
    auth_settings.addr = ([127, 0, 0, 1], 0).into();
    let auth = owp_auth::Application::build_with_handoff(
        kafka_settings,
        &topics,
        &database,
        owp_robots::PROJECTION_SCHEMA,
        auth_settings,
        Some(handoff.clone()),
    )
    .await?;
    let auth_url = format!("http://{}", auth.local_addr());
    let stop = shutdown.clone();
    services.spawn(async move { auth.run(stop).await });
    let mut wp_settings = owp_writepoint::Settings::defaults();
    wp_settings.addr = ([127, 0, 0, 1], 0).into();
    wp_settings.producer_idempotent = args.idempotent;
    let writepoint =
        owp_writepoint::Application::build_with_handoff(kafka_settings, &topics, wp_settings, Some(handoff))
            .await?;
    let writepoint_url = format!("http://{}", writepoint.local_addr());
    let stop = shutdown.clone();
    services.spawn(async move { writepoint.run(stop).await.map_err(anyhow::Error::from) });
    let store = ReadStoreSettings::default();
    let translator_settings = owp_translator::Settings {
        config: args.translator_config.clone(),
        addr: ([127, 0, 0, 1], 0).into(),
        ..Default::default()
    };
    let translator = owp_translator::Translator::build(&database, &store, translator_settings).await?;
    let stop = shutdown.clone();
    services.spawn(async move { translator.run(stop).await });
    let rp_settings = owp_readpoint::Settings { addr: ([127, 0, 0, 1], 0).into(), ..Default::default() };
    let readpoint = owp_readpoint::Application::build(&database, &store, rp_settings).await?;
    let readpoint_url = format!("http://{}", readpoint.local_addr());
    let stop = shutdown.clone();
    services.spawn(async move { readpoint.run(stop).await });

    let client = reqwest::Client::builder().pool_max_idle_per_host(512).build()?;
    let session = login(&client, &auth_url).await?;

    // Warm-up (not measured): one document all the way through, which also waits until the
    // translator has published its collections.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, outcome) = one(&client, &writepoint_url, &readpoint_url, &session).await?;
        if outcome == "accepted" {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the stack did not answer a document within 60 s");
    }

    let visible = Arc::new(Mutex::new(stats::histogram()));
    let accepted = Arc::new(Mutex::new(stats::histogram()));
    let mut requests = JoinSet::new();
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    let total = (args.duration.as_secs_f64() * f64::from(args.rate)) as u64;
    let start = Instant::now();
    for i in 0..total {
        tokio::time::sleep_until(start + interval.mul_f64(i as f64)).await;
        let (client, wp, rp, session) =
            (client.clone(), writepoint_url.clone(), readpoint_url.clone(), session.clone());
        let (visible, accepted) = (visible.clone(), accepted.clone());
        requests.spawn(async move {
            let posted = Instant::now();
            let (ack, outcome) = one(&client, &wp, &rp, &session).await?;
            let elapsed = posted.elapsed();
            stats::record(&mut *accepted.lock().await, ack);
            if outcome == "accepted" {
                stats::record(&mut *visible.lock().await, elapsed);
            }
            anyhow::Ok(outcome)
        });
    }
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    while let Some(joined) = requests.join_next().await {
        let outcome = match joined? {
            Ok(outcome) => outcome,
            Err(err) => format!("error ({err})"),
        };
        *counts.entry(outcome).or_default() += 1;
    }
    let elapsed = start.elapsed();
    let visible = visible.lock().await;
    let accepted = accepted.lock().await;
    println!(
        "  posted {total} documents in {:.1} s ({:.0}/s)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    println!("  outcomes: {counts:?}");
    println!("  write point 202 (baseline): {}", stats::summary(&accepted));
    println!("  POST → readable at the read point: {}", stats::summary(&visible));
    let p99 = visible.value_at_quantile(0.99) as f64 / 1000.0;
    println!("  target p99 < 100 ms: {}", if p99 < 100.0 { "met" } else { "NOT met" });

    shutdown.cancel();
    while let Some(joined) = services.join_next().await {
        joined.context("a service panicked")??;
    }
    super::drop_database(&database).await
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

/// Posts one business and waits for its outcome: `(202 latency, status)`.
async fn one(
    client: &reqwest::Client,
    writepoint: &str,
    readpoint: &str,
    session: &str,
) -> anyhow::Result<(Duration, String)> {
    let id = Uuid::new_v4();
    let posted = Instant::now();
    let response = client
        .post(format!("{writepoint}/v1/documents"))
        .json(&json!({"item_type": "business", "document_id": id, "session_id": session, "name": format!("Bench {id}")}))
        .send()
        .await?;
    let ack = posted.elapsed();
    if response.status() != 202 {
        return Ok((ack, format!("write point {}", response.status())));
    }
    let response =
        client.get(format!("{readpoint}/v1/documents/{id}?session_id={session}&wait=5s")).send().await?;
    if response.status() != 200 {
        return Ok((ack, format!("read point {}", response.status())));
    }
    let answer: Value = response.json().await?;
    Ok((ack, answer["status"].as_str().unwrap_or("no status").to_owned()))
}
