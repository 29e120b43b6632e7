//! `owp-bench translator-rebuild`: a full rebuild of the `businesses` collection (the shipped
//! configuration: two entries, one a join with users) over N keys into the read store
//! (`--read-store`: PostgreSQL, or an OpenSearch or Elasticsearch URL), in documents/s, against
//! the target of 10,000 documents/s and next to a baseline in the same run: for
//! PostgreSQL the same documents written by one set-based `INSERT … SELECT` that builds the JSON
//! inside PostgreSQL; for a search engine the same documents built by PostgreSQL in one query
//! and sent straight to the store in bulks of the same size, with no translator in between.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use owp_platform::db::DatabaseSettings;
use owp_readstore::{AnyStore, CollectionName, DocWrite, ReadStore, ReadStoreSettings, Target};
use owp_translator::{config::Config, plan::Plan, rebuild::rebuild};
use uuid::Uuid;

/// The target for a full rebuild.
const TARGET_RATE: f64 = 10_000.0;

#[derive(Debug, Clone, clap::Args)]
pub struct TranslateArgs {
    /// Businesses (documents) to rebuild.
    #[arg(long, default_value_t = 100_000)]
    pub keys: u64,
    /// The translator configuration whose `businesses` collection is rebuilt.
    #[arg(long, default_value = "translator.toml")]
    pub translator_config: std::path::PathBuf,
    /// Keys per chunk: each chunk is read in one query and written in one request (a `_bulk` of
    /// as many documents in a search engine). Without it, the bulk size this benchmark found
    /// fastest for the store (see `BULK_SIZES`).
    #[arg(long)]
    pub chunk: Option<usize>,
    /// The store rebuilt into; in a search engine, under `<prefix>-bench-<run>`, removed after.
    #[command(flatten)]
    pub read_store: ReadStoreSettings,
}

/// The bulk sizes tried against a search engine before the timed run, each on the same sample.
const BULK_SIZES: [usize; 4] = [1000, 2000, 5000, 10_000];
/// The PostgreSQL store writes a chunk with one statement; the translator's own default.
const POSTGRES_CHUNK: usize = 2000;

pub async fn run(database: &DatabaseSettings, args: &TranslateArgs) -> anyhow::Result<()> {
    let run_id = &Uuid::new_v4().simple().to_string()[..12];
    let database = super::sibling_database(database, &format!("owp_bench_tr_{run_id}"));
    let read_store = ReadStoreSettings {
        index_prefix: format!("{}-bench-{run_id}", args.read_store.index_prefix),
        ..args.read_store.clone()
    };
    println!(
        "owp-bench translator-rebuild: {} businesses, database {}, read store {}",
        args.keys,
        database.redacted(),
        read_store.redacted()
    );
    let pool = owp_robots::app::prepare_database(&database).await?;
    // Data, not timed: 1 user per 100 businesses, written before change capture is installed,
    // so that none of it lands in the outbox.
    sqlx::query(
        "INSERT INTO users (user_id, username, created_at)
         SELECT md5('u' || i)::uuid, 'user-' || i, now() FROM generate_series(0, $1 / 100) i",
    )
    .bind(args.keys as i64)
    .execute(&pool)
    .await?;
    sqlx::query(
        "INSERT INTO businesses (business_id, owner_user_id, name, created_at, updated_at)
         SELECT md5('b' || i)::uuid, md5('u' || (i / 100))::uuid, 'Business ' || i, now(), now()
         FROM generate_series(1, $1) i",
    )
    .bind(args.keys as i64)
    .execute(&pool)
    .await?;
    sqlx::query("ANALYZE").execute(&pool).await?;
    // The configuration reads only tables change capture follows.
    owp_translator::capture::install(&database).await?;

    let translator_pool = owp_translator::pool(&database, 4).await?;
    let config = Config::load(&args.translator_config)?;
    let plan = Plan::check(&mut *translator_pool.acquire().await?, config).await?;
    let name = CollectionName::parse("businesses")?;
    let collection = plan.collections.get(&name).context("the configuration has no businesses collection")?;
    {
        let mut conn = translator_pool.acquire().await?;
        owp_translator::state::ensure(&mut conn).await?;
    }
    let store = read_store.open(translator_pool.clone())?;
    // Errors from here on still clean up: the database and the indices go either way.
    let result = match store.ready().await {
        Ok(()) => measure(&pool, &translator_pool, &store, collection, &name, args).await,
        Err(error) => Err(anyhow::Error::new(error)
            .context(format!("the read store {} does not answer", read_store.redacted()))),
    };
    if let AnyStore::Elastic(store) = &store {
        store.drop_all().await?;
    }
    translator_pool.close().await;
    pool.close().await;
    super::drop_database(&database).await?;
    result
}

async fn measure(
    pool: &sqlx::PgPool,
    translator_pool: &sqlx::PgPool,
    store: &AnyStore,
    collection: &owp_translator::plan::CollectionPlan,
    name: &CollectionName,
    args: &TranslateArgs,
) -> anyhow::Result<()> {
    let chunk = match (args.chunk, store) {
        (Some(chunk), _) => chunk.max(1),
        (None, AnyStore::Postgres(_)) => POSTGRES_CHUNK,
        (None, AnyStore::Elastic(_)) => choose_bulk_size(pool, store, name).await?,
    };
    let target = Target::new(name.clone(), 1);
    store.create_version(&target).await?;
    let order = Arc::new(tokio::sync::Mutex::new(()));
    let started = Instant::now();
    let documents = rebuild(translator_pool, store, collection, &target, &order, chunk, None).await?;
    let written = started.elapsed();
    // Publishing builds the query indexes (PostgreSQL): part of the rebuild's cost.
    store.publish(&target).await?;
    let translator_time = started.elapsed();
    let translator_rate = documents as f64 / translator_time.as_secs_f64();

    let (what, baseline, baseline_time) = match store {
        AnyStore::Postgres(_) => {
            let (baseline, time) = postgres_baseline(pool).await?;
            ("INSERT … SELECT, then the same indexes", baseline, time)
        }
        AnyStore::Elastic(_) => {
            let version = Target::new(name.clone(), 2);
            store.create_version(&version).await?;
            let started = Instant::now();
            let docs = built_in_sql(pool, None).await?;
            let sent = send(store, &version, &docs, chunk).await?;
            store.publish(&version).await?;
            ("one SELECT building the documents, then the same bulks", sent, started.elapsed())
        }
    };
    let baseline_rate = baseline as f64 / baseline_time.as_secs_f64();

    println!(
        "  translator rebuild: {documents} documents in {:.2} s = {translator_rate:.0} documents/s \
         (written in {:.2} s, then published); bulk size {chunk} documents per chunk and write",
        translator_time.as_secs_f64(),
        written.as_secs_f64()
    );
    println!(
        "  baseline, {what}: {baseline} documents in {:.2} s = {baseline_rate:.0} documents/s",
        baseline_time.as_secs_f64()
    );
    println!(
        "  ratio to the baseline {:.2}; to the target of 10,000 documents/s {:.2}: {}",
        translator_rate / baseline_rate,
        translator_rate / TARGET_RATE,
        if translator_rate >= TARGET_RATE { "met" } else { "NOT met" }
    );
    Ok(())
}

/// Tries each of [`BULK_SIZES`] on the same sample of documents, each into a version of its own,
/// and returns the fastest. Not part of the timed rebuild.
async fn choose_bulk_size(
    pool: &sqlx::PgPool,
    store: &AnyStore,
    name: &CollectionName,
) -> anyhow::Result<usize> {
    let sample = built_in_sql(pool, Some(20_000)).await?;
    let mut best = (0.0, BULK_SIZES[0]);
    let mut figures = Vec::new();
    for (i, size) in BULK_SIZES.into_iter().enumerate() {
        let scratch = Target::new(name.clone(), 100 + i as u32);
        store.create_version(&scratch).await?;
        let started = Instant::now();
        let sent = send(store, &scratch, &sample, size).await?;
        let rate = sent as f64 / started.elapsed().as_secs_f64();
        store.drop_version(&scratch).await?;
        figures.push(format!("{size}: {rate:.0}/s"));
        if rate > best.0 {
            best = (rate, size);
        }
    }
    println!(
        "  bulk size: {} documents, the fastest on a sample of {} ({}); the translator's is \
         OWP_TRANSLATOR_REBUILD_CHUNK",
        best.1,
        sample.len(),
        figures.join(", ")
    );
    Ok(best.1)
}

/// The `businesses` documents as the shipped configuration makes them, built by PostgreSQL.
async fn built_in_sql(pool: &sqlx::PgPool, limit: Option<i64>) -> anyhow::Result<Vec<DocWrite>> {
    let rows: Vec<(String, serde_json::Value)> = sqlx::query_as(
        "SELECT b.business_id::text,
                to_jsonb(b) - 'owner_user_id' || jsonb_build_object('owner_user_id', b.owner_user_id, 'owner', u.username)
         FROM businesses b JOIN users u ON u.user_id = b.owner_user_id
         ORDER BY b.business_id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(key, doc)| DocWrite { key, version: 1, doc: Some(doc) }).collect())
}

/// Writes `docs` into `target`, `chunk` at a time; the number written.
async fn send(store: &AnyStore, target: &Target, docs: &[DocWrite], chunk: usize) -> anyhow::Result<u64> {
    for part in docs.chunks(chunk) {
        store.write(target, part).await?;
    }
    Ok(docs.len() as u64)
}

/// The same documents, built and written by PostgreSQL in one statement (with the search words
/// the store keeps for them: a business's text values are its name and its owner's), then the
/// same indexes.
async fn postgres_baseline(pool: &sqlx::PgPool) -> anyhow::Result<(u64, Duration)> {
    sqlx::query(
        "CREATE TABLE owp_read.bench_baseline (key text PRIMARY KEY, doc jsonb, version bigint NOT NULL, words text)",
    )
    .execute(pool)
    .await?;
    let started = Instant::now();
    let baseline = sqlx::query(
        "INSERT INTO owp_read.bench_baseline (key, doc, version, words)
         SELECT b.business_id::text,
                to_jsonb(b) - 'owner_user_id' || jsonb_build_object('owner_user_id', b.owner_user_id, 'owner', u.username),
                1,
                b.name || E'\n' || u.username || E'\n'
         FROM businesses b JOIN users u ON u.user_id = b.owner_user_id",
    )
    .execute(pool)
    .await?
    .rows_affected();
    for index in [
        "CREATE INDEX ON owp_read.bench_baseline USING gin (doc jsonb_path_ops)",
        "CREATE INDEX ON owp_read.bench_baseline USING gin (to_tsvector('simple', words))",
    ] {
        sqlx::query(index).execute(pool).await?;
    }
    Ok((baseline, started.elapsed()))
}
