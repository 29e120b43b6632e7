//! What the brokers say about the drill's topics: which broker leads each partition and which
//! replicas are in sync (awaited after a kill and after a restart), and every command on the
//! commands topic with its partition and offset (to check the write point's receipts).

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use owp_platform::kafka::{self, KafkaSettings};
use rdkafka::{Message, Offset, TopicPartitionList, consumer::BaseConsumer, consumer::Consumer};
use serde_json::Value;

use crate::support::PARTITIONS;

/// One partition as the metadata shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionView {
    pub topic: String,
    pub partition: i32,
    /// -1 while it has none.
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

/// A metadata client for the drill's topics.
#[derive(Clone)]
pub struct KafkaView {
    client: Arc<BaseConsumer>,
    topics: Vec<String>,
}

impl std::fmt::Debug for KafkaView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaView").field("topics", &self.topics).finish()
    }
}

impl KafkaView {
    pub fn new(kafka: &KafkaSettings, topics: Vec<String>) -> Self {
        let client = kafka::reader(kafka, "owp-drill-metadata").expect("a metadata client");
        Self { client: Arc::new(client), topics }
    }

    /// The partitions of the drill's topics and the brokers registered, or why not.
    async fn partitions(&self) -> Result<(Vec<PartitionView>, usize), String> {
        let (client, topics) = (self.client.clone(), self.topics.clone());
        tokio::task::spawn_blocking(move || {
            let metadata = client.fetch_metadata(None, Duration::from_secs(5)).map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            for topic in metadata.topics().iter().filter(|t| topics.iter().any(|name| name == t.name())) {
                for partition in topic.partitions() {
                    out.push(PartitionView {
                        topic: topic.name().to_owned(),
                        partition: partition.id(),
                        leader: if partition.error().is_some() { -1 } else { partition.leader() },
                        replicas: partition.replicas().to_vec(),
                        isr: partition.isr().to_vec(),
                    });
                }
            }
            Ok((out, metadata.brokers().len()))
        })
        .await
        .unwrap()
    }

    /// Waits (bounded) until `ready` holds for every partition of every topic; returns how long
    /// that took.
    async fn until(
        &self,
        what: &str,
        limit: Duration,
        ready: impl Fn(&PartitionView) -> bool,
        brokers: usize,
    ) -> Duration {
        let started = Instant::now();
        let mut last = String::new();
        let ready = owp_testkit::eventually(limit, Duration::from_millis(250), async || {
            last = match self.partitions().await {
                Ok((partitions, registered))
                    if partitions.len() == self.topics.len() * PARTITIONS as usize
                        && registered >= brokers
                        && partitions.iter().all(&ready) =>
                {
                    return Some(());
                }
                Ok((partitions, registered)) => format!("{registered} brokers, {partitions:?}"),
                Err(err) => err,
            };
            None
        })
        .await;
        assert!(ready.is_some(), "not {what} within {limit:?}; last seen: {last}");
        started.elapsed()
    }

    /// Until every partition has a leader outside `down` and at least `min_isr` in-sync replicas,
    /// none of them in `down`: writes with acks=all can succeed everywhere again.
    pub async fn writable_without(&self, down: &[i32], min_isr: usize, limit: Duration) -> Duration {
        let ready = |p: &PartitionView| {
            p.leader >= 0
                && !down.contains(&p.leader)
                && p.isr.len() >= min_isr
                && !p.isr.iter().any(|id| down.contains(id))
        };
        self.until("writable", limit, ready, 0).await
    }

    /// Until `brokers` brokers are registered and every partition has a leader and all its
    /// replicas in sync: the cluster can lose a broker again.
    pub async fn in_sync(&self, brokers: usize, limit: Duration) -> Duration {
        let ready = |p: &PartitionView| p.leader >= 0 && p.isr.len() == p.replicas.len();
        self.until("fully in sync", limit, ready, brokers).await
    }

    /// The broker id that leads most partitions of the drill's topics among `candidates`.
    pub async fn busiest_leader(&self, candidates: &[i32]) -> i32 {
        let (partitions, _) = self.partitions().await.expect("metadata of the drill's topics");
        let mut counts: HashMap<i32, usize> = candidates.iter().map(|&id| (id, 0)).collect();
        for partition in &partitions {
            if let Some(count) = counts.get_mut(&partition.leader) {
                *count += 1;
            }
        }
        counts.into_iter().max_by_key(|&(id, count)| (count, -id)).map(|(id, _)| id).expect("a candidate")
    }
}

/// Every record of `topic`: `(partition, offset)` → the document id in its payload.
pub async fn commands_on_log(kafka: &KafkaSettings, topic: &str) -> HashMap<(i32, i64), String> {
    let (kafka, topic) = (kafka.clone(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer = kafka::reader(&kafka, "owp-drill-commands").unwrap();
        let mut ends = HashMap::new();
        let mut assignment = TopicPartitionList::new();
        for partition in 0..PARTITIONS {
            let (_, high) = consumer.fetch_watermarks(&topic, partition, Duration::from_secs(10)).unwrap();
            if high > 0 {
                ends.insert(partition, high);
                assignment.add_partition_offset(&topic, partition, Offset::Beginning).unwrap();
            }
        }
        consumer.assign(&assignment).unwrap();
        let mut out = HashMap::new();
        let mut done: HashMap<i32, bool> = ends.keys().map(|&p| (p, false)).collect();
        // A long log takes a while; what must not happen is the reading stalling.
        let mut deadline = Instant::now() + Duration::from_secs(30);
        while done.values().any(|d| !d) {
            assert!(
                Instant::now() < deadline,
                "read {} records of {topic}, then nothing for 30 s",
                out.len()
            );
            let Some(message) = consumer.poll(Duration::from_millis(200)) else { continue };
            deadline = Instant::now() + Duration::from_secs(30);
            let message = message.unwrap();
            let payload: Value =
                serde_json::from_slice(message.payload().unwrap_or_default()).unwrap_or(Value::Null);
            let document = payload["document_id"].as_str().unwrap_or_default().to_owned();
            out.insert((message.partition(), message.offset()), document);
            if message.offset() + 1 >= ends[&message.partition()] {
                done.insert(message.partition(), true);
            }
        }
        out
    })
    .await
    .unwrap()
}
