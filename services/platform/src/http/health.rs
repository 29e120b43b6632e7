//! `/healthz` (the process is alive), `/readyz` (its dependencies answer) and `/metrics`.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use prometheus_client::registry::Registry;

use super::Problem;

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A readiness check: `Ok` when every dependency answers, else why not.
#[derive(Clone)]
pub struct ReadyCheck(Arc<dyn Fn() -> CheckFuture + Send + Sync>);

impl std::fmt::Debug for ReadyCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadyCheck")
    }
}

impl ReadyCheck {
    pub fn new<F, Fut>(check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Self(Arc::new(move || Box::pin(check())))
    }
}

/// What the health routes need: the readiness check and the metrics registry.
#[derive(Debug, Clone)]
pub struct Health {
    ready: ReadyCheck,
    registry: Arc<Registry>,
}

impl Health {
    pub fn new(ready: ReadyCheck, registry: Arc<Registry>) -> Self {
        Self { ready, registry }
    }

    pub fn routes<S>(self) -> Router<S> {
        Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .with_state(self)
    }
}

/// Alive: answers as long as the process serves HTTP, whatever its dependencies do.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The process is alive", body = String,
               content_type = "text/plain; charset=utf-8", example = "ok\n")),
)]
pub(super) async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready: every dependency answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Every dependency answers", body = String,
         content_type = "text/plain; charset=utf-8", example = "ready\n"),
        super::openapi::Unavailable,
    ),
)]
pub(super) async fn readyz(State(health): State<Health>) -> Response {
    match (health.ready.0)().await {
        Ok(()) => "ready\n".into_response(),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            Problem::unavailable(reason, Duration::from_secs(1)).into_response()
        }
    }
}

/// The service's metrics in the OpenMetrics text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Every metric of this service", body = String,
         content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        super::openapi::Internal,
    ),
)]
pub(super) async fn metrics(State(health): State<Health>) -> Response {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &health.registry) {
        Ok(()) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, super::openapi::OPENMETRICS)], text).into_response()
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot encode metrics");
            Problem::internal().into_response()
        }
    }
}
