//! `owp-bench`: the benchmarks, outside every production binary.

use owp_bench::Cli;
use owp_platform::config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = config::parse()?;
    owp_bench::run(cli).await
}
