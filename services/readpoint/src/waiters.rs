//! Requests waiting for a document's outcome, woken when the translator says (NOTIFY on
//! `owp_read`, payload `collection\tkey\tkey…`) that the key was written. One LISTEN connection
//! per process serves every waiter; a waiter also looks again on a timer, so a lost
//! notification only costs latency.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use owp_collections::written;
use owp_platform::retry::Backoff;
use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Between attempts to LISTEN again; waiting requests poll meanwhile.
const RECONNECT_PAUSE: Duration = Duration::from_secs(2);

/// `(collection, key)` → the wake-up shared by its waiters, and how many there are.
type Slots = HashMap<(String, String), (Arc<Notify>, usize)>;

#[derive(Debug, Clone, Default)]
pub struct Waiters {
    by_key: Arc<Mutex<Slots>>,
    /// Whether notifications are arriving; while they are not, waiters poll.
    listening: Arc<AtomicBool>,
}

/// A registration; dropping it unregisters.
#[derive(Debug)]
pub struct Registration {
    waiters: Waiters,
    slot: (String, String),
    pub notify: Arc<Notify>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut map = self.waiters.by_key.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, count)) = map.get_mut(&self.slot) {
            *count -= 1;
            if *count == 0 {
                map.remove(&self.slot);
            }
        }
    }
}

impl Waiters {
    pub fn register(&self, collection: &str, key: &str) -> Registration {
        let slot = (collection.to_owned(), key.to_owned());
        let mut map = self.by_key.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map.entry(slot.clone()).or_insert_with(|| (Arc::new(Notify::new()), 0));
        entry.1 += 1;
        Registration { waiters: self.clone(), slot, notify: entry.0.clone() }
    }

    /// True while the LISTEN connection is up.
    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
    }

    fn wake(&self, payload: &str) {
        let Some((collection, keys)) = written::parse(payload) else { return };
        let map = self.by_key.lock().unwrap_or_else(|p| p.into_inner());
        if map.is_empty() {
            return;
        }
        for key in keys {
            if let Some((notify, _)) = map.get(&(collection.to_owned(), key.to_owned())) {
                notify.notify_waiters();
            }
        }
    }

    fn wake_all(&self) {
        let map = self.by_key.lock().unwrap_or_else(|p| p.into_inner());
        for (notify, _) in map.values() {
            notify.notify_waiters();
        }
    }

    /// Listens until `shutdown`, reconnecting with a pause when the connection is lost.
    pub async fn listen(self, pool: PgPool, shutdown: CancellationToken) {
        let mut reconnect = Backoff::new(RECONNECT_PAUSE, RECONNECT_PAUSE);
        loop {
            let listener = async {
                let mut listener = PgListener::connect_with(&pool).await?;
                listener.listen(written::READ_CHANNEL).await?;
                Ok::<_, sqlx::Error>(listener)
            };
            let mut listener = tokio::select! {
                _ = shutdown.cancelled() => return,
                listener = listener => match listener {
                    Ok(listener) => listener,
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot LISTEN for written documents; waiting requests poll");
                        if reconnect.pause_unless_cancelled(&shutdown).await {
                            continue;
                        }
                        return;
                    }
                },
            };
            self.listening.store(true, Ordering::Relaxed);
            // Anything written while we were not listening: wake everyone to look once.
            self.wake_all();
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    received = listener.recv() => match received {
                        Ok(notification) => self.wake(notification.payload()),
                        Err(err) => {
                            self.listening.store(false, Ordering::Relaxed);
                            tracing::warn!(error = %err, "LISTEN connection lost; reconnecting");
                            break;
                        }
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_notification_wakes_exactly_the_waiters_of_its_keys() {
        let waiters = Waiters::default();
        let a = waiters.register("messages", "a");
        let b = waiters.register("messages", "b");
        {
            let woken_a = a.notify.notified();
            let woken_b = b.notify.notified();
            tokio::pin!(woken_a, woken_b);
            woken_a.as_mut().enable();
            woken_b.as_mut().enable();
            waiters.wake("messages\ta\tz");
            tokio::time::timeout(Duration::from_secs(1), woken_a).await.expect("a is woken");
            assert!(tokio::time::timeout(Duration::from_millis(50), woken_b).await.is_err(), "b is not");
        }
        drop(a);
        drop(b);
        assert!(waiters.by_key.lock().unwrap().is_empty(), "dropping unregisters");
    }
}
