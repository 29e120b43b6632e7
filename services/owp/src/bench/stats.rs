//! Latency summaries for benchmark output.

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

/// `p50 1.23 ms, p99 4.56 ms, max 7.89 ms`.
pub fn summary(histogram: &Histogram<u64>) -> String {
    let ms = |micros: u64| micros as f64 / 1000.0;
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(histogram.value_at_quantile(0.50)),
        ms(histogram.value_at_quantile(0.99)),
        ms(histogram.max())
    )
}
