//! ZooKeeper drills: one node of the ensemble killed with SIGKILL (the leader), and two of the
//! three stopped, which leaves no quorum. Kafka keeps serving what it already knows without
//! ZooKeeper, so what these drills demand is that the write point never hangs — every answer
//! comes within the produce timeout and a margin, a 503 always with Retry-After — and that
//! everything catches up when the ensemble is whole again.

use std::time::{Duration, Instant};

use owp_testkit::{Node, Shape, eventually};

use crate::drill::Drill;

/// The ensemble's leader once it is none of `gone` (bounded), asked of the nodes directly.
async fn zookeeper_leader(drill: &Drill, gone: &[Node]) -> Node {
    eventually(Duration::from_secs(120), Duration::from_millis(100), async || {
        drill.cluster.zookeeper_leader().await.filter(|leader| !gone.contains(leader))
    })
    .await
    .expect("ZooKeeper elected no leader within 120 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_zookeeper_node_loses_nothing() {
    let _serial = crate::SERIAL.lock().await;
    let mut drill = Drill::start("zookeeper-kill", Shape::Cluster).await;
    drill.until_accepted(0.1).await;

    let leader = zookeeper_leader(&drill, &[]).await;
    drill.step(format!("SIGKILL {leader}, the ZooKeeper leader"));
    let killed = Instant::now();
    drill.cluster.kill(leader).await.unwrap();
    let successor = zookeeper_leader(&drill, &[leader]).await;
    drill.note(format!(
        "{successor} leads the ensemble, {:.1} s after the kill",
        killed.elapsed().as_secs_f64()
    ));
    drill.writable_without(&[]).await;
    drill.restart(&[leader]).await;
    drill.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_zookeeper_nodes_stopped_never_hang_the_write_point() {
    let _serial = crate::SERIAL.lock().await;
    let mut drill = Drill::start("two-zookeepers-stopped", Shape::Cluster).await;
    drill.until_accepted(0.1).await;

    let leader = zookeeper_leader(&drill, &[]).await;
    let follower = (1..=3).map(Node::zookeeper).find(|&node| node != leader).unwrap();
    let down = [leader, follower];
    drill.step(format!("stopping {leader} (the leader) and {follower}"));
    for node in down {
        drill.cluster.stop(node).await.unwrap();
    }
    let mut last = None;
    eventually(Duration::from_secs(30), Duration::from_millis(100), async || {
        last = drill.cluster.zookeeper_leader().await;
        last.is_none().then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("{} still leads with two of three nodes stopped", last.unwrap()));
    let lost = drill.step("no ZooKeeper quorum: the node left has no leader");
    // Long enough for any request stuck on the lost quorum to have shown it: twice the bound on
    // an answer, and a twentieth of the documents answered meanwhile.
    let (started, hold) = (Instant::now(), drill.bound() * 2);
    let answers = (drill.load.total() / 20).max(100);
    drill
        .until(&format!("{answers} answers without a quorum"), |load| {
            started.elapsed() >= hold && load.answered_since(lost) >= answers
        })
        .await;
    drill.note(format!(
        "without a quorum for {:.1} s: {} answers, {} of them 503",
        started.elapsed().as_secs_f64(),
        drill.load.answered_since(lost),
        drill.load.count_since(503, lost)
    ));
    drill.restart(&down).await;
    let leader = zookeeper_leader(&drill, &[]).await;
    drill.note(format!("the ensemble is whole again, led by {leader}"));
    drill.finish().await;
}
