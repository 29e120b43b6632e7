//! Cluster drills: each on a private three-broker cluster (owp-testkit; replication factor 3,
//! min.insync.replicas 2, every producer acks=all), each while documents flow through the whole
//! stack (write point → robots → projections), each ending with nothing lost or doubled, every
//! accepted document on the log, and `replay --verify` equal. Their figures (time to recover,
//! 503s seen, throughput, runtime) go to stderr.
//!
//! Every drill starts six JVMs, so the drills run one at a time (a lock), in a test binary of
//! their own. `OWP_DRILL_DOCUMENTS` (50,000), `OWP_DRILL_RATE` (documents/s, 500) and
//! `OWP_DRILL_CLIENTS` (32) size them.

use owp_testkit::services as support;

// The drills send through the write point, so flow::send goes unused here.
#[allow(dead_code)]
#[path = "../disruption/flow.rs"]
mod flow;

mod brokers;
mod drill;
mod kafka_view;
mod kraft;
mod load;
mod zookeeper;

/// Held by every drill.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How big a drill is.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub documents: usize,
    /// Documents per second the clients send at most.
    pub rate: f64,
    pub clients: usize,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value.parse().unwrap_or_else(|_| panic!("{name}={value} is not a valid number")),
        Err(_) => default,
    }
}

pub fn settings() -> Settings {
    let settings = Settings {
        documents: env_or("OWP_DRILL_DOCUMENTS", 50_000),
        rate: env_or("OWP_DRILL_RATE", 500.0),
        clients: env_or("OWP_DRILL_CLIENTS", 32),
    };
    assert!(settings.documents >= 10 && settings.rate > 0.0 && settings.clients > 0, "{settings:?}");
    settings
}

/// A line for the log of the run (CI's included): written to stderr directly, past the test
/// harness's capture, because these figures matter when the drills pass too.
pub fn report(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "drill: {line}");
}
