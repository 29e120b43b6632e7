//! The command line of `owp`: global settings and the subcommands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use owp_platform::{db::DatabaseSettings, kafka::KafkaSettings, shutdown, telemetry, topics::Topics};

use crate::{database, deadletter, read, replay, topics, translator, up};

/// One write point, one read point, one log: run the services and operate them.
#[derive(Debug, Parser)]
#[command(name = "owp", version, about, long_about = None)]
pub struct Cli {
    /// TOML file with settings by their flag names (flags and environment win over the file).
    #[arg(long, env = "OWP_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub kafka: KafkaSettings,
    #[command(flatten)]
    pub database: DatabaseSettings,
    #[command(flatten)]
    pub topics: Topics,
    #[command(flatten)]
    pub telemetry: telemetry::TelemetrySettings,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run services in this process (all of them unless --services says otherwise).
    Up(Box<up::UpArgs>),
    /// The database's service roles, schemas and grants.
    #[command(subcommand)]
    Database(database::DatabaseCommand),
    /// Create the OWP topics that do not exist yet.
    Topics(topics::TopicsArgs),
    /// Print messages from a topic, one JSON object per line.
    Read(read::ReadArgs),
    /// Rebuild the projections from the events topic (or, with --verify, compare).
    Replay(replay::ReplayArgs),
    /// Parked messages: list them, retry them.
    #[command(subcommand)]
    Deadletter(deadletter::DeadletterCommand),
    /// The translator: check a configuration, rebuild collections.
    #[command(subcommand)]
    Translator(translator::TranslatorCommand),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    telemetry::init("owp", &cli.telemetry)?;
    match cli.command {
        Command::Up(args) => {
            up::run(&cli.kafka, &cli.topics, &cli.database, *args, shutdown::on_signal()).await
        }
        Command::Replay(args) => replay::run(&cli.kafka, &cli.topics, &cli.database, &args).await,
        Command::Deadletter(command) => deadletter::run(&cli.kafka, &cli.database, command).await,
        Command::Database(command) => database::run(&cli.database, command).await,
        Command::Topics(args) => topics::run(&cli.kafka, &cli.topics, &args).await,
        Command::Read(args) => read::run(&cli.kafka, &args).await,
        Command::Translator(command) => translator::run(&cli.database, command).await,
    }
}
