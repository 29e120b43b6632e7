//! `owp deadletter list|retry`: see the messages robots gave up on, and put them back on their
//! topic once the cause is fixed (the robot then handles them like any other message).

use anyhow::{Context, bail};
use owp_platform::{
    db::DatabaseSettings,
    kafka::{self, KafkaSettings},
};
use owp_robot_framework::{SchemaName, deadletter, store};
use owp_robots::{PROJECTION_SCHEMA, ROBOTS_SCHEMA};

#[derive(Debug, clap::Subcommand)]
pub enum DeadletterCommand {
    /// Parked messages, oldest first.
    List,
    /// Re-publish parked messages to their topic and release them.
    Retry {
        /// Parked message ids as `list` prints them (`owp_robots/3`); repeatable.
        #[arg(long = "id")]
        ids: Vec<String>,
        /// Every parked message.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
}

pub async fn run(
    kafka_settings: &KafkaSettings,
    database: &DatabaseSettings,
    command: DeadletterCommand,
) -> anyhow::Result<()> {
    let pool = database.pool("public", 2).await?;
    let schemas = [SchemaName::parse(ROBOTS_SCHEMA)?, SchemaName::parse(PROJECTION_SCHEMA)?];
    let mut parked = Vec::new();
    for schema in &schemas {
        store::ensure(&pool, schema).await?;
        for message in store::list_parked(&pool, schema).await? {
            parked.push((schema.clone(), message));
        }
    }
    match command {
        DeadletterCommand::List => {
            println!(
                "{:<16} {:<28} {:<40} {:>8}  reason",
                "id", "group", "topic/partition@offset", "attempts"
            );
            for (schema, message) in &parked {
                println!(
                    "{:<16} {:<28} {:<40} {:>8}  {}",
                    format!("{schema}/{}", message.parked_id),
                    message.group_id,
                    format!("{}/{}@{}", message.topic, message.partition, message.offset),
                    message.attempts,
                    message.reason
                );
            }
            println!("{} parked", parked.len());
        }
        DeadletterCommand::Retry { ids, all } => {
            if !all && ids.is_empty() {
                bail!("name messages with --id, or use --all");
            }
            let chosen: Vec<_> = parked
                .iter()
                .filter(|(schema, m)| all || ids.contains(&format!("{schema}/{}", m.parked_id)))
                .collect();
            if !all && chosen.len() != ids.len() {
                bail!("some ids are not parked messages; see `owp deadletter list`");
            }
            let producer =
                kafka::producer(kafka_settings, "owp-deadletter", &kafka::ProducerTuning::default())?;
            for schema in &schemas {
                let mine: Vec<i64> =
                    chosen.iter().filter(|(s, _)| s == schema).map(|(_, m)| m.parked_id).collect();
                if mine.is_empty() {
                    continue;
                }
                let retried = deadletter::retry(&pool, &producer, schema, Some(&mine))
                    .await
                    .with_context(|| format!("cannot retry parked messages of {schema}"))?;
                println!("retried {retried} message(s) of {schema}");
            }
        }
    }
    Ok(())
}
