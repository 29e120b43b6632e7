//! The command line of `owp`: global settings and the subcommands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use owp_platform::{kafka::KafkaSettings, shutdown, telemetry};

use crate::{bench, read, topics, up};

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
    pub telemetry: telemetry::TelemetrySettings,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run services in this process (all of them unless --services says otherwise).
    Up(up::UpArgs),
    /// Create the OWP topics that do not exist yet.
    Topics(topics::TopicsArgs),
    /// Print messages from a topic, one JSON object per line.
    Read(read::ReadArgs),
    /// Benchmarks that print figures against a baseline measured in the same run.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    telemetry::init("owp", &cli.telemetry)?;
    match cli.command {
        Command::Up(args) => up::run(&cli.kafka, args, shutdown::on_signal()).await,
        Command::Topics(args) => topics::run(&cli.kafka, &args).await,
        Command::Read(args) => read::run(&cli.kafka, &args).await,
        Command::Bench(command) => bench::run(&cli.kafka, command).await,
    }
}
