//! The read point's OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! annotations and the answer types.

use owp_platform::http::openapi;
use utoipa::OpenApi;

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OWP read point",
        description = "The one read point: a submitted document's outcome (with a bounded wait, so a \
                       client needs one call), denormalized documents by key, filtered listings, and a \
                       session's messages.",
    ),
    paths(routes::document_outcome, routes::collection_document, routes::collection_list, routes::messages),
    tags((name = "read", description = "Outcomes, collections and messages")),
)]
struct ReadpointApi;

/// The read point's OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    openapi::with_shared(ReadpointApi::openapi())
}
