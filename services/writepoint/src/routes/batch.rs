//! `POST /v1/documents/batch`: NDJSON in, one result line per document line out, in order.
//!
//! Each line is judged on its own — a bad line gets its problem, the others are still appended.
//! Blank lines are skipped; every result names its `line` number in the request.

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use futures::future::join_all;
use owp_platform::http::{Problem, body, credential, openapi::UnsupportedMediaType};
use serde::Serialize;
use utoipa::ToSchema;

use super::{AppState, documents};

use crate::{Receipt, openapi::Document};

/// The outcome of one document line: its receipt, or its problem.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LineResult {
    Accepted(LineAccepted),
    Refused(LineRefused),
}

/// A line the log acknowledged.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineAccepted {
    /// The line's number in the request, from 1.
    #[schema(minimum = 1)]
    line: usize,
    /// Always 202.
    #[schema(minimum = 202, maximum = 202)]
    status: u16,
    #[serde(flatten)]
    receipt: Receipt,
}

/// A line that was not accepted, and why; the other lines are not affected.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineRefused {
    /// The line's number in the request, from 1.
    #[schema(minimum = 1)]
    line: usize,
    /// The status the line would have had as a single document (400, 401, 413, 422, 503).
    #[schema(minimum = 400, maximum = 599)]
    status: u16,
    problem: Problem,
}

/// Submits many documents as NDJSON, one per line; answers one NDJSON result per document line.
///
/// Each line is judged on its own: a bad line gets its problem, the others are still appended.
/// Blank lines are skipped.
#[utoipa::path(
    post,
    path = "/v1/documents/batch",
    operation_id = "submit_batch",
    tag = "documents",
    params(
        ("Authorization" = Option<String>, Header, description = "`Bearer <session_id>`: the session every line is sent with"),
    ),
    request_body(
        content = Vec<Document>,
        content_type = "application/x-ndjson",
        description = "NDJSON: one document per line (each element of the array is one line)",
    ),
    responses(
        (status = 200, description = "One result per document line, in order (NDJSON; each element \
                                      of the array is one line)",
         body = Vec<LineResult>, content_type = "application/x-ndjson"),
        (status = 413, description = "The body is over `--batch-max-bytes` (`/problems/body-too-large`), or \
                                      has more than `--batch-max-lines` documents (`/problems/batch-too-large`)",
         body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "A session id in the URL (`/problems/credential-in-url`), or the body is not NDJSON",
         body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The Authorization header is not `Bearer <session_id>` (`/problems/unauthorized`)",
         body = Problem, content_type = "application/problem+json"),
        UnsupportedMediaType,
    ),
)]
pub async fn submit(State(state): State<AppState>, uri: Uri, headers: HeaderMap, request: Body) -> Response {
    // One credential for the whole batch; each line is judged with it.
    let session = match credential::session(&headers, &uri) {
        Ok(session) => session,
        Err(problem) => return problem.into_response(),
    };
    let bytes =
        match body::read(&headers, request, body::Expect::Ndjson, state.settings.batch_max_bytes).await {
            Ok(bytes) => bytes,
            Err(problem) => return problem.into_response(),
        };
    let lines: Vec<(usize, &[u8])> = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(index, line)| (index + 1, line.strip_suffix(b"\r").unwrap_or(line)))
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .collect();
    let max_lines = state.settings.batch_max_lines;
    if lines.len() > max_lines {
        return Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch-too-large",
            "Too many documents in one batch",
        )
        .detail(format!("{} documents sent, at most {max_lines} per request", lines.len()))
        .into_response();
    }

    // All lines are appended concurrently; join_all keeps the request's order.
    let results = join_all(lines.into_iter().map(|(line, text)| {
        let state = &state;
        async move {
            let outcome = if text.len() > state.settings.max_body_bytes {
                Err(Problem::too_large(state.settings.max_body_bytes))
            } else {
                documents::accept(state, text, session).await
            };
            match outcome {
                Ok(receipt) => LineResult::Accepted(LineAccepted {
                    line,
                    status: StatusCode::ACCEPTED.as_u16(),
                    receipt,
                }),
                Err(problem) => LineResult::Refused(LineRefused { line, status: problem.status, problem }),
            }
        }
    }))
    .await;

    let mut out = Vec::with_capacity(results.len() * 128);
    for result in &results {
        // Serialising our own plain structs cannot fail.
        if serde_json::to_writer(&mut out, result).is_ok() {
            out.push(b'\n');
        }
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response()
}
