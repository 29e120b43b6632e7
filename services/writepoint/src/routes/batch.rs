//! `POST /v1/documents/batch`: NDJSON in, one result line per document line out, in order.
//!
//! Each line is judged on its own — a bad line gets its problem, the others are still appended.
//! Blank lines are skipped; every result names its `line` number in the request.

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::future::join_all;
use owp_platform::http::Problem;
use serde::Serialize;

use super::{AppState, documents};
use owp_platform::http::body;

use crate::Receipt;

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum LineResult {
    Accepted {
        line: usize,
        status: u16,
        #[serde(flatten)]
        receipt: Receipt,
    },
    Refused {
        line: usize,
        status: u16,
        problem: Problem,
    },
}

pub async fn submit(State(state): State<AppState>, headers: HeaderMap, request: Body) -> Response {
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
                documents::accept(state, text).await
            };
            match outcome {
                Ok(receipt) => LineResult::Accepted { line, status: StatusCode::ACCEPTED.as_u16(), receipt },
                Err(problem) => LineResult::Refused { line, status: problem.status, problem },
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
