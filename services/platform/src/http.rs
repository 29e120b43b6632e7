//! The HTTP pieces every service shares: problem responses, health and metrics routes, request
//! metrics, and serving with a bounded graceful shutdown.

pub mod body;
pub mod credential;
mod health;
mod limits;
mod metrics;
pub mod openapi;
mod problem;
mod serve;

pub use health::{Health, NotReady, ReadyCheck};
pub use limits::HttpLimits;
pub use metrics::{HttpMetrics, latency_buckets, track_requests};
pub use problem::{PROBLEM_JSON, Problem};
pub use serve::{bind, serve};

/// Fallback for unknown routes, as a problem response.
pub async fn not_found() -> Problem {
    Problem::new(axum::http::StatusCode::NOT_FOUND, "not-found", "No such route")
}

/// Fallback for a known route with the wrong method.
pub async fn method_not_allowed() -> Problem {
    Problem::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed on this route",
    )
}
