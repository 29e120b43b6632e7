//! The translator's metrics: documents written and rebuilt per collection, outbox rows taken,
//! batch latency, and configuration reloads by result.

use std::time::Duration;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CollectionLabel {
    collection: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

#[derive(Debug, Clone)]
pub struct Metrics {
    written: Family<CollectionLabel, Counter>,
    rebuilt: Family<CollectionLabel, Counter>,
    outbox_rows: Counter,
    batch_seconds: Histogram,
    reloads: Family<ResultLabel, Counter>,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            written: Family::default(),
            rebuilt: Family::default(),
            outbox_rows: Counter::default(),
            batch_seconds: Histogram::new(owp_platform::http::latency_buckets()),
            reloads: Family::default(),
        };
        registry.register(
            "translator_documents_written",
            "Documents written (or deleted) by incremental batches",
            metrics.written.clone(),
        );
        registry.register(
            "translator_documents_rebuilt",
            "Documents written by full rebuilds",
            metrics.rebuilt.clone(),
        );
        registry.register(
            "translator_outbox_rows",
            "Changed rows taken from the outbox",
            metrics.outbox_rows.clone(),
        );
        registry.register(
            "translator_batch_seconds",
            "Time from taking a batch to committing it",
            metrics.batch_seconds.clone(),
        );
        registry.register(
            "translator_config_reloads",
            "Configuration edits, applied or refused",
            metrics.reloads.clone(),
        );
        metrics
    }

    pub fn written(&self, collection: &str, documents: u64) {
        self.written.get_or_create(&CollectionLabel { collection: collection.into() }).inc_by(documents);
    }

    pub fn rebuilt(&self, collection: &str, documents: u64) {
        self.rebuilt.get_or_create(&CollectionLabel { collection: collection.into() }).inc_by(documents);
    }

    pub fn batch(&self, rows: u64, elapsed: Duration) {
        self.outbox_rows.inc_by(rows);
        self.batch_seconds.observe(elapsed.as_secs_f64());
    }

    pub fn reload(&self, result: &str) {
        self.reloads.get_or_create(&ResultLabel { result: result.into() }).inc();
    }
}
