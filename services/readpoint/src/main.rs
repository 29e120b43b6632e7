//! `readpoint`: the one read point as its own process.

use std::path::PathBuf;

use clap::Parser;
use owp_platform::{
    config,
    db::DatabaseSettings,
    shutdown::{self, ShutdownSettings},
    telemetry,
};
use owp_projection::SessionLimits;
use owp_readpoint::{Access, Application, Settings};
use owp_readstore::ReadStoreSettings;

/// Serves documents' outcomes (with a bounded wait), denormalized collections and messages.
#[derive(Debug, Parser)]
#[command(name = "readpoint", version, about, long_about = None)]
struct Cli {
    /// TOML file with settings by their flag names (flags and environment win over the file).
    #[arg(long, env = "OWP_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    database: DatabaseSettings,
    #[command(flatten)]
    read_store: ReadStoreSettings,
    #[command(flatten)]
    settings: Settings,
    /// The translator configuration the translator runs: it declares who may read each collection.
    #[arg(long = "translator-config", env = "OWP_TRANSLATOR_CONFIG", default_value = "translator.toml")]
    translator_config: PathBuf,
    #[command(flatten)]
    sessions: SessionLimits,
    #[command(flatten)]
    shutdown: ShutdownSettings,
    #[command(flatten)]
    telemetry: telemetry::TelemetrySettings,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = config::parse()?;
    telemetry::init("readpoint", &cli.telemetry)?;
    let access = Access::load(&cli.translator_config, cli.sessions)?;
    let app = Application::build(&cli.database, &cli.read_store, &cli.shutdown, cli.settings, access).await?;
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
