//! The translator's own bookkeeping, in schema `owp_translator`: which version of each
//! collection is published and from which configuration, the version sequence, operators'
//! rebuild requests, and the projection schema change capture follows (see capture).
//! Store-independent, so that an Elasticsearch deployment keeps it too.

use owp_readstore::CollectionName;
use sqlx::{PgConnection, PgPool};

use crate::{Error, Result};

/// The session lock the one active translator holds; the others wait as standbys.
pub const LEADER_LOCK: &str = "owp.translator";
/// Woken by the capture triggers and by rebuild requests.
pub const WAKE_CHANNEL: &str = "owp_translator";
/// The payload on [`WAKE_CHANNEL`] that announces a rebuild request (the capture triggers send
/// their schema's name).
pub const REBUILD_REQUESTED: &str = "rebuild";

/// The translator's own tables, in schema `owp_translator`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/state");

/// Creates schema `owp_translator` if it is missing and runs [`MIGRATOR`] in it, on `conn`,
/// whose search path is as it was afterwards.
pub async fn ensure(conn: &mut PgConnection) -> Result<()> {
    let failed = || Error::db("cannot create the translator's tables");
    sqlx::query(&owp_platform::db::create_schema_if_missing("owp_translator"))
        .execute(&mut *conn)
        .await
        .map_err(failed())?;
    // The migrations' own table lives in the schema they migrate.
    let path: String = sqlx::query_scalar("SELECT current_setting('search_path')")
        .fetch_one(&mut *conn)
        .await
        .map_err(failed())?;
    sqlx::query("SELECT set_config('search_path', 'owp_translator', false)")
        .execute(&mut *conn)
        .await
        .map_err(failed())?;
    // `run_direct`: sqlx's way around `run`'s future not being Send for every lifetime.
    let migrated = MIGRATOR.run_direct(&mut *conn).await;
    sqlx::query("SELECT set_config('search_path', $1, false)")
        .bind(path)
        .execute(&mut *conn)
        .await
        .map_err(failed())?;
    Ok(migrated?)
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Stored {
    pub name: String,
    pub version: i32,
    pub config_hash: String,
    pub rebuild_requested: bool,
}

pub async fn stored(pool: &PgPool) -> Result<Vec<Stored>> {
    sqlx::query_as(
        "SELECT name, version, config_hash, rebuild_requested FROM owp_translator.collections ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .map_err(Error::db("cannot read the translator's collections"))
}

pub async fn record_published(
    pool: &PgPool,
    name: &CollectionName,
    version: u32,
    hash: &str,
    documents: u64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO owp_translator.collections (name, version, config_hash, rebuild_requested, rebuilt_at, documents)
         VALUES ($1, $2, $3, false, now(), $4)
         ON CONFLICT (name) DO UPDATE SET version = excluded.version, config_hash = excluded.config_hash,
             rebuild_requested = false, rebuilt_at = excluded.rebuilt_at, documents = excluded.documents",
    )
    .bind(name.as_str())
    .bind(version as i32)
    .bind(hash)
    .bind(documents as i64)
    .execute(pool)
    .await
    .map_err(Error::db(format!("cannot record {name} v{version}")))?;
    Ok(())
}

pub async fn forget(pool: &PgPool, name: &str) -> Result<()> {
    sqlx::query("DELETE FROM owp_translator.collections WHERE name = $1")
        .bind(name)
        .execute(pool)
        .await
        .map_err(Error::db(format!("cannot forget {name}")))?;
    Ok(())
}

pub async fn clear_request(pool: &PgPool, name: &str) -> Result<()> {
    sqlx::query("UPDATE owp_translator.collections SET rebuild_requested = false WHERE name = $1")
        .bind(name)
        .execute(pool)
        .await
        .map_err(Error::db(format!("cannot clear the rebuild request of {name}")))?;
    Ok(())
}
