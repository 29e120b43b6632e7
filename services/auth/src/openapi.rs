//! Auth's OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations and the
//! request and answer types.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use owp_platform::http::openapi;
use utoipa::{
    IntoResponses, OpenApi,
    openapi::{RefOr, response::Response},
};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OWP auth",
        description = "Sign-up, login and logout. Each answers once its fact is on the log and applied, \
                       so the session id a login returns works at once.",
    ),
    paths(routes::signup, routes::login, routes::logout),
    tags((name = "auth", description = "Accounts and sessions")),
)]
struct AuthApi;

/// Auth's OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    openapi::with_shared(AuthApi::openapi())
}

/// 429: too many failed logins from the client's address.
#[derive(Debug, Clone, Copy)]
pub struct Locked;

impl IntoResponses for Locked {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        openapi::problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed logins from this client address, for this username (each further \
             failure doubles the wait) or for all of them; retry after `Retry-After` seconds. \
             Another address is not held back (`/problems/locked`)",
            true,
        )
    }
}

/// 400: a session id sent where credentials leak (the URL, the body).
#[derive(Debug, Clone, Copy)]
pub struct CredentialMisplaced;

impl IntoResponses for CredentialMisplaced {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        openapi::problem(
            StatusCode::BAD_REQUEST,
            "A session id in the query string (`/problems/credential-in-url`) or the body \
             (`/problems/credential-in-body`); the detail names the `Authorization` header to use",
            false,
        )
    }
}
