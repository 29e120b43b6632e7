//! The consumer loop every robot runs: collect a batch, position partitions at the offsets stored
//! in PostgreSQL, apply in one transaction, publish the decided facts, store offsets, commit.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use owp_platform::{kafka::KafkaSettings, topics::Topics};
use owp_protocol::TopicName;
use rdkafka::{
    ClientContext, Message, Offset, TopicPartitionList,
    consumer::{CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer},
    producer::FutureProducer,
};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{
    Handler, Incoming, Result, RobotMetrics, RobotSettings,
    batch::{BatchError, Sink, Step},
    metrics::{GroupLabels, PartitionLabels},
    store,
};

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

/// Counts rebalances, so the loop knows to re-position its partitions, and turns librdkafka's
/// periodic statistics into the lag gauge (no extra broker round trip per batch).
struct RobotClientContext {
    rebalances: Arc<AtomicU64>,
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

impl ConsumerContext for RobotClientContext {
    fn post_rebalance(&self, _consumer: &rdkafka::consumer::BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(assignment) = rebalance {
            tracing::info!(partitions = assignment.count(), "partitions assigned");
        }
        self.rebalances.fetch_add(1, Ordering::SeqCst);
    }
}

/// One running robot.
pub struct Robot<H: Handler> {
    ctx: RobotContext,
    handler: H,
    group: String,
    topic: TopicName,
    consumer: StreamConsumer<RobotClientContext>,
    rebalances: Arc<AtomicU64>,
    seen_rebalances: u64,
    /// Next offset to accept per partition, once positioned since the last rebalance.
    expected: HashMap<i32, i64>,
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
        let rebalances = Arc::new(AtomicU64::new(0));
        let consumer: StreamConsumer<RobotClientContext> = ctx
            .kafka
            .client_config(&group)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            .set("statistics.interval.ms", "5000")
            .create_with_context(RobotClientContext {
                rebalances: rebalances.clone(),
                group: group.clone(),
                lag: ctx.metrics.lag.clone(),
            })?;
        consumer.subscribe(&[topic.as_str()])?;
        Ok(Self {
            ctx,
            handler,
            group,
            topic,
            consumer,
            rebalances,
            seen_rebalances: 0,
            expected: HashMap::new(),
        })
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    /// Runs until `shutdown`; the batch in hand is finished and stored before it returns.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<()> {
        tracing::info!(group = %self.group, topic = %self.topic, "robot started");
        let labels = GroupLabels { group: self.group.clone() };
        while !shutdown.is_cancelled() {
            let batch = self.collect(&shutdown).await;
            let batch = self.position(batch).await;
            if batch.is_empty() {
                continue;
            }
            let started = Instant::now();
            let mut backoff = Duration::from_millis(100);
            loop {
                let sink = Sink::Publish { producer: &self.ctx.producer, topics: &self.ctx.topics };
                let step = Step {
                    handler: &self.handler,
                    pool: &self.ctx.pool,
                    group: &self.group,
                    topic: &self.topic,
                    max_attempts: self.ctx.settings.max_attempts,
                    sink,
                };
                match step.process(&batch).await {
                    Ok(parked) => {
                        if let Some(open) = parked {
                            self.ctx.metrics.parked.get_or_create(&labels).set(open);
                        }
                        break;
                    }
                    Err(BatchError::Transient(err)) => {
                        tracing::warn!(group = %self.group, error = %err, retry_in = ?backoff, "batch failed, will retry");
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => {}
                            () = shutdown.cancelled() => return self.leave(),
                        }
                        backoff = (backoff * 2).min(self.ctx.settings.max_backoff);
                    }
                    Err(BatchError::Fatal(err)) => {
                        tracing::error!(group = %self.group, error = %err, "robot stopped");
                        return Err(err);
                    }
                }
            }
            self.ctx.metrics.batch_size.get_or_create(&labels).observe(batch.len() as f64);
            self.ctx.metrics.apply_latency.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
            self.ctx.metrics.messages.get_or_create(&labels).inc_by(batch.len() as u64);
            self.after_commit(&batch);
        }
        self.leave()
    }

    fn leave(self) -> Result<()> {
        self.consumer.unsubscribe();
        tracing::info!(group = %self.group, "robot stopped, left the group");
        Ok(())
    }

    /// Up to `batch_max_messages`, waiting at most `batch_max_wait` once the first has arrived.
    async fn collect(&mut self, shutdown: &CancellationToken) -> Vec<Incoming> {
        let mut batch = Vec::new();
        let max = self.ctx.settings.batch_max_messages;
        let first = tokio::select! {
            message = self.consumer.recv() => message,
            () = shutdown.cancelled() => return batch,
        };
        let deadline = tokio::time::Instant::now() + self.ctx.settings.batch_max_wait;
        let mut next = Some(first);
        while let Some(received) = next.take() {
            match received {
                Ok(message) => batch.push(Incoming {
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    payload: message.payload().unwrap_or_default().to_vec(),
                }),
                // The client reconnects by itself; the error is only worth a line in the log.
                Err(err) => tracing::warn!(group = %self.group, error = %err, "consumer error"),
            }
            if batch.len() >= max {
                break;
            }
            next = tokio::time::timeout_at(deadline, self.consumer.recv()).await.ok();
        }
        batch
    }

    /// Drops messages below the stored offsets; on the first message of a partition since the
    /// last rebalance, seeks to the offset stored in PostgreSQL if the consumer is elsewhere.
    async fn position(&mut self, batch: Vec<Incoming>) -> Vec<Incoming> {
        let rebalances = self.rebalances.load(Ordering::SeqCst);
        if rebalances != self.seen_rebalances {
            self.seen_rebalances = rebalances;
            self.expected.clear();
        }
        let unpositioned: Vec<i32> = batch
            .iter()
            .map(|m| m.partition)
            .filter(|p| !self.expected.contains_key(p))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !unpositioned.is_empty() {
            let stored = match self.ctx.pool.acquire().await {
                Ok(mut conn) => {
                    store::offsets(
                        &mut conn,
                        self.handler.schema(),
                        &self.group,
                        self.topic.as_str(),
                        &unpositioned,
                    )
                    .await
                }
                Err(err) => Err(err.into()),
            };
            let stored = match stored {
                Ok(stored) => stored,
                Err(err) => {
                    // Nothing of these partitions is handled until they can be positioned.
                    tracing::warn!(group = %self.group, error = %err, "cannot read stored offsets");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    return batch.into_iter().filter(|m| self.expected.contains_key(&m.partition)).collect();
                }
            };
            for partition in unpositioned {
                let first =
                    batch.iter().find(|m| m.partition == partition).map(|m| m.offset).unwrap_or_default();
                match stored.get(&partition) {
                    Some(&next) if next != first => {
                        let seek = self.consumer.seek(
                            self.topic.as_str(),
                            partition,
                            Offset::Offset(next),
                            Duration::from_secs(5),
                        );
                        match seek {
                            Ok(()) => {
                                tracing::info!(group = %self.group, partition, from = first, to = next, "positioned at stored offset");
                                self.expected.insert(partition, next);
                            }
                            Err(err) => {
                                tracing::warn!(group = %self.group, partition, error = %err, "seek failed; will retry");
                            }
                        }
                    }
                    Some(&next) => {
                        self.expected.insert(partition, next);
                    }
                    None => {
                        self.expected.insert(partition, first);
                    }
                }
            }
        }
        batch
            .into_iter()
            .filter(|m| self.expected.get(&m.partition).is_some_and(|&expected| m.offset >= expected))
            .collect()
    }

    /// Remembers where each partition stands and tells Kafka too (a convenience only).
    fn after_commit(&mut self, batch: &[Incoming]) {
        let mut commit = TopicPartitionList::new();
        for (partition, next) in crate::batch::next_offsets(batch) {
            self.expected.insert(partition, next);
            let _ = commit.add_partition_offset(self.topic.as_str(), partition, Offset::Offset(next));
        }
        if let Err(err) = self.consumer.commit(&commit, CommitMode::Async) {
            tracing::debug!(group = %self.group, error = %err, "Kafka offset commit failed (PostgreSQL holds the truth)");
        }
    }
}
