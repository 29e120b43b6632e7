//! The bounds every HTTP service runs within: how many requests at once (more are refused with 503
//! at once, never queued without bound), and, from tower-http, how long one may take, how
//! large its body may be, and how long its body may stall. Their refusals are problems like every
//! other answer.

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::Request,
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower_http::{
    limit::RequestBodyLimitLayer,
    timeout::{RequestBodyTimeoutLayer, TimeoutLayer},
};

use super::{PROBLEM_JSON, Problem};
use crate::duration;

/// Shared by every service; each may lower the body limit to what its routes read.
#[derive(Debug, Clone, Copy, clap::Args)]
#[group(id = "http_limits")]
pub struct HttpLimits {
    /// Requests handled at once; more are answered 503 with Retry-After at once.
    #[arg(long = "http-concurrency", env = "OWP_HTTP_CONCURRENCY", default_value_t = 512)]
    pub concurrency: usize,
    /// Longest a request may take, body included (the read point adds its longest wait).
    #[arg(long = "http-request-timeout", env = "OWP_HTTP_REQUEST_TIMEOUT", default_value = "30s", value_parser = duration::parse)]
    pub request_timeout: Duration,
    /// Longest a request body may stall between two pieces (a slow body holds a slot).
    #[arg(long = "http-body-timeout", env = "OWP_HTTP_BODY_TIMEOUT", default_value = "10s", value_parser = duration::parse)]
    pub body_timeout: Duration,
    /// Largest request body of any route, in bytes (routes enforce their own, smaller limits).
    #[arg(long = "http-max-body-bytes", env = "OWP_HTTP_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,
}

impl HttpLimits {
    /// The defaults, with any `OWP_HTTP_*` variable applied.
    pub fn from_env() -> Self {
        crate::config::from_env()
    }

    /// `router` within these bounds.
    pub fn apply(&self, router: Router) -> Router {
        // One semaphore for the whole router, made here: axum may build a route's layers more than
        // once, and a limit per copy would be no limit (tower's ConcurrencyLimit is one per layer
        // instance). A full house is refused at once: a queue in front of it would have no bound.
        let permits = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let admit = move |request: Request, next: Next| {
            let permits = permits.clone();
            async move {
                let Ok(_permit) = permits.try_acquire_owned() else {
                    return Problem::unavailable(
                        "the service is at its limit of requests in flight",
                        Duration::from_secs(1),
                    )
                    .into_response();
                };
                next.run(request).await
            }
        };
        let bounded = ServiceBuilder::new()
            .layer(RequestBodyLimitLayer::new(self.max_body_bytes))
            .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, self.request_timeout))
            .layer(RequestBodyTimeoutLayer::new(self.body_timeout));
        router
            .layer(bounded)
            .layer(axum::middleware::from_fn(admit))
            .layer(axum::middleware::map_response(as_problem))
    }
}

/// tower-http answers its refusals with a bare status; give them the problem body every answer of
/// these services has.
async fn as_problem(response: Response) -> Response {
    let bare = !response.headers().contains_key(header::CONTENT_TYPE)
        || response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v != PROBLEM_JSON && v.as_bytes().starts_with(b"text/plain"));
    match response.status() {
        StatusCode::REQUEST_TIMEOUT if bare => {
            Problem::new(StatusCode::REQUEST_TIMEOUT, "request-timeout", "The request took too long")
                .detail("the request, or its body, did not arrive and finish in time")
                .into_response()
        }
        StatusCode::PAYLOAD_TOO_LARGE if bare => {
            Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", "The request body is too large")
                .into_response()
        }
        _ => response,
    }
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, routing::get};
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn over_the_concurrency_limit_is_503_at_once() {
        let (entered_tx, entered_rx) = tokio::sync::oneshot::channel::<()>();
        let entered = std::sync::Arc::new(std::sync::Mutex::new(Some(entered_tx)));
        let router = Router::new().route(
            "/slow",
            get(move || {
                let entered = entered.clone();
                async move {
                    if let Some(tx) = entered.lock().unwrap().take() {
                        let _ = tx.send(());
                    }
                    std::future::pending::<()>().await;
                }
            }),
        );
        let limits = HttpLimits { concurrency: 1, ..HttpLimits::from_env() };
        let app = limits.apply(router);
        let first = tokio::spawn(app.clone().oneshot(Request::get("/slow").body(Body::empty()).unwrap()));
        entered_rx.await.unwrap();
        let second = app.oneshot(Request::get("/slow").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(second.headers()[header::RETRY_AFTER], "1");
        first.abort();
    }
}
