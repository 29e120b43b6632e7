//! Schema names. Bookkeeping tables are qualified with the robot's schema, and PostgreSQL takes
//! no bind parameters for identifiers, so the name is validated once here and only then formatted
//! into SQL.

use std::fmt;

use crate::{Error, Result};

/// A lower-case PostgreSQL identifier: `[a-z_][a-z0-9_]*`, at most 63 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SchemaName(String);

impl SchemaName {
    pub fn parse(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let mut bytes = name.bytes();
        let valid = name.len() <= 63
            && bytes.next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
            && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if valid {
            Ok(Self(name))
        } else {
            Err(Error::Invalid(format!("{name:?} is not a valid schema name")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for SchemaName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_identifiers() {
        assert!(SchemaName::parse("owp").is_ok());
        assert!(SchemaName::parse("owp_replay_1").is_ok());
        for bad in ["", "Owp", "1owp", "owp; drop table x", "a-b", "\"q\""] {
            assert!(SchemaName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
