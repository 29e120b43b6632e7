//! `deployer`: parses the command line (and `--config` file), starts logging, and runs the
//! command until it finishes or a shutdown signal arrives.

use anyhow::{Context, anyhow};
use deployer::cli::{self, Cli};
use owp_platform::{config, shutdown, telemetry};

// One thread: the daemon waits on the network almost all the time, and a single-threaded
// runtime keeps its resident memory small. Hashing and unpacking run on blocking threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = config::parse().map_err(platform_error)?;
    telemetry::init("deployer", &cli.telemetry()).map_err(platform_error)?;
    let shutdown = shutdown::on_signal();
    let name = cli.command_name();
    cli::execute(cli, shutdown).await.with_context(|| format!("deployer {name} failed"))
}

/// The platform's errors that configuration and telemetry can return, as text. Formatting the
/// platform `Error` itself would link its Kafka variant's formatting, and with it all of
/// librdkafka, into a binary that never talks to Kafka (a few MB of resident memory).
fn platform_error(err: owp_platform::Error) -> anyhow::Error {
    match err {
        owp_platform::Error::Config { file, entry, reason } => {
            anyhow!("{}: entry `{entry}`: {reason}", file.display())
        }
        owp_platform::Error::ConfigRead { file, source } => {
            anyhow!("cannot read configuration file {}: {source}", file.display())
        }
        owp_platform::Error::Telemetry(reason) => anyhow!("telemetry: {reason}"),
        _ => anyhow!("configuration or telemetry set-up failed"),
    }
}
