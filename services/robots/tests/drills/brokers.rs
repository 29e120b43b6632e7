//! Broker drills on a ZooKeeper-mode cluster: a broker and then the active controller killed
//! with SIGKILL; two brokers stopped, which leaves fewer replicas than min.insync.replicas.

use std::time::Instant;

use owp_testkit::{Node, Shape};

use crate::drill::Drill;

/// The brokers of a three-broker cluster, by id.
const BROKERS: [u8; 3] = [1, 2, 3];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_broker_then_a_killed_controller_lose_nothing() {
    let _serial = crate::SERIAL.lock().await;
    let mut drill = Drill::start("broker-kill", Shape::Cluster).await;
    drill.until_accepted(0.1).await;

    // First a plain broker's death: not the controller, and the one leading most partitions.
    let controller = drill.controller().await;
    let others: Vec<i32> =
        BROKERS.iter().filter(|&&n| Node::kafka(n) != controller).map(|&n| i32::from(n)).collect();
    let broker = Node::kafka(u8::try_from(drill.view.busiest_leader(&others).await).unwrap());
    drill.note(format!("killing {broker} first"));
    drill.kill_and_restart_broker(broker).await;

    // Then the active controller's (found again: the restart may have moved it).
    let controller = drill.controller().await;
    drill.step(format!("SIGKILL {controller}, the active controller"));
    drill.cluster.kill(controller).await.unwrap();
    let moved = drill.writable_without(&[controller]).await;
    let successor = drill.controller_other_than(controller).await;
    drill.note(format!(
        "{successor} took over as controller; partitions writable {:.1} s after the kill",
        moved.as_secs_f64()
    ));
    drill.restart(&[controller]).await;
    drill.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_brokers_stopped_answer_503_with_retry_after_and_recover() {
    let _serial = crate::SERIAL.lock().await;
    let mut drill = Drill::start("two-brokers-stopped", Shape::Cluster).await;
    drill.until_accepted(0.1).await;

    let down = [Node::kafka(2), Node::kafka(3)];
    drill.step("stopping kafka-2 and kafka-3 (clean shutdown)");
    for node in down {
        drill.cluster.stop(node).await.unwrap();
    }
    // One replica left, min.insync.replicas is 2: no acks=all write can succeed now. Held for
    // twice the bound on an answer, and until 20 requests sent meanwhile were refused.
    let below = drill.step("kafka-2 and kafka-3 stopped: one in-sync replica, below min.insync.replicas");
    let (held, hold) = (Instant::now(), drill.bound() * 2);
    drill
        .until("20 requests refused below min.insync.replicas", |load| {
            held.elapsed() >= hold && load.sent_since(503, below) >= 20
        })
        .await;
    let (refused, accepted) = (drill.load.sent_since(503, below), drill.load.sent_since(202, below));
    drill.note(format!(
        "below min.insync.replicas for {:.1} s: of the requests sent meanwhile, {refused} answered 503 \
         and {accepted} were accepted",
        held.elapsed().as_secs_f64()
    ));
    assert_eq!(accepted, 0, "a document sent below min.insync.replicas was accepted");

    drill.restart(&down).await;
    drill.finish().await;
}
