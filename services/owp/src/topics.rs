//! `owp topics`: the topics OWP needs, with their partition counts and retention.

use std::time::Duration;

use owp_platform::{
    duration,
    kafka::{self, KafkaSettings, TopicSpec},
    topics::Topics,
};
use owp_protocol::TopicName;

#[derive(Debug, Clone, clap::Args)]
pub struct TopicSettings {
    /// Partitions of owp.commands.v1 (the unit of parallelism of the robots). Three, one per
    /// broker of the production cluster, so that partition leadership and its load spread over
    /// all of them.
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
    pub fn specs(&self, names: &Topics) -> Vec<TopicSpec> {
        let spec = |name: TopicName, partitions: i32, retention: Option<Duration>| TopicSpec {
            replication: self.topic_replication,
            ..TopicSpec::new(name, partitions).retention(retention)
        };
        vec![
            spec(names.commands_topic.clone(), self.commands_partitions, Some(self.commands_retention)),
            spec(names.events_topic.clone(), self.events_partitions, None),
            spec(names.deadletter_topic.clone(), self.events_partitions, None),
        ]
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct TopicsArgs {
    #[command(flatten)]
    pub topics: TopicSettings,
}

pub async fn run(kafka_settings: &KafkaSettings, names: &Topics, args: &TopicsArgs) -> anyhow::Result<()> {
    let specs = args.topics.specs(names);
    let created = kafka::ensure_topics(kafka_settings, &specs).await?;
    for spec in &specs {
        let state = if created.contains(&spec.name) { "created" } else { "exists" };
        let noun = if spec.partitions == 1 { "partition " } else { "partitions" };
        println!("{:<24} {:>3} {noun}  {state}", spec.name, spec.partitions);
    }
    Ok(())
}
