//! `owp translator check|rebuild`: an operator's view of the translator.

use std::{path::PathBuf, time::Duration};

use owp_platform::db::DatabaseSettings;

#[derive(Debug, clap::Subcommand)]
pub enum TranslatorCommand {
    /// Check a translator configuration against PostgreSQL and print its collections; exits
    /// non-zero, naming the file, the entry and the reason, when it would be refused.
    Check {
        /// The file to check.
        #[arg(long = "file", env = "OWP_TRANSLATOR_CONFIG", default_value = "translator.toml")]
        file: PathBuf,
    },
    /// Ask the running translator to rebuild collections (all when none is named) beside the
    /// published versions, and wait until the new versions are swapped in.
    Rebuild {
        /// Collections to rebuild; repeatable.
        #[arg(long = "collection")]
        collections: Vec<String>,
        /// Give up waiting after this long (the rebuild itself goes on).
        #[arg(long, default_value = "10m", value_parser = owp_platform::duration::parse)]
        timeout: Duration,
    },
}

pub async fn run(database: &DatabaseSettings, command: TranslatorCommand) -> anyhow::Result<()> {
    match command {
        TranslatorCommand::Check { file } => {
            let plan = owp_translator::operator::check(database, &file).await?;
            println!("{}: valid", file.display());
            for (name, collection) in &plan.collections {
                let tables: std::collections::BTreeSet<&str> =
                    collection.entries.iter().flat_map(|e| e.sources.iter().map(String::as_str)).collect();
                println!(
                    "  {name}: {} entries, key {}, reads {}",
                    collection.entries.len(),
                    collection.entries.first().map(|e| e.key.as_str()).unwrap_or_default(),
                    tables.into_iter().collect::<Vec<_>>().join(", ")
                );
            }
            Ok(())
        }
        TranslatorCommand::Rebuild { collections, timeout } => {
            let started = std::time::Instant::now();
            let done = owp_translator::operator::rebuild(database, &collections, timeout, &|line| {
                println!("{line}")
            })
            .await?;
            let documents: i64 = done.iter().map(|r| r.documents).sum();
            println!(
                "rebuilt {} collections, {documents} documents, in {:.1?}",
                done.len(),
                started.elapsed()
            );
            Ok(())
        }
    }
}
