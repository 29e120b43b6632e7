//! The write point's own metric names, defined once.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Debug, Clone)]
pub struct Metrics {
    /// `writepoint_documents_total{outcome=accepted|invalid|unavailable}`.
    pub documents: Family<OutcomeLabels, Counter>,
    /// `writepoint_produce_duration_seconds`: from `send` to the broker's acknowledgement.
    pub produce_latency: Histogram,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let documents = Family::default();
        let produce_latency = Histogram::new(owp_platform::http::latency_buckets());
        registry.register("writepoint_documents", "Documents by outcome", documents.clone());
        registry.register(
            "writepoint_produce_duration_seconds",
            "Time from send to broker acknowledgement",
            produce_latency.clone(),
        );
        Self { documents, produce_latency }
    }

    pub fn count(&self, outcome: &'static str) {
        self.documents.get_or_create(&OutcomeLabels { outcome }).inc();
    }
}
