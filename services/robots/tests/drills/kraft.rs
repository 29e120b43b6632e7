//! The broker drill on a KRaft cluster (three controllers, three brokers): a broker killed with
//! SIGKILL, then the active controller, while documents flow end to end.

use owp_testkit::{Node, Shape};

use crate::drill::Drill;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraft_a_killed_broker_then_a_killed_controller_lose_nothing() {
    let _serial = crate::SERIAL.lock().await;
    let mut drill = Drill::start("kraft", Shape::KraftCluster).await;
    drill.until_accepted(0.1).await;

    let broker = Node::kafka(u8::try_from(drill.view.busiest_leader(&[1, 2, 3]).await).unwrap());
    drill.kill_and_restart_broker(broker).await;

    let controller = drill.controller().await;
    drill.step(format!("SIGKILL {controller}, the active controller (the quorum's leader)"));
    drill.cluster.kill(controller).await.unwrap();
    let successor = drill.controller_other_than(controller).await;
    drill.note(format!("{successor} leads the quorum now"));
    drill.writable_without(&[]).await;
    drill.restart(&[controller]).await;
    drill.finish().await;
}
