//! `robots`: every command robot and the projector, as their own process.

use std::path::PathBuf;

use clap::Parser;
use owp_platform::{
    config,
    db::DatabaseSettings,
    kafka::KafkaSettings,
    shutdown::{self, ShutdownSettings},
    telemetry,
    topics::Topics,
};
use owp_robots::{Robots, RobotsSettings};

/// Consumer groups that decide commands into facts, and apply facts to PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "robots", version, about, long_about = None)]
struct Cli {
    /// TOML file with settings by their flag names (flags and environment win over the file).
    #[arg(long, env = "OWP_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    kafka: KafkaSettings,
    #[command(flatten)]
    database: DatabaseSettings,
    #[command(flatten)]
    topics: Topics,
    #[command(flatten)]
    settings: RobotsSettings,
    #[command(flatten)]
    shutdown: ShutdownSettings,
    #[command(flatten)]
    telemetry: telemetry::TelemetrySettings,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = config::parse()?;
    telemetry::init("robots", &cli.telemetry)?;
    let shutdown = shutdown::on_signal();
    let robots = Robots::build(&cli.kafka, &cli.topics, &cli.database, &cli.shutdown, cli.settings).await?;
    Ok(robots.run(shutdown).await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_shows_the_shutdown_grace() {
        let help = <super::Cli as clap::CommandFactory>::command().render_long_help().to_string();
        assert!(help.contains("--shutdown-grace") && help.contains("OWP_SHUTDOWN_GRACE"), "{help}");
    }
}
