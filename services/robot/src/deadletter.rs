//! Retrying parked messages: put each back on its topic, in the order it was parked, then mark
//! it released so the key flows again. The robot handles a retried message like any other one;
//! one that fails again is parked again.

use std::time::Duration;

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
    let mut retried = 0;
    for message in parked.iter().filter(|m| ids.is_none_or(|ids| ids.contains(&m.parked_id))) {
        let mut record = FutureRecord::to(&message.topic).payload(&message.payload);
        if let Some(key) = &message.key {
            record = record.key(key.as_str());
        }
        producer.send(record, Duration::from_secs(10)).await.map_err(|(err, _)| Error::Kafka(err))?;
        store::release(pool, schema, &[message.parked_id]).await?;
        retried += 1;
    }
    Ok(retried)
}
