//! `owp`: all services in one process, and the operator CLI.

use owp::Cli;
use owp_platform::config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = config::parse()?;
    owp::run(cli).await
}
