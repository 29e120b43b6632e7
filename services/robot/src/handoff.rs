//! Facts a robot published, handed straight to the robot of the same process that reads their
//! topic, so that it need not wait for the broker to serve them back.
//!
//! The robots of one process form a pipeline (the command robot publishes facts, the projector
//! applies them). Read back from the log, every fact waits for the projector's next fetch, and a
//! broker that holds each fetch for its full wait (tansu does) makes that a whole hop of latency.
//! So once the broker has acknowledged a fact, the publisher also offers it here, with the
//! partition and offset the broker gave it, and the reader takes it as if it had fetched it.
//!
//! The log stays the only order: a reader accepts a handed message only when its offset is the
//! very next one it expects on that partition (a fact another writer put just before it, such as
//! auth's, has to come through the fetch first), keeps the ones that arrive early, and drops the
//! fetched copies of what it already took. Nothing here is needed for correctness: a message the
//! channel loses, or that the reader has no room for, simply arrives through the fetch.

use std::collections::{BTreeMap, HashMap};

use owp_protocol::TopicName;
use tokio::sync::broadcast;

use crate::Incoming;

/// Messages a reader can fall behind by before the channel drops the oldest for it.
const CHANNEL: usize = 4096;
/// Early messages kept per partition; more wait for the fetch.
const EARLY: usize = 10_000;

/// A message the broker acknowledged: where it is, and what it says.
#[derive(Debug, Clone)]
pub struct Published {
    pub topic: TopicName,
    pub message: Incoming,
}

/// The process's handoff: publishers offer, readers subscribe.
#[derive(Debug, Clone)]
pub struct Handoff {
    sender: broadcast::Sender<std::sync::Arc<Published>>,
}

impl Default for Handoff {
    fn default() -> Self {
        Self { sender: broadcast::channel(CHANNEL).0 }
    }
}

impl Handoff {
    /// Offers an acknowledged message to the readers of its topic; never waits.
    pub fn offer(&self, published: Published) {
        // No reader (or none right now) is fine: the fetch brings it.
        let _ = self.sender.send(std::sync::Arc::new(published));
    }

    pub fn subscribe(&self, topic: TopicName) -> Subscription {
        Subscription { topic, receiver: self.sender.subscribe() }
    }
}

/// One reader's side of the handoff, for one topic.
#[derive(Debug)]
pub struct Subscription {
    topic: TopicName,
    receiver: broadcast::Receiver<std::sync::Arc<Published>>,
}

impl Subscription {
    /// The next message handed over for this topic. Waits forever when nothing comes (a
    /// process whose robots publish nothing on the topic), so it is always raced with the fetch.
    pub async fn recv(&mut self) -> Incoming {
        loop {
            match self.receiver.recv().await {
                Ok(published) if published.topic == self.topic => return published.message.clone(),
                Ok(_) => {}
                // What was dropped comes through the fetch.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
            }
        }
    }
}

/// Puts fetched and handed messages into one order per partition: the log's.
#[derive(Debug, Default)]
pub struct Sequencer {
    /// The next offset to accept, per partition read.
    next: HashMap<i32, i64>,
    /// Handed messages ahead of `next`, by offset.
    early: HashMap<i32, BTreeMap<i64, Incoming>>,
    /// Handed messages taken since [`Sequencer::handed_taken`] was last asked.
    handed_taken: u64,
}

impl Sequencer {
    /// Starts over at these positions (a new assignment).
    pub fn reset(&mut self, positions: &HashMap<i32, i64>) {
        self.next = positions.clone();
        self.early.clear();
    }

    /// A fetched message: taken unless it lies below the position (already taken, from the
    /// handoff or an earlier fetch). A fetch may skip offsets (compaction, control records), so
    /// anything at or beyond the position is taken. Returns what is taken, in order: the message
    /// itself (the consumer never delivers it again, so it is never left out) and early ones
    /// after it while fewer than `room` are taken.
    pub fn fetched(&mut self, message: Incoming, room: usize) -> Vec<Incoming> {
        let Some(next) = self.next.get_mut(&message.partition) else { return Vec::new() };
        if message.offset < *next {
            return Vec::new();
        }
        *next = message.offset + 1;
        let partition = message.partition;
        let mut taken = vec![message];
        self.drain(partition, room, &mut taken);
        taken
    }

    /// A handed message: taken when it is the very next one on its partition, kept when it is
    /// ahead, dropped when it is behind or its partition is not read here.
    pub fn handed(&mut self, message: Incoming, room: usize) -> Vec<Incoming> {
        let Some(&next) = self.next.get(&message.partition) else { return Vec::new() };
        let partition = message.partition;
        if message.offset < next {
            return Vec::new();
        }
        let early = self.early.entry(partition).or_default();
        if early.len() < EARLY || message.offset == next {
            early.insert(message.offset, message);
        }
        let mut taken = Vec::new();
        self.drain(partition, room, &mut taken);
        taken
    }

    /// Early messages that have become next, on any partition (after a full batch left some).
    pub fn ready(&mut self, room: usize) -> Vec<Incoming> {
        let partitions: Vec<i32> = self.early.keys().copied().collect();
        let mut taken = Vec::new();
        for partition in partitions {
            self.drain(partition, room, &mut taken);
        }
        taken
    }

    fn drain(&mut self, partition: i32, room: usize, taken: &mut Vec<Incoming>) {
        let (Some(next), Some(early)) = (self.next.get_mut(&partition), self.early.get_mut(&partition))
        else {
            return;
        };
        // Behind the position: fetched meanwhile.
        while early.first_key_value().is_some_and(|(offset, _)| offset < next) {
            early.pop_first();
        }
        while taken.len() < room && early.first_key_value().is_some_and(|(offset, _)| offset == next) {
            let (_, message) = early.pop_first().expect("checked above");
            *next += 1;
            self.handed_taken += 1;
            taken.push(message);
        }
    }

    /// How many handed messages were taken since the last call.
    pub fn handed_taken(&mut self) -> u64 {
        std::mem::take(&mut self.handed_taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(partition: i32, offset: i64) -> Incoming {
        Incoming { partition, offset, key: None, payload: Vec::new() }
    }

    fn offsets(taken: &[Incoming]) -> Vec<i64> {
        taken.iter().map(|m| m.offset).collect()
    }

    fn sequencer() -> Sequencer {
        let mut sequencer = Sequencer::default();
        sequencer.reset(&HashMap::from([(0, 10), (1, 0)]));
        sequencer
    }

    #[test]
    fn a_handed_message_that_is_next_is_taken_and_its_fetched_copy_dropped() {
        let mut s = sequencer();
        assert_eq!(offsets(&s.handed(at(0, 10), 100)), [10]);
        assert!(s.fetched(at(0, 10), 100).is_empty(), "the fetched copy is dropped");
        assert_eq!(offsets(&s.fetched(at(0, 11), 100)), [11]);
    }

    #[test]
    fn a_handed_message_waits_for_the_one_another_writer_put_before_it() {
        let mut s = sequencer();
        assert!(s.handed(at(0, 11), 100).is_empty(), "offset 10 has not been read yet");
        assert!(s.handed(at(0, 12), 100).is_empty());
        assert_eq!(offsets(&s.fetched(at(0, 10), 100)), [10, 11, 12], "then in the log's order");
        assert_eq!(s.handed_taken(), 2);
        assert!(s.fetched(at(0, 11), 100).is_empty());
        assert!(s.fetched(at(0, 12), 100).is_empty());
    }

    #[test]
    fn behind_the_position_or_on_a_partition_not_read_here_is_dropped() {
        let mut s = sequencer();
        assert!(s.handed(at(0, 9), 100).is_empty());
        assert!(s.handed(at(7, 0), 100).is_empty());
        assert!(s.fetched(at(7, 0), 100).is_empty());
        assert!(s.fetched(at(0, 9), 100).is_empty());
    }

    #[test]
    fn a_fetch_may_skip_offsets_and_early_ones_it_passed_are_forgotten() {
        let mut s = sequencer();
        assert!(s.handed(at(0, 12), 100).is_empty());
        assert_eq!(offsets(&s.fetched(at(0, 15), 100)), [15], "a gap in the log is accepted");
        assert!(s.handed(at(0, 13), 100).is_empty(), "13 lies behind the position now");
        assert_eq!(offsets(&s.handed(at(0, 16), 100)), [16]);
    }

    #[test]
    fn a_full_batch_leaves_the_rest_for_later_and_partitions_stay_apart() {
        let mut s = sequencer();
        for offset in 11..15 {
            s.handed(at(0, offset), 100);
        }
        assert_eq!(offsets(&s.fetched(at(0, 10), 2)), [10, 11]);
        assert_eq!(offsets(&s.handed(at(1, 0), 100)), [0], "partition 1 is not held up by 0");
        assert_eq!(offsets(&s.ready(100)), [12, 13, 14]);
        assert!(s.ready(100).is_empty());
    }

    #[test]
    fn a_reset_forgets_what_was_kept() {
        let mut s = sequencer();
        s.handed(at(0, 11), 100);
        s.reset(&HashMap::from([(0, 10)]));
        assert_eq!(offsets(&s.fetched(at(0, 10), 100)), [10], "11 was forgotten with the assignment");
    }

    #[tokio::test]
    async fn a_subscription_sees_only_its_topic() {
        let handoff = Handoff::default();
        let events = TopicName::events();
        let other = TopicName::deadletter();
        let mut subscription = handoff.subscribe(events.clone());
        handoff.offer(Published { topic: other, message: at(0, 1) });
        handoff.offer(Published { topic: events, message: at(0, 2) });
        let received = tokio::time::timeout(std::time::Duration::from_secs(1), subscription.recv()).await;
        assert_eq!(received.expect("a message for the topic").offset, 2);
    }
}
