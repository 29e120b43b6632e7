//! Records handed over in process (see [`owp_platform::handoff`]) put into the log's order.
//!
//! A reader accepts a handed record only when its offset is the very next one it expects on that
//! partition (a record another process put just before it has to come through the fetch first),
//! keeps the ones that arrive early, and drops the fetched copies of what it already took.

use std::collections::{BTreeMap, HashMap};

pub use owp_platform::handoff::{Acked, Handoff, Subscription};

use crate::Incoming;

/// Early messages kept per partition; more wait for the fetch.
const EARLY: usize = 10_000;

impl From<&Acked> for Incoming {
    fn from(acked: &Acked) -> Self {
        Self {
            partition: acked.partition,
            offset: acked.offset,
            key: acked.key.clone(),
            payload: acked.payload.clone(),
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
}
