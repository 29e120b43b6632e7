//! Retrying parked messages: mark them as being retried (from then on their keys flow again, so
//! a re-published copy is not parked behind its own record), put each back on its topic in the
//! order it was parked, and mark it released. The robot handles a retried message like any other
//! one; one that fails again is parked again. If re-publishing fails, the messages not yet
//! re-published are parked as before.

use std::time::Duration;

use owp_platform::kafka;
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::PgPool;

use crate::{Error, Result, SchemaName, store};

/// Re-publishes the parked messages `ids` of `schema` (all open ones when `ids` is `None`).
/// Returns how many were retried.
pub async fn retry(
    pool: &PgPool,
    producer: &FutureProducer,
    schema: &SchemaName,
    ids: Option<&[i64]>,
) -> Result<usize> {
    let parked = store::list_parked(pool, schema).await?;
    let chosen: Vec<_> = parked.iter().filter(|m| ids.is_none_or(|ids| ids.contains(&m.parked_id))).collect();
    let chosen_ids: Vec<i64> = chosen.iter().map(|m| m.parked_id).collect();
    store::set_retrying(pool, schema, &chosen_ids, true).await?;
    for (done, message) in chosen.iter().enumerate() {
        let mut record = FutureRecord::to(&message.topic).payload(&message.payload);
        if let Some(headers) = kafka::headers_of(&message.payload) {
            record = record.headers(headers);
        }
        if let Some(key) = &message.key {
            record = record.key(key.as_str());
        }
        if let Err((err, _)) = producer.send(record, Duration::from_secs(10)).await {
            store::set_retrying(pool, schema, &chosen_ids[done..], false).await?;
            return Err(Error::Kafka(err));
        }
        store::release(pool, schema, &[message.parked_id]).await?;
    }
    Ok(chosen.len())
}
