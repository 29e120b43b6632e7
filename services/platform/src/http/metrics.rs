//! Request metrics by route template (never by raw path: label values stay bounded).

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// `http_requests_total{route,method,status}`, `http_request_duration_seconds{route}` and
/// `http_requests_in_flight{route}`.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<RouteLabels, Histogram>,
    in_flight: Family<RouteLabels, Gauge>,
}

impl HttpMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let duration =
            Family::<RouteLabels, Histogram>::new_with_constructor(|| Histogram::new(latency_buckets()));
        registry.register("http_requests", "HTTP requests by route template and status", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency", duration.clone());
        let in_flight = Family::<RouteLabels, Gauge>::default();
        registry.register("http_requests_in_flight", "HTTP requests being served", in_flight.clone());
        Self { requests, duration, in_flight }
    }
}

/// Latency buckets from 0.5 ms to 10 s, shared by every latency histogram in OWP.
pub fn latency_buckets() -> impl Iterator<Item = f64> {
    [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0].into_iter()
}

/// Middleware: counts and times each request under its route template.
pub async fn track_requests(State(metrics): State<HttpMetrics>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let labels = RouteLabels { route: route.clone() };
    let start = Instant::now();
    metrics.in_flight.get_or_create(&labels).inc();
    let response = next.run(request).await;
    metrics.in_flight.get_or_create(&labels).dec();
    metrics.duration.get_or_create(&labels).observe(start.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels { route, method, status: response.status().as_u16() })
        .inc();
    response
}
