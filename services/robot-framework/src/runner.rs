//! The consumer loop every robot runs: take partitions (see [`crate::ownership`]), read them
//! from the offsets stored in PostgreSQL, collect a batch, process it (see [`crate::batch`]),
//! repeat; on shutdown finish the batch, store it, and give the partitions back.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use owp_platform::{kafka::KafkaSettings, retry::Backoff, topics::Topics};
use owp_protocol::TopicName;
use rdkafka::{
    ClientContext, Message, Offset, TopicPartitionList,
    consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer},
    producer::FutureProducer,
};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{
    Dedupe, Handler, Incoming, Result, RobotMetrics, RobotSettings,
    batch::{BatchError, Sink, Step},
    metrics::{GroupLabels, PartitionLabels},
    ownership::{OWNERSHIP_INTERVAL, Ownership},
    store,
};

/// How often a robot re-reads the partition list.
const PARTITIONS_INTERVAL: Duration = Duration::from_secs(30);
/// How often positions are also committed to Kafka (for lag tools only). Each commit is a write
/// on the broker; per batch, at hundreds of batches a second, it was a good part of its load.
const KAFKA_COMMIT_INTERVAL: Duration = Duration::from_secs(1);

/// What every robot of a process shares.
#[derive(Clone)]
pub struct RobotContext {
    pub kafka: KafkaSettings,
    pub topics: Topics,
    pub pool: PgPool,
    pub producer: FutureProducer,
    pub settings: RobotSettings,
    pub metrics: RobotMetrics,
}

impl std::fmt::Debug for RobotContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RobotContext")
            .field("topics", &self.topics)
            .field("settings", &self.settings)
            .finish()
    }
}

/// Turns librdkafka's periodic statistics into the lag gauge (no extra broker round trip per
/// batch).
struct RobotClientContext {
    group: String,
    lag:
        prometheus_client::metrics::family::Family<PartitionLabels, prometheus_client::metrics::gauge::Gauge>,
}

impl ClientContext for RobotClientContext {
    fn stats(&self, statistics: rdkafka::Statistics) {
        for topic in statistics.topics.values() {
            for (id, partition) in &topic.partitions {
                if *id >= 0 && partition.consumer_lag >= 0 {
                    let labels = PartitionLabels { group: self.group.clone(), partition: *id };
                    self.lag.get_or_create(&labels).set(partition.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for RobotClientContext {}

/// One running robot.
pub struct Robot<H: Handler> {
    ctx: RobotContext,
    handler: H,
    group: String,
    topic: TopicName,
    consumer: StreamConsumer<RobotClientContext>,
    ownership: Ownership,
    partitions: Vec<i32>,
    /// The next offset to accept per owned partition: what lies below was taken already.
    positions: HashMap<i32, i64>,
    /// Partitions whose position moved since the last commit to Kafka, and when the next is due.
    uncommitted: HashMap<i32, i64>,
    next_kafka_commit: Instant,
}

impl<H: Handler> std::fmt::Debug for Robot<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Robot").field("group", &self.group).field("topic", &self.topic).finish()
    }
}

impl<H: Handler> Robot<H> {
    pub async fn new(ctx: RobotContext, handler: H) -> Result<Self> {
        store::ensure(&ctx.pool, handler.schema()).await?;
        let group = format!("{}{}", ctx.settings.group_prefix, handler.name());
        let topic = handler.topic(&ctx.topics).clone();
        // The group id names the committed offsets (for lag tools); partitions are assigned by
        // hand, never through group membership.
        let consumer: StreamConsumer<RobotClientContext> = ctx
            .kafka
            .client_config(&group)?
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("statistics.interval.ms", "5000")
            .set("fetch.wait.max.ms", ctx.settings.fetch_max_wait.as_millis().max(1).to_string())
            .create_with_context(RobotClientContext { group: group.clone(), lag: ctx.metrics.lag.clone() })?;
        let ownership = Ownership::new(ctx.pool.clone(), group.clone());
        Ok(Self {
            ctx,
            handler,
            group,
            topic,
            consumer,
            ownership,
            partitions: Vec::new(),
            positions: HashMap::new(),
            uncommitted: HashMap::new(),
            next_kafka_commit: Instant::now(),
        })
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    /// Runs until `shutdown`; the batch in hand is finished and stored before it returns.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<()> {
        tracing::info!(group = %self.group, topic = %self.topic, "robot started");
        let labels = GroupLabels { group: self.group.clone() };
        let mut next_ownership = Instant::now();
        let mut next_partitions = Instant::now();
        while !shutdown.is_cancelled() {
            if Instant::now() >= next_partitions {
                // Partitions rarely change: on failure keep the known list and ask again soon.
                next_partitions = Instant::now() + Duration::from_secs(2);
                match owp_platform::kafka::partitions(&self.ctx.producer, &self.topic, Duration::from_secs(5))
                    .await
                {
                    Ok(partitions) if !partitions.is_empty() => {
                        self.partitions = partitions;
                        next_partitions = Instant::now() + PARTITIONS_INTERVAL;
                    }
                    Ok(_) => {
                        tracing::warn!(group = %self.group, topic = %self.topic, "topic has no partitions yet")
                    }
                    Err(err) => {
                        tracing::warn!(group = %self.group, error = %err, "cannot read the topic's partitions")
                    }
                }
            }
            if Instant::now() >= next_ownership {
                if self.ownership.refresh(&self.partitions).await {
                    self.assign().await;
                }
                next_ownership = Instant::now() + OWNERSHIP_INTERVAL;
            }
            if self.ownership.owned().is_empty() {
                tokio::select! {
                    () = tokio::time::sleep_until(next_ownership.into()) => {}
                    () = shutdown.cancelled() => {}
                }
                continue;
            }
            let batch = self.collect(&shutdown, next_ownership).await;
            if batch.is_empty() {
                continue;
            }
            let started = Instant::now();
            let mut backoff = Backoff::new(Duration::from_millis(100), self.ctx.settings.max_backoff);
            loop {
                let step = Step {
                    handler: &self.handler,
                    pool: &self.ctx.pool,
                    group: &self.group,
                    topic: &self.topic,
                    max_attempts: self.ctx.settings.max_attempts,
                    sink: Sink::Publish { producer: &self.ctx.producer, topics: &self.ctx.topics },
                    dedupe: Dedupe::Stored,
                };
                match step.process(&batch).await {
                    Ok(parked) => {
                        if let Some(open) = parked {
                            self.ctx.metrics.parked.get_or_create(&labels).set(open);
                        }
                        break;
                    }
                    Err(BatchError::Transient(err)) => {
                        tracing::warn!(group = %self.group, error = %err, retry_in = ?backoff.next_pause(), "batch failed, will retry");
                        if !backoff.pause_unless_cancelled(&shutdown).await {
                            return self.leave().await;
                        }
                    }
                    Err(BatchError::Fatal(err)) => {
                        tracing::error!(group = %self.group, error = %err, "robot stopped");
                        self.leave().await?;
                        return Err(err);
                    }
                }
            }
            self.ctx.metrics.batch_size.get_or_create(&labels).observe(batch.len() as f64);
            self.ctx.metrics.apply_latency.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
            self.ctx.metrics.messages.get_or_create(&labels).inc_by(batch.len() as u64);
            self.after_commit(&batch);
        }
        self.leave().await
    }

    async fn leave(mut self) -> Result<()> {
        self.commit_to_kafka();
        let _ = self.consumer.unassign();
        self.ownership.release().await;
        tracing::info!(group = %self.group, "robot stopped, partitions released");
        Ok(())
    }

    /// Reads the owned partitions from their stored offsets (the beginning when none is stored).
    async fn assign(&mut self) {
        let owned: Vec<i32> = self.ownership.owned().iter().copied().collect();
        let stored = match self.ctx.pool.acquire().await {
            Ok(mut conn) => {
                store::offsets(&mut conn, self.handler.schema(), &self.group, self.topic.as_str(), &owned)
                    .await
            }
            Err(err) => Err(err.into()),
        };
        let stored = match stored {
            Ok(stored) => stored,
            Err(err) => {
                // Without the stored offsets nothing can be read safely; try again shortly.
                tracing::warn!(group = %self.group, error = %err, "cannot read stored offsets");
                self.ownership.release().await;
                return;
            }
        };
        let mut assignment = TopicPartitionList::new();
        let mut positions = HashMap::new();
        for partition in &owned {
            let next = stored.get(partition).copied();
            let offset = next.map_or(Offset::Beginning, Offset::Offset);
            if assignment.add_partition_offset(self.topic.as_str(), *partition, offset).is_ok() {
                positions.insert(*partition, next.unwrap_or(0));
            }
        }
        self.positions = positions;
        match self.consumer.assign(&assignment) {
            Ok(()) => tracing::info!(group = %self.group, partitions = ?owned, "partitions taken"),
            Err(err) => {
                tracing::warn!(group = %self.group, error = %err, "cannot assign partitions");
                self.ownership.release().await;
            }
        }
    }

    /// Up to `batch_max_messages` in the log's order, waiting at most `batch_max_wait` once the
    /// first has arrived, and never past `until` for the first one (ownership is re-checked then).
    async fn collect(&mut self, shutdown: &CancellationToken, until: Instant) -> Vec<Incoming> {
        let max = self.ctx.settings.batch_max_messages;
        let mut batch = Vec::new();
        while batch.is_empty() {
            tokio::select! {
                message = tokio::time::timeout_at(until.into(), self.consumer.recv()) => match message {
                    Ok(message) => take(&mut self.positions, &self.group, message, &mut batch),
                    Err(_) => return batch,
                },
                () = shutdown.cancelled() => return batch,
            }
        }
        let deadline = tokio::time::Instant::now() + self.ctx.settings.batch_max_wait;
        while batch.len() < max {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(message) => take(&mut self.positions, &self.group, message, &mut batch),
                Err(_) => break,
            }
        }
        batch
    }

    /// Remembers where each partition stands and tells Kafka too, at most once per
    /// [`KAFKA_COMMIT_INTERVAL`] (a convenience only).
    fn after_commit(&mut self, batch: &[Incoming]) {
        for (partition, next) in crate::batch::next_offsets(batch) {
            self.uncommitted.insert(partition, next);
        }
        if Instant::now() >= self.next_kafka_commit {
            self.commit_to_kafka();
        }
    }

    fn commit_to_kafka(&mut self) {
        self.next_kafka_commit = Instant::now() + KAFKA_COMMIT_INTERVAL;
        if self.uncommitted.is_empty() {
            return;
        }
        let mut commit = TopicPartitionList::new();
        for (partition, next) in self.uncommitted.drain() {
            let _ = commit.add_partition_offset(self.topic.as_str(), partition, Offset::Offset(next));
        }
        if let Err(err) = self.consumer.commit(&commit, CommitMode::Async) {
            tracing::debug!(group = %self.group, error = %err, "Kafka offset commit failed (PostgreSQL holds the truth)");
        }
    }
}

/// Adds a fetched message to the batch unless it lies below its partition's position or its
/// partition is no longer owned: a message of an earlier assignment still in the client's
/// queue. A fetch may skip offsets (compaction, transaction markers), so anything at or
/// beyond the position is taken.
fn take(
    positions: &mut HashMap<i32, i64>,
    group: &str,
    message: rdkafka::error::KafkaResult<rdkafka::message::BorrowedMessage<'_>>,
    batch: &mut Vec<Incoming>,
) {
    let message = match message {
        Ok(message) => message,
        // The client reconnects by itself; the error is only worth a line in the log.
        Err(err) => {
            tracing::warn!(group = %group, error = %err, "consumer error");
            return;
        }
    };
    let Some(next) = positions.get_mut(&message.partition()) else { return };
    if message.offset() < *next {
        return;
    }
    *next = message.offset() + 1;
    batch.push(Incoming {
        partition: message.partition(),
        offset: message.offset(),
        key: message.key().map(|k| String::from_utf8_lossy(k).into_owned()),
        payload: message.payload().unwrap_or_default().to_vec(),
    });
}
