//! The one way the tests wait for a condition: ask again every so often until it holds or the
//! limit has passed, so that no test sleeps a fixed time and none waits forever.

use std::time::Duration;

use tokio::time::Instant;

/// What `check` yields once it yields something, or `None` when `limit` passed first (the
/// caller's message says what was awaited).
pub async fn eventually<T>(
    limit: Duration,
    every: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = check().await {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

/// Fails the test unless `condition` holds within `limit`; `what` names what was awaited.
pub async fn until(what: &str, limit: Duration, mut condition: impl AsyncFnMut() -> bool) {
    let held = eventually(limit, Duration::from_millis(50), async || condition().await.then_some(())).await;
    assert!(held.is_some(), "{what}: not within {limit:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn yields_what_the_check_found_and_gives_up_at_the_limit() {
        let mut asked = 0;
        let found = eventually(Duration::from_secs(5), Duration::from_millis(1), async || {
            asked += 1;
            (asked == 3).then_some(asked)
        })
        .await;
        assert_eq!(found, Some(3));
        let started = Instant::now();
        let never =
            eventually(Duration::from_millis(30), Duration::from_millis(5), async || None::<()>).await;
        assert!(never.is_none() && started.elapsed() >= Duration::from_millis(30));
    }
}
