//! Records the broker acknowledged, handed straight to readers in the same process.
//!
//! When several services run in one process (`owp up`), a record one of them appends is often
//! read by another one of them: the write point's commands by the command robot, the command
//! robot's and auth's facts by the projector. Read back from the broker, each such record waits
//! for the reader's next fetch, and a broker that holds every fetch for its full wait (tansu 0.6
//! does) makes that a whole hop of latency. So once the broker has acknowledged a record, its
//! writer also offers it here, with the partition and offset the broker gave it, and the reader
//! takes it as if it had fetched it.
//!
//! Nothing here is needed for correctness, and nothing here changes the order: the log stays
//! the only order (the robot framework takes a handed record only when its offset is the very
//! next one on its partition), and a record the channel loses, or that a reader has no room for,
//! simply arrives through the fetch.

use std::{
    collections::HashSet,
    sync::{Arc, RwLock},
};

use owp_protocol::TopicName;
use tokio::sync::broadcast;

/// Records a reader can fall behind by before the channel drops the oldest for it.
const CHANNEL: usize = 4096;

/// A record the broker acknowledged: where it is, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    pub topic: TopicName,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub payload: Vec<u8>,
}

/// The process's handoff: writers offer, readers subscribe. Cloning shares it.
#[derive(Debug, Clone)]
pub struct Handoff {
    sender: broadcast::Sender<Arc<Acked>>,
    /// Topics a writer of this process hands over everything it appends to.
    written: Arc<RwLock<HashSet<TopicName>>>,
}

impl Default for Handoff {
    fn default() -> Self {
        Self { sender: broadcast::channel(CHANNEL).0, written: Arc::default() }
    }
}

impl Handoff {
    /// Offers an acknowledged record to the readers of its topic; never waits.
    pub fn offer(&self, acked: Acked) {
        if std::env::var_os("OWP_H4_NO_HANDOFF").is_some() {
            return;
        } // H4-TEMP
        // No reader (or none right now) is fine: the fetch brings it.
        let _ = self.sender.send(Arc::new(acked));
    }

    /// Says that a writer of this process offers what it appends to `topic`, so that its
    /// readers may fetch less often (only other processes' records wait for the fetch). Called
    /// before the readers start.
    pub fn written_here(&self, topic: &TopicName) {
        self.written.write().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(topic.clone());
    }

    /// Whether a writer of this process offers what it appends to `topic`.
    pub fn is_written_here(&self, topic: &TopicName) -> bool {
        if std::env::var_os("OWP_H4_NO_HANDOFF").is_some() {
            return false;
        } // H4-TEMP
        self.written.read().unwrap_or_else(|poisoned| poisoned.into_inner()).contains(topic)
    }

    pub fn subscribe(&self, topic: TopicName) -> Subscription {
        Subscription { topic, receiver: self.sender.subscribe() }
    }
}

/// One reader's side of the handoff, for one topic.
#[derive(Debug)]
pub struct Subscription {
    topic: TopicName,
    receiver: broadcast::Receiver<Arc<Acked>>,
}

impl Subscription {
    /// The next record handed over for this topic. Waits forever when nothing comes (a process
    /// with no writer of the topic), so it is always raced with the fetch.
    pub async fn recv(&mut self) -> Arc<Acked> {
        loop {
            match self.receiver.recv().await {
                Ok(acked) if acked.topic == self.topic => return acked,
                Ok(_) => {}
                // What was dropped comes through the fetch.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(topic: TopicName, offset: i64) -> Acked {
        Acked { topic, partition: 0, offset, key: None, payload: Vec::new() }
    }

    #[tokio::test]
    async fn a_subscription_sees_only_its_topic() {
        let handoff = Handoff::default();
        let mut subscription = handoff.subscribe(TopicName::events());
        handoff.offer(at(TopicName::deadletter(), 1));
        handoff.offer(at(TopicName::events(), 2));
        let received = tokio::time::timeout(std::time::Duration::from_secs(1), subscription.recv()).await;
        assert_eq!(received.expect("a record for the topic").offset, 2);
    }

    #[test]
    fn topics_written_here_are_known_to_every_clone() {
        let handoff = Handoff::default();
        let clone = handoff.clone();
        assert!(!clone.is_written_here(&TopicName::commands()));
        handoff.written_here(&TopicName::commands());
        assert!(clone.is_written_here(&TopicName::commands()));
        assert!(!clone.is_written_here(&TopicName::events()));
    }
}
