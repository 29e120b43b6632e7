//! `GET /openapi.json`: a service's OpenAPI 3.1 document, generated from its code.
//!
//! A service derives `utoipa::OpenApi` over its own handlers (each annotated with
//! `#[utoipa::path]`), passes the result through [`with_shared`] — which adds what every OWP HTTP
//! service serves (`/healthz`, `/readyz`, `/metrics`, `/openapi.json` itself) and the problem
//! schema — and mounts [`routes`]. The responses every route shares (400, 413, 415, 422, 500, 503)
//! are written once here as [`IntoResponses`] types, listed in a handler's `responses(...)`.
//!
//! Nothing here is written beside the code by hand: a status a handler can return belongs in its
//! `#[utoipa::path]`, and schemathesis (`scripts/test-api`) fails when one is missing.

use std::collections::BTreeMap;

use axum::{
    Router,
    body::Bytes,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use utoipa::{
    IntoResponses, OpenApi, ToSchema,
    openapi::{
        ContentBuilder, HeaderBuilder, ObjectBuilder, RefOr, ResponseBuilder, Type,
        response::Response as ApiResponse,
    },
};

use super::{PROBLEM_JSON, Problem, health};

/// The media type `/metrics` answers with.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The media type of `/openapi.json`.
pub const JSON: &str = "application/json";

/// The routes and schemas every OWP HTTP service shares.
#[derive(OpenApi)]
#[openapi(
    paths(health::healthz, health::readyz, health::metrics, openapi_json),
    components(schemas(Problem, owp_protocol::Violation)),
    tags(
        (name = "operations", description = "Liveness, readiness, metrics and this document"),
    )
)]
struct Shared;

/// `api` with the shared routes and schemas added (what `api` already has wins).
pub fn with_shared(api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    api.merge_from(Shared::openapi())
}

/// `GET /openapi.json` serving `api`, serialised once.
pub fn routes<S>(api: &utoipa::openapi::OpenApi) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    // Serialising utoipa's own model (string keys, no maps keyed by non-strings) cannot fail.
    let body = Bytes::from(api.to_json().unwrap_or_else(|err| format!("{{\"error\":\"{err}\"}}")));
    Router::new().route("/openapi.json", get(move || openapi_json(body.clone())))
}

/// This service's OpenAPI document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this service, generated from its code",
         body = Object, content_type = "application/json"),
    )
)]
async fn openapi_json(body: Bytes) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, JSON)], body).into_response()
}

/// A problem+json response with `description`, optionally announcing `Retry-After`.
pub fn problem_response(description: &str, retry_after: bool) -> ApiResponse {
    let content = ContentBuilder::new().schema(Some(Problem::reference())).build();
    let mut response = ResponseBuilder::new().description(description).content(PROBLEM_JSON, content);
    if retry_after {
        let seconds = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1));
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(seconds)
                .description(Some("Seconds to wait before retrying (also the body's `retry_after`)"))
                .build(),
        );
    }
    response.build()
}

impl Problem {
    /// `{"$ref": "#/components/schemas/Problem"}`.
    pub fn reference() -> RefOr<utoipa::openapi::Schema> {
        RefOr::Ref(utoipa::openapi::Ref::from_schema_name(Problem::name()))
    }
}

/// `status` answered with a problem, for an [`IntoResponses`] implementation of a service's own.
pub fn problem(
    status: StatusCode,
    description: &str,
    retry_after: bool,
) -> BTreeMap<String, RefOr<ApiResponse>> {
    BTreeMap::from([(status.as_u16().to_string(), RefOr::T(problem_response(description, retry_after)))])
}

/// Shared responses, each usable in a handler's `#[utoipa::path(responses(...))]`.
macro_rules! problem_responses {
    ($($(#[$doc:meta])* $name:ident: $status:expr, $retry_after:expr, $description:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<ApiResponse>> {
                problem($status, $description, $retry_after)
            }
        }
    )*};
}

problem_responses! {
    /// 400 `/problems/malformed-json`.
    Malformed: StatusCode::BAD_REQUEST, false,
        "The body is not JSON, or could not be read (`/problems/malformed-json`; the detail gives line and column)";
    /// 401 `/problems/unauthorized`, with `WWW-Authenticate: Bearer`.
    Unauthorized: StatusCode::UNAUTHORIZED, false,
        "The request needs a live session and carries none, or its `Authorization` header is not `Bearer <session_id>` (`/problems/unauthorized`)";
    /// 413 `/problems/body-too-large`.
    TooLarge: StatusCode::PAYLOAD_TOO_LARGE, false,
        "The body is over the size limit (`/problems/body-too-large`)";
    /// 415 `/problems/unsupported-media-type`.
    UnsupportedMediaType: StatusCode::UNSUPPORTED_MEDIA_TYPE, false,
        "The `Content-Type` is not one this route reads (`/problems/unsupported-media-type`)";
    /// 422 `/problems/invalid-document`.
    Invalid: StatusCode::UNPROCESSABLE_ENTITY, false,
        "Well-formed, but breaks the contract; `errors` names each offending field by JSON pointer (`/problems/invalid-document`)";
    /// 500 `/problems/internal`.
    Internal: StatusCode::INTERNAL_SERVER_ERROR, false,
        "An internal error; it was logged, and the body says nothing more (`/problems/internal`)";
    /// 503 `/problems/unavailable` with `Retry-After`.
    Unavailable: StatusCode::SERVICE_UNAVAILABLE, true,
        "A dependency (the log, the database) did not answer in time; retry after `Retry-After` seconds (`/problems/unavailable`)";
    /// 503 `/problems/unavailable` from `/readyz`, with `Retry-After`.
    DependencyNotReady: StatusCode::SERVICE_UNAVAILABLE, true,
        "A dependency does not answer; the detail names which one (the database, the broker, the read store) and nothing more, the error itself is logged (`/problems/unavailable`)";
}

/// The refusals of a route that reads a JSON body through [`super::body::read`] and
/// [`super::body::parse_json`]: 400, 413, 415.
#[derive(Debug, Clone, Copy)]
pub struct JsonBodyRefusals;

impl IntoResponses for JsonBodyRefusals {
    fn responses() -> BTreeMap<String, RefOr<ApiResponse>> {
        let mut all = Malformed::responses();
        all.append(&mut TooLarge::responses());
        all.append(&mut UnsupportedMediaType::responses());
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_shared_document_is_openapi_3_1_with_the_operations_routes() {
        #[derive(OpenApi)]
        #[openapi(info(title = "test"))]
        struct Empty;
        let api: Value = serde_json::to_value(with_shared(Empty::openapi())).unwrap();
        assert!(api["openapi"].as_str().unwrap().starts_with("3.1"), "{api}");
        for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
            assert!(api["paths"][path]["get"].is_object(), "{path} missing: {api}");
        }
        let problem = &api["components"]["schemas"]["Problem"];
        assert_eq!(problem["properties"]["type"]["type"], "string", "{problem}");
        assert!(api["components"]["schemas"]["Violation"].is_object(), "{api}");
        let readyz = &api["paths"]["/readyz"]["get"]["responses"]["503"];
        assert!(readyz["headers"]["Retry-After"].is_object(), "{readyz}");
        assert!(readyz["content"][PROBLEM_JSON].is_object(), "{readyz}");
        assert!(readyz["description"].as_str().unwrap().contains("names which one"), "{readyz}");
        let metrics = &api["paths"]["/metrics"]["get"]["responses"]["200"]["content"];
        assert!(metrics[OPENMETRICS].is_object(), "{metrics}");
    }
}
