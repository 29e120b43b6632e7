//! The command robot: one consumer group (`owp.robot.commands`) on `owp.commands.v1` that decides
//! every document and publishes exactly one outcome fact for it, handing each command to the
//! [`Decide`] of its item type.
//!
//! One group rather than one per item type: every group reads the whole topic, so per-type groups
//! multiply the broker's fetch work and each of them skips most of what it reads. Ordering is per
//! key either way.
//!
//! Adding an item type is adding a schema file (owp-protocol) and a [`Decide`] here, listed in
//! [`CommandRobot::decide`].

mod business;
mod logout;
mod profile;

pub use business::Business;
pub use logout::Logout;
pub use profile::Profile;

use owp_platform::topics::Topics;
use owp_protocol::{Command, Event, MessageKey, TopicName, facts};
use owp_robot_framework::{Fact, Handler, HandlerError, Incoming, SchemaName};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use owp_projection::sessions::{SessionLimits, Sessions};

/// A decision: the outcome kind and its body.
#[derive(Debug)]
pub struct Decision {
    pub kind: &'static str,
    pub body: Value,
}

impl Decision {
    pub fn new(kind: &'static str, body: impl serde::Serialize) -> Self {
        Self { kind, body: serde_json::to_value(body).unwrap_or(Value::Null) }
    }

    pub fn rejected(kind: &'static str, reason: &str) -> Self {
        Self::new(kind, facts::Rejected { reason: reason.to_owned() })
    }
}

/// What one item type's robot decides. Reads only what the projector wrote; writes nothing.
pub trait Decide: Send + Sync + 'static {
    const ITEM_TYPE: &'static str;

    fn decide(
        &self,
        conn: &mut PgConnection,
        command: &Command,
        context: &DecideContext,
        sessions: &Sessions,
    ) -> impl std::future::Future<Output = Result<Decision, HandlerError>> + Send;
}

/// Settings a decision may depend on.
#[derive(Debug, Clone)]
pub struct DecideContext {
    pub sessions: SessionLimits,
}

impl Default for DecideContext {
    fn default() -> Self {
        Self { sessions: SessionLimits::defaults() }
    }
}

impl DecideContext {
    /// The user of the command's session, if it was live when the command was received.
    pub fn live_user(&self, sessions: &Sessions, command: &Command) -> Option<Uuid> {
        sessions.live_user(command.session_id, command.received_at, self.sessions)
    }
}

/// Why a document that needed a live session was refused.
pub const NO_LIVE_SESSION: &str =
    "this needs a live session: log in again (the session has ended, expired or was never valid)";

/// The [`Handler`] of the command robot.
#[derive(Debug)]
pub struct CommandRobot {
    schema: SchemaName,
    context: DecideContext,
}

impl CommandRobot {
    pub const NAME: &'static str = "commands";

    pub fn new(schema: SchemaName, context: DecideContext) -> Self {
        Self { schema, context }
    }

    /// The decision of the item type's [`Decide`]. A type without one (a write point newer than
    /// these robots, say) is refused, so the command is parked and dead-lettered and its sender
    /// told, rather than left without an outcome; it can be retried once the robots know the type.
    async fn decide(
        &self,
        conn: &mut PgConnection,
        command: &Command,
        sessions: &Sessions,
    ) -> Result<Decision, HandlerError> {
        let context = &self.context;
        match command.item_type.as_str() {
            Business::ITEM_TYPE => Business.decide(conn, command, context, sessions).await,
            Profile::ITEM_TYPE => Profile.decide(conn, command, context, sessions).await,
            Logout::ITEM_TYPE => Logout.decide(conn, command, context, sessions).await,
            other => Err(HandlerError::Rejected(format!("no robot decides item type {other:?}"))),
        }
    }
}

/// Just enough of a command to deduplicate it without decoding the body.
#[derive(serde::Deserialize)]
struct Peek {
    document_id: Uuid,
}

impl Handler for CommandRobot {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn topic<'a>(&self, topics: &'a Topics) -> &'a TopicName {
        &topics.commands_topic
    }

    fn schema(&self) -> &SchemaName {
        &self.schema
    }

    fn dedupe_id(&self, message: &Incoming) -> Option<Uuid> {
        serde_json::from_slice::<Peek>(&message.payload).ok().map(|peek| peek.document_id)
    }

    async fn apply(&self, tx: &mut PgConnection, messages: &[&Incoming]) -> Result<Vec<Fact>, HandlerError> {
        let commands = messages
            .iter()
            .map(|message| {
                Command::from_json(&message.payload)
                    .map_err(|err| HandlerError::Rejected(format!("undecodable command: {err}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let named: Vec<Uuid> = commands.iter().filter_map(|c| c.session_id.map(|s| *s.as_uuid())).collect();
        let sessions = Sessions::load(tx, &named).await?;
        let mut facts = Vec::new();
        for (message, command) in messages.iter().zip(&commands) {
            let decision = self.decide(tx, command, &sessions).await?;
            let span =
                tracing::debug_span!("decided", document_id = %command.document_id, kind = decision.kind);
            let _entered = span.enter();
            facts.push(Fact {
                key: key_of(message, command),
                event: Event::outcome_of(command, decision.kind, decision.body),
            });
        }
        Ok(facts)
    }

    async fn on_parked(
        &self,
        _tx: &mut PgConnection,
        message: &Incoming,
        reason: &str,
    ) -> Result<Vec<Fact>, HandlerError> {
        // Tell the sender, if the command can be read at all.
        let Ok(command) = Command::from_json(&message.payload) else { return Ok(Vec::new()) };
        let mut event = Event::outcome_of(&command, facts::kind::DOCUMENT_FAILED, Value::Null);
        event.event_id = owp_protocol::EventId::derive(command.document_id, facts::FAILED_SLOT);
        event.body = serde_json::json!({ "reason": reason });
        Ok(vec![Fact { key: key_of(message, &command), event }])
    }
}

/// Outcome facts go under the command's own key, so every fact about one document lands on one
/// partition, in order.
fn key_of(message: &Incoming, command: &Command) -> MessageKey {
    message.key.clone().map_or_else(|| MessageKey::from(command.document_id), MessageKey::new)
}
