//! The translator's loop: one active instance (a PostgreSQL session lock; others wait as
//! standbys) that
//! - turns outbox rows into documents, batch by batch, woken by NOTIFY with polling as the
//!   safety net: the keys each batch affects are coalesced per collection, every entry's query
//!   runs once for all of them, and the documents are rebuilt from the current state, so the
//!   order in which changes arrive cannot leave a stale document;
//! - watches its configuration file, and applies an edit that passes validation (a new or
//!   changed collection is rebuilt beside the published version and swapped in; a removed one is
//!   withdrawn) or refuses it and keeps the old one;
//! - serves operators' rebuild requests (`owp translator rebuild`);
//! - installs change capture on the projection schema (see capture), at start and on every
//!   poll, and rebuilds every collection when it finds a schema it has not followed before
//!   (`owp replay` swapped it in).
//!
//! Outbox rows are deleted in the same transaction that is committed only after the documents
//! were written, so a failure anywhere means the batch is done again, never skipped.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use owp_collections::written;
use owp_platform::retry::Backoff;
use owp_readstore::{AnyStore, CollectionName, DocWrite, ReadStore, Target, VersionWrite};
use serde_json::Value;
use sqlx::{PgPool, postgres::PgListener};
use tokio::{sync::Mutex, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{
    Error, Result, capture,
    config::Config,
    documents,
    metrics::Metrics,
    plan::{CollectionPlan, Plan},
    rebuild::rebuild,
    settings::Settings,
    state::{self, LEADER_LOCK, WAKE_CHANNEL},
    status::{CollectionStatus, Role, SharedStatus},
};

struct Building {
    target: Target,
    hash: String,
    task: JoinHandle<Result<u64>>,
}

#[allow(missing_debug_implementations)] // holds task handles and pools; /status shows its state
pub struct Engine {
    pub(crate) pool: PgPool,
    pub(crate) store: Arc<AnyStore>,
    pub(crate) settings: Settings,
    pub(crate) status: SharedStatus,
    pub(crate) metrics: Metrics,
    plan: Option<Arc<Plan>>,
    published: HashMap<CollectionName, Target>,
    building: HashMap<CollectionName, Building>,
    order: Arc<Mutex<()>>,
    /// Content hash of the last file we acted on (applied or refused), so a refused file is
    /// reported once, not every poll.
    seen: Option<String>,
}

impl Engine {
    pub(crate) fn new(
        pool: PgPool,
        store: Arc<AnyStore>,
        settings: Settings,
        status: SharedStatus,
        metrics: Metrics,
    ) -> Self {
        Self {
            pool,
            store,
            settings,
            status,
            metrics,
            plan: None,
            published: HashMap::new(),
            building: HashMap::new(),
            order: Arc::new(Mutex::new(())),
            seen: None,
        }
    }

    /// Loads and checks the configuration file.
    pub(crate) async fn load_plan(&self) -> Result<Plan> {
        let config = Config::load(&self.settings.config)?;
        let mut conn = self.pool.acquire().await.map_err(Error::db("cannot check the configuration"))?;
        Plan::check(&mut conn, config).await
    }

    pub async fn run(mut self, shutdown: CancellationToken) -> Result<()> {
        // Leadership: a session lock on a connection of its own, held until we stop.
        let mut leader = self.pool.acquire().await.map_err(Error::db("cannot connect"))?.detach();
        loop {
            let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1))")
                .bind(LEADER_LOCK)
                .fetch_one(&mut leader)
                .await
                .map_err(Error::db("cannot take the translator lock"))?;
            if got {
                break;
            }
            self.status.set_role(Role::Standby);
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.settings.poll) => {}
            }
        }
        self.status.set_role(Role::Leader);
        tracing::info!("translator is the active instance");
        state::ensure(&mut leader).await?;
        // Before the configuration is checked (it reads only tables capture follows) and any
        // rebuild takes its snapshot.
        self.follow_projection().await?;

        let mut listener = PgListener::connect_with(&self.pool).await.map_err(Error::db("cannot LISTEN"))?;
        listener.listen(WAKE_CHANNEL).await.map_err(Error::db("cannot LISTEN"))?;

        let plan = self.load_plan().await?;
        self.seen = Some(plan.config.content_hash.clone());
        self.status.config_applied(&plan);
        self.reconcile(Arc::new(plan)).await?;

        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        // Operators' rebuild requests are looked for when one is announced (NOTIFY with the
        // payload `rebuild`) and on every poll, not on every batch of changes.
        let mut requests = true;
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let outcome = self.step(std::mem::take(&mut requests)).await;
            match outcome {
                Ok(()) => backoff.reset(),
                Err(err) => {
                    requests = true;
                    self.status.error(&err);
                    let pause = backoff.next_pause();
                    if err.is_transient() {
                        tracing::warn!(error = %err, backoff = ?pause, "translator step failed; retrying");
                    } else {
                        tracing::error!(error = %err, backoff = ?pause, "translator step failed; retrying");
                    }
                    if !backoff.pause_unless_cancelled(&shutdown).await {
                        break;
                    }
                    continue;
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                notification = listener.try_recv() => match notification {
                    Ok(Some(notification)) => requests = notification.payload() == state::REBUILD_REQUESTED,
                    Ok(None) => requests = true,
                    Err(err) => {
                        tracing::warn!(error = %err, "LISTEN connection lost; polling until it is back");
                        requests = true;
                    }
                },
                _ = tokio::time::sleep(self.settings.poll) => {
                    requests = true;
                    self.check_config().await;
                }
            }
        }
        for (_, building) in self.building.drain() {
            building.task.abort();
        }
        let _ = sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
            .bind(LEADER_LOCK)
            .execute(&mut leader)
            .await;
        Ok(())
    }

    /// Everything that is due: finished rebuilds, change capture on a swapped-in projection and
    /// requested rebuilds (when `requests`), the outbox.
    async fn step(&mut self, requests: bool) -> Result<()> {
        self.finish_rebuilds().await?;
        if requests {
            self.follow_projection().await?;
            self.serve_requests().await?;
        }
        while self.batch().await? >= self.settings.batch as usize {}
        Ok(())
    }

    /// Applies an edited configuration file, or refuses it and keeps the current one.
    async fn check_config(&mut self) {
        let Ok(bytes) = tokio::fs::read(&self.settings.config).await else {
            // A file being replaced may be missing for a moment; the current config stays.
            return;
        };
        let hash = crate::config::hash(&bytes);
        if self.seen.as_deref() == Some(hash.as_str()) {
            return;
        }
        self.seen = Some(hash);
        match self.load_plan().await {
            Ok(plan) => {
                tracing::info!(file = %self.settings.config.display(), "configuration changed; applying it");
                self.status.config_applied(&plan);
                self.metrics.reload("applied");
                if let Err(err) = self.reconcile(Arc::new(plan)).await {
                    tracing::error!(error = %err, "cannot apply the new configuration");
                    self.status.error(&err);
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "configuration edit refused; the previous configuration stays");
                self.status.config_refused(&err);
                self.metrics.reload("refused");
            }
        }
    }

    /// Brings collections in line with `plan`: rebuilds what is new or changed, withdraws what
    /// is gone.
    async fn reconcile(&mut self, plan: Arc<Plan>) -> Result<()> {
        let stored: HashMap<String, state::Stored> =
            state::stored(&self.pool).await?.into_iter().map(|s| (s.name.clone(), s)).collect();
        for (name, collection) in &plan.collections {
            let published = self.store.published(name).await?;
            if let Some(target) = &published {
                self.published.insert(name.clone(), target.clone());
            }
            if self.building.get(name).is_some_and(|b| b.hash == collection.hash) {
                continue;
            }
            let current = stored.get(name.as_str());
            let up_to_date = current.is_some_and(|s| {
                s.config_hash == collection.hash
                    && published.as_ref().is_some_and(|p| p.version == s.version as u32)
            });
            if !up_to_date {
                let version = self.next_version(name, current.map(|s| s.version as u32));
                self.start_rebuild(collection.clone(), version).await?;
            }
        }
        let gone: BTreeSet<String> = stored
            .keys()
            .cloned()
            .chain(self.published.keys().map(|n| n.to_string()))
            .filter(|name| CollectionName::parse(name).map_or(true, |n| !plan.collections.contains_key(&n)))
            .collect();
        for name in gone {
            let Ok(collection) = CollectionName::parse(&name) else { continue };
            tracing::info!(collection = %name, "collection removed from the configuration; withdrawing it");
            if let Some(building) = self.building.remove(&collection) {
                building.task.abort();
                let _ = self.store.drop_version(&building.target).await;
            }
            self.store.unpublish(&collection).await?;
            if let Some(target) = self.published.remove(&collection) {
                self.store.drop_version(&target).await?;
            }
            state::forget(&self.pool, &name).await?;
        }
        self.plan = Some(plan);
        self.refresh_status();
        Ok(())
    }

    /// A version above every one `name` has: stored, published or being built.
    fn next_version(&self, name: &CollectionName, stored: Option<u32>) -> u32 {
        [
            stored,
            self.published.get(name).map(|t| t.version),
            self.building.get(name).map(|b| b.target.version),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0)
            + 1
    }

    /// Installs the capture triggers the projection lacks, and on a schema new to the translator
    /// rebuilds every collection (see capture). `capture::follow` marks the published ones for a
    /// rebuild, which the requests start (at start, beside the rebuilds the configuration needs);
    /// here the ones under way start again, as their snapshot may predate the capture.
    async fn follow_projection(&mut self) -> Result<()> {
        if !capture::follow(&self.pool).await? {
            return Ok(());
        }
        tracing::info!(
            "change capture is in place on a projection schema new to the translator; rebuilding every collection"
        );
        let Some(plan) = self.plan.clone() else { return Ok(()) };
        let stored: HashMap<String, u32> =
            state::stored(&self.pool).await?.into_iter().map(|s| (s.name, s.version as u32)).collect();
        for (name, collection) in &plan.collections {
            let version = self.next_version(name, stored.get(name.as_str()).copied());
            self.start_rebuild(collection.clone(), version).await?;
        }
        Ok(())
    }

    async fn start_rebuild(&mut self, collection: CollectionPlan, version: u32) -> Result<()> {
        if let Some(previous) = self.building.remove(&collection.name) {
            previous.task.abort();
            let _ = self.store.drop_version(&previous.target).await;
        }
        let target = Target::new(collection.name.clone(), version);
        self.store.create_version(&target).await?;
        tracing::info!(%target, "rebuilding collection");
        let (pool, store, order, chunk) =
            (self.pool.clone(), self.store.clone(), self.order.clone(), self.settings.rebuild_chunk);
        let hash = collection.hash.clone();
        let task_target = target.clone();
        let metrics = self.metrics.clone();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let count = rebuild(&pool, &store, &collection, &task_target, &order, chunk, None).await?;
            metrics.rebuilt(collection.name.as_str(), count);
            tracing::info!(target = %task_target, documents = count, seconds = started.elapsed().as_secs_f64(), "rebuild written");
            Ok(count)
        });
        self.building.insert(target.collection.clone(), Building { target, hash, task });
        self.refresh_status();
        Ok(())
    }

    /// Publishes rebuilds that finished; restarts the ones that failed.
    async fn finish_rebuilds(&mut self) -> Result<()> {
        let finished: Vec<CollectionName> =
            self.building.iter().filter(|(_, b)| b.task.is_finished()).map(|(n, _)| n.clone()).collect();
        for name in finished {
            let Some(building) = self.building.remove(&name) else { continue };
            let outcome =
                building.task.await.map_err(|err| Error::Operator(format!("rebuild task: {err}")))?;
            match outcome {
                Ok(count) => {
                    self.store.publish(&building.target).await?;
                    state::record_published(
                        &self.pool,
                        &name,
                        building.target.version,
                        &building.hash,
                        count,
                    )
                    .await?;
                    tracing::info!(target = %building.target, documents = count, "rebuild published");
                    if let Some(old) = self.published.insert(name.clone(), building.target.clone())
                        && old != building.target
                    {
                        self.store.drop_version(&old).await?;
                    }
                }
                Err(err) => {
                    tracing::error!(target = %building.target, error = %err, "rebuild failed; starting it again");
                    self.status.error(&err);
                    let _ = self.store.drop_version(&building.target).await;
                    if let Some(collection) =
                        self.plan.as_ref().and_then(|p| p.collections.get(&name)).cloned()
                    {
                        self.start_rebuild(collection, building.target.version + 1).await?;
                    }
                }
            }
        }
        self.refresh_status();
        Ok(())
    }

    /// Starts the rebuilds operators asked for.
    async fn serve_requests(&mut self) -> Result<()> {
        let requested: Vec<state::Stored> =
            state::stored(&self.pool).await?.into_iter().filter(|s| s.rebuild_requested).collect();
        for request in requested {
            let Ok(name) = CollectionName::parse(&request.name) else { continue };
            let planned = self.plan.as_ref().and_then(|p| p.collections.get(&name)).cloned();
            match planned {
                Some(_) if self.building.contains_key(&name) => {}
                Some(collection) => {
                    let version = request.version as u32 + 1;
                    let version = version.max(self.published.get(&name).map_or(0, |t| t.version + 1));
                    self.start_rebuild(collection, version).await?;
                }
                None => state::clear_request(&self.pool, &request.name).await?,
            }
        }
        Ok(())
    }

    /// One batch from the outbox; returns how many rows it took. A handful of round trips
    /// however many collections and entries it touches: take the rows (and a version), find
    /// the affected keys of every collection in one statement, build their documents in one,
    /// write them in one request, wake the readers in one.
    async fn batch(&mut self) -> Result<usize> {
        let Some(plan) = self.plan.clone() else { return Ok(0) };
        let started = Instant::now();
        let mut tx = self.pool.begin().await.map_err(Error::db("cannot begin a batch"))?;
        // From taking the version to reading the rows, under the ordering lock a rebuild takes
        // its snapshot under (see rebuild): the version is taken with the rows, so the lock comes
        // first.
        let order = self.order.clone();
        let order = order.lock().await;
        let rows: Vec<(String, Value, i64)> = sqlx::query_as(
            "WITH taken AS (DELETE FROM owp_capture.translator_outbox \
                            WHERE id IN (SELECT id FROM owp_capture.translator_outbox ORDER BY id LIMIT $1) \
                            RETURNING table_name, row_image) \
             SELECT table_name, row_image, (SELECT nextval('owp_translator.versions')) FROM taken",
        )
        .bind(self.settings.batch)
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::db("cannot take changes from the outbox"))?;
        let Some(version) = rows.first().map(|(_, _, version)| *version) else { return Ok(0) };
        let taken = rows.len();
        let mut by_table: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (table, image, _) in rows {
            by_table.entry(table).or_default().push(image);
        }

        let collections: Vec<&CollectionPlan> = plan.collections.values().collect();
        let keys = affected_keys(&mut tx, &collections, &by_table).await?;
        let requests: Vec<(&CollectionPlan, &[String])> = collections
            .iter()
            .zip(&keys)
            .filter(|(_, keys)| !keys.is_empty())
            .map(|(collection, keys)| (*collection, keys.as_slice()))
            .collect();
        let built = documents::build_many(&mut tx, &requests).await?;
        drop(order);

        let mut docs_by_collection: Vec<(CollectionName, Vec<DocWrite>)> = Vec::new();
        for ((collection, _), docs) in requests.iter().zip(built) {
            let docs = docs.into_iter().map(|(key, doc)| DocWrite { key, version, doc }).collect();
            docs_by_collection.push((collection.name.clone(), docs));
        }
        let mut writes = Vec::new();
        let mut payloads = Vec::new();
        for (name, docs) in &docs_by_collection {
            let targets =
                self.published.get(name).into_iter().chain(self.building.get(name).map(|b| &b.target));
            writes.extend(targets.map(|target| VersionWrite { target, docs }));
            self.metrics.written(name.as_str(), docs.len() as u64);
            payloads.extend(written::payloads(name, docs.iter().map(|d| d.key.as_str())));
        }
        self.store.write_all(&writes).await?;
        if !payloads.is_empty() {
            sqlx::query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload")
                .bind(written::READ_CHANNEL)
                .bind(&payloads)
                .execute(&mut *tx)
                .await
                .map_err(Error::db("cannot notify readers"))?;
        }
        tx.commit().await.map_err(Error::db("cannot commit a batch"))?;
        self.metrics.batch(taken as u64, started.elapsed());
        Ok(taken)
    }

    fn refresh_status(&self) {
        let mut names: BTreeSet<&CollectionName> = self.published.keys().collect();
        names.extend(self.building.keys());
        if let Some(plan) = &self.plan {
            names.extend(plan.collections.keys());
        }
        let collections = names
            .into_iter()
            .map(|name| CollectionStatus {
                name: name.to_string(),
                published_version: self.published.get(name).map(|t| t.version),
                building_version: self.building.get(name).map(|b| b.target.version),
                entries: self
                    .plan
                    .as_ref()
                    .and_then(|p| p.collections.get(name))
                    .map_or(0, |c| c.entries.len()),
            })
            .collect();
        self.status.set_collections(collections);
    }
}

/// For each collection, the keys whose documents the changed rows affect: every entry's query
/// with each changed table it reads replaced by just the changed rows (see plan), all in one
/// statement whose parameters are the changed rows of each table.
async fn affected_keys(
    tx: &mut sqlx::PgConnection,
    collections: &[&CollectionPlan],
    by_table: &BTreeMap<String, Vec<Value>>,
) -> Result<Vec<Vec<String>>> {
    // Only tables some entry reads become parameters: PostgreSQL refuses a statement with a
    // parameter it never uses (it cannot tell its type).
    let read: Vec<&String> = by_table
        .keys()
        .filter(|table| collections.iter().any(|c| c.entries.iter().any(|e| e.sources.contains(*table))))
        .collect();
    let mut parts = Vec::new();
    for (i, collection) in collections.iter().enumerate() {
        for entry in &collection.entries {
            for (t, table) in read.iter().enumerate() {
                if let Some(sql) = entry.delta_sql_at(table, t + 1) {
                    parts.push(format!("SELECT {i}::int4, d.key FROM ({sql}) AS d(key)"));
                }
            }
        }
    }
    let mut keys = vec![Vec::new(); collections.len()];
    if parts.is_empty() {
        return Ok(keys);
    }
    let statement = parts.join(" UNION ");
    let mut query = sqlx::query_as::<_, (i32, String)>(&statement);
    for table in &read {
        query = query.bind(Value::Array(by_table[*table].clone()));
    }
    let affected = query.fetch_all(&mut *tx).await.map_err(|source| {
        let tables: Vec<&str> = read.iter().map(|t| t.as_str()).collect();
        Error::Database { context: format!("keys affected by changes to {}", tables.join(", ")), source }
    })?;
    for (i, key) in affected {
        if let Some(collection_keys) = keys.get_mut(i as usize) {
            collection_keys.push(key);
        }
    }
    for collection_keys in &mut keys {
        collection_keys.sort_unstable();
    }
    Ok(keys)
}
