//! `POST /v1/documents`: one JSON document in, `202` with where it landed on the log.

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use owp_platform::http::{
    Problem, body,
    openapi::{Invalid, JsonBodyRefusals, Unavailable},
};
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
    responses(
        (status = 202, description = "The log acknowledged the document (`acks=all`)", body = Receipt),
        JsonBodyRefusals,
        Invalid,
        Unavailable,
    ),
)]
pub async fn submit(State(state): State<AppState>, headers: HeaderMap, request: Body) -> Response {
    let result = async {
        let bytes = body::read(&headers, request, body::Expect::Json, state.settings.max_body_bytes).await?;
        accept(&state, &bytes).await
    };
    match result.await {
        Ok(receipt) => (StatusCode::ACCEPTED, axum::Json(receipt)).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// Validates and appends one document; shared with the batch route so both answer alike.
pub async fn accept(state: &AppState, bytes: &[u8]) -> Result<Receipt, Problem> {
    let document = body::parse_json(bytes)?;
    let submission = state.registry.parse_document(document, OffsetDateTime::now_utc()).map_err(|err| {
        state.metrics.count("invalid");
        Problem::invalid(err.violations())
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
