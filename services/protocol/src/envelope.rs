//! The envelopes that travel on the log: commands (intentions) and events (facts).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::{DocumentId, Error, EventId, ItemType, Result, SessionId};

/// The Kafka message key: the entity a message concerns, so that all changes to one entity land
/// on one partition, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageKey(String);

impl MessageKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<DocumentId> for MessageKey {
    fn from(id: DocumentId) -> Self {
        Self(id.to_string())
    }
}

/// What a client asked for, as accepted by the write point onto `owp.commands.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub document_id: DocumentId,
    pub item_type: ItemType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// The item's own fields, valid against the item type's schema.
    pub body: Map<String, Value>,
}

/// A fact published to `owp.events.v1`; permanent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub event_id: EventId,
    /// What happened, `<entity>.<verb>`, e.g. `business.created` or `business.rejected`.
    pub kind: String,
    /// The document whose processing caused this fact.
    pub document_id: DocumentId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub body: Value,
}

impl Command {
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        decode("command", bytes)
    }
}

impl Event {
    /// The fact of kind `kind` caused by `cause`; its id is derived, so re-deciding the same
    /// command yields the same event.
    pub fn caused_by(cause: &Command, kind: &str, body: Value, occurred_at: OffsetDateTime) -> Self {
        Self {
            event_id: EventId::derive(cause.document_id, kind),
            kind: kind.to_owned(),
            document_id: cause.document_id,
            session_id: cause.session_id,
            occurred_at,
            body,
        }
    }

    /// The one outcome fact of `cause` (see [`crate::facts::OUTCOME_SLOT`]). It happened when
    /// the command was received, so deciding the same command twice yields the same bytes.
    pub fn outcome_of(cause: &Command, kind: &str, body: Value) -> Self {
        Self {
            event_id: EventId::derive(cause.document_id, crate::facts::OUTCOME_SLOT),
            kind: kind.to_owned(),
            document_id: cause.document_id,
            session_id: cause.session_id,
            occurred_at: cause.received_at,
            body,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        decode("event", bytes)
    }

    /// The body as the typed fact of its kind.
    pub fn body_as<T: for<'de> Deserialize<'de>>(&self) -> Result<T> {
        serde_json::from_value(self.body.clone()).map_err(|err| Error::InvalidValue {
            what: "event body",
            value: self.kind.clone(),
            reason: err.to_string(),
        })
    }
}

fn decode<T: for<'de> Deserialize<'de>>(what: &'static str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|err| Error::InvalidValue {
        what,
        value: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
        reason: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn commands_round_trip_through_json() {
        let command = Command {
            document_id: DocumentId::new_random(),
            item_type: ItemType::parse("business").unwrap(),
            session_id: Some(SessionId::new_random()),
            received_at: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            body: json!({"name": "Country Vegetables"}).as_object().unwrap().clone(),
        };
        assert_eq!(Command::from_json(&command.to_json()).unwrap(), command);
    }

    #[test]
    fn events_derive_their_id_from_the_cause() {
        let command = Command {
            document_id: DocumentId::new_random(),
            item_type: ItemType::parse("business").unwrap(),
            session_id: None,
            received_at: OffsetDateTime::UNIX_EPOCH,
            body: Map::new(),
        };
        let a = Event::caused_by(&command, "business.rejected", json!({}), OffsetDateTime::UNIX_EPOCH);
        let b = Event::caused_by(&command, "business.rejected", json!({}), OffsetDateTime::now_utc());
        assert_eq!(a.event_id, b.event_id);
        assert_eq!(Event::from_json(&a.to_json()).unwrap(), a);
    }
}
