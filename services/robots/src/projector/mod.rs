//! The projector: applies the facts on `owp.events.v1` to the normalized tables.
//!
//! A batch's facts are folded, in log order, into the rows they leave behind ([`Pending`]), and
//! those rows are written with one set-based statement per table, so a batch of thousands costs
//! a handful of round trips. Every write is an upsert whose result does not depend on what the
//! table held before beyond what the facts say, which is what makes a rebuild give the same rows.

mod pending;

use owp_platform::topics::Topics;
use owp_protocol::{Event, TopicName};
use owp_robot_framework::{Fact, Handler, HandlerError, Incoming, SchemaName};
use sqlx::PgConnection;
use uuid::Uuid;

pub use pending::Pending;

/// The advisory lock every projector batch holds shared; `owp replay` takes it exclusively to
/// swap schemas between two batches.
pub const PROJECTION_LOCK: i64 = 0x6f77_7000_0001;

#[derive(Debug, Clone)]
pub struct Projector {
    schema: SchemaName,
    lock: bool,
}

impl Projector {
    pub const NAME: &'static str = "projector";

    pub fn new(schema: SchemaName) -> Self {
        Self { schema, lock: true }
    }

    /// For a schema being rebuilt, which no live batch writes to.
    pub fn without_lock(schema: SchemaName) -> Self {
        Self { schema, lock: false }
    }
}

#[derive(serde::Deserialize)]
struct Peek {
    event_id: Uuid,
}

impl Handler for Projector {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn topic<'a>(&self, topics: &'a Topics) -> &'a TopicName {
        &topics.events_topic
    }

    fn schema(&self) -> &SchemaName {
        &self.schema
    }

    fn dedupe_id(&self, message: &Incoming) -> Option<Uuid> {
        serde_json::from_slice::<Peek>(&message.payload).ok().map(|peek| peek.event_id)
    }

    fn batch_lock(&self) -> Option<i64> {
        self.lock.then_some(PROJECTION_LOCK)
    }

    async fn apply(&self, tx: &mut PgConnection, messages: &[&Incoming]) -> Result<Vec<Fact>, HandlerError> {
        let mut pending = Pending::default();
        for message in messages {
            let event = Event::from_json(&message.payload)
                .map_err(|err| HandlerError::Rejected(format!("undecodable event: {err}")))?;
            pending.fold(&event).map_err(|err| HandlerError::Rejected(err.to_string()))?;
        }
        pending.flush(tx).await?;
        Ok(Vec::new())
    }

    async fn on_parked(
        &self,
        tx: &mut PgConnection,
        message: &Incoming,
        _reason: &str,
    ) -> Result<Vec<Fact>, HandlerError> {
        // The sender is told through the messages table, which is this robot's to write.
        let Ok(mut event) = Event::from_json(&message.payload) else { return Ok(Vec::new()) };
        if crate::messages::outcome(&event).is_none() {
            return Ok(Vec::new());
        }
        event.kind = owp_protocol::facts::kind::DOCUMENT_FAILED.to_owned();
        let mut pending = Pending::default();
        pending.fold_message(&event);
        pending.flush(tx).await?;
        Ok(Vec::new())
    }
}
