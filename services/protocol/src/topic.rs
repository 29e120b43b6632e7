//! Topic names: a newtype that only holds names Kafka accepts, and the well-known topics.

use std::fmt;

use crate::{Error, Result};

/// A Kafka topic name: 1–249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName(String);

impl TopicName {
    /// Where clients' intentions go; short retention.
    pub const COMMANDS: &'static str = "owp.commands.v1";
    /// Facts; permanent, the source of truth.
    pub const EVENTS: &'static str = "owp.events.v1";
    /// Messages that robots gave up on, for an operator to look at and retry.
    pub const DEADLETTER: &'static str = "owp.deadletter.v1";

    pub fn parse(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let reason = if name.is_empty() || name.len() > 249 {
            Some("must be 1 to 249 characters long")
        } else if name == "." || name == ".." {
            Some("must not be '.' or '..'")
        } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
            Some("may only contain ASCII letters, digits, '.', '_' and '-'")
        } else {
            None
        };
        match reason {
            Some(reason) => {
                Err(Error::InvalidValue { what: "topic name", value: name, reason: reason.into() })
            }
            None => Ok(Self(name)),
        }
    }

    pub fn commands() -> Self {
        Self(Self::COMMANDS.to_owned())
    }

    pub fn events() -> Self {
        Self(Self::EVENTS.to_owned())
    }

    pub fn deadletter() -> Self {
        Self(Self::DEADLETTER.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for TopicName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_well_known_topics() {
        for name in [TopicName::COMMANDS, TopicName::EVENTS, TopicName::DEADLETTER] {
            assert_eq!(TopicName::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn refuses_what_kafka_refuses() {
        for bad in ["", ".", "..", "has space", "slash/", &"x".repeat(250)] {
            assert!(TopicName::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
