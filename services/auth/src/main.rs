//! `auth`: sign-up, login and logout as their own process.

use std::path::PathBuf;

use clap::Parser;
use owp_auth::{Application, Settings};
use owp_platform::{
    config,
    db::{DatabaseSettings, PROJECTION_SCHEMA},
    kafka::KafkaSettings,
    shutdown::{self, ShutdownSettings},
    telemetry,
    topics::Topics,
};

/// Signs users up, logs them in (a session id, at once) and out; writes those facts to the log.
#[derive(Debug, Parser)]
#[command(name = "auth", version, about, long_about = None)]
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
    settings: Settings,
    #[command(flatten)]
    shutdown: ShutdownSettings,
    #[command(flatten)]
    telemetry: telemetry::TelemetrySettings,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = config::parse()?;
    telemetry::init("auth", &cli.telemetry)?;
    let app = Application::build(
        &cli.kafka,
        &cli.topics,
        &cli.database,
        PROJECTION_SCHEMA,
        &cli.shutdown,
        cli.settings,
    )
    .await?;
    Ok(app.run(shutdown::on_signal()).await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_shows_the_shutdown_grace() {
        let help = <super::Cli as clap::CommandFactory>::command().render_long_help().to_string();
        assert!(help.contains("--shutdown-grace") && help.contains("OWP_SHUTDOWN_GRACE"), "{help}");
    }
}
