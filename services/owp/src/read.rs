//! `owp read`: print messages from one partition of a topic, for operators and the local demo.

use std::time::{Duration, Instant};

use anyhow::Context;
use owp_platform::kafka::{self, KafkaSettings};
use owp_protocol::TopicName;
use rdkafka::{Message, Offset, TopicPartitionList, consumer::Consumer, message::Headers};

#[derive(Debug, Clone, clap::Args)]
pub struct ReadArgs {
    /// Topic to read.
    #[arg(long, default_value = TopicName::COMMANDS)]
    pub topic: TopicName,
    /// Partition to read.
    #[arg(long, default_value_t = 0)]
    pub partition: i32,
    /// First offset to print.
    #[arg(long, default_value_t = 0)]
    pub offset: i64,
    /// How many messages to print at most.
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// Give up waiting for messages after this long.
    #[arg(long, default_value = "10s", value_parser = owp_platform::duration::parse)]
    pub timeout: Duration,
}

pub async fn run(kafka_settings: &KafkaSettings, args: &ReadArgs) -> anyhow::Result<()> {
    let kafka_settings = kafka_settings.clone();
    let args = args.clone();
    tokio::task::spawn_blocking(move || read_blocking(&kafka_settings, &args)).await?
}

fn read_blocking(kafka_settings: &KafkaSettings, args: &ReadArgs) -> anyhow::Result<()> {
    let consumer = kafka::reader(kafka_settings, "owp-read")?;
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(args.topic.as_str(), args.partition, Offset::Offset(args.offset))?;
    consumer.assign(&assignment).context("cannot assign the partition")?;
    let deadline = Instant::now() + args.timeout;
    let mut printed = 0;
    while printed < args.count {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            anyhow::bail!("only {printed} of {} messages arrived within {:?}", args.count, args.timeout);
        }
        let Some(message) = consumer.poll(left.min(Duration::from_millis(500))) else { continue };
        let message = message.context("cannot read from the topic")?;
        let payload = message.payload().unwrap_or_default();
        let headers: serde_json::Map<String, serde_json::Value> = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|h| (h.key.to_owned(), String::from_utf8_lossy(h.value.unwrap_or_default()).into()))
                    .collect()
            })
            .unwrap_or_default();
        let line = serde_json::json!({
            "topic": message.topic(),
            "partition": message.partition(),
            "offset": message.offset(),
            "key": message.key().map(String::from_utf8_lossy),
            "headers": headers,
            "value": serde_json::from_slice::<serde_json::Value>(payload)
                .unwrap_or_else(|_| String::from_utf8_lossy(payload).into()),
        });
        println!("{line}");
        printed += 1;
    }
    Ok(())
}
