//! `POST /v1/documents`: one JSON document in, `202` with where it landed on the log.

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use owp_platform::http::{
    Problem, body, credential,
    openapi::{Invalid, JsonBodyRefusals, Unauthorized, Unavailable},
};
use owp_protocol::{SESSION_IN_DOCUMENT, SessionId};
use time::OffsetDateTime;

use super::AppState;

use crate::{ProduceError, Receipt, openapi::Document};

/// Submits one document; `202` once the log has acknowledged it.
///
/// Sending the same `document_id` again is safe: it is accepted again, and the robots drop the
/// duplicate.
#[utoipa::path(
    post,
    path = "/v1/documents",
    operation_id = "submit_document",
    tag = "documents",
    request_body(content = Document, content_type = "application/json"),
    params(
        ("Authorization" = Option<String>, Header, description = "`Bearer <session_id>` (from auth's login); required by item types whose documents need a session"),
    ),
    responses(
        (status = 202, description = "The log acknowledged the document (`acks=all`)", body = Receipt),
        JsonBodyRefusals,
        Invalid,
        Unauthorized,
        Unavailable,
    ),
)]
pub async fn submit(State(state): State<AppState>, uri: Uri, headers: HeaderMap, request: Body) -> Response {
    let result = async {
        let session = credential::session(&headers, &uri)?;
        let bytes = body::read(&headers, request, body::Expect::Json, state.settings.max_body_bytes).await?;
        accept(&state, &bytes, session).await
    };
    match result.await {
        Ok(receipt) => (StatusCode::ACCEPTED, axum::Json(receipt)).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// Validates and appends one document sent with `session`; shared with the batch route so both
/// answer alike. Whether the session is live and may do this is the robots' decision: the write
/// point holds no database credentials.
pub async fn accept(state: &AppState, bytes: &[u8], session: Option<SessionId>) -> Result<Receipt, Problem> {
    let document = body::parse_json(bytes)?;
    let submission =
        state.registry.parse_document(document, session, OffsetDateTime::now_utc()).map_err(|err| {
            state.metrics.count("invalid");
            let violations = err.violations();
            match err {
                owp_protocol::Error::SessionRequired { .. } => credential::unauthorized(err.to_string()),
                // A credential where it does not belong is the request's fault, not the
                // document's: 400, with every other violation still listed.
                _ if violations.iter().any(|v| v.detail == SESSION_IN_DOCUMENT) => Problem::new(
                    StatusCode::BAD_REQUEST,
                    "credential-in-document",
                    "A session id in the document",
                )
                .detail(credential::USE_THE_HEADER)
                .errors(violations),
                _ => Problem::invalid(violations),
            }
        })?;
    let document_id = submission.command.document_id;
    let span = tracing::debug_span!("append", %document_id, item_type = %submission.command.item_type);
    let _entered = span.enter();
    match state.log.append(&submission).await {
        Ok(receipt) => {
            state.metrics.count("accepted");
            tracing::debug!(partition = receipt.partition, offset = receipt.offset, "accepted");
            Ok(receipt)
        }
        Err(err) => {
            state.metrics.count("unavailable");
            tracing::warn!(error = %err, "not accepted");
            Err(unavailable(&err))
        }
    }
}

fn unavailable(err: &ProduceError) -> Problem {
    let detail = match err {
        ProduceError::QueueFull => "the write point is overloaded; the document was not accepted",
        ProduceError::Timeout(_) | ProduceError::Broker(_) => {
            "the log did not acknowledge the document in time; it was not accepted"
        }
    };
    Problem::unavailable(detail, std::time::Duration::from_secs(1))
}
