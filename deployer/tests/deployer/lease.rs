//! The fleet lease against moto's S3 conditional writes: mutual exclusion, takeover of an
//! expired lease, no takeover of a live one, fencing of a stale holder, hand-over on release.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use deployer::{
    Error,
    lease::{Attempt, Lease, LeaseGuard, LeaseSettings},
    store::S3,
};

use crate::helpers::bucket;

const KEY: &str = "leases/test/fleet.json";

fn lease(s3: &S3, instance: &str, ttl: Duration, renew_every: Duration) -> Lease {
    Lease::new(s3.clone(), KEY.into(), instance.into(), LeaseSettings { ttl, renew_every })
}

/// Tries until acquired, at most `timeout`.
async fn acquire(lease: &Lease, timeout: Duration) -> LeaseGuard {
    let deadline = Instant::now() + timeout;
    loop {
        if let Attempt::Acquired(guard) = lease.try_acquire("deploy", "v1").await.unwrap() {
            return guard;
        }
        assert!(Instant::now() < deadline, "the lease was not acquired within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_deployers_never_hold_the_lease_at_once() {
    let s3 = bucket().await;
    let holders = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for instance in ["a", "b", "c"] {
        let (s3, holders) = (s3.clone(), Arc::clone(&holders));
        tasks.push(tokio::spawn(async move {
            let lease = lease(&s3, instance, Duration::from_secs(10), Duration::from_secs(3));
            let mut counters = Vec::new();
            for _ in 0..3 {
                let guard = acquire(&lease, Duration::from_secs(60)).await;
                assert_eq!(
                    holders.fetch_add(1, Ordering::SeqCst),
                    0,
                    "{instance} got the lease while another held it"
                );
                guard.check().await.unwrap();
                // Hold it for a while, as a deploy would, to give the others a chance to race.
                tokio::time::sleep(Duration::from_millis(40)).await;
                assert_eq!(holders.fetch_sub(1, Ordering::SeqCst), 1);
                counters.push(guard.counter());
                guard.release().await.unwrap();
            }
            counters
        }));
    }
    let mut counters: Vec<u64> = Vec::new();
    for task in tasks {
        counters.extend(task.await.unwrap());
    }
    counters.sort_unstable();
    assert_eq!(counters, (1..=9).collect::<Vec<_>>(), "every acquisition gets the next fencing counter");
}

#[tokio::test]
async fn an_expired_lease_is_taken_over() {
    let s3 = bucket().await;
    let ttl = Duration::from_millis(1200);
    let first = lease(&s3, "crashed", ttl, Duration::from_millis(300));
    let guard = acquire(&first, Duration::from_secs(5)).await;
    let crashed_session = first.session().to_owned();
    // Dropping the guard stops its heartbeat without releasing: what a SIGKILL leaves behind.
    drop(guard);

    let second = lease(&s3, "survivor", ttl, Duration::from_millis(300));
    let first_seen = Instant::now();
    match second.try_acquire("deploy", "v1").await.unwrap() {
        Attempt::Busy { holder, .. } => assert_eq!(holder.unwrap().instance, "crashed"),
        Attempt::Acquired(_) => panic!("a lease that was just written must not be taken over"),
    }
    let guard = acquire(&second, Duration::from_secs(10)).await;
    assert!(first_seen.elapsed() >= ttl, "taken over after {:?}, before the TTL", first_seen.elapsed());
    assert_eq!(guard.counter(), 2);
    let previous = guard.took_over_from().expect("the takeover names the expired holder");
    assert_eq!(
        (previous.instance.as_str(), previous.session.as_str()),
        ("crashed", crashed_session.as_str())
    );
    guard.check().await.unwrap();
}

#[tokio::test]
async fn a_renewed_lease_is_never_taken_over() {
    let s3 = bucket().await;
    let ttl = Duration::from_millis(800);
    let holder = lease(&s3, "alive", ttl, Duration::from_millis(150));
    let guard = acquire(&holder, Duration::from_secs(5)).await;
    let contender = lease(&s3, "contender", ttl, Duration::from_millis(150));
    let until = Instant::now() + ttl * 3;
    while Instant::now() < until {
        assert!(
            matches!(contender.try_acquire("deploy", "v2").await.unwrap(), Attempt::Busy { .. }),
            "a lease renewed by its heartbeat was taken over"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    guard.check().await.unwrap();
    guard.release().await.unwrap();
}

#[tokio::test]
async fn a_stale_holder_is_fenced_off_by_the_counter() {
    let s3 = bucket().await;
    let ttl = Duration::from_millis(800);
    // A heartbeat far slower than the TTL: the holder behaves like a process that was paused.
    let stale = lease(&s3, "stale", ttl, Duration::from_secs(3600));
    let stale_guard = acquire(&stale, Duration::from_secs(5)).await;
    assert_eq!(stale_guard.counter(), 1);

    let fresh = lease(&s3, "fresh", ttl, Duration::from_millis(200));
    let fresh_guard = acquire(&fresh, Duration::from_secs(10)).await;
    assert_eq!(fresh_guard.counter(), 2);

    // The stale holder wakes up: the fence refuses its next step, naming both counters.
    match stale_guard.check().await {
        Err(Error::LeaseLost(reason)) => {
            assert!(
                reason.contains("fenced off")
                    && reason.contains("counter 2")
                    && reason.contains("ours was 1"),
                "{reason}"
            );
        }
        other => panic!("the stale holder passed the fence: {other:?}"),
    }
    assert!(stale_guard.lost().is_cancelled(), "the stale holder's deploy must be told to stop");
    assert!(matches!(stale_guard.renew().await, Err(Error::LeaseLost(_))), "a stale renewal must fail");
    assert!(
        matches!(stale_guard.release().await, Err(Error::LeaseLost(_))),
        "a stale release must not free the lease"
    );
    fresh_guard.check().await.expect("the new holder keeps the lease");
    let (record, _) = fresh.read().await.unwrap().unwrap();
    assert_eq!(record.holder.unwrap().instance, "fresh");
}

#[tokio::test]
async fn a_released_lease_is_taken_at_once_with_the_next_counter() {
    let s3 = bucket().await;
    let first = lease(&s3, "first", Duration::from_secs(30), Duration::from_secs(10));
    let guard = acquire(&first, Duration::from_secs(5)).await;
    guard.release().await.unwrap();
    let second = lease(&s3, "second", Duration::from_secs(30), Duration::from_secs(10));
    match second.try_acquire("deploy", "v2").await.unwrap() {
        Attempt::Acquired(guard) => assert_eq!(guard.counter(), 2),
        Attempt::Busy { .. } => panic!("a released lease must not make anyone wait for its TTL"),
    }
}
