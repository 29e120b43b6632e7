//! `owp bench …`: benchmarks that print figures, each next to a baseline measured in the same
//! run against the same broker. They report; they never fail on a number.

mod ingest;
mod replay;
mod rss;
mod stats;

use owp_platform::{db::DatabaseSettings, kafka::KafkaSettings};

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Documents/s and 202 latency of the write point, against producing the same documents
    /// directly with rdkafka.
    Ingest(ingest::IngestArgs),
    /// Resident memory of an idle `writepoint` process.
    IdleRss(rss::RssArgs),
    /// Rebuild of the projection from the log, against writing the same rows with COPY.
    Replay(replay::ReplayBenchArgs),
}

pub async fn run(
    kafka_settings: &KafkaSettings,
    database: &DatabaseSettings,
    command: BenchCommand,
) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingest(args) => ingest::run(kafka_settings, &args).await,
        BenchCommand::IdleRss(args) => rss::run(kafka_settings, &args).await,
        BenchCommand::Replay(args) => replay::run(kafka_settings, database, &args).await,
    }
}
