//! A message that keeps failing is parked on its key, copied to the dead-letter topic and
//! reported to its sender; other keys keep flowing; after the cause is fixed, a retry applies it.

use std::time::Duration;

use owp_robot_framework::{SchemaName, deadletter, store};
use serde_json::json;

use crate::support::{Stack, producer, read_all, wait_scalar};

#[tokio::test]
async fn a_poison_message_waits_on_its_key_and_can_be_retried() {
    let stack = Stack::start().await;
    let session = stack.session("poisoner").await;
    // The cause: a database rule that refuses one particular business.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.name = 'poison' THEN RAISE EXCEPTION 'refusing %', NEW.name; END IF; RETURN NEW; END $$;
         CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON businesses
           FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
    )
    .execute(&stack.pool)
    .await
    .unwrap();

    let poison = stack.post_as(&session, json!({"item_type": "business", "name": "poison"})).await;
    let (status, text) = stack.outcome(&poison).await;
    assert_eq!(status, "failed", "{text}");

    // Later messages with the same key wait behind it; other keys keep flowing.
    let same_key = stack
        .post_as(&session, json!({"item_type": "business", "business_id": poison, "name": "renamed"}))
        .await;
    let other = stack.post_as(&session, json!({"item_type": "business", "name": "healthy"})).await;
    assert_eq!(stack.outcome(&other).await.0, "accepted");
    let projection = SchemaName::parse("owp").unwrap();
    wait_scalar(
        &stack.pool,
        "SELECT count(*) FROM robot_parked WHERE released_at IS NULL",
        2,
        Duration::from_secs(30),
    )
    .await;
    let parked = store::list_parked(&stack.pool, &projection).await.unwrap();
    assert!(parked[0].reason.contains("refusing poison"), "{:?}", parked[0].reason);
    assert!(parked[1].reason.contains("waiting behind"), "{:?}", parked[1].reason);
    assert_eq!(parked[0].key, parked[1].key);
    // Its sender is told it waits; its own outcome is not applied yet.
    let waiting: String = sqlx::query_scalar("SELECT status FROM messages WHERE document_id = $1::uuid")
        .bind(&same_key)
        .fetch_one(&stack.pool)
        .await
        .unwrap();
    assert_eq!(waiting, "failed");

    let dead = read_all(&stack.names.kafka, stack.names.topics.deadletter_topic.as_str()).await;
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(dead.iter().any(|m| m["document_id"] == json!(poison)), "{dead:?}");

    // Fix the cause, retry.
    sqlx::raw_sql("DROP TRIGGER refuse_poison ON businesses").execute(&stack.pool).await.unwrap();
    let retried =
        deadletter::retry(&stack.pool, &producer(&stack.names.kafka), &projection, None).await.unwrap();
    assert!(retried >= 1);
    wait_scalar(
        &stack.pool,
        &format!("SELECT count(*) FROM messages WHERE document_id = '{poison}' AND status = 'accepted'"),
        1,
        Duration::from_secs(30),
    )
    .await;
    wait_scalar(
        &stack.pool,
        "SELECT count(*) FROM robot_parked WHERE released_at IS NULL",
        0,
        Duration::from_secs(30),
    )
    .await;
    // The message that waited is applied after it, in order: its real outcome replaces "failed".
    wait_scalar(
        &stack.pool,
        &format!("SELECT count(*) FROM messages WHERE document_id = '{same_key}' AND status <> 'failed'"),
        1,
        Duration::from_secs(30),
    )
    .await;
    stack.stop().await;
}
