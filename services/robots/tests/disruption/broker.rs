//! The private broker of a disruption test that kills it: ZooKeeper and one Kafka broker of the
//! test's own (owp-testkit, through scripts/services), so the restart touches nobody else's
//! broker, and topics and a database on it.

use owp_platform::kafka::KafkaSettings;
use owp_testkit::{PrivateStack, Shape};

use crate::support::Names;

/// A one-node stack and names on it. Dropping the stack stops it and removes its data.
pub async fn private() -> (PrivateStack, Names) {
    let stack = PrivateStack::launch(Shape::Single).await.expect("a private ZooKeeper and broker must start");
    let names = Names::create_with(KafkaSettings::new(stack.brokers())).await;
    (stack, names)
}
