//! The values that cross the read store's boundary, parsed once at the edge.

use std::fmt;

use owp_collections::{CollectionName, Cursor};
use serde_json::Value;

use crate::{Error, Result};

/// One physical version of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub collection: CollectionName,
    pub version: u32,
}

impl Target {
    pub fn new(collection: CollectionName, version: u32) -> Self {
        Self { collection, version }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} v{}", self.collection, self.version)
    }
}

/// A document to write; `doc: None` deletes it.
#[derive(Debug, Clone, PartialEq)]
pub struct DocWrite {
    pub key: String,
    /// Monotonic across the translator's writes; the store keeps the highest.
    pub version: i64,
    pub doc: Option<Value>,
}

/// Documents to write into one version.
#[derive(Debug, Clone, Copy)]
pub struct VersionWrite<'a> {
    pub target: &'a Target,
    pub docs: &'a [DocWrite],
}

/// A document as read back.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredDoc {
    pub key: String,
    pub version: i64,
    pub doc: Value,
}

/// Ordering of a listing: by a top-level field of the documents, ties broken by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    pub field: String,
    pub descending: bool,
}

/// A listing request: equality filters on top-level fields, a free-text query, an order, a page.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// `field = value`; a value matches a string, a number or boolean written the same way, or an
    /// array holding it.
    pub filters: Vec<(String, String)>,
    /// Words that must all appear in the document's string values.
    pub text: Option<String>,
    /// `None` orders by key.
    pub sort: Option<Sort>,
    pub limit: u32,
    pub cursor: Option<Cursor>,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self { filters: Vec::new(), text: None, sort: None, limit: 50, cursor: None }
    }
}

impl ListQuery {
    /// Field names become JSON keys and Elasticsearch field paths: keep them plain.
    pub(crate) fn check(&self) -> Result<()> {
        let fields = self.filters.iter().map(|(f, _)| f).chain(self.sort.as_ref().map(|s| &s.field));
        for field in fields {
            let plain = !field.is_empty()
                && field.len() <= 64
                && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !plain {
                return Err(Error::Query(format!(
                    "field {field:?}: use letters, digits and _ (top-level fields only)"
                )));
            }
        }
        if self.limit == 0 {
            return Err(Error::Query("limit must be at least 1".into()));
        }
        Ok(())
    }

    /// The JSON forms a filter value can take in a document.
    pub(crate) fn candidates(value: &str) -> Vec<Value> {
        let mut out = vec![Value::String(value.to_owned())];
        if let Ok(parsed @ (Value::Number(_) | Value::Bool(_))) = serde_json::from_str::<Value>(value) {
            out.push(parsed);
        }
        out
    }

    /// The sort value of a document for the cursor.
    pub(crate) fn sort_value(&self, doc: &StoredDoc) -> Value {
        match &self.sort {
            Some(sort) => doc.doc.get(&sort.field).cloned().unwrap_or(Value::Null),
            None => Value::Null,
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Page {
    pub items: Vec<StoredDoc>,
    /// Present when there may be more.
    pub next_cursor: Option<String>,
}

impl Page {
    /// Builds a page from up to `limit + 1` fetched items.
    pub(crate) fn from_fetched(mut items: Vec<StoredDoc>, query: &ListQuery) -> Self {
        let limit = query.limit as usize;
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = match (more, items.last()) {
            (true, Some(last)) => {
                Some(Cursor { sort_value: query.sort_value(last), key: last.key.clone() }.encode())
            }
            _ => None,
        };
        Self { items, next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_match_numbers_and_booleans_too() {
        assert_eq!(ListQuery::candidates("abc"), vec![Value::String("abc".into())]);
        assert_eq!(ListQuery::candidates("42").len(), 2);
        assert_eq!(ListQuery::candidates("true").len(), 2);
    }

    #[test]
    fn field_names_must_be_plain() {
        let query = ListQuery { filters: vec![("a.b".into(), "x".into())], ..ListQuery::default() };
        assert!(query.check().is_err());
        let query = ListQuery { filters: vec![("name".into(), "x".into())], ..ListQuery::default() };
        assert!(query.check().is_ok());
    }
}
