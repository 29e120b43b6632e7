//! Ports for a private stack: one base port from which `scripts/services` derives every port it
//! uses, chosen so that all of them are free now and taken by no other stack of this process.
//!
//! The layout from a base B: ZooKeeper clients B..B+2 (quorum +1000, election +2000), brokers
//! B+10..B+12, KRaft controllers B+110..B+112 (the brokers' port + 100), and the OpenSearch port
//! (never started here) B+20 with its transport at B+120. Bases lie in 10000..=28000, so even
//! B+2002 stays below Linux's ephemeral range (32768 up), where port-0 listeners of other tests
//! land.

use std::{
    collections::BTreeSet,
    hash::{BuildHasher, Hasher},
    net::TcpListener,
    sync::Mutex,
};

use crate::{Error, Result};

const LOWEST_BASE: u16 = 10_000;
const HIGHEST_BASE: u16 = 28_000;
const TRIES: usize = 200;

/// Every port handed to a stack of this process; never handed out twice.
static RESERVED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// The base ports a stack is started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub zookeeper: u16,
    pub kafka: u16,
    pub opensearch: u16,
}

impl Ports {
    fn from_base(base: u16) -> Self {
        Self { zookeeper: base, kafka: base + 10, opensearch: base + 20 }
    }

    /// Every port a three-node stack of any shape may listen on.
    fn all(self) -> Vec<u16> {
        let mut ports = vec![self.opensearch, self.opensearch + 100];
        for i in 0..3 {
            ports.extend([
                self.zookeeper + i,
                self.zookeeper + 1000 + i,
                self.zookeeper + 2000 + i,
                self.kafka + i,
                self.kafka + 100 + i,
            ]);
        }
        ports
    }

    /// Free ports for a new stack, reserved for it.
    pub fn reserve() -> Result<Self> {
        let span = u64::from(HIGHEST_BASE - LOWEST_BASE) + 1;
        for _ in 0..TRIES {
            let offset = random() % span;
            let ports = Self::from_base(LOWEST_BASE + u16::try_from(offset).unwrap_or(0));
            let wanted = ports.all();
            let mut reserved = RESERVED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if wanted.iter().any(|port| reserved.contains(port)) || !wanted.iter().all(|&port| free(port)) {
                continue;
            }
            reserved.extend(wanted);
            return Ok(ports);
        }
        Err(Error::NoPorts(TRIES))
    }
}

fn free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A random number from the standard library's randomly keyed hasher: enough to spread stacks
/// over the range, and no dependency for it.
fn random() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_layout_overlaps_nothing_and_stays_below_the_ephemeral_range() {
        let ports = Ports::from_base(HIGHEST_BASE).all();
        let distinct: HashSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len());
        assert!(ports.iter().all(|&port| port < 32_768), "{ports:?}");
    }

    #[test]
    fn two_reservations_share_no_port() {
        let (a, b) = (Ports::reserve().unwrap(), Ports::reserve().unwrap());
        let a: HashSet<_> = a.all().into_iter().collect();
        assert!(b.all().iter().all(|port| !a.contains(port)));
    }
}
