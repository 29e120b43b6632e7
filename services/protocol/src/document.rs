//! Turning a submitted JSON document into a command and its message key.
//!
//! A submitted document is flat: the envelope fields `document_id` (optional; created here when
//! absent), `item_type` and `session_id` (optional unless the schema requires it) sit beside the
//! item's own fields. The envelope is taken out, the rest is the body and must satisfy the item
//! type's schema. Every problem found is reported, each with a pointer into the document.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::{
    Command, DocumentId, Error, ItemSchema, ItemType, MessageKey, Registry, Result, SessionId, SessionRule,
    Violation,
};

/// A document that passed validation: the command to produce and the key to produce it under.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub command: Command,
    pub key: MessageKey,
}

impl Registry {
    /// Validates `document` against the envelope rules and its item type's schema.
    pub fn parse_document(&self, document: Value, received_at: OffsetDateTime) -> Result<Submission> {
        let Value::Object(mut fields) = document else {
            return Err(Error::Invalid(vec![Violation::new("", "a document must be a JSON object")]));
        };
        let mut violations = Vec::new();

        let document_id = match fields.remove("document_id") {
            None => Some(DocumentId::new_random()),
            Some(value) => uuid_field(&value, "/document_id", &mut violations, DocumentId::parse),
        };
        let session_id = fields
            .remove("session_id")
            .and_then(|value| uuid_field(&value, "/session_id", &mut violations, SessionId::parse));
        let schema = match fields.remove("item_type") {
            None => {
                violations.push(Violation::new("/item_type", "is required"));
                None
            }
            Some(Value::String(name)) => match self.get(&name) {
                Some(schema) => Some(schema),
                None if violations.is_empty() => return Err(Error::UnknownItemType(name)),
                None => {
                    violations.push(Violation::new("/item_type", format!("unknown item_type {name:?}")));
                    None
                }
            },
            Some(_) => {
                violations.push(Violation::new("/item_type", "must be a string"));
                None
            }
        };

        if let Some(schema) = schema {
            let session_named = violations.iter().any(|v| v.pointer == "/session_id");
            if schema.session() == SessionRule::Required && session_id.is_none() && !session_named {
                violations.push(Violation::new("/session_id", "is required for this item type"));
            }
            violations.extend(schema.validate(&Value::Object(fields.clone())));
        }

        match (document_id, schema, violations.is_empty()) {
            (Some(document_id), Some(schema), true) => {
                let key = message_key(schema.key_pointer(), &fields, session_id, document_id);
                let command = Command {
                    document_id,
                    item_type: ItemType::clone(schema.item_type()),
                    session_id,
                    received_at,
                    body: fields,
                };
                Ok(Submission { command, key })
            }
            _ => Err(Error::Invalid(violations)),
        }
    }
}

impl ItemSchema {
    /// The JSON Schema of a submitted document of this item type, exactly as
    /// [`Registry::parse_document`] judges it: the item's own schema with the envelope fields
    /// (`item_type` fixed to this type, `document_id`, `session_id`) beside its fields, and
    /// `session_id` required when the item type says so. For documentation (OpenAPI 3.1 schemas
    /// are JSON Schema 2020-12); validation itself stays with [`Registry::parse_document`].
    pub fn document_schema(&self) -> Value {
        let mut schema = match self.source() {
            Value::Object(fields) => fields.clone(),
            _ => Map::new(),
        };
        // The dialect is OpenAPI 3.1's own; the key annotation is the write point's business.
        schema.remove("$schema");
        let uuid = |description: &str| serde_json::json!({"type": "string", "format": "uuid", "description": description});
        let mut properties = match schema.remove("properties") {
            Some(Value::Object(properties)) => properties,
            _ => Map::new(),
        };
        properties.insert(
            "item_type".into(),
            serde_json::json!({"type": "string", "enum": [self.item_type().as_str()]}),
        );
        properties.insert(
            "document_id".into(),
            uuid("Created by the client before sending; the write point creates one when absent"),
        );
        properties
            .insert("session_id".into(), uuid("The session the document is sent in (from auth's login)"));
        let mut required: Vec<Value> = vec!["item_type".into()];
        if self.session() == SessionRule::Required {
            required.push("session_id".into());
        }
        if let Some(Value::Array(own)) = schema.remove("required") {
            for name in own {
                if !required.contains(&name) {
                    required.push(name);
                }
            }
        }
        schema.insert("type".into(), "object".into());
        schema.insert("properties".into(), Value::Object(properties));
        schema.insert("required".into(), Value::Array(required));
        Value::Object(schema)
    }
}

fn uuid_field<T>(
    value: &Value,
    pointer: &str,
    violations: &mut Vec<Violation>,
    parse: fn(&str) -> Result<T>,
) -> Option<T> {
    match value.as_str().map(parse) {
        Some(Ok(id)) => Some(id),
        _ => {
            violations.push(Violation::new(pointer, "must be a UUID string"));
            None
        }
    }
}

/// The key rule: the entity named by the schema's `x-owp-key` pointer, else the new entity the
/// document creates, whose id is the document's own.
fn message_key(
    pointer: Option<&str>,
    body: &Map<String, Value>,
    session_id: Option<SessionId>,
    document_id: DocumentId,
) -> MessageKey {
    let named = pointer.and_then(|pointer| match pointer {
        "/session_id" => session_id.map(|id| id.to_string()),
        "/document_id" => Some(document_id.to_string()),
        _ => body_pointer(body, pointer).and_then(Value::as_str).map(str::to_owned),
    });
    named.map_or_else(|| MessageKey::from(document_id), MessageKey::new)
}

fn body_pointer<'a>(body: &'a Map<String, Value>, pointer: &str) -> Option<&'a Value> {
    let (first, rest) = pointer
        .strip_prefix('/')?
        .split_once('/')
        .map_or_else(|| (pointer.trim_start_matches('/'), None), |(first, rest)| (first, Some(rest)));
    let top = body.get(&first.replace("~1", "/").replace("~0", "~"))?;
    match rest {
        None => Some(top),
        Some(rest) => top.pointer(&format!("/{rest}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn registry() -> Registry {
        Registry::embedded().unwrap()
    }

    fn pointers(err: Error) -> Vec<String> {
        err.violations().into_iter().map(|v| v.pointer).collect()
    }

    #[test]
    fn a_new_entity_is_keyed_by_its_document_id() {
        let id = "0f3c1a52-5c1e-4f43-9d0e-5a4b8f1e2d3c";
        let doc = json!({"item_type": "business", "document_id": id, "name": "Country Vegetables"});
        let submission = registry().parse_document(doc, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(submission.key.as_str(), id);
        assert_eq!(submission.command.document_id.to_string(), id);
        assert_eq!(submission.command.body, *json!({"name": "Country Vegetables"}).as_object().unwrap());
    }

    #[test]
    fn an_update_is_keyed_by_the_entity_it_names() {
        let entity = "7d0c0d1e-58e4-4bb3-8f35-61f0e7a5a9b1";
        let doc = json!({"item_type": "profile", "profile_id": entity, "first_name": "A", "last_name": "V"});
        let submission = registry().parse_document(doc, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(submission.key.as_str(), entity);
    }

    #[test]
    fn logout_is_keyed_by_its_session_and_requires_one() {
        let session = "5b6f2c0e-2a55-4e4e-9a53-8a2f86f1d0a7";
        let doc = json!({"item_type": "logout", "session_id": session});
        let submission = registry().parse_document(doc, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(submission.key.as_str(), session);
        let err = registry().parse_document(json!({"item_type": "logout"}), OffsetDateTime::UNIX_EPOCH);
        assert_eq!(pointers(err.unwrap_err()), ["/session_id"]);
    }

    #[test]
    fn a_missing_document_id_is_created() {
        let doc = json!({"item_type": "business", "name": "x"});
        let a = registry().parse_document(doc.clone(), OffsetDateTime::UNIX_EPOCH).unwrap();
        let b = registry().parse_document(doc, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_ne!(a.command.document_id, b.command.document_id);
    }

    #[test]
    fn every_envelope_problem_is_named() {
        let doc = json!({"item_type": "business", "document_id": "nope", "session_id": 3, "name": ""});
        let err = registry().parse_document(doc, OffsetDateTime::UNIX_EPOCH).unwrap_err();
        let found = pointers(err);
        for expected in ["/document_id", "/session_id", "/name"] {
            assert!(found.iter().any(|p| p == expected), "{expected} missing from {found:?}");
        }
    }

    #[test]
    fn the_document_schema_puts_the_envelope_beside_the_fields() {
        let registry = registry();
        let logout = registry.get("logout").unwrap().document_schema();
        assert_eq!(logout["properties"]["item_type"]["enum"], json!(["logout"]));
        assert_eq!(logout["required"], json!(["item_type", "session_id"]));
        assert_eq!(logout["additionalProperties"], json!(false));
        assert!(logout.get("$schema").is_none());
        let business = registry.get("business").unwrap().document_schema();
        assert_eq!(business["required"], json!(["item_type", "name"]));
        assert_eq!(business["properties"]["document_id"]["format"], "uuid");
        assert_eq!(business["properties"]["name"]["maxLength"], 300);
    }

    #[test]
    fn unknown_and_missing_item_types_are_refused() {
        let err = registry().parse_document(json!({"item_type": "spaceship"}), OffsetDateTime::UNIX_EPOCH);
        assert!(matches!(err, Err(Error::UnknownItemType(name)) if name == "spaceship"));
        let err = registry().parse_document(json!({"name": "x"}), OffsetDateTime::UNIX_EPOCH);
        assert_eq!(pointers(err.unwrap_err()), ["/item_type"]);
        let err = registry().parse_document(json!([1, 2]), OffsetDateTime::UNIX_EPOCH);
        assert_eq!(pointers(err.unwrap_err()), [""]);
    }
}
