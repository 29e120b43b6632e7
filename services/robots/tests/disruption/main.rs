//! Disruption tests: the robots process killed with SIGKILL, the broker restarted and
//! PostgreSQL restarted while documents flow. They restart shared servers, so they live in their
//! own test binary (cargo runs test binaries one after another) and take a lock so that the
//! tests of this binary run one at a time.

use owp_testkit::services as support;

mod broker;
mod broker_restart;
mod crash;
mod flow;
mod postgres_restart;

/// Held by every test of this binary.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A line for the log of the run (CI's included): written to stderr directly, past the test
/// harness's capture, because these figures matter when the tests pass too.
pub fn report(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "disruption: {line}");
}
