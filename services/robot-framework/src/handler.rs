//! What a robot is: a [`Handler`] that the framework feeds batches of messages.

use std::future::Future;

use owp_platform::topics::Topics;
use owp_protocol::{Event, MessageKey, TopicName};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{HandlerError, SchemaName};

/// A message as the framework hands it to a handler.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub payload: Vec<u8>,
}

/// A fact a handler decided, with the key it is published under.
#[derive(Debug, Clone)]
pub struct Fact {
    pub key: MessageKey,
    pub event: Event,
}

/// One robot's logic. The framework guarantees: `apply` runs inside a transaction that also
/// stores the offsets and processed ids; messages whose [`Handler::dedupe_id`] was already
/// processed never reach it; the facts it returns are on the log before the transaction commits.
pub trait Handler: Send + Sync + 'static {
    /// The robot's name; its consumer group is the group prefix followed by this.
    fn name(&self) -> &str;

    /// The topic it consumes.
    fn topic<'a>(&self, topics: &'a Topics) -> &'a TopicName;

    /// The schema holding this robot's bookkeeping (offsets, processed ids, parked messages):
    /// the schema of the state it changes, so that a rebuilt schema carries its own offsets.
    fn schema(&self) -> &SchemaName;

    /// The id under which a message counts as processed (a command's `document_id`, an event's
    /// `event_id`). `None`: no id can be read; the message is handed to `apply` as it is.
    fn dedupe_id(&self, message: &Incoming) -> Option<Uuid>;

    /// An advisory lock id that each batch transaction holds in shared mode, so that an operator
    /// command can take it exclusively to stop the robot between batches (the replay swap).
    fn batch_lock(&self) -> Option<i64> {
        None
    }

    /// Handles messages in order, inside the batch transaction; returns the facts to publish.
    fn apply(
        &self,
        tx: &mut PgConnection,
        messages: &[&Incoming],
    ) -> impl Future<Output = Result<Vec<Fact>, HandlerError>> + Send;

    /// The facts that tell a message's sender it was given up on (called in the transaction that
    /// parks it).
    fn on_parked(
        &self,
        tx: &mut PgConnection,
        message: &Incoming,
        reason: &str,
    ) -> impl Future<Output = Result<Vec<Fact>, HandlerError>> + Send;
}
