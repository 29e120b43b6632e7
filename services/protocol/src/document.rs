//! Turning a submitted JSON document into a command and its message key.
//!
//! A submitted document is flat: the envelope fields `document_id` (optional; created here when
//! absent) and `item_type` sit beside the item's own fields. The envelope is taken out, the rest
//! is the body and must satisfy the item type's schema. Every problem found is reported, each
//! with a pointer into the document.
//!
//! The session is not part of the document: it is a credential and travels in the
//! `Authorization` header, which proxies and logs treat as secret, so a `session_id` in the
//! document is refused rather than used.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::{
    Command, DocumentId, Error, ItemSchema, ItemType, MessageKey, Registry, Result, SessionId, Violation,
};

/// A document that passed validation: the command to produce and the key to produce it under.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub command: Command,
    pub key: MessageKey,
}

impl Registry {
    /// Validates `document`, sent with `session` (from the request's credential), against the
    /// envelope rules and its item type's schema and session rule.
    pub fn parse_document(
        &self,
        document: Value,
        session: Option<SessionId>,
        received_at: OffsetDateTime,
    ) -> Result<Submission> {
        let Value::Object(mut fields) = document else {
            return Err(Error::Invalid(vec![Violation::new("", "a document must be a JSON object")]));
        };
        let mut violations = Vec::new();

        let document_id = match fields.remove("document_id") {
            None => Some(DocumentId::new_random()),
            Some(value) => uuid_field(&value, "/document_id", &mut violations, DocumentId::parse),
        };
        if fields.remove("session_id").is_some() {
            violations.push(Violation::new("/session_id", SESSION_IN_DOCUMENT));
        }
        let session_id = session;
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
            violations.extend(schema.validate(&Value::Object(fields.clone())));
            let creates = creates(schema.key_pointer(), &fields);
            if violations.is_empty() && session_id.is_none() && !schema.session().allows_anonymous(creates) {
                return Err(Error::SessionRequired { item_type: schema.item_type().to_string(), creates });
            }
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
    /// (`item_type` fixed to this type, `document_id`) beside its fields; the session is a header,
    /// not a field. For documentation (OpenAPI 3.1 schemas
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
        let mut required: Vec<Value> = vec!["item_type".into()];
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

/// Whether the document creates an entity: its key pointer names none in the body.
fn creates(pointer: Option<&str>, body: &Map<String, Value>) -> bool {
    match pointer {
        None | Some("/document_id") => true,
        Some("/session_id") => false,
        Some(pointer) => body_pointer(body, pointer).and_then(Value::as_str).is_none(),
    }
}

/// Why a `session_id` in a document is refused, naming where it goes instead.
pub const SESSION_IN_DOCUMENT: &str = "a session is a credential: send it as the Authorization header (`Authorization: Bearer <session_id>`), not in the document";

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

    const SESSION: &str = "5b6f2c0e-2a55-4e4e-9a53-8a2f86f1d0a7";

    fn session() -> Option<SessionId> {
        Some(SessionId::parse(SESSION).unwrap())
    }

    #[test]
    fn a_new_entity_is_keyed_by_its_document_id() {
        let id = "0f3c1a52-5c1e-4f43-9d0e-5a4b8f1e2d3c";
        let doc = json!({"item_type": "business", "document_id": id, "name": "Country Vegetables"});
        let submission = registry().parse_document(doc, session(), OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(submission.key.as_str(), id);
        assert_eq!(submission.command.document_id.to_string(), id);
        assert_eq!(submission.command.session_id, session());
        assert_eq!(submission.command.body, *json!({"name": "Country Vegetables"}).as_object().unwrap());
    }

    #[test]
    fn an_update_is_keyed_by_the_entity_it_names() {
        let entity = "7d0c0d1e-58e4-4bb3-8f35-61f0e7a5a9b1";
        let doc = json!({"item_type": "profile", "profile_id": entity, "first_name": "A", "last_name": "V"});
        let submission = registry().parse_document(doc, session(), OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(submission.key.as_str(), entity);
    }

    #[test]
    fn logout_is_keyed_by_its_session_and_requires_one() {
        let doc = json!({"item_type": "logout"});
        let submission =
            registry().parse_document(doc.clone(), session(), OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(submission.key.as_str(), SESSION);
        let err = registry().parse_document(doc, None, OffsetDateTime::UNIX_EPOCH).unwrap_err();
        assert!(matches!(err, Error::SessionRequired { .. }), "{err}");
    }

    #[test]
    fn a_session_in_the_document_is_refused_naming_the_header() {
        let doc = json!({"item_type": "logout", "session_id": SESSION});
        let err = registry().parse_document(doc, session(), OffsetDateTime::UNIX_EPOCH).unwrap_err();
        let violations = err.violations();
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].pointer, "/session_id");
        assert!(violations[0].detail.contains("Authorization: Bearer"), "{violations:?}");
    }

    #[test]
    fn only_what_the_schema_allows_comes_without_a_session() {
        let registry = registry();
        let at = OffsetDateTime::UNIX_EPOCH;
        // profile: a new one may be anonymous, an update may not.
        let create = json!({"item_type": "profile", "first_name": "A", "last_name": "V"});
        assert!(registry.parse_document(create, None, at).is_ok());
        let update =
            json!({"item_type": "profile", "profile_id": SESSION, "first_name": "A", "last_name": "V"});
        let err = registry.parse_document(update, None, at).unwrap_err();
        assert!(matches!(err, Error::SessionRequired { creates: false, .. }), "{err}");
        // business: never without one.
        let err =
            registry.parse_document(json!({"item_type": "business", "name": "x"}), None, at).unwrap_err();
        assert!(matches!(err, Error::SessionRequired { creates: true, .. }), "{err}");
        assert!(err.to_string().contains("Authorization: Bearer"), "{err}");
    }

    #[test]
    fn a_missing_document_id_is_created() {
        let doc = json!({"item_type": "business", "name": "x"});
        let a = registry().parse_document(doc.clone(), session(), OffsetDateTime::UNIX_EPOCH).unwrap();
        let b = registry().parse_document(doc, session(), OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_ne!(a.command.document_id, b.command.document_id);
    }

    #[test]
    fn every_envelope_problem_is_named() {
        let doc = json!({"item_type": "business", "document_id": "nope", "session_id": 3, "name": ""});
        let err = registry().parse_document(doc, session(), OffsetDateTime::UNIX_EPOCH).unwrap_err();
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
        assert_eq!(logout["required"], json!(["item_type"]));
        assert!(logout["properties"].get("session_id").is_none());
        assert_eq!(logout["additionalProperties"], json!(false));
        assert!(logout.get("$schema").is_none());
        let business = registry.get("business").unwrap().document_schema();
        assert_eq!(business["required"], json!(["item_type", "name"]));
        assert_eq!(business["properties"]["document_id"]["format"], "uuid");
        assert_eq!(business["properties"]["name"]["maxLength"], 300);
    }

    #[test]
    fn unknown_and_missing_item_types_are_refused() {
        let err =
            registry().parse_document(json!({"item_type": "spaceship"}), None, OffsetDateTime::UNIX_EPOCH);
        assert!(matches!(err, Err(Error::UnknownItemType(name)) if name == "spaceship"));
        let err = registry().parse_document(json!({"name": "x"}), None, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(pointers(err.unwrap_err()), ["/item_type"]);
        let err = registry().parse_document(json!([1, 2]), None, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(pointers(err.unwrap_err()), [""]);
    }
}
