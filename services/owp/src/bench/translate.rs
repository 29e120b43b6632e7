//! `owp bench translator-rebuild`: a full rebuild of the `businesses` collection (the shipped
//! configuration: two entries, one a join with users) over N keys into the PostgreSQL read store,
//! in documents/s, next to a baseline in the same database: the same documents written by one
//! set-based `INSERT … SELECT` that builds the JSON inside PostgreSQL.

use std::{sync::Arc, time::Instant};

use anyhow::Context;
use owp_platform::db::DatabaseSettings;
use owp_readstore::{AnyStore, CollectionName, PgStore, Target};
use owp_translator::{config::Config, plan::Plan, rebuild::rebuild};
use uuid::Uuid;

#[derive(Debug, Clone, clap::Args)]
pub struct TranslateArgs {
    /// Businesses (documents) to rebuild.
    #[arg(long, default_value_t = 100_000)]
    pub keys: u64,
    /// The translator configuration whose `businesses` collection is rebuilt.
    #[arg(long, default_value = "translator.toml")]
    pub translator_config: std::path::PathBuf,
    /// Keys per chunk.
    #[arg(long, default_value_t = 2000)]
    pub chunk: usize,
}

pub async fn run(database: &DatabaseSettings, args: &TranslateArgs) -> anyhow::Result<()> {
    let run_id = &Uuid::new_v4().simple().to_string()[..12];
    let database = super::sibling_database(database, &format!("owp_bench_tr_{run_id}"));
    println!("owp bench translator-rebuild: {} businesses, database {}", args.keys, database.redacted());
    let pool = owp_robots::app::prepare_database(&database).await?;
    // Data, not timed: 1 user per 100 businesses.
    sqlx::query("ALTER TABLE users DISABLE TRIGGER USER").execute(&pool).await?;
    sqlx::query("ALTER TABLE businesses DISABLE TRIGGER USER").execute(&pool).await?;
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

    let translator_pool = owp_translator::pool(&database, 4).await?;
    let config = Config::load(&args.translator_config)?;
    let plan = Plan::check(&mut *translator_pool.acquire().await?, config).await?;
    let name = CollectionName::parse("businesses")?;
    let collection = plan.collections.get(&name).context("the configuration has no businesses collection")?;
    {
        let mut conn = translator_pool.acquire().await?;
        owp_translator::state::ensure(&mut conn).await?;
    }
    let store = AnyStore::Postgres(PgStore::new(translator_pool.clone()));
    let target = Target::new(name.clone(), 1);
    owp_readstore::ReadStore::create_version(&store, &target).await?;
    let order = Arc::new(tokio::sync::Mutex::new(()));
    let started = Instant::now();
    let documents = rebuild(&translator_pool, &store, collection, &target, &order, args.chunk, None).await?;
    let written = started.elapsed();
    // Publishing builds the query indexes: part of the rebuild's cost.
    owp_readstore::ReadStore::publish(&store, &target).await?;
    let translator_time = started.elapsed();
    let translator_rate = documents as f64 / translator_time.as_secs_f64();

    // Baseline: the same documents, built and written by PostgreSQL in one statement (with the
    // search words the store keeps for them: a business's text values are its name and its
    // owner's), then the same indexes.
    sqlx::query(
        "CREATE TABLE owp_read.bench_baseline (key text PRIMARY KEY, doc jsonb, version bigint NOT NULL, words text)",
    )
    .execute(&pool)
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
    .execute(&pool)
    .await?
    .rows_affected();
    for index in [
        "CREATE INDEX ON owp_read.bench_baseline USING gin (doc jsonb_path_ops)",
        "CREATE INDEX ON owp_read.bench_baseline USING gin (to_tsvector('simple', words))",
    ] {
        sqlx::query(index).execute(&pool).await?;
    }
    let baseline_time = started.elapsed();
    let baseline_rate = baseline as f64 / baseline_time.as_secs_f64();

    println!(
        "  translator rebuild: {documents} documents in {:.2} s = {translator_rate:.0} documents/s \
         (written in {:.2} s, then indexed and published)",
        translator_time.as_secs_f64(),
        written.as_secs_f64()
    );
    println!(
        "  baseline INSERT … SELECT, then the same indexes: {baseline} documents in {:.2} s = {baseline_rate:.0} documents/s",
        baseline_time.as_secs_f64()
    );
    println!(
        "  ratio {:.2}; target ≥ 10,000 documents/s: {}",
        translator_rate / baseline_rate,
        if translator_rate >= 10_000.0 { "met" } else { "NOT met" }
    );
    translator_pool.close().await;
    pool.close().await;
    super::drop_database(&database).await
}
