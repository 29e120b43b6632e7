//! Identifier newtypes. A value of these types is always valid: parsing happens once, at the edge.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Error, Result};

/// The id a client gives a document before sending it; an entity the document creates takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DocumentId(Uuid);

/// The id of a login session, handed out by the auth service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(Uuid);

/// The id of a fact on `owp.events.v1`. Derived, never random: reprocessing the command that
/// caused a fact yields the same id, so consumers can drop the duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(Uuid);

/// Namespace for [`EventId`] derivation (UUID v5). Changing it would change every event id: never.
const EVENT_NAMESPACE: Uuid = Uuid::from_u128(0x6f77_7000_0e5e_4a1d_9c1b_0c0f_fee0_0001);

macro_rules! uuid_newtype {
    ($name:ident, $what:literal) => {
        impl $name {
            pub fn parse(text: &str) -> Result<Self> {
                Uuid::try_parse(text).map(Self).map_err(|err| Error::InvalidValue {
                    what: $what,
                    value: text.to_owned(),
                    reason: format!("not a UUID ({err})"),
                })
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }
    };
}

uuid_newtype!(DocumentId, "document_id");
uuid_newtype!(SessionId, "session_id");
uuid_newtype!(EventId, "event_id");

impl DocumentId {
    /// A fresh id, for documents that arrive without one.
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl SessionId {
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl EventId {
    /// The id of the fact of kind `kind` (e.g. `business.created`) caused by `document_id`.
    /// One document can cause several facts of different kinds, never two of the same kind.
    pub fn derive(document_id: DocumentId, kind: &str) -> Self {
        let name = format!("{document_id}/{kind}");
        Self(Uuid::new_v5(&EVENT_NAMESPACE, name.as_bytes()))
    }
}

/// The name of an item type: lower-case ASCII letters, digits and `_`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ItemType(String);

impl ItemType {
    pub fn parse(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let mut bytes = name.bytes();
        let valid = name.len() <= 64
            && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
            && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if valid {
            Ok(Self(name))
        } else {
            Err(Error::InvalidValue {
                what: "item_type",
                value: name,
                reason: "must be 1 to 64 of [a-z0-9_], starting with a letter".into(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ItemType {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(value)
    }
}

impl From<ItemType> for String {
    fn from(value: ItemType) -> Self {
        value.0
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_deterministic_per_document_and_kind() {
        let doc = DocumentId::parse("0f3c1a52-5c1e-4f43-9d0e-5a4b8f1e2d3c").unwrap();
        let other = DocumentId::new_random();
        assert_eq!(EventId::derive(doc, "business.created"), EventId::derive(doc, "business.created"));
        assert_ne!(EventId::derive(doc, "business.created"), EventId::derive(doc, "message.added"));
        assert_ne!(EventId::derive(doc, "business.created"), EventId::derive(other, "business.created"));
    }

    #[test]
    fn ids_must_be_uuids() {
        assert!(DocumentId::parse("f02343dlGTRF9090909dLc").is_err());
        assert!(SessionId::parse("").is_err());
        let text = "0f3c1a52-5c1e-4f43-9d0e-5a4b8f1e2d3c";
        assert_eq!(DocumentId::parse(text).unwrap().to_string(), text);
    }

    #[test]
    fn item_types_are_lower_snake_case() {
        assert!(ItemType::parse("business").is_ok());
        assert!(ItemType::parse("user_profile2").is_ok());
        for bad in ["", "Business", "1business", "item-type", "a b"] {
            assert!(ItemType::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
