//! What `scripts/services status` says about a stack, read back into answers a test can act on:
//! which node is up, which ZooKeeper node leads, which node is the active controller.

use std::fmt;

use crate::Node;

/// KRaft controller ids are 3000 + the node's number (scripts/services, `controller_id`).
const CONTROLLER_ID_BASE: u32 = 3000;

/// The text of `scripts/services status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    text: String,
}

impl Status {
    pub(crate) fn new(text: String) -> Self {
        Self { text }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The line the script prints for `node`, past its `node: ` prefix.
    fn line(&self, node: Node) -> Option<&str> {
        let prefix = format!("{node}: ");
        self.text.lines().find_map(|line| line.strip_prefix(&prefix))
    }

    /// Whether the script reports `node` up (a ZooKeeper node: answering, in some mode).
    pub fn up(&self, node: Node) -> bool {
        self.line(node).is_some_and(|line| line.trim() != "down")
    }

    /// The ZooKeeper node in mode leader, if any.
    pub fn zookeeper_leader(&self) -> Option<Node> {
        (1..=9).map(Node::zookeeper).find(|&node| self.line(node).is_some_and(|l| l.ends_with("mode leader")))
    }

    /// The active controller: the broker named by ZooKeeper's `/controller` (`controller: broker
    /// N`), or in KRaft the quorum's leader (`LeaderId: 300N`).
    pub fn controller(&self) -> Option<Node> {
        self.text.lines().map(str::trim).find_map(|line| {
            if let Some(broker) = line.strip_prefix("controller: broker ") {
                return broker.trim().parse().ok().filter(|n| (1..=9).contains(n)).map(Node::kafka);
            }
            let id: u32 = line.strip_prefix("LeaderId:")?.trim().parse().ok()?;
            let number = u8::try_from(id.checked_sub(CONTROLLER_ID_BASE)?).ok()?;
            (1..=9).contains(&number).then(|| Node::controller(number))
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZOOKEEPER: &str = "stack: 3 node(s), metadata in zookeeper, state in /tmp/x
postgres: 15.18 on 127.0.0.1:5432, up
zookeeper-1: 3.8.4 on 127.0.0.1:20000, mode follower
zookeeper-2: 3.8.4 on 127.0.0.1:20001, mode leader
zookeeper-3: down
kafka-1: 3.9.1 broker id 1 on 127.0.0.1:20010, up (pid 1)
kafka-2: down
kafka-3: 3.9.1 broker id 3 on 127.0.0.1:20012, up (pid 3)
  broker ids: [1, 3]
  controller: broker 3
opensearch: down
";

    const KRAFT: &str = "stack: 3 node(s), metadata in kraft, state in /tmp/x
controller-1: id 3001 on 127.0.0.1:20110, up (pid 1)
controller-2: down
kafka-1: 3.9.1 broker id 1 on 127.0.0.1:20010, up (pid 4)
  LeaderId:               3003
  CurrentVoters:          [3001,3002,3003]
";

    #[test]
    fn reads_nodes_leader_and_controller_in_zookeeper_mode() {
        let status = Status::new(ZOOKEEPER.into());
        assert!(status.up(Node::zookeeper(1)) && status.up(Node::kafka(3)));
        assert!(!status.up(Node::zookeeper(3)) && !status.up(Node::kafka(2)));
        assert_eq!(status.zookeeper_leader(), Some(Node::zookeeper(2)));
        assert_eq!(status.controller(), Some(Node::kafka(3)));
    }

    #[test]
    fn reads_the_quorum_leader_in_kraft_mode() {
        let status = Status::new(KRAFT.into());
        assert!(status.up(Node::controller(1)) && !status.up(Node::controller(2)));
        assert_eq!(status.controller(), Some(Node::controller(3)));
        assert_eq!(status.zookeeper_leader(), None);
    }
}
