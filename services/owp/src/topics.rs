//! `owp topics`: the topics OWP needs, with their partition counts and retention.

use std::time::Duration;

use owp_platform::{
    duration,
    kafka::{self, KafkaSettings, TopicSpec},
};
use owp_protocol::TopicName;

#[derive(Debug, Clone, clap::Args)]
pub struct TopicSettings {
    /// Partitions of owp.commands.v1 (the unit of parallelism of the robots).
    #[arg(long, env = "OWP_COMMANDS_PARTITIONS", default_value_t = 3)]
    pub commands_partitions: i32,
    /// How long commands are kept; they are intentions, the events are the record.
    #[arg(long, env = "OWP_COMMANDS_RETENTION", default_value = "7days", value_parser = duration::parse)]
    pub commands_retention: Duration,
    /// Partitions of owp.events.v1 and owp.deadletter.v1. Events are kept forever.
    #[arg(long, env = "OWP_EVENTS_PARTITIONS", default_value_t = 3)]
    pub events_partitions: i32,
    /// Replication factor of every OWP topic (1 on one machine, 3 in production).
    #[arg(long, env = "OWP_TOPIC_REPLICATION", default_value_t = 1)]
    pub topic_replication: i32,
}

impl TopicSettings {
    pub fn specs(&self, commands_topic: &TopicName) -> Vec<TopicSpec> {
        let spec = |name: TopicName, partitions: i32, retention: Option<Duration>| TopicSpec {
            replication: self.topic_replication,
            ..TopicSpec::new(name, partitions).retention(retention)
        };
        vec![
            spec(commands_topic.clone(), self.commands_partitions, Some(self.commands_retention)),
            spec(TopicName::events(), self.events_partitions, None),
            spec(TopicName::deadletter(), self.events_partitions, None),
        ]
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct TopicsArgs {
    #[command(flatten)]
    pub topics: TopicSettings,
    /// Name of the commands topic.
    #[arg(long, env = "OWP_COMMANDS_TOPIC", default_value = TopicName::COMMANDS)]
    pub commands_topic: TopicName,
}

pub async fn run(kafka_settings: &KafkaSettings, args: &TopicsArgs) -> anyhow::Result<()> {
    let specs = args.topics.specs(&args.commands_topic);
    let created = kafka::ensure_topics(kafka_settings, &specs).await?;
    for spec in &specs {
        let state = if created.contains(&spec.name) { "created" } else { "exists" };
        println!("{:<24} {:>3} partitions  {state}", spec.name, spec.partitions);
    }
    Ok(())
}
