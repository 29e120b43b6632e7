//! `owp replay`: rebuild every projection from `owp.events.v1` offset 0, then swap it in; with
//! `--verify`, compare the rebuild with the live tables instead and exit non-zero on a difference.

use owp_platform::{db::DatabaseSettings, kafka::KafkaSettings, topics::Topics};
use owp_robots::replay::{self, ReplayOptions};

#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// Rebuild into a scratch schema and compare it with the live one, table by table.
    #[arg(long)]
    pub verify: bool,
    #[command(flatten)]
    pub options: ReplayOptions,
}

pub async fn run(
    kafka: &KafkaSettings,
    topics: &Topics,
    database: &DatabaseSettings,
    args: &ReplayArgs,
) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} events ({per_sec}, {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(if args.verify { "rebuilding (verify)" } else { "rebuilding" });
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let report = replay::replay(kafka, topics, database, &args.options, args.verify, &progress).await?;
    bar.finish_and_clear();
    let rate = report.events as f64 / report.elapsed.as_secs_f64().max(f64::EPSILON);
    println!("replayed {} events in {:.1?} ({rate:.0} events/s)", report.events, report.elapsed);
    if !args.verify {
        println!("the rebuilt projection is live (the previous one is kept as schema owp_previous)");
        return Ok(());
    }
    if report.checks.is_empty() {
        anyhow::bail!("there is no live projection to compare with");
    }
    println!("{:<16} {:>10} {:>10}  {:<32}  result", "table", "live", "rebuilt", "checksum (live)");
    let mut differ = 0;
    for check in &report.checks {
        let verdict = if check.equal() { "equal" } else { "DIFFERENT" };
        if !check.equal() {
            differ += 1;
        }
        println!(
            "{:<16} {:>10} {:>10}  {:<32}  {verdict}",
            check.table, check.live_rows, check.rebuilt_rows, check.live_checksum
        );
    }
    if differ > 0 {
        anyhow::bail!("{differ} table(s) differ between the live projection and the rebuild from the log");
    }
    println!("every table is equal");
    Ok(())
}
