//! `readpoint`: the one read point as its own process.

use std::path::PathBuf;

use clap::Parser;
use owp_platform::{config, db::DatabaseSettings, shutdown, telemetry};
use owp_readpoint::{Access, Application, Settings};
use owp_readstore::ReadStoreSettings;
use owp_robots::SessionLimits;

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
    telemetry: telemetry::TelemetrySettings,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = config::parse()?;
    telemetry::init("readpoint", &cli.telemetry)?;
    let access = Access::load(&cli.translator_config, cli.sessions)?;
    let app = Application::build(&cli.database, &cli.read_store, cli.settings, access).await?;
    app.run(shutdown::on_signal()).await
}
