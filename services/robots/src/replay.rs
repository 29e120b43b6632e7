//! Rebuilding the projection from the log.
//!
//! The events topic is read from its first offset into a fresh schema, with the projector's own
//! code. Then, holding the projection lock exclusively (live projector batches hold it shared, so
//! they pause between two batches), the fresh schema catches up to exactly where the live one
//! stands, and is either swapped in (`owp replay`) or compared table by table with the live one
//! and dropped (`owp replay --verify`). The rebuilt tables carry no change capture: the translator
//! finds the swapped-in schema, installs its capture there and rebuilds its collections from it.

use std::{collections::HashMap, time::Duration};

use owp_platform::{db::DatabaseSettings, kafka::KafkaSettings, topics::Topics};
use owp_robot_framework::{Dedupe, Incoming, RebuildLedger, SchemaName, Sink, Step, store};
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{Consumer, StreamConsumer},
};
use sqlx::{PgPool, Row};

use crate::{
    Error, MIGRATOR, PROJECTION_SCHEMA, Result,
    projector::{PROJECTION_LOCK, Projector},
};

/// The tables compared by `--verify`: every projection table, and the set of processed events.
pub const TABLES: &[&str] = &[
    "users",
    "credentials",
    "sessions",
    "session_activity",
    "login_failures",
    "profiles",
    "businesses",
    "messages",
];

/// How a rebuild reports its progress: `(done, total)` events.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

#[derive(Debug, Clone, clap::Args)]
pub struct ReplayOptions {
    /// Consumer group prefix of the live robots (whose projector offsets are caught up to).
    #[arg(long, env = "OWP_GROUP_PREFIX", default_value = owp_robot_framework::GROUP_PREFIX)]
    pub group_prefix: String,
    /// Events per transaction.
    #[arg(long, default_value_t = 5000)]
    pub batch: usize,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        owp_platform::config::defaults()
    }
}

/// One table's comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCheck {
    pub table: String,
    pub live_rows: i64,
    pub rebuilt_rows: i64,
    pub live_checksum: String,
    pub rebuilt_checksum: String,
}

impl TableCheck {
    pub fn equal(&self) -> bool {
        self.live_rows == self.rebuilt_rows && self.live_checksum == self.rebuilt_checksum
    }
}

#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    pub events: u64,
    pub elapsed: Duration,
    pub checks: Vec<TableCheck>,
}

/// The whole rebuild: into a fresh schema, caught up under the lock, then swapped in or compared.
pub async fn replay(
    kafka: &KafkaSettings,
    topics: &Topics,
    database: &DatabaseSettings,
    options: &ReplayOptions,
    verify: bool,
    progress: Progress<'_>,
) -> Result<ReplayReport> {
    let started = std::time::Instant::now();
    database.create_database_if_missing().await?;
    let database = &as_projection_owner(database).await?;
    let admin = database.pool("public", 2).await?;
    let scratch = SchemaName::parse(format!("owp_rebuild_{}", std::process::id()))?;
    let pool = fresh_schema(database, &admin, &scratch).await?;
    let group = format!("{}{}", options.group_prefix, Projector::NAME);

    // 1. Everything on the log now, without holding anything up.
    let high = high_watermarks(kafka, topics).await?;
    let ledger = RebuildLedger::default();
    let mut events =
        rebuild_until(kafka, topics, &pool, &scratch, &group, &high, options.batch, &ledger, progress)
            .await?;
    store::key_processed(&pool, &scratch).await?;

    // 2. Pause the live projector between batches and catch up to exactly where it stands.
    let mut lock = admin.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(PROJECTION_LOCK).execute(&mut *lock).await?;
    let live_exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'robot_offsets')")
            .bind(PROJECTION_SCHEMA)
            .fetch_one(&mut *lock)
            .await?;
    if live_exists {
        let live = stored_offsets(&mut lock, PROJECTION_SCHEMA, &group, topics).await?;
        let target: HashMap<i32, i64> =
            live.iter().map(|(p, o)| (*p, (*o).max(high.get(p).copied().unwrap_or_default()))).collect();
        events += rebuild_until(
            kafka,
            topics,
            &pool,
            &scratch,
            &group,
            &target,
            options.batch,
            &ledger,
            &|_, _| {},
        )
        .await?;
    }

    let mut report = ReplayReport { events, elapsed: started.elapsed(), checks: Vec::new() };
    if verify {
        if live_exists {
            for table in TABLES {
                report.checks.push(compare(&mut lock, table, &scratch).await?);
            }
        }
        sqlx::query(&format!("DROP SCHEMA {scratch} CASCADE")).execute(&mut *lock).await?;
    } else {
        // The previous projection is kept as owp_previous until the next replay.
        sqlx::query("DROP SCHEMA IF EXISTS owp_previous CASCADE").execute(&mut *lock).await?;
        if live_exists || schema_exists(&mut lock, PROJECTION_SCHEMA).await? {
            copy_privileges(&mut lock, &scratch).await?;
            sqlx::query(&format!("ALTER SCHEMA {PROJECTION_SCHEMA} RENAME TO owp_previous"))
                .execute(&mut *lock)
                .await?;
        }
        sqlx::query(&format!("ALTER SCHEMA {scratch} RENAME TO {PROJECTION_SCHEMA}"))
            .execute(&mut *lock)
            .await?;
    }
    lock.commit().await?;
    pool.close().await;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Drops and recreates `schema` with the projection tables and the bookkeeping tables.
pub async fn fresh_schema(
    database: &DatabaseSettings,
    admin: &PgPool,
    schema: &SchemaName,
) -> Result<PgPool> {
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(admin).await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(admin).await?;
    // A rebuild that dies is simply run again, so its commits need not wait for the disk.
    let pool = database.pool_with(schema.as_str(), 4, &[("synchronous_commit", "off")]).await?;
    MIGRATOR.run(&pool).await?;
    store::ensure(&pool, schema).await?;
    // Keyed again by `store::key_processed` once the bulk of the log is in.
    store::unkey_processed(&pool, schema).await?;
    Ok(pool)
}

/// The rebuilt schema must belong to whoever owns the live one (the robots' role, where the
/// database has roles), or the robots could not migrate it after the swap: an operator who
/// connects as someone else (the master user) rebuilds acting as that owner.
async fn as_projection_owner(database: &DatabaseSettings) -> Result<DatabaseSettings> {
    let probe = database.pool("public", 1).await?;
    let owner: Option<String> = sqlx::query_scalar(
        "SELECT pg_get_userbyid(nspowner)::text FROM pg_namespace
          WHERE nspname = $1 AND nspowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)",
    )
    .bind(PROJECTION_SCHEMA)
    .fetch_optional(&probe)
    .await?;
    probe.close().await;
    Ok(match owner {
        Some(owner) => database.acting_as(&owner),
        None => database.clone(),
    })
}

/// Gives the rebuilt schema and its tables the privileges other roles hold on the live ones
/// (see `owp_platform::db::roles`: auth, the translator and the read point read projection
/// tables), so that they keep working the moment it is swapped in. Copied rather than named
/// here, so the one list of grants stays the set-up's.
async fn copy_privileges(conn: &mut sqlx::PgConnection, scratch: &SchemaName) -> Result<()> {
    let grants: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT '', a.privilege_type, pg_get_userbyid(a.grantee)::text
           FROM pg_namespace n, aclexplode(n.nspacl) a
          WHERE n.nspname = $1 AND a.grantee <> 0 AND a.grantee <> n.nspowner
         UNION ALL
         SELECT c.relname, a.privilege_type, pg_get_userbyid(a.grantee)::text
           FROM pg_class c, aclexplode(c.relacl) a
          WHERE c.relnamespace = to_regnamespace($1) AND a.grantee <> 0 AND a.grantee <> c.relowner",
    )
    .bind(PROJECTION_SCHEMA)
    .fetch_all(&mut *conn)
    .await?;
    for (table, privilege, grantee) in grants {
        let statement = if table.is_empty() {
            format!("GRANT {privilege} ON SCHEMA {scratch} TO \"{grantee}\"")
        } else {
            format!("GRANT {privilege} ON {scratch}.\"{table}\" TO \"{grantee}\"")
        };
        sqlx::query(&statement)
            .execute(&mut *conn)
            .await
            .map_err(|source| Error::Grant { statement: statement.clone(), source })?;
    }
    Ok(())
}

async fn schema_exists(conn: &mut sqlx::PgConnection, schema: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema)
        .fetch_one(conn)
        .await
}

async fn stored_offsets(
    conn: &mut sqlx::PgConnection,
    schema: &str,
    group: &str,
    topics: &Topics,
) -> sqlx::Result<HashMap<i32, i64>> {
    let rows = sqlx::query(&format!(
        "SELECT partition, next_offset FROM {schema}.robot_offsets WHERE group_id = $1 AND topic = $2"
    ))
    .bind(group)
    .bind(topics.events_topic.as_str())
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// The next offset of every partition of the events topic.
pub async fn high_watermarks(kafka: &KafkaSettings, topics: &Topics) -> Result<HashMap<i32, i64>> {
    let consumer = reader(kafka)?;
    let topic = topics.events_topic.clone();
    tokio::task::spawn_blocking(move || {
        let metadata = consumer.fetch_metadata(Some(topic.as_str()), Duration::from_secs(10))?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic.as_str())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(Error::NoTopic(topic.to_string()));
        }
        partitions
            .into_iter()
            .map(|p| Ok((p, consumer.fetch_watermarks(topic.as_str(), p, Duration::from_secs(10))?.1)))
            .collect()
    })
    .await
    .map_err(|err| Error::Task("reading the watermarks", err))?
}

fn reader(kafka: &KafkaSettings) -> Result<StreamConsumer> {
    Ok(kafka
        .client_config("owp-replay")?
        .set("group.id", format!("owp-replay-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.message.max.bytes", "4194304")
        // A rebuild stops at offsets read beforehand: once a partition is done the broker has
        // nothing new for it, and a fetch held for librdkafka's default 500 ms only delays the end.
        .set("fetch.wait.max.ms", "5")
        .create()?)
}

/// Applies events from where `schema` stands up to `target` (exclusive) per partition, in
/// batches, with the projector's code and the framework's bookkeeping. `ledger` holds the
/// event ids this rebuild applied so far and the keys it parked, so that duplicates on the log
/// are skipped, and messages wait behind a parked one, as with the live robots. Returns events
/// read.
#[allow(clippy::too_many_arguments)]
pub async fn rebuild_until(
    kafka: &KafkaSettings,
    topics: &Topics,
    pool: &PgPool,
    schema: &SchemaName,
    group: &str,
    target: &HashMap<i32, i64>,
    batch_size: usize,
    ledger: &RebuildLedger,
    progress: Progress<'_>,
) -> Result<u64> {
    let topic = &topics.events_topic;
    let mut conn = pool.acquire().await?;
    let stored = stored_offsets(&mut conn, schema.as_str(), group, topics).await?;
    drop(conn);
    let start: HashMap<i32, i64> = target.keys().map(|p| (*p, stored.get(p).copied().unwrap_or(0))).collect();
    let total: u64 = target.iter().map(|(p, t)| (t - start[p]).max(0) as u64).sum();
    if total == 0 {
        return Ok(0);
    }
    let consumer = reader(kafka)?;
    let mut assignment = TopicPartitionList::new();
    for (partition, offset) in &start {
        if target[partition] > *offset {
            let from = if *offset == 0 { Offset::Beginning } else { Offset::Offset(*offset) };
            assignment.add_partition_offset(topic.as_str(), *partition, from)?;
        }
    }
    consumer.assign(&assignment)?;

    // Reading and applying overlap: the next batch is read from the broker while PostgreSQL
    // writes this one. Two batches in flight at most; order is kept, as there is one applier.
    let (batches, mut incoming) = tokio::sync::mpsc::channel(2);
    let reading = tokio::spawn(read_batches(consumer, start, target.clone(), batch_size, batches));

    // Without a lock: a rebuild schema has no live writer; the swap takes the lock itself.
    let handler = Projector::without_lock(schema.clone());
    let step = Step {
        handler: &handler,
        pool,
        group,
        topic,
        max_attempts: 3,
        sink: Sink::Discard,
        dedupe: Dedupe::Memory(ledger),
    };
    let mut done = 0u64;
    while let Some(batch) = incoming.recv().await {
        done += batch.len() as u64;
        if let Err(err) = apply_with_retry(&step, &batch).await {
            reading.abort();
            return Err(err);
        }
        progress(done, total);
    }
    reading.await.map_err(|err| Error::Task("the rebuild's reader", err))??;
    Ok(done)
}

/// Reads the assigned partitions from `position` up to `target` (exclusive) and hands them on in
/// batches of `batch_size`. Stops early, without error, when the receiver is gone.
async fn read_batches(
    consumer: StreamConsumer,
    mut position: HashMap<i32, i64>,
    target: HashMap<i32, i64>,
    batch_size: usize,
    out: tokio::sync::mpsc::Sender<Vec<Incoming>>,
) -> Result<()> {
    let mut batch = Vec::with_capacity(batch_size);
    // A partition whose last messages were compacted or deleted ends where its data ends.
    while position.iter().any(|(p, o)| *o < target[p]) {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .map_err(|_| Error::Stalled)??;
        let (partition, offset) = (message.partition(), message.offset());
        let Some(&end) = target.get(&partition) else { continue };
        if offset < position[&partition] || offset >= end {
            continue;
        }
        position.insert(partition, offset + 1);
        batch.push(Incoming {
            partition,
            offset,
            key: message.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            payload: message.payload().unwrap_or_default().to_vec(),
        });
        if batch.len() >= batch_size {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
            if out.send(full).await.is_err() {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        let _ = out.send(batch).await;
    }
    Ok(())
}

async fn apply_with_retry(step: &Step<'_, Projector>, batch: &[Incoming]) -> Result<()> {
    use owp_platform::retry::{Backoff, Retryable};
    use owp_robot_framework::BatchError;
    (|| step.process(batch))
        .retry(Backoff::new(Duration::from_millis(100), Duration::from_secs(5)))
        .when(|err| matches!(err, BatchError::Transient(_)))
        .notify(|err, _| tracing::warn!(error = %err, "rebuild batch failed; retrying"))
        .await
        .map(drop)
        .map_err(|(BatchError::Transient(err) | BatchError::Fatal(err))| Error::Framework(err))
}

/// Row count and a content checksum of one table in the live and the rebuilt schema.
async fn compare(conn: &mut sqlx::PgConnection, table: &str, rebuilt: &SchemaName) -> Result<TableCheck> {
    let digest = |schema: &str| {
        format!(
            "SELECT count(*), coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') FROM {schema}.{table} t"
        )
    };
    let live = sqlx::query(&digest(PROJECTION_SCHEMA)).fetch_one(&mut *conn).await?;
    let fresh = sqlx::query(&digest(rebuilt.as_str())).fetch_one(&mut *conn).await?;
    Ok(TableCheck {
        table: table.to_owned(),
        live_rows: live.get(0),
        rebuilt_rows: fresh.get(0),
        live_checksum: live.get(1),
        rebuilt_checksum: fresh.get(1),
    })
}
