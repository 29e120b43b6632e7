//! `/healthz` (the process is alive), `/readyz` (its dependencies answer) and `/metrics`.
//!
//! A failed readiness check answers a 503 problem that names the dependency and nothing more;
//! the error behind it goes to the log.

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

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), NotReady>> + Send>>;

/// Why a service is not ready: which dependency, in words fit for anyone who asks `/readyz`,
/// and the error behind it, for the log alone. A driver's error text (sqlx, librdkafka, an HTTP
/// client) can name hosts, users and schema objects, so it never goes into the response.
#[derive(Debug, Clone)]
pub struct NotReady {
    detail: &'static str,
    error: String,
}

impl NotReady {
    /// `detail` is the fixed text of the 503 problem; `error` is logged.
    pub fn new(detail: &'static str, error: impl std::fmt::Display) -> Self {
        Self { detail, error: error.to_string() }
    }

    /// PostgreSQL did not answer.
    pub fn database(error: impl std::fmt::Display) -> Self {
        Self::new("the database does not answer", error)
    }

    /// The Kafka brokers did not answer.
    pub fn broker(error: impl std::fmt::Display) -> Self {
        Self::new("the broker does not answer", error)
    }

    /// The read store (OpenSearch, Elasticsearch or PostgreSQL JSONB) did not answer.
    pub fn read_store(error: impl std::fmt::Display) -> Self {
        Self::new("the read store does not answer", error)
    }
}

/// A readiness check: `Ok` when every dependency answers, else which one does not.
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
        Fut: Future<Output = Result<(), NotReady>> + Send + 'static,
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
        super::openapi::DependencyNotReady,
    ),
)]
pub(super) async fn readyz(State(health): State<Health>) -> Response {
    match (health.ready.0)().await {
        Ok(()) => "ready\n".into_response(),
        Err(NotReady { detail, error }) => {
            tracing::warn!(dependency = detail, %error, "not ready");
            Problem::unavailable(detail, Duration::from_secs(1)).into_response()
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

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn readyz_with(not_ready: NotReady) -> (StatusCode, String) {
        let ready = ReadyCheck::new(move || {
            let not_ready = not_ready.clone();
            async move { Err(not_ready) }
        });
        let request = axum::http::Request::get("/readyz").body(Body::empty()).unwrap();
        let response = Health::new(ready, Arc::default()).routes::<()>().oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_503_names_the_dependency_never_the_error() {
        // What the drivers say: hosts, users, databases, addresses.
        for (not_ready, dependency, raw) in [
            (
                NotReady::database(
                    "error returned from database: password authentication failed for user \"owp_app\"",
                ),
                "database",
                "owp_app",
            ),
            (
                NotReady::broker(
                    "Meta data fetch error: BrokerTransportFailure (10.0.3.7:9092/1: Connect to ipv4)",
                ),
                "broker",
                "10.0.3.7",
            ),
            (
                NotReady::read_store(
                    "error sending request for url (https://search.internal:9200/_cluster/health)",
                ),
                "read store",
                "search.internal",
            ),
        ] {
            let (status, body) = readyz_with(not_ready).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(problem["detail"], format!("the {dependency} does not answer"), "{body}");
            assert!(!body.contains(raw) && !body.contains("error"), "the driver's words leaked: {body}");
        }
    }

    #[tokio::test]
    async fn ready_answers_200() {
        let ready = ReadyCheck::new(|| async { Ok(()) });
        let request = axum::http::Request::get("/readyz").body(Body::empty()).unwrap();
        let response = Health::new(ready, Arc::default()).routes::<()>().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}
