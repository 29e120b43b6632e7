//! Duplicate delivery of the same command and of the same event changes nothing.

use std::time::Duration;

use owp_protocol::{Registry, facts::kind};
use serde_json::json;

use crate::support::{Stack, produce, producer, read_all, snapshot, wait_scalar};

#[tokio::test]
async fn the_same_command_twice_gives_one_fact_and_one_row() {
    let stack = Stack::start().await;
    let session = stack.session("dup").await;
    let registry = Registry::embedded().unwrap();
    let document_id = uuid::Uuid::new_v4();
    let submission = registry
        .parse_document(
            json!({"item_type": "business", "document_id": document_id, "name": "Once"}),
            Some(owp_protocol::SessionId::parse(&session).unwrap()),
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
    let payload = submission.command.to_json();
    let producer = producer(&stack.names.kafka);
    let topic = stack.names.topics.commands_topic.to_string();
    produce(&producer, &topic, submission.key.as_str(), &payload).await;
    let (partition, last) = produce(&producer, &topic, submission.key.as_str(), &payload).await;
    // Both copies are behind the command robot once its stored offset passed the second.
    let group = format!("{}commands", stack.names.group_prefix());
    wait_scalar(
        &stack.pool,
        &format!(
            "SELECT count(*) FROM owp_robots.robot_offsets WHERE group_id = '{group}' AND partition = {partition} AND next_offset > {last}"
        ),
        1,
        Duration::from_secs(30),
    )
    .await;
    stack.outcome(&document_id.to_string()).await;
    let events = read_all(&stack.names.kafka, stack.names.topics.events_topic.as_str()).await;
    let outcomes = events
        .iter()
        .filter(|e| e["document_id"] == json!(document_id) && e["kind"] == kind::BUSINESS_CREATED)
        .count();
    assert_eq!(outcomes, 1, "one fact for one document");
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM businesses").fetch_one(&stack.pool).await.unwrap();
    assert_eq!(rows, 1);
    stack.stop().await;
}

#[tokio::test]
async fn the_same_event_twice_changes_nothing() {
    let stack = Stack::start().await;
    let session = stack.session("replayed").await;
    let document = stack.post_as(&session, json!({"item_type": "business", "name": "First name"})).await;
    stack.outcome(&document).await;
    let rename = stack
        .post_as(&session, json!({"item_type": "business", "business_id": document, "name": "Second name"}))
        .await;
    stack.outcome(&rename).await;
    let before = snapshot(&stack.pool).await;

    // Deliver every fact again, the creation included.
    let events = read_all(&stack.names.kafka, stack.names.topics.events_topic.as_str()).await;
    let producer = producer(&stack.names.kafka);
    let topic = stack.names.topics.events_topic.to_string();
    let mut last = (0, 0);
    for event in &events {
        last = produce(&producer, &topic, &document, &serde_json::to_vec(event).unwrap()).await;
    }
    let group = format!("{}projector", stack.names.group_prefix());
    wait_scalar(
        &stack.pool,
        &format!(
            "SELECT count(*) FROM robot_offsets WHERE group_id = '{group}' AND partition = {} AND next_offset > {}",
            last.0, last.1
        ),
        1,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(snapshot(&stack.pool).await, before);
    let name: String =
        sqlx::query_scalar("SELECT name FROM businesses").fetch_one(&stack.pool).await.unwrap();
    assert_eq!(name, "Second name");
    stack.stop().await;
}
