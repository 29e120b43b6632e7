//! A private one-node stack comes up on its own ports, a broker stopped and started again serves
//! again, and dropping the stack stops its servers and removes its directory.

use std::time::Duration;

use owp_testkit::{Node, PrivateStack, Shape};

async fn accepts(brokers: &str) -> bool {
    let first = brokers.split(',').next().unwrap().to_owned();
    tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(first))
        .await
        .is_ok_and(|connected| connected.is_ok())
}

#[tokio::test]
async fn a_private_stack_starts_stops_a_node_and_cleans_up() {
    let stack = PrivateStack::launch(Shape::Single).await.unwrap();
    let brokers = stack.brokers();
    assert_eq!(brokers.split(',').count(), 1);
    assert_ne!(brokers, "127.0.0.1:9092", "a private stack must not use the shared broker's port");
    assert!(accepts(&brokers).await, "{brokers} accepts no connection");
    let status = stack.status().await.unwrap();
    assert!(status.up(Node::zookeeper(1)) && status.up(Node::kafka(1)), "{status}");
    assert_eq!(status.controller(), Some(Node::kafka(1)), "{status}");

    stack.stop(Node::kafka(1)).await.unwrap();
    assert!(!accepts(&brokers).await, "{brokers} still accepts after a stop");
    assert!(!stack.status().await.unwrap().up(Node::kafka(1)));
    stack.start(Node::kafka(1)).await.unwrap();
    assert!(accepts(&brokers).await, "{brokers} accepts nothing after a start");

    let dir = stack.state_dir().to_owned();
    let pid: i32 = std::fs::read_to_string(dir.join("run/kafka-1.pid")).unwrap().trim().parse().unwrap();
    drop(stack);
    assert!(!dir.exists(), "{} is left behind", dir.display());
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "the broker (pid {pid}) still runs");
}

#[tokio::test]
async fn killing_a_node_that_is_not_running_fails_with_the_scripts_message() {
    let stack = PrivateStack::launch(Shape::Single).await.unwrap();
    stack.kill(Node::kafka(1)).await.unwrap();
    let err = stack.kill(Node::kafka(1)).await.unwrap_err().to_string();
    assert!(err.contains("kafka-1 is not running"), "{err}");
}
