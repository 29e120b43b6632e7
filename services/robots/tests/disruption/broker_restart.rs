//! The broker killed with SIGKILL mid-stream and started again: robots pause, retry and catch
//! up; nothing is lost. Runs its own ZooKeeper and broker, whose log survives the restart.

use std::time::{Duration, Instant};

use owp_testkit::Node;

use crate::{
    broker, flow,
    support::{Stack, producer},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_stream_loses_nothing() {
    let _serial = crate::SERIAL.lock().await;
    let (private, names) = broker::private().await;
    let stack = Stack::start_on(names.clone(), true).await;
    let session = flow::session(&stack.auth, &stack.client).await;
    let producer = producer(&names.kafka);

    let documents = flow::documents();
    let mut downtime = None;
    let sent = flow::send(&producer, &names, &session, documents, 500, async |done| {
        if done >= documents / 2 && downtime.is_none() {
            let killed = Instant::now();
            private.kill(Node::kafka(1)).await.unwrap();
            // In ZooKeeper mode the restart first waits out the killed broker's session.
            private.start(Node::kafka(1)).await.unwrap();
            downtime = Some(killed.elapsed());
        }
    })
    .await;
    let downtime = downtime.expect("the broker was restarted mid-stream");
    crate::report(&format!(
        "broker killed (SIGKILL) after {} of {documents} documents, serving again {:.1} s later; {} \
         records resent by the test's producer after the restart",
        documents / 2,
        downtime.as_secs_f64(),
        sent.resent
    ));
    flow::check(&names, &sent, Duration::from_secs(600)).await;
    stack.stop().await;
}
