//! A full rebuild of one collection into a new version, beside the published one.
//!
//! The rebuild reads one consistent snapshot (REPEATABLE READ) and writes every document with
//! one version number `v0`, taken together with the snapshot under the ordering lock that
//! incremental batches also hold (from taking their version to reading their rows). So a batch
//! with a smaller version read state no newer than the snapshot, and loses to it; a batch with a
//! larger version read state no older than the snapshot, and wins. Incremental batches write to
//! the version being built as well as the published one, so nothing that changes during the
//! rebuild is missed.

use std::sync::Arc;

use owp_readstore::{AnyStore, DocWrite, ReadStore, Target};
use sqlx::PgPool;
use tokio::sync::Mutex;

use crate::{Error, Result, documents, plan::CollectionPlan};

/// Progress of a rebuild: `(done, total)` keys.
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

pub async fn rebuild(
    pool: &PgPool,
    store: &AnyStore,
    plan: &CollectionPlan,
    target: &Target,
    order: &Mutex<()>,
    chunk: usize,
    progress: Option<Progress>,
) -> Result<u64> {
    let context = format!("rebuild of {target}");
    let mut tx = pool.begin().await.map_err(Error::db(&context))?;
    let version: i64 = {
        let _order = order.lock().await;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await
            .map_err(Error::db(&context))?;
        // The snapshot is taken by the first query; the version right after it.
        sqlx::query_scalar("SELECT nextval('owp_translator.versions')")
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::db(&context))?
    };
    let mut keys: Vec<String> = Vec::new();
    for entry in &plan.entries {
        let found: Vec<String> = sqlx::query_scalar(&entry.keys_sql)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::db(format!("{context}: {}", entry.label)))?;
        keys.extend(found);
    }
    keys.sort_unstable();
    keys.dedup();
    let total = keys.len() as u64;
    let mut done = 0u64;
    // Reading a chunk overlaps writing the one before it (the snapshot's connection reads, the
    // store writes through its own), so the rebuild takes as long as the slower of the two.
    let (mut previous, mut previous_keys): (Vec<DocWrite>, u64) = (Vec::new(), 0);
    for chunk in keys.chunks(chunk.max(1)) {
        let (docs, written) =
            tokio::join!(documents::build(&mut tx, plan, chunk), store.write(target, &previous));
        written?;
        done += previous_keys;
        previous_keys = chunk.len() as u64;
        previous = docs?
            .into_iter()
            .filter_map(|(key, doc)| doc.map(|doc| DocWrite { key, version, doc: Some(doc) }))
            .collect();
        if let Some(progress) = &progress {
            progress(done, total);
        }
    }
    store.write(target, &previous).await?;
    if let Some(progress) = &progress {
        progress(total, total);
    }
    tx.commit().await.map_err(Error::db(&context))?;
    Ok(total)
}
