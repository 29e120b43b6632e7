//! Reading a request body at the edge: the content type is checked and the size bounded before
//! a single byte is parsed, and every refusal is a problem response.

use super::Problem;
use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, StatusCode, header},
};

/// Media types a route reads.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// `application/json` or any `application/*+json`.
    Json,
    /// `application/x-ndjson` (also `application/jsonl`).
    Ndjson,
}

impl Expect {
    fn describe(self) -> &'static str {
        match self {
            Expect::Json => "application/json",
            Expect::Ndjson => "application/x-ndjson",
        }
    }

    fn accepts(self, essence: &str) -> bool {
        match self {
            Expect::Json => {
                essence == "application/json"
                    || (essence.starts_with("application/") && essence.ends_with("+json"))
            }
            Expect::Ndjson => {
                matches!(essence, "application/x-ndjson" | "application/jsonl" | "application/ndjson")
            }
        }
    }
}

/// Checks the content type, then reads at most `limit` bytes of body.
pub async fn read(headers: &HeaderMap, body: Body, expect: Expect, limit: usize) -> Result<Bytes, Problem> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    let essence =
        content_type.map(|value| value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    if !essence.as_deref().is_some_and(|essence| expect.accepts(essence)) {
        return Err(Problem::unsupported_media_type(expect.describe(), content_type));
    }
    // A declared length over the limit is refused without reading.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(Problem::too_large(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|err| {
        // to_bytes fails either on the limit or on a broken connection; both end the request.
        let inner = err.into_inner();
        if inner.is::<http_body_util::LengthLimitError>() {
            Problem::too_large(limit)
        } else if std::iter::successors(Some(&*inner as &(dyn std::error::Error + 'static)), |e| e.source())
            .any(|e| e.is::<tower_http::timeout::TimeoutError>())
        {
            Problem::new(StatusCode::REQUEST_TIMEOUT, "request-timeout", "The request took too long")
                .detail("the request body stalled (see OWP_HTTP_BODY_TIMEOUT)")
        } else {
            Problem::malformed(format!("could not read the request body: {inner}"))
        }
    })
}

/// Parses a JSON value, reporting where the syntax broke.
pub fn parse_json(bytes: &[u8]) -> Result<serde_json::Value, Problem> {
    serde_json::from_slice(bytes)
        .map_err(|err| Problem::malformed(format!("{err} (line {}, column {})", err.line(), err.column())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        assert!(Expect::Json.accepts("application/json"));
        assert!(Expect::Json.accepts("application/merge-patch+json"));
        assert!(!Expect::Json.accepts("text/plain"));
        assert!(Expect::Ndjson.accepts("application/x-ndjson"));
        assert!(!Expect::Ndjson.accepts("application/json"));
    }
}
