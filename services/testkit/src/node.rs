//! What a stack is made of: its shape, and the names of its nodes as `scripts/services` spells
//! them (`zookeeper-1`, `kafka-2`, `controller-3`).

use std::fmt;

/// Which servers a private stack runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One ZooKeeper node and one broker.
    Single,
    /// Three ZooKeeper nodes and three brokers: replication factor 3, min.insync.replicas 2.
    Cluster,
    /// Three KRaft controllers and three brokers, with the cluster's replication settings.
    KraftCluster,
}

impl Shape {
    /// Nodes of each role.
    pub fn nodes(self) -> u8 {
        match self {
            Self::Single => 1,
            Self::Cluster | Self::KraftCluster => 3,
        }
    }

    pub fn kraft(self) -> bool {
        self == Self::KraftCluster
    }

    /// The flags of `scripts/services start` for this shape.
    pub(crate) fn flags(self) -> &'static [&'static str] {
        match self {
            Self::Single => &[],
            Self::Cluster => &["--cluster"],
            Self::KraftCluster => &["--cluster", "--kraft"],
        }
    }
}

/// What a node does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    ZooKeeper,
    Kafka,
    Controller,
}

/// One server of a stack. Its number is 1 to 9, as the script accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Node {
    role: Role,
    number: u8,
}

impl Node {
    fn new(role: Role, number: u8) -> Self {
        // A test names nodes by literal numbers; anything else is a bug in the test.
        assert!((1..=9).contains(&number), "node numbers run from 1 to 9, not {number}");
        Self { role, number }
    }

    pub fn zookeeper(number: u8) -> Self {
        Self::new(Role::ZooKeeper, number)
    }

    pub fn kafka(number: u8) -> Self {
        Self::new(Role::Kafka, number)
    }

    pub fn controller(number: u8) -> Self {
        Self::new(Role::Controller, number)
    }

    pub fn role(self) -> Role {
        self.role
    }

    pub fn number(self) -> u8 {
        self.number
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match self.role {
            Role::ZooKeeper => "zookeeper",
            Role::Kafka => "kafka",
            Role::Controller => "controller",
        };
        write!(f, "{role}-{}", self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_named_as_the_script_names_them() {
        assert_eq!(Node::zookeeper(1).to_string(), "zookeeper-1");
        assert_eq!(Node::kafka(2).to_string(), "kafka-2");
        assert_eq!(Node::controller(3).to_string(), "controller-3");
    }

    #[test]
    #[should_panic(expected = "from 1 to 9")]
    fn node_zero_does_not_exist() {
        let _ = Node::kafka(0);
    }
}
