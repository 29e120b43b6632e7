//! Retrying after a failure worth another try: every retry in OWP pauses on one schedule,
//! [`Backoff`]. A call that is simply repeated until it succeeds or fails for good goes through
//! backon's [`Retryable`] with a `Backoff`; a loop that pauses between steps itself (one that
//! must stop pausing at shutdown, or start over after a success, or changes what it sends
//! between tries) calls [`Backoff::pause`] or [`Backoff::pause_unless_cancelled`].

use std::time::Duration;

pub use backon::Retryable;
use tokio_util::sync::CancellationToken;

/// Pauses that start at `first` and double up to `cap`, without end and without jitter.
///
/// An iterator of pauses, so backon takes it as it is. Doubling is done on whole `Duration`s:
/// backon's own `ExponentialBuilder` doubles through `f32`, which turns 100 ms into
/// 200.000003 ms, and that is what the logs would show.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    next: Duration,
    cap: Duration,
}

impl Backoff {
    pub fn new(first: Duration, cap: Duration) -> Self {
        Self { first, next: first, cap }
    }

    /// The pause the next [`Backoff::pause`] takes, for the log line that announces it.
    pub fn next_pause(&self) -> Duration {
        self.next
    }

    /// Back to the first pause, after a success.
    pub fn reset(&mut self) {
        self.next = self.first;
    }

    /// Sleeps the next pause.
    pub async fn pause(&mut self) {
        let pause = self.advance();
        tokio::time::sleep(pause).await;
    }

    /// Sleeps the next pause unless `cancel` comes first; false when it did.
    #[must_use = "a cancelled pause means the caller should stop"]
    pub async fn pause_unless_cancelled(&mut self, cancel: &CancellationToken) -> bool {
        let pause = self.advance();
        tokio::select! {
            () = tokio::time::sleep(pause) => true,
            () = cancel.cancelled() => false,
        }
    }

    fn advance(&mut self) -> Duration {
        let pause = self.next;
        self.next = pause.saturating_mul(2).min(self.cap);
        pause
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(self.advance())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn pauses_double_up_to_the_cap_and_start_over_after_a_reset() {
        let mut backoff = Backoff::new(100 * MS, 1000 * MS);
        let pauses: Vec<_> = backoff.by_ref().take(6).map(|d| d.as_millis()).collect();
        assert_eq!(pauses, [100, 200, 400, 800, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.next_pause(), 100 * MS);
    }

    #[tokio::test]
    async fn a_cancelled_pause_says_so() {
        let cancel = CancellationToken::new();
        let mut backoff = Backoff::new(Duration::from_secs(60), Duration::from_secs(60));
        cancel.cancel();
        assert!(!backoff.pause_unless_cancelled(&cancel).await);
        let mut short = Backoff::new(MS, MS);
        assert!(short.pause_unless_cancelled(&CancellationToken::new()).await);
    }

    #[tokio::test]
    async fn backon_retries_on_the_schedule_while_asked_to() {
        let calls = AtomicU32::new(0);
        let outcome = (|| async {
            match calls.fetch_add(1, Ordering::Relaxed) {
                0 | 1 => Err("for now"),
                2 => Err("for good"),
                _ => Ok(()),
            }
        })
        .retry(Backoff::new(MS, MS))
        .when(|err| *err == "for now")
        .await;
        assert_eq!(outcome, Err("for good"));
        assert_eq!(calls.load(Ordering::Relaxed), 3);
    }
}
