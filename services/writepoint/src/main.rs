//! `writepoint`: the one write point as its own process.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use owp_platform::{
    config,
    kafka::KafkaSettings,
    shutdown::{self, ShutdownSettings},
    telemetry,
    topics::Topics,
};
use owp_writepoint::{Application, Settings};

/// Validates documents and appends them to the commands topic; answers 202 once the broker
/// acknowledged the write.
#[derive(Debug, Parser)]
#[command(name = "writepoint", version, about, long_about = None)]
struct Cli {
    /// TOML file with settings by their flag names (flags and environment win over the file).
    #[arg(long, env = "OWP_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    kafka: KafkaSettings,
    #[command(flatten)]
    topics: Topics,
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    shutdown: ShutdownSettings,
    #[command(flatten)]
    telemetry: telemetry::TelemetrySettings,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = config::parse()?;
    telemetry::init("writepoint", &cli.telemetry)?;
    let shutdown = shutdown::on_signal();
    let app = Application::build(&cli.kafka, &cli.topics, &cli.shutdown, cli.settings)
        .await
        .context("cannot start the write point")?;
    app.run(shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_shows_the_shutdown_grace() {
        let help = <super::Cli as clap::CommandFactory>::command().render_long_help().to_string();
        assert!(help.contains("--shutdown-grace") && help.contains("OWP_SHUTDOWN_GRACE"), "{help}");
    }
}
