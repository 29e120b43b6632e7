//! What `owp translator …` does for an operator: check a configuration file against the
//! database, and ask the running translator to rebuild collections, waiting until it has.
//!
//! A rebuild is asked of the running translator rather than done here, because only the
//! translator sees the changes that happen while the rebuild runs (it writes them to the new
//! version too); a rebuild done beside it would miss them.

use std::{collections::BTreeMap, time::Duration};

use owp_platform::db::DatabaseSettings;
use tokio::time::Instant;

use crate::{
    Error, Result,
    config::Config,
    plan::Plan,
    state::{self, LEADER_LOCK, REBUILD_REQUESTED, WAKE_CHANNEL},
};

/// Checks `file` against the database; the plan on success.
pub async fn check(database: &DatabaseSettings, file: &std::path::Path) -> Result<Plan> {
    let config = Config::load(file)?;
    let pool = crate::pool(database, 1).await?;
    let mut conn = pool.acquire().await.map_err(Error::db("cannot connect to check the configuration"))?;
    Plan::check(&mut conn, config).await
}

/// One collection's rebuild, as seen from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    pub collection: String,
    pub version: i32,
    pub documents: i64,
}

/// Asks the running translator to rebuild `collections` (all when empty) and waits, up to
/// `timeout`, until each is published in a new version.
pub async fn rebuild(
    database: &DatabaseSettings,
    collections: &[String],
    timeout: Duration,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<Rebuilt>> {
    let context = "cannot ask for a rebuild";
    let pool = crate::pool(database, 2).await?;
    let running: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND objid::bigint = (hashtext($1)::bigint & 4294967295))",
    )
    .bind(LEADER_LOCK)
    .fetch_one(&pool)
    .await
    .map_err(Error::db(context))?;
    if !running {
        return Err(Error::Operator(
            "no translator is running (no process holds the translator lock); start one with `owp up` or `translator`".into(),
        ));
    }
    let stored = state::stored(&pool).await?;
    let known: Vec<&str> = stored.iter().map(|s| s.name.as_str()).collect();
    let wanted: Vec<String> = if collections.is_empty() {
        known.iter().map(|s| s.to_string()).collect()
    } else {
        collections.to_vec()
    };
    if let Some(unknown) = wanted.iter().find(|w| !known.contains(&w.as_str())) {
        return Err(Error::Operator(format!(
            "no collection named {unknown:?} (known: {})",
            known.join(", ")
        )));
    }
    let before: BTreeMap<String, i32> =
        stored.iter().filter(|s| wanted.contains(&s.name)).map(|s| (s.name.clone(), s.version)).collect();
    sqlx::query("UPDATE owp_translator.collections SET rebuild_requested = true WHERE name = ANY($1)")
        .bind(&wanted)
        .execute(&pool)
        .await
        .map_err(Error::db(context))?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(WAKE_CHANNEL)
        .bind(REBUILD_REQUESTED)
        .execute(&pool)
        .await
        .map_err(Error::db(context))?;
    progress(&format!("asked the translator to rebuild {}", wanted.join(", ")));

    let deadline = Instant::now() + timeout;
    let mut reported = Vec::new();
    loop {
        let rows: Vec<(String, i32, bool, Option<i64>)> = sqlx::query_as(
            "SELECT name, version, rebuild_requested, documents FROM owp_translator.collections WHERE name = ANY($1)",
        )
        .bind(&wanted)
        .fetch_all(&pool)
        .await
        .map_err(Error::db("cannot follow the rebuild"))?;
        let mut done = Vec::new();
        for (name, version, requested, documents) in rows {
            if !requested && before.get(&name).is_some_and(|old| version > *old) {
                if !reported.contains(&name) {
                    progress(&format!(
                        "{name}: v{version} published, {} documents",
                        documents.unwrap_or_default()
                    ));
                    reported.push(name.clone());
                }
                done.push(Rebuilt { collection: name, version, documents: documents.unwrap_or_default() });
            }
        }
        if done.len() == wanted.len() {
            return Ok(done);
        }
        if Instant::now() >= deadline {
            return Err(Error::Operator(format!(
                "the rebuild did not finish within {}; see the translator's /status and log",
                humantime::format_duration(timeout)
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
