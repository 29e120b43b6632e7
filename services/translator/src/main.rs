//! `translator`: turns the projections into the read store's documents (see the library).

use clap::Parser;
use owp_platform::{
    db::DatabaseSettings,
    shutdown::{self, ShutdownSettings},
    telemetry,
};
use owp_readstore::ReadStoreSettings;

/// Denormalizes PostgreSQL into read documents, as `translator.toml` says; applies edits to that
/// file without a restart.
#[derive(Debug, Parser)]
#[command(name = "translator", version, about, long_about = None)]
struct Cli {
    /// TOML file with settings by their flag names (flags and environment win over the file).
    #[arg(long, env = "OWP_CONFIG")]
    config: Option<std::path::PathBuf>,
    #[command(flatten)]
    database: DatabaseSettings,
    #[command(flatten)]
    read_store: ReadStoreSettings,
    #[command(flatten)]
    settings: owp_translator::Settings,
    #[command(flatten)]
    shutdown: ShutdownSettings,
    #[command(flatten)]
    telemetry: telemetry::TelemetrySettings,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = owp_platform::config::parse()?;
    telemetry::init("translator", &cli.telemetry)?;
    let translator =
        owp_translator::Translator::build(&cli.database, &cli.read_store, &cli.shutdown, cli.settings)
            .await?;
    Ok(translator.run(shutdown::on_signal()).await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_shows_the_shutdown_grace() {
        let help = <super::Cli as clap::CommandFactory>::command().render_long_help().to_string();
        assert!(help.contains("--shutdown-grace") && help.contains("OWP_SHUTDOWN_GRACE"), "{help}");
    }
}
