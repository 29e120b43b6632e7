//! The write point's OpenAPI document: the routes' own `#[utoipa::path]` annotations, plus the
//! schema of a document generated from the protocol's item schemas at start-up — one `oneOf`
//! branch per item type, picked by `item_type` — so that adding a schema file documents it too.
//!
//! The item schemas are restated in utoipa's model; a keyword that model cannot hold would be
//! dropped silently, so a schema that does not survive the round trip unchanged is an error.

use std::borrow::Cow;

use owp_platform::http::openapi;
use owp_protocol::Registry;
use serde_json::Value;
use utoipa::{
    OpenApi, PartialSchema, ToSchema,
    openapi::{
        Discriminator, ObjectBuilder, OneOfBuilder, Ref, RefOr, Schema,
        schema::{Components, SchemaType},
    },
};

use crate::{Error, Result, routes};

/// The name of the document schema in `components.schemas`.
pub const DOCUMENT: &str = "Document";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OWP write point",
        description = "The one write point: every change enters here as a document, is validated \
                       against its item type's schema and appended to the commands log.",
    ),
    paths(routes::documents::submit, routes::batch::submit),
    tags((name = "documents", description = "Submitting documents")),
)]
struct WritepointApi;

/// The write point's OpenAPI document, with the document schemas of `registry`.
pub fn document(registry: &Registry) -> Result<utoipa::openapi::OpenApi> {
    let mut api = openapi::with_shared(WritepointApi::openapi());
    let components = api.components.get_or_insert_with(Components::default);
    let mut one_of = OneOfBuilder::new().description(Some(
        "A flat JSON object: the envelope fields `item_type` and `document_id` beside the item's own \
         fields; the session travels as `Authorization: Bearer <session_id>`, never in the document. \
         One schema per item type (services/protocol/schemas/).",
    ));
    let mut mapping = Vec::new();
    for item in registry.items() {
        let name = format!("{DOCUMENT}.{}", item.item_type().as_str());
        let schema = restate(&item.document_schema())
            .map_err(|reason| Error::OpenApi { item_type: item.item_type().as_str().to_owned(), reason })?;
        components.schemas.insert(name.clone(), RefOr::T(schema));
        let reference = Ref::from_schema_name(&name);
        mapping.push((item.item_type().as_str().to_owned(), reference.ref_location.clone()));
        one_of = one_of.item(reference);
    }
    let one_of = one_of.discriminator(Some(Discriminator::with_mapping("item_type", mapping)));
    components.schemas.insert(DOCUMENT.to_owned(), RefOr::T(Schema::OneOf(one_of.build())));
    Ok(api)
}

/// `schema` in utoipa's model, refusing anything the model would not carry over unchanged.
fn restate(schema: &Value) -> std::result::Result<Schema, String> {
    let restated: Schema = serde_json::from_value(schema.clone()).map_err(|err| err.to_string())?;
    let back = serde_json::to_value(&restated).map_err(|err| err.to_string())?;
    if back == *schema {
        Ok(restated)
    } else {
        Err(format!("the OpenAPI model would change it: {schema} became {back}"))
    }
}

/// Stands for the [`DOCUMENT`] schema in the handlers' annotations; [`document`] replaces its
/// placeholder with the schemas of the registry.
#[derive(Debug, Clone, Copy)]
pub struct Document;

impl PartialSchema for Document {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .description(Some("Replaced by the item schemas at start-up"))
            .into()
    }
}

impl ToSchema for Document {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(DOCUMENT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_type_is_a_branch_of_the_document_schema() {
        let registry = Registry::embedded().unwrap();
        let api = serde_json::to_value(document(&registry).unwrap()).unwrap();
        let schemas = &api["components"]["schemas"];
        let branches = schemas[DOCUMENT]["oneOf"].as_array().unwrap();
        assert_eq!(branches.len(), registry.item_types().count());
        for item in registry.items() {
            let name = item.item_type().as_str();
            let branch = &schemas[format!("{DOCUMENT}.{name}")];
            assert_eq!(*branch, item.document_schema(), "{name}");
            assert_eq!(
                schemas[DOCUMENT]["discriminator"]["mapping"][name],
                format!("#/components/schemas/{DOCUMENT}.{name}")
            );
        }
    }

    #[test]
    fn a_keyword_the_model_cannot_hold_is_refused() {
        let schema = serde_json::json!({"type": "object", "if": {"required": ["a"]}});
        let Err(reason) = restate(&schema) else { panic!("`if` was carried over") };
        assert!(reason.contains("would change it"), "{reason}");
    }
}
