//! The replay benchmark: N facts on a fresh events topic, rebuilt into a fresh schema with the
//! projector's code (events/s); the baseline, in the same run and database, writes the very rows
//! the rebuild produced (projection tables, processed ids, offsets) with `COPY` into another
//! fresh schema.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use anyhow::Context;
use futures::StreamExt;
use owp_platform::{
    db::DatabaseSettings,
    kafka::{self, KafkaSettings, ProducerTuning, TopicSpec},
    topics::Topics,
};
use owp_protocol::{
    DocumentId, Event, EventId, SessionId,
    facts::{self, kind},
};
use owp_robot_framework::SchemaName;
use owp_robots::replay;
use rdkafka::producer::FutureRecord;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::stats::Target;

/// The rebuild's rate against the COPY of the same rows.
const RATIO_TARGET: Target = Target::AtLeast(0.6);

#[derive(Debug, Clone, clap::Args)]
pub struct ReplayBenchArgs {
    /// Facts to replay.
    #[arg(long, default_value_t = 200_000)]
    pub events: usize,
    /// Partitions of the benchmark topic: as many as `owp topics` gives the events topic.
    #[arg(long, env = "OWP_EVENTS_PARTITIONS", default_value_t = 3)]
    pub partitions: i32,
    /// Events per transaction.
    #[arg(long, default_value_t = 5000)]
    pub batch: usize,
}

/// A realistic mix: users sign up and log in, then create businesses (7 in 10), profiles (2 in
/// 10) and get rejected (1 in 10).
fn facts(count: usize) -> Vec<(String, Event)> {
    let users = (count / 100).max(1);
    let mut out = Vec::with_capacity(count);
    let mut sessions = Vec::with_capacity(users);
    let base = OffsetDateTime::now_utc();
    let event = |kind: &str, session: Option<SessionId>, index: usize, body| {
        let document_id = DocumentId::new_random();
        Event {
            event_id: EventId::derive(document_id, facts::OUTCOME_SLOT),
            kind: kind.to_owned(),
            document_id,
            session_id: session,
            occurred_at: base + Duration::from_micros(index as u64),
            body,
        }
    };
    for user in 0..users {
        if out.len() + 2 > count {
            break;
        }
        let user_id = Uuid::new_v4();
        let session = SessionId::new_random();
        let username = format!("bench-{user}-{}", &user_id.simple().to_string()[..8]);
        let signed_up = facts::UserSignedUp {
            user_id,
            username: username.clone(),
            password_hash: "$argon2id$bench".into(),
        };
        out.push((user_id.to_string(), event(kind::USER_SIGNED_UP, None, out.len(), json!(signed_up))));
        let started = facts::SessionStarted { session_id: *session.as_uuid(), user_id, username };
        out.push((
            session.to_string(),
            event(kind::SESSION_STARTED, Some(session), out.len(), json!(started)),
        ));
        sessions.push((session, user_id));
    }
    while out.len() < count {
        let index = out.len();
        let (session, user_id) = sessions[index % sessions.len()];
        let fact = match index % 10 {
            0 => event(
                kind::BUSINESS_REJECTED,
                Some(session),
                index,
                json!({"reason": "could not find a valid session"}),
            ),
            1 | 2 => {
                let mut e = event(kind::PROFILE_CREATED, Some(session), index, serde_json::Value::Null);
                e.body = json!(facts::ProfileChanged {
                    profile_id: *e.document_id.as_uuid(),
                    user_id: Some(user_id),
                    first_name: Some("Bench".into()),
                    last_name: Some(format!("{index}")),
                    ..Default::default()
                });
                e
            }
            _ => {
                let mut e = event(kind::BUSINESS_CREATED, Some(session), index, serde_json::Value::Null);
                e.body = json!(facts::BusinessChanged {
                    business_id: *e.document_id.as_uuid(),
                    owner_user_id: user_id,
                    name: format!("Bench business {index}"),
                });
                e
            }
        };
        out.push((fact.document_id.to_string(), fact));
    }
    out
}

pub async fn run(
    kafka_settings: &KafkaSettings,
    database: &DatabaseSettings,
    args: &ReplayBenchArgs,
) -> anyhow::Result<()> {
    let run_id = Uuid::new_v4().simple().to_string();
    let topics = Topics::prefixed(&format!("owp.bench.{}", &run_id[..12]))?;
    kafka::ensure_topics(kafka_settings, &[TopicSpec::new(topics.events_topic.clone(), args.partitions)])
        .await?;
    println!(
        "owp-bench replay: {} events, topic {} ({} partitions), database {}",
        args.events,
        topics.events_topic,
        args.partitions,
        database.redacted()
    );

    // Put the facts on the log (not timed), as the robots append them: key, payload, headers.
    let tuning = ProducerTuning { linger: Duration::from_millis(20), ..ProducerTuning::default() };
    let producer = kafka::producer(kafka_settings, "owp-bench-replay", &tuning)?;
    let all = facts(args.events);
    for chunk in all.chunks(10_000) {
        let payloads: Vec<(&String, Vec<u8>, &Event)> =
            chunk.iter().map(|(key, e)| (key, e.to_json(), e)).collect();
        let sends = payloads.iter().map(|(key, payload, event)| {
            producer.send(
                FutureRecord::to(topics.events_topic.as_str())
                    .key(key.as_str())
                    .payload(payload)
                    .headers(kafka::event_headers(event)),
                Duration::from_secs(60),
            )
        });
        for delivery in futures::future::join_all(sends).await {
            delivery.map_err(|(err, _)| err).context("cannot produce the benchmark facts")?;
        }
    }

    // The rebuild, timed.
    database.create_database_if_missing().await?;
    let admin = database.pool("public", 2).await?;
    let rebuilt = SchemaName::parse(format!("owp_bench_replay_{}", &run_id[..8]))?;
    let pool = replay::fresh_schema(database, &admin, &rebuilt).await?;
    let high = replay::high_watermarks(kafka_settings, &topics).await?;
    let ledger = owp_robot_framework::RebuildLedger::default();
    let started = Instant::now();
    let events = replay::rebuild_until(
        kafka_settings,
        &topics,
        &pool,
        &rebuilt,
        "owp.bench.projector",
        &high,
        args.batch,
        &ledger,
        &|_, _| {},
    )
    .await?;
    // Part of a rebuild: the processed ids' key, built once the bulk is in.
    owp_robot_framework::store::key_processed(&pool, &rebuilt).await?;
    let replay_time = started.elapsed();
    let replay_rate = events as f64 / replay_time.as_secs_f64();

    // The baseline: the same final rows, written with COPY, three times into a fresh schema
    // each (a single COPY's time varied by a third between runs on the same machine); the median
    // counts. The same rows are every row the rebuild leaves behind: the projection tables, and
    // the processed event ids and offsets that let the live projector carry on from it (without
    // them it would apply the log again), keyed as the rebuild keys them. The projection tables
    // alone are timed too, and printed for comparison.
    let bookkeeping = ["robot_processed", "robot_offsets"];
    let mut dumps: HashMap<&str, Vec<u8>> = HashMap::new();
    let (mut projection_rows, mut rows) = (0i64, 0i64);
    let mut conn = pool.acquire().await?;
    for table in replay::TABLES.iter().chain(&bookkeeping) {
        let mut out = Vec::new();
        let mut stream = conn.copy_out_raw(&format!("COPY {rebuilt}.{table} TO STDOUT")).await?;
        while let Some(bytes) = stream.next().await {
            out.extend_from_slice(&bytes?);
        }
        drop(stream);
        let count = sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {rebuilt}.{table}"))
            .fetch_one(&mut *conn)
            .await?;
        rows += count;
        if replay::TABLES.contains(table) {
            projection_rows += count;
        }
        dumps.insert(table, out);
    }
    drop(conn);
    let copied = SchemaName::parse(format!("owp_bench_copy_{}", &run_id[..8]))?;
    let (mut copy_times, mut projection_times) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let copy_pool = replay::fresh_schema(database, &admin, &copied).await?;
        let mut conn = copy_pool.acquire().await?;
        let started = Instant::now();
        let mut tx = sqlx::Acquire::begin(&mut *conn).await?;
        for table in replay::TABLES {
            let mut copy = tx.copy_in_raw(&format!("COPY {copied}.{table} FROM STDIN")).await?;
            copy.send(dumps[table].as_slice()).await?;
            copy.finish().await?;
        }
        projection_times.push(started.elapsed());
        for table in bookkeeping {
            let mut copy = tx.copy_in_raw(&format!("COPY {copied}.{table} FROM STDIN")).await?;
            copy.send(dumps[table].as_slice()).await?;
            copy.finish().await?;
        }
        tx.commit().await?;
        drop(conn);
        owp_robot_framework::store::key_processed(&copy_pool, &copied).await?;
        copy_times.push(started.elapsed());
        copy_pool.close().await;
    }
    let runs: Vec<String> = copy_times.iter().map(|t| format!("{t:.2?}")).collect();
    copy_times.sort();
    projection_times.sort();
    let copy_time = copy_times[1];
    let copy_rate = events as f64 / copy_time.as_secs_f64();
    let projection_rate = events as f64 / projection_times[1].as_secs_f64();

    println!(
        "  replay into PostgreSQL           {replay_rate:>9.0} events/s   ({events} events in {replay_time:.2?}, {rows} rows)"
    );
    println!(
        "  COPY of the same rows (baseline) {copy_rate:>9.0} events/s   ({rows} rows in {copy_time:.2?}, the median of {}; \
         {projection_rows} projection rows, the rest processed ids and offsets)",
        runs.join(", ")
    );
    let ratio = replay_rate / copy_rate;
    println!(
        "  ratio replay / COPY              {ratio:>9.2}            ({})",
        RATIO_TARGET.line(ratio, "x")
    );
    println!(
        "  for comparison, COPY of the projection tables alone: {projection_rate:.0} events/s ({projection_rows} rows in {:.2?}), ratio {:.2}",
        projection_times[1],
        replay_rate / projection_rate
    );
    for schema in [&rebuilt, &copied] {
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&admin).await?;
    }
    Ok(())
}
