//! Latency summaries and target lines for benchmark output. A target line reports a figure
//! against the target; it never fails the run (the benchmarks report, they do not gate).

use std::time::Duration;

use hdrhistogram::Histogram;

/// Microsecond histogram from 1 µs to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts.
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|err| panic!("histogram bounds: {err}"))
}

pub fn record(histogram: &mut Histogram<u64>, latency: Duration) {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).clamp(1, 60_000_000);
    // Values are clamped into the histogram's bounds above.
    let _ = histogram.record(micros);
}

/// A quantile of the histogram, in milliseconds.
pub fn quantile_ms(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

/// `p50 1.23 ms, p99 4.56 ms, max 7.89 ms`.
pub fn summary(histogram: &Histogram<u64>) -> String {
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        quantile_ms(histogram, 0.50),
        quantile_ms(histogram, 0.99),
        histogram.max() as f64 / 1000.0
    )
}

/// The target for one figure.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// The figure must not exceed this (a latency).
    AtMost(f64),
    /// The figure must reach this (a rate, or a ratio to a baseline).
    AtLeast(f64),
}

impl Target {
    pub fn met(self, figure: f64) -> bool {
        match self {
            Target::AtMost(limit) => figure <= limit,
            Target::AtLeast(floor) => figure >= floor,
        }
    }

    /// `figure / target` (so 1.00 is exactly on target, whichever way the target points).
    pub fn ratio(self, figure: f64) -> f64 {
        let target = match self {
            Target::AtMost(limit) => limit,
            Target::AtLeast(floor) => floor,
        };
        figure / target
    }

    /// `target <= 50 ms: 0.86 of the target, met` (the unit follows the figures).
    pub fn line(self, figure: f64, unit: &str) -> String {
        let (sign, target) = match self {
            Target::AtMost(limit) => ("<=", limit),
            Target::AtLeast(floor) => (">=", floor),
        };
        format!(
            "target {sign} {target}{unit}: {:.2} of the target, {}",
            self.ratio(figure),
            if self.met(figure) { "met" } else { "NOT met" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn a_latency_target_is_met_at_or_under_it() {
        assert!(Target::AtMost(50.0).met(50.0));
        assert!(!Target::AtMost(50.0).met(50.1));
        assert_eq!(Target::AtMost(50.0).line(25.0, " ms"), "target <= 50 ms: 0.50 of the target, met");
    }

    #[test]
    fn a_ratio_target_is_met_at_or_over_it() {
        assert!(Target::AtLeast(0.7).met(0.7));
        assert!(!Target::AtLeast(0.7).met(0.69));
        assert_eq!(Target::AtLeast(0.6).line(0.3, "x"), "target >= 0.6x: 0.50 of the target, NOT met");
    }
}
