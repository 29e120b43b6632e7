//! The robots' metric names, defined once: lag per partition, batch size, apply latency,
//! parked messages and messages handled.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GroupLabels {
    pub group: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    pub group: String,
    pub partition: i32,
}

#[derive(Debug, Clone)]
pub struct RobotMetrics {
    /// `robot_lag{group,partition}`: messages on the partition not yet handled.
    pub lag: Family<PartitionLabels, Gauge>,
    /// `robot_batch_size{group}`.
    pub batch_size: Family<GroupLabels, Histogram>,
    /// `robot_apply_duration_seconds{group}`: from batch start to commit.
    pub apply_latency: Family<GroupLabels, Histogram>,
    /// `robot_parked{group}`: messages parked and not yet retried.
    pub parked: Family<GroupLabels, Gauge>,
    /// `robot_messages_total{group}`: messages handled (applied, skipped as duplicates or parked).
    pub messages: Family<GroupLabels, Counter>,
}

impl RobotMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            lag: Family::default(),
            batch_size: Family::new_with_constructor(|| {
                Histogram::new([1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 5000.0])
            }),
            apply_latency: Family::new_with_constructor(|| {
                Histogram::new(owp_platform::http::latency_buckets())
            }),
            parked: Family::default(),
            messages: Family::default(),
        };
        registry.register("robot_lag", "Messages not yet handled, per partition", metrics.lag.clone());
        registry.register("robot_batch_size", "Messages per batch", metrics.batch_size.clone());
        registry.register(
            "robot_apply_duration_seconds",
            "Batch apply latency",
            metrics.apply_latency.clone(),
        );
        registry.register("robot_parked", "Parked messages waiting for an operator", metrics.parked.clone());
        registry.register("robot_messages", "Messages handled", metrics.messages.clone());
        metrics
    }
}
