//! A collection's name, parsed once at the edge.

use std::fmt;

use crate::{Error, Result};

/// A collection name, safe to use inside identifiers of every store (`businesses`, `profiles`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct CollectionName(String);

impl CollectionName {
    pub fn parse(name: &str) -> Result<Self> {
        let mut chars = name.chars();
        let valid = name.len() <= 48
            && chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            // `__` separates the name from the version in PostgreSQL table names.
            && !name.contains("__");
        if valid { Ok(Self(name.to_owned())) } else { Err(Error::CollectionName(name.to_owned())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CollectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_names_are_plain_identifiers() {
        assert!(CollectionName::parse("businesses").is_ok());
        assert!(CollectionName::parse("page_2").is_ok());
        for bad in ["", "Businesses", "2x", "a-b", "a__b", "a b", &"x".repeat(49)] {
            assert!(CollectionName::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
