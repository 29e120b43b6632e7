//! The item-type registry: one JSON Schema file per item type, compiled once at start-up.
//!
//! A schema file may carry two OWP annotations besides standard JSON Schema:
//! - `x-owp-key`: a JSON pointer into the submitted document naming the entity the document
//!   concerns (the message key); when the pointer finds no string, the document creates a new
//!   entity and its own `document_id` is the key.
//! - `x-owp-session`: who may send a document of this type. `required` (the default): only with a
//!   live session, and an update only with its owner's. `optional-to-create`: a document that
//!   creates a new entity may come without a session (the entity then has no owner); an update
//!   still needs its owner's session. Secure unless a schema says otherwise.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{Error, ItemType, Result, Violation};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/schemas.rs"));
}

/// Whether a document of an item type must come with a session (see the module's notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRule {
    Required,
    OptionalToCreate,
}

impl SessionRule {
    /// Whether a document that creates (`creates`) or updates may come without a session.
    pub fn allows_anonymous(self, creates: bool) -> bool {
        creates && self == Self::OptionalToCreate
    }
}

/// One item type's compiled schema and annotations.
#[derive(Debug)]
pub struct ItemSchema {
    item_type: ItemType,
    /// The schema file as written, for documentation (the write point's OpenAPI document).
    source: Value,
    key_pointer: Option<String>,
    session: SessionRule,
    validator: jsonschema::Validator,
}

impl ItemSchema {
    fn compile(file: &str, source: &str) -> Result<Self> {
        let bad = |reason: String| Error::BadSchema { file: file.to_owned(), reason };
        let schema: Value = serde_json::from_str(source).map_err(|e| bad(e.to_string()))?;
        let item_type = ItemType::parse(file).map_err(|e| bad(e.to_string()))?;
        let key_pointer = match schema.get("x-owp-key") {
            None => None,
            Some(Value::String(p)) if p.starts_with('/') => Some(p.clone()),
            Some(other) => return Err(bad(format!("x-owp-key must be a JSON pointer, got {other}"))),
        };
        let session = match schema.get("x-owp-session").and_then(Value::as_str) {
            None | Some("required") => SessionRule::Required,
            Some("optional-to-create") => SessionRule::OptionalToCreate,
            Some(other) => {
                return Err(bad(format!(
                    "x-owp-session must be \"required\" or \"optional-to-create\", got {other:?}"
                )));
            }
        };
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| bad(e.to_string()))?;
        Ok(Self { item_type, key_pointer, session, validator, source: schema })
    }

    pub fn item_type(&self) -> &ItemType {
        &self.item_type
    }

    pub fn key_pointer(&self) -> Option<&str> {
        self.key_pointer.as_deref()
    }

    pub fn session(&self) -> SessionRule {
        self.session
    }

    /// The item's own fields, as the schema file states them.
    pub fn source(&self) -> &Value {
        &self.source
    }

    /// Every way `body` breaks the schema, each located by a JSON pointer to the field.
    pub fn validate(&self, body: &Value) -> Vec<Violation> {
        self.validator.iter_errors(body).map(|error| locate(&error)).collect()
    }
}

/// Turns a validation error into a violation that points at the field itself: for `required`
/// and `additionalProperties` the library reports the parent object, which names no field.
fn locate(error: &jsonschema::ValidationError<'_>) -> Violation {
    use jsonschema::error::ValidationErrorKind as Kind;
    let parent = error.instance_path.to_string();
    match &error.kind {
        Kind::Required { property } => {
            let name = property.as_str().map_or_else(|| property.to_string(), str::to_owned);
            Violation::new(format!("{parent}/{}", escape(&name)), "is required")
        }
        Kind::AdditionalProperties { unexpected } => {
            let name = unexpected.first().cloned().unwrap_or_default();
            Violation::new(format!("{parent}/{}", escape(&name)), "is not a field of this item type")
        }
        _ => Violation::new(parent, error.to_string()),
    }
}

/// RFC 6901 escaping of one reference token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// All item types known to this build, by name.
#[derive(Debug)]
pub struct Registry {
    items: BTreeMap<String, ItemSchema>,
}

impl Registry {
    /// The registry of the schema files embedded in this crate (`services/protocol/schemas/`).
    pub fn embedded() -> Result<Self> {
        Self::from_sources(embedded::EMBEDDED.iter().copied())
    }

    /// A registry from `(item_type, schema source)` pairs.
    pub fn from_sources<'a>(sources: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let items = sources
            .into_iter()
            .map(|(name, source)| Ok((name.to_owned(), ItemSchema::compile(name, source)?)))
            .collect::<Result<_>>()?;
        Ok(Self { items })
    }

    pub fn get(&self, item_type: &str) -> Option<&ItemSchema> {
        self.items.get(item_type)
    }

    pub fn item_types(&self) -> impl Iterator<Item = &ItemType> {
        self.items.values().map(ItemSchema::item_type)
    }

    /// Every item schema, by item type name.
    pub fn items(&self) -> impl Iterator<Item = &ItemSchema> {
        self.items.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_shipped_schema_compiles() {
        let registry = Registry::embedded().unwrap();
        let names: Vec<_> = registry.item_types().map(ItemType::as_str).collect();
        assert_eq!(names, ["business", "logout", "profile"]);
    }

    #[test]
    fn violations_point_at_the_field() {
        let registry = Registry::embedded().unwrap();
        let profile = registry.get("profile").unwrap();
        let violations = profile.validate(&json!({"first_name": 7, "nickname": "x"}));
        let pointers: Vec<_> = violations.iter().map(|v| v.pointer.as_str()).collect();
        assert!(pointers.contains(&"/first_name"), "{violations:?}");
        assert!(pointers.contains(&"/last_name"), "{violations:?}");
        assert!(pointers.contains(&"/nickname"), "{violations:?}");
    }

    #[test]
    fn a_broken_schema_file_is_named() {
        let err = Registry::from_sources([("thing", "{\"type\": 12}")]).unwrap_err();
        assert!(err.to_string().contains("schemas/thing.json"), "{err}");
    }
}
