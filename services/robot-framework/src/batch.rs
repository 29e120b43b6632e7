//! One batch, start to commit: skip what was processed, park what waits behind a parked key,
//! apply in one transaction (one by one when the batch is refused, to find the poison message),
//! publish the decided facts, store offsets and processed ids, commit. Shared by the live robots
//! and by the rebuild from the log (which publishes nothing).

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use futures::future::try_join_all;
use owp_platform::{kafka, retry::Backoff, topics::Topics};
use owp_protocol::TopicName;
use rdkafka::{
    message::Header,
    producer::{FutureProducer, FutureRecord},
};
use sqlx::{Acquire, PgConnection, PgPool};
use uuid::Uuid;

use crate::{Error, Handler, HandlerError, Incoming, handler::Fact, store};

/// Where decided facts and dead letters go.
#[derive(Clone, Copy)]
#[allow(missing_debug_implementations)] // holds a producer, which has no Debug
pub enum Sink<'a> {
    /// To the log (live robots).
    Publish { producer: &'a FutureProducer, topics: &'a Topics },
    /// Nowhere: a rebuild re-applies facts that are on the log already.
    Discard,
}

/// Where a batch learns which messages were processed already, and which keys are parked.
#[derive(Debug, Clone, Copy)]
pub enum Dedupe<'a> {
    /// The bookkeeping tables, read and written in the batch transaction: live robots, which
    /// may share a group with other instances and restart at any moment.
    Stored,
    /// Memory, for a rebuild into a fresh schema that nothing else writes to. The processed ids
    /// still go to the table (the swapped-in schema's robots need them), with `COPY` and before
    /// the table has its key: looking 5,000 ids up in an index and inserting them into it, per
    /// batch, was a fifth of a rebuild's time. See [`store::key_processed`].
    Memory(&'a RebuildLedger),
}

/// What a rebuild has done so far: the event ids it applied (about 40 bytes each) and the keys
/// it parked.
#[derive(Debug, Default)]
pub struct RebuildLedger(std::sync::Mutex<(HashSet<Uuid>, HashSet<String>)>);

impl RebuildLedger {
    fn lock(&self) -> std::sync::MutexGuard<'_, (HashSet<Uuid>, HashSet<String>)> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn seen(&self, ids: &[Uuid], keys: &[String]) -> (HashSet<Uuid>, HashSet<String>) {
        let ledger = self.lock();
        (
            ids.iter().filter(|id| ledger.0.contains(id)).copied().collect(),
            keys.iter().filter(|key| ledger.1.contains(*key)).cloned().collect(),
        )
    }

    fn record(&self, ids: &[Uuid], parked: impl IntoIterator<Item = String>) {
        let mut ledger = self.lock();
        ledger.0.extend(ids.iter().copied());
        ledger.1.extend(parked);
    }
}

/// A batch could not be finished; `Transient` ones are retried as they are after a pause.
#[derive(Debug)]
pub enum BatchError {
    Transient(Error),
    Fatal(Error),
}

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchError::Transient(err) | BatchError::Fatal(err) => err.fmt(f),
        }
    }
}

impl From<Error> for BatchError {
    fn from(err: Error) -> Self {
        if err.is_transient() { BatchError::Transient(err) } else { BatchError::Fatal(err) }
    }
}

impl From<sqlx::Error> for BatchError {
    fn from(err: sqlx::Error) -> Self {
        Error::from(err).into()
    }
}

/// Everything one batch needs.
#[allow(missing_debug_implementations)] // holds a Sink
pub struct Step<'a, H: Handler> {
    pub handler: &'a H,
    pub pool: &'a PgPool,
    pub group: &'a str,
    pub topic: &'a TopicName,
    pub max_attempts: u32,
    pub sink: Sink<'a>,
    pub dedupe: Dedupe<'a>,
}

const WAITING: &str = "waiting behind an earlier parked message with the same key";

/// How a batch's messages are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// All at once, in the batch transaction itself: the usual case, and the fewest round trips.
    Whole,
    /// One by one, each in a savepoint, to find and park the message that made `Whole` fail.
    OneByOne,
}

enum Attempt {
    Done(Option<i64>),
    /// The handler refused the batch as a whole; the transaction was rolled back.
    Refused,
}

impl<H: Handler> Step<'_, H> {
    /// Processes and commits the batch. Returns the open parked count when it parked something.
    pub async fn process(&self, batch: &[Incoming]) -> std::result::Result<Option<i64>, BatchError> {
        if let Attempt::Done(parked) = self.attempt(batch, Mode::Whole).await? {
            return Ok(parked);
        }
        match self.attempt(batch, Mode::OneByOne).await? {
            Attempt::Done(parked) => Ok(parked),
            // One by one, a refused message is parked; the batch as a whole is never refused.
            Attempt::Refused => {
                Err(BatchError::Fatal(Error::Invalid("a batch was refused one by one".into())))
            }
        }
    }

    async fn attempt(&self, batch: &[Incoming], mode: Mode) -> std::result::Result<Attempt, BatchError> {
        let schema = self.handler.schema().clone();
        let mut tx = self.pool.begin().await?;
        if let Some(lock) = self.handler.batch_lock() {
            sqlx::query("SELECT pg_advisory_xact_lock_shared($1)").bind(lock).execute(&mut *tx).await?;
        }

        let ids: Vec<Option<Uuid>> = batch.iter().map(|m| self.handler.dedupe_id(m)).collect();
        let known: Vec<Uuid> = ids.iter().flatten().copied().collect();
        let keys: Vec<String> = batch.iter().filter_map(|m| m.key.clone()).collect();
        let (done, mut parked_keys) = match self.dedupe {
            Dedupe::Stored => store::seen(&mut tx, &schema, self.group, &known, &keys).await?,
            Dedupe::Memory(ledger) => ledger.seen(&known, &keys),
        };
        let mut seen = HashSet::new();
        let mut fresh = Vec::new();
        let mut fresh_ids = Vec::new();
        let mut to_park: Vec<(&Incoming, String, u32)> = Vec::new();
        for (message, id) in batch.iter().zip(&ids) {
            if let Some(id) = id {
                if done.contains(id) || !seen.insert(*id) {
                    continue;
                }
            }
            if message.key.as_ref().is_some_and(|k| parked_keys.contains(k)) {
                to_park.push((message, WAITING.into(), 0));
                continue;
            }
            fresh.push(message);
            fresh_ids.push(*id);
        }

        let mut facts = Vec::new();
        let mut applied_ids: Vec<Uuid> = Vec::new();
        match mode {
            Mode::Whole if fresh.is_empty() => {}
            Mode::Whole => match self.handler.apply(&mut tx, &fresh).await {
                Ok(decided) => {
                    facts.extend(decided);
                    applied_ids.extend(fresh_ids.iter().flatten());
                }
                Err(err) if err.is_transient() => return Err(BatchError::Transient(err.into())),
                Err(err) => {
                    tracing::warn!(group = %self.group, error = %err, "batch refused; applying one by one");
                    tx.rollback().await?;
                    return Ok(Attempt::Refused);
                }
            },
            Mode::OneByOne => {
                for (message, id) in fresh.iter().zip(&fresh_ids) {
                    if message.key.as_ref().is_some_and(|k| parked_keys.contains(k)) {
                        to_park.push((message, WAITING.into(), 0));
                        continue;
                    }
                    let mut attempt = 0;
                    // 50 ms, then 100 ms: the default three attempts wait 150 ms in all.
                    let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(1));
                    loop {
                        attempt += 1;
                        match apply_in_savepoint(self.handler, &mut tx, &[*message]).await {
                            Ok(decided) => {
                                facts.extend(decided);
                                applied_ids.extend(id);
                                break;
                            }
                            Err(err) if err.is_transient() => return Err(BatchError::Transient(err.into())),
                            Err(err) if attempt >= self.max_attempts => {
                                tracing::error!(group = %self.group, partition = message.partition,
                                    offset = message.offset, error = %err, "message parked");
                                if let Some(key) = &message.key {
                                    parked_keys.insert(key.clone());
                                }
                                to_park.push((message, err.to_string(), attempt));
                                break;
                            }
                            Err(err) => {
                                tracing::warn!(group = %self.group, offset = message.offset, attempt, error = %err,
                                    "message failed");
                                backoff.pause().await;
                            }
                        }
                    }
                }
            }
        }

        let mut dead_letters = Vec::new();
        for (message, reason, attempts) in &to_park {
            store::park(&mut tx, &schema, self.group, self.topic.as_str(), message, reason, *attempts)
                .await?;
            let told = self.handler.on_parked(&mut tx, message, reason).await.map_err(Error::from)?;
            facts.extend(told);
            dead_letters.push((*message, reason.as_str()));
        }

        // The facts are on the log before the offsets move: a crash in between repeats the
        // batch, and the repeated facts carry the same event ids.
        if let Sink::Publish { producer, topics } = self.sink {
            publish(producer, &topics.events_topic, &facts).await?;
            dead_letter(producer, &topics.deadletter_topic, self.group, self.topic, &dead_letters).await?;
        }
        let next = next_offsets(batch);
        match self.dedupe {
            Dedupe::Stored => {
                store::record(&mut tx, &schema, self.group, self.topic.as_str(), &applied_ids, &next).await?
            }
            Dedupe::Memory(_) => {
                store::copy_processed(&mut tx, &schema, self.group, &applied_ids).await?;
                store::record(&mut tx, &schema, self.group, self.topic.as_str(), &[], &next).await?;
            }
        }
        let parked = if to_park.is_empty() {
            None
        } else {
            Some(store::open_parked_count(&mut tx, &schema, self.group).await?)
        };
        tx.commit().await?;
        if let Dedupe::Memory(ledger) = self.dedupe {
            ledger.record(&applied_ids, to_park.iter().filter_map(|(message, _, _)| message.key.clone()));
        }
        Ok(Attempt::Done(parked))
    }
}

async fn publish(
    producer: &FutureProducer,
    topic: &TopicName,
    facts: &[Fact],
) -> std::result::Result<(), BatchError> {
    let sends = facts.iter().map(|fact| {
        let payload = fact.event.to_json();
        async move {
            let record = FutureRecord::to(topic.as_str())
                .key(fact.key.as_str())
                .payload(&payload)
                .headers(kafka::event_headers(&fact.event));
            producer.send(record, Duration::from_secs(10)).await.map_err(|(err, _)| Error::Kafka(err))?;
            Ok(())
        }
    });
    try_join_all(sends).await.map_err(BatchError::Transient)?;
    Ok(())
}

async fn dead_letter(
    producer: &FutureProducer,
    topic: &TopicName,
    group: &str,
    source: &TopicName,
    messages: &[(&Incoming, &str)],
) -> std::result::Result<(), BatchError> {
    let sends = messages.iter().map(|(message, reason)| {
        let partition = message.partition.to_string();
        let offset = message.offset.to_string();
        async move {
            // The original's own headers (when it is a command or a fact), then where it was parked.
            let headers = kafka::headers_of(&message.payload)
                .unwrap_or_default()
                .insert(Header { key: "group", value: Some(group) })
                .insert(Header { key: "topic", value: Some(source.as_str()) })
                .insert(Header { key: "partition", value: Some(partition.as_str()) })
                .insert(Header { key: "offset", value: Some(offset.as_str()) })
                .insert(Header { key: "reason", value: Some(*reason) });
            let mut record = FutureRecord::to(topic.as_str()).payload(&message.payload).headers(headers);
            if let Some(key) = &message.key {
                record = record.key(key.as_str());
            }
            producer.send(record, Duration::from_secs(10)).await.map_err(|(err, _)| Error::Kafka(err))
        }
    });
    try_join_all(sends).await.map_err(BatchError::Transient)?;
    Ok(())
}

async fn apply_in_savepoint<H: Handler>(
    handler: &H,
    tx: &mut PgConnection,
    messages: &[&Incoming],
) -> std::result::Result<Vec<Fact>, HandlerError> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let mut savepoint = tx.begin().await?;
    let result = handler.apply(&mut savepoint, messages).await;
    match result {
        Ok(facts) => {
            savepoint.commit().await?;
            Ok(facts)
        }
        Err(err) => {
            // A failed rollback means the connection is gone; report that instead.
            savepoint.rollback().await?;
            Err(err)
        }
    }
}

pub fn next_offsets(batch: &[Incoming]) -> HashMap<i32, i64> {
    let mut next = HashMap::new();
    for message in batch {
        let entry = next.entry(message.partition).or_insert(message.offset + 1);
        *entry = (*entry).max(message.offset + 1);
    }
    next
}
