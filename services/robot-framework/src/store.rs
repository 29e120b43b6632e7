//! The framework's bookkeeping tables, in the robot's own schema: stored offsets, processed ids
//! and parked messages. Always used inside the batch transaction.

use std::collections::{HashMap, HashSet};

use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::{Incoming, Result, SchemaName};

/// The processed ids' key. The id leads, so a batch's lookup (`id = ANY(…)`) can only be a
/// search for each id. Led by the group, the planner could also range over the whole group and
/// filter the ids, and it did, on statistics taken while the table was nearly empty: 17 ms per
/// batch after 15,000 documents, and growing.
const PROCESSED_KEY: &str = "PRIMARY KEY (id, group_id)";

/// Creates the schema and the bookkeeping tables if they are missing. Statements rather than a
/// `sqlx::migrate!` migrator: the tables live in the host robot's schema (the projection's, so a
/// replay swaps offsets with rows), and sqlx 0.8 keeps one migration history per schema, which
/// the host's own migrator uses.
pub async fn ensure(pool: &PgPool, schema: &SchemaName) -> Result<()> {
    let statements = [
        format!("CREATE SCHEMA IF NOT EXISTS {schema}"),
        format!(
            "CREATE TABLE IF NOT EXISTS {schema}.robot_offsets (
                group_id text NOT NULL, topic text NOT NULL, partition integer NOT NULL,
                next_offset bigint NOT NULL, PRIMARY KEY (group_id, topic, partition))"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {schema}.robot_processed (
                group_id text NOT NULL, id uuid NOT NULL, {PROCESSED_KEY})"
        ),
        // Tables made while the group led the key.
        format!(
            "DO $$ BEGIN
               IF (SELECT a.attname FROM pg_index i
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                    WHERE i.indrelid = '{schema}.robot_processed'::regclass AND i.indisprimary) = 'group_id' THEN
                 ALTER TABLE {schema}.robot_processed
                   DROP CONSTRAINT robot_processed_pkey, ADD {PROCESSED_KEY};
               END IF;
             END $$"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {schema}.robot_parked (
                parked_id bigserial PRIMARY KEY, group_id text NOT NULL, topic text NOT NULL,
                partition integer NOT NULL, message_offset bigint NOT NULL, message_key text,
                payload bytea NOT NULL, reason text NOT NULL, attempts integer NOT NULL,
                parked_at timestamptz NOT NULL DEFAULT now(), released_at timestamptz)"
        ),
        // Set while an operator's retry re-publishes the message: its key flows again from then
        // on, so the re-published copy is not parked behind its own record.
        format!("ALTER TABLE {schema}.robot_parked ADD COLUMN IF NOT EXISTS retrying_at timestamptz"),
        format!(
            "CREATE INDEX IF NOT EXISTS robot_parked_open ON {schema}.robot_parked (group_id, message_key)
                WHERE released_at IS NULL"
        ),
    ];
    // Several robots may start at once; serialise their DDL.
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('owp.robot.bookkeeping'))").execute(&mut *tx).await?;
    for statement in statements {
        sqlx::query(&statement).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Stored next offsets of `partitions`.
pub async fn offsets(
    conn: &mut PgConnection,
    schema: &SchemaName,
    group: &str,
    topic: &str,
    partitions: &[i32],
) -> Result<HashMap<i32, i64>> {
    let rows = sqlx::query(&format!(
        "SELECT partition, next_offset FROM {schema}.robot_offsets
          WHERE group_id = $1 AND topic = $2 AND partition = ANY($3)"
    ))
    .bind(group)
    .bind(topic)
    .bind(partitions)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(|row| (row.get::<i32, _>(0), row.get::<i64, _>(1))).collect())
}

/// What a batch must know before it applies anything: which of `ids` were processed already,
/// and which of `keys` have a parked message waiting. One round trip.
pub async fn seen(
    conn: &mut PgConnection,
    schema: &SchemaName,
    group: &str,
    ids: &[Uuid],
    keys: &[String],
) -> Result<(HashSet<Uuid>, HashSet<String>)> {
    if ids.is_empty() && keys.is_empty() {
        return Ok(Default::default());
    }
    let rows = sqlx::query(&format!(
        "SELECT id, NULL::text FROM {schema}.robot_processed WHERE id = ANY($2) AND group_id = $1
         UNION ALL
         SELECT DISTINCT NULL::uuid, message_key FROM {schema}.robot_parked
          WHERE group_id = $1 AND released_at IS NULL AND retrying_at IS NULL AND message_key = ANY($3)"
    ))
    .bind(group)
    .bind(ids)
    .bind(keys)
    .fetch_all(conn)
    .await?;
    let mut processed = HashSet::new();
    let mut parked = HashSet::new();
    for row in &rows {
        if let Some(id) = row.get::<Option<Uuid>, _>(0) {
            processed.insert(id);
        }
        if let Some(key) = row.get::<Option<String>, _>(1) {
            parked.insert(key);
        }
    }
    Ok((processed, parked))
}

/// Marks `ids` processed and stores next offsets (never moving one backwards). One round trip.
pub async fn record(
    conn: &mut PgConnection,
    schema: &SchemaName,
    group: &str,
    topic: &str,
    ids: &[Uuid],
    next: &HashMap<i32, i64>,
) -> Result<()> {
    let (partitions, offsets): (Vec<i32>, Vec<i64>) = next.iter().map(|(p, o)| (*p, *o)).unzip();
    // A data-modifying WITH runs whether or not the outer statement reads it.
    sqlx::query(&format!(
        "WITH processed AS (
           INSERT INTO {schema}.robot_processed (group_id, id)
           SELECT $1, UNNEST($5::uuid[]) ON CONFLICT DO NOTHING)
         INSERT INTO {schema}.robot_offsets (group_id, topic, partition, next_offset)
         SELECT $1, $2, p, o FROM UNNEST($3::integer[], $4::bigint[]) AS t(p, o)
         ON CONFLICT (group_id, topic, partition)
         DO UPDATE SET next_offset = GREATEST(robot_offsets.next_offset, EXCLUDED.next_offset)"
    ))
    .bind(group)
    .bind(topic)
    .bind(&partitions)
    .bind(&offsets)
    .bind(ids)
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends processed ids with `COPY`, without looking for duplicates: for a rebuild, whose
/// batches dedupe in memory ([`crate::Dedupe::Memory`]).
pub async fn copy_processed(
    conn: &mut PgConnection,
    schema: &SchemaName,
    group: &str,
    ids: &[Uuid],
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    // COPY's text format: a group name is escaped like any field (ours never need it).
    let mut group_field = String::with_capacity(group.len());
    for c in group.chars() {
        match c {
            '\\' => group_field.push_str("\\\\"),
            '\t' => group_field.push_str("\\t"),
            '\n' => group_field.push_str("\\n"),
            '\r' => group_field.push_str("\\r"),
            c => group_field.push(c),
        }
    }
    let mut data = String::with_capacity(ids.len() * (group_field.len() + 38));
    for id in ids {
        data.push_str(&group_field);
        data.push('\t');
        data.push_str(&id.hyphenated().to_string());
        data.push('\n');
    }
    let mut copy =
        conn.copy_in_raw(&format!("COPY {schema}.robot_processed (group_id, id) FROM STDIN")).await?;
    copy.send(data.into_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// Takes the processed-ids table's key away, so that a rebuild's bulk goes in without index
/// maintenance; [`key_processed`] builds it again in one pass.
pub async fn unkey_processed(pool: &PgPool, schema: &SchemaName) -> Result<()> {
    sqlx::query(&format!(
        "ALTER TABLE {schema}.robot_processed DROP CONSTRAINT IF EXISTS robot_processed_pkey"
    ))
    .execute(pool)
    .await?;
    Ok(())
}

/// Gives the processed-ids table its key back, after [`unkey_processed`].
pub async fn key_processed(pool: &PgPool, schema: &SchemaName) -> Result<()> {
    sqlx::query(&format!("ALTER TABLE {schema}.robot_processed ADD {PROCESSED_KEY}")).execute(pool).await?;
    Ok(())
}

pub async fn park(
    conn: &mut PgConnection,
    schema: &SchemaName,
    group: &str,
    topic: &str,
    message: &Incoming,
    reason: &str,
    attempts: u32,
) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO {schema}.robot_parked
           (group_id, topic, partition, message_offset, message_key, payload, reason, attempts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(group)
    .bind(topic)
    .bind(message.partition)
    .bind(message.offset)
    .bind(&message.key)
    .bind(&message.payload)
    .bind(reason)
    .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
    .execute(conn)
    .await?;
    Ok(())
}

/// A parked message, as operators see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Parked {
    pub parked_id: i64,
    pub group_id: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub reason: String,
    pub attempts: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub parked_at: time::OffsetDateTime,
    #[serde(skip)]
    pub payload: Vec<u8>,
}

/// Open parked messages of every robot whose bookkeeping is in `schema`, oldest first.
pub async fn list_parked(pool: &PgPool, schema: &SchemaName) -> Result<Vec<Parked>> {
    let rows = sqlx::query(&format!(
        "SELECT parked_id, group_id, topic, partition, message_offset, message_key, reason, attempts,
                parked_at, payload
           FROM {schema}.robot_parked WHERE released_at IS NULL ORDER BY parked_id"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| Parked {
            parked_id: row.get(0),
            group_id: row.get(1),
            topic: row.get(2),
            partition: row.get(3),
            offset: row.get(4),
            key: row.get(5),
            reason: row.get(6),
            attempts: row.get(7),
            parked_at: row.get(8),
            payload: row.get(9),
        })
        .collect())
}

/// Marks open parked messages as being retried (`true`), or not any more (`false`, when their
/// re-publishing failed).
pub async fn set_retrying(pool: &PgPool, schema: &SchemaName, ids: &[i64], retrying: bool) -> Result<()> {
    sqlx::query(&format!(
        "UPDATE {schema}.robot_parked SET retrying_at = CASE WHEN $2 THEN now() END
          WHERE parked_id = ANY($1) AND released_at IS NULL"
    ))
    .bind(ids)
    .bind(retrying)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks parked messages released (after they were re-published for a retry).
pub async fn release(pool: &PgPool, schema: &SchemaName, ids: &[i64]) -> Result<u64> {
    let done = sqlx::query(&format!(
        "UPDATE {schema}.robot_parked SET released_at = now() WHERE parked_id = ANY($1) AND released_at IS NULL"
    ))
    .bind(ids)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

pub async fn open_parked_count(conn: &mut PgConnection, schema: &SchemaName, group: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {schema}.robot_parked WHERE group_id = $1 AND released_at IS NULL"
    ))
    .bind(group)
    .fetch_one(conn)
    .await?)
}
