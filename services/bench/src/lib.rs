//! `owp-bench …`: benchmarks that print figures, each next to a baseline measured in the same
//! run against the same broker. They report; they never fail on a number (except `idle-rss`
//! with `--max-rss-mb`). A crate of their own, so no production binary links them.

mod ingest;
mod replay;
mod rss;
mod stack;
mod stats;
mod takeover;
mod translate;
mod visibility;

use std::path::PathBuf;

use owp_platform::{db::DatabaseSettings, kafka::KafkaSettings, telemetry};

/// Benchmarks that print figures against a baseline measured in the same run.
#[derive(Debug, clap::Parser)]
#[command(name = "owp-bench", version, about, long_about = None)]
pub struct Cli {
    /// TOML file with settings by their flag names (flags and environment win over the file).
    #[arg(long, env = "OWP_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub kafka: KafkaSettings,
    #[command(flatten)]
    pub database: DatabaseSettings,
    #[command(flatten)]
    pub telemetry: telemetry::TelemetrySettings,
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Documents/s and 202 latency of the write point, against producing the same documents
    /// directly with rdkafka.
    Ingest(ingest::IngestArgs),
    /// Resident memory of an idle `writepoint` process.
    IdleRss(rss::RssArgs),
    /// Rebuild of the projection from the log, against writing the same rows with COPY.
    Replay(replay::ReplayBenchArgs),
    /// POST → readable at the read point, at a steady rate, against the write point's 202.
    Visibility(visibility::VisibilityArgs),
    /// Full rebuild of a translator collection, against building the same documents in SQL.
    TranslatorRebuild(translate::TranslateArgs),
    /// Partitions unread after their reader is SIGKILLed: advisory locks against consumer-group
    /// membership.
    Takeover(takeover::TakeoverArgs),
    /// One reader of `owp-bench takeover`, run by it as a child process.
    #[command(hide = true)]
    TakeoverChild(takeover::ChildArgs),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    telemetry::init("owp-bench", &cli.telemetry)?;
    let (kafka_settings, database) = (&cli.kafka, &cli.database);
    match cli.command {
        BenchCommand::Ingest(args) => ingest::run(kafka_settings, &args).await,
        BenchCommand::IdleRss(args) => rss::run(kafka_settings, &args).await,
        BenchCommand::Replay(args) => replay::run(kafka_settings, database, &args).await,
        BenchCommand::Visibility(args) => visibility::run(kafka_settings, database, &args).await,
        BenchCommand::TranslatorRebuild(args) => translate::run(database, &args).await,
        BenchCommand::Takeover(args) => takeover::run(kafka_settings, database, &args).await,
        BenchCommand::TakeoverChild(args) => takeover::child(kafka_settings, database, &args).await,
    }
}

/// Another database on the same server as `database` (a benchmark's own one).
fn sibling_database(database: &DatabaseSettings, name: &str) -> DatabaseSettings {
    let base =
        database.database_url.rsplit_once('/').map_or(database.database_url.as_str(), |(base, _)| base);
    DatabaseSettings::new(format!("{base}/{name}"))
}

/// Drops a benchmark's own database (the benchmarks leave nothing behind).
async fn drop_database(database: &DatabaseSettings) -> anyhow::Result<()> {
    let name = database.database_name()?;
    let admin = sibling_database(database, "postgres").pool("public", 1).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", name.replace('"', "\"\"")))
        .execute(&admin)
        .await?;
    admin.close().await;
    Ok(())
}
