//! Outcome look-ups of concurrent requests, coalesced into one read-store request.
//!
//! Every `GET /v1/documents/{id}?wait=…` looks its document up once when it arrives and again
//! each time it is woken; at hundreds of documents a second that was a query per look-up, and
//! most of the read point's share of the database. Look-ups go through one queue instead: a
//! worker takes everything queued (up to [`MAX_KEYS`]) and asks the store for all of it at once,
//! with up to [`IN_FLIGHT`] such requests at a time. Nothing waits to fill a batch: while
//! requests are in flight, the next look-ups queue up, so batches grow with the load and a lone
//! look-up goes straight through.

use std::{collections::HashMap, sync::Arc};

use owp_readstore::{AnyStore, CollectionName, ReadStore, StoredDoc};
use prometheus_client::{metrics::counter::Counter, registry::Registry};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Keys per store request.
const MAX_KEYS: usize = 256;
/// Store requests in flight at once.
const IN_FLIGHT: usize = 4;
/// Look-ups waiting for the worker; beyond it a request waits to queue (each request has one
/// look-up at a time, and the HTTP concurrency limit bounds the requests, so this is a backstop).
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<owp_readstore::Result<Option<StoredDoc>>>;

#[derive(Debug)]
struct Lookup {
    collection: CollectionName,
    key: String,
    reply: Reply,
}

/// The queue's sending side; cloning shares it.
#[derive(Debug, Clone)]
pub struct Lookups {
    queue: mpsc::Sender<Lookup>,
    store: Arc<AnyStore>,
    /// `readpoint_lookup_requests_total`: store requests made for look-ups.
    requests: Counter,
    /// `readpoint_lookup_keys_total`: keys they asked for (keys per request: how well the
    /// look-ups coalesce).
    keys: Counter,
}

impl Lookups {
    /// Starts the worker; it stops when `shutdown` is cancelled or every sender is gone.
    pub fn start(store: Arc<AnyStore>, registry: &mut Registry, shutdown: CancellationToken) -> Self {
        let (requests, keys) = (Counter::default(), Counter::default());
        registry.register(
            "readpoint_lookup_requests",
            "Read store requests made for outcome look-ups",
            requests.clone(),
        );
        registry.register("readpoint_lookup_keys", "Keys asked for by outcome look-ups", keys.clone());
        let (queue, receiver) = mpsc::channel(QUEUE);
        let lookups = Self { queue, store, requests, keys };
        tokio::spawn(lookups.clone().work(receiver, shutdown));
        lookups
    }

    /// The published document at `collection/key`, if there is one.
    pub async fn get(
        &self,
        collection: &CollectionName,
        key: &str,
    ) -> owp_readstore::Result<Option<StoredDoc>> {
        let (reply, answer) = oneshot::channel();
        let lookup = Lookup { collection: collection.clone(), key: key.to_owned(), reply };
        if self.queue.send(lookup).await.is_err() {
            // The worker has stopped (shutting down): ask the store directly.
            return self.store.get(collection, key).await;
        }
        match answer.await {
            Ok(found) => found,
            Err(_) => self.store.get(collection, key).await,
        }
    }

    async fn work(self, mut receiver: mpsc::Receiver<Lookup>, shutdown: CancellationToken) {
        let permits = Arc::new(Semaphore::new(IN_FLIGHT));
        loop {
            // A free slot first, then everything queued by then.
            let Ok(permit) = permits.clone().acquire_owned().await else { return };
            let first = tokio::select! {
                () = shutdown.cancelled() => return,
                first = receiver.recv() => match first {
                    Some(first) => first,
                    None => return,
                },
            };
            let mut batch = vec![first];
            while batch.len() < MAX_KEYS {
                match receiver.try_recv() {
                    Ok(lookup) => batch.push(lookup),
                    Err(_) => break,
                }
            }
            let this = self.clone();
            tokio::spawn(async move {
                this.answer(batch).await;
                drop(permit);
            });
        }
    }

    /// One store request per collection in the batch; each look-up gets its document.
    async fn answer(&self, batch: Vec<Lookup>) {
        let mut by_collection: HashMap<CollectionName, Vec<Lookup>> = HashMap::new();
        for lookup in batch {
            by_collection.entry(lookup.collection.clone()).or_default().push(lookup);
        }
        for (collection, lookups) in by_collection {
            let mut keys: Vec<String> = lookups.iter().map(|l| l.key.clone()).collect();
            keys.sort_unstable();
            keys.dedup();
            self.requests.inc();
            self.keys.inc_by(keys.len() as u64);
            match self.store.get_many(&collection, &keys).await {
                Ok(found) => {
                    let found: HashMap<String, StoredDoc> =
                        found.into_iter().map(|doc| (doc.key.clone(), doc)).collect();
                    for lookup in lookups {
                        // Two look-ups of one key each get the document.
                        let _ = lookup.reply.send(Ok(found.get(&lookup.key).cloned()));
                    }
                }
                // Every look-up gets the store's answer for itself (errors are not shared).
                Err(_) => {
                    for lookup in lookups {
                        let answer = self.store.get(&collection, &lookup.key).await;
                        let _ = lookup.reply.send(answer);
                    }
                }
            }
        }
    }
}
