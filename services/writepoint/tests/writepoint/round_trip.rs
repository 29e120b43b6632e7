//! A posted document is on the commands topic, exactly as accepted.

use serde_json::json;

use crate::helpers::{read_back, spawn_app};

#[tokio::test]
async fn a_posted_document_is_read_back_from_the_topic() {
    let app = spawn_app().await;
    let document_id = uuid::Uuid::new_v4().to_string();
    let response = app
        .post_json(&json!({
            "item_type": "business",
            "document_id": document_id,
            "name": "Country Vegetables",
        }))
        .await;
    assert_eq!(response.status(), 202);
    let receipt: serde_json::Value = response.json().await.unwrap();
    assert_eq!(receipt["document_id"], document_id.as_str());
    assert_eq!(receipt["topic"], app.topic.as_str());

    let partition = i32::try_from(receipt["partition"].as_i64().unwrap()).unwrap();
    let message = read_back(&app.kafka, &app.topic, partition, receipt["offset"].as_i64().unwrap()).await;
    assert_eq!(message.key, document_id, "a new business is keyed by its own id");
    assert_eq!(message.value["document_id"], document_id.as_str());
    assert_eq!(
        message.value["session_id"],
        app.session.as_str(),
        "the session comes from the Authorization header"
    );
    assert_eq!(message.value["item_type"], "business");
    assert_eq!(message.value["body"], json!({"name": "Country Vegetables"}));
    assert!(message.value["received_at"].is_string());
    // The headers repeat what a consumer routes on, so it need not parse the payload to do so.
    let header =
        |name: &str| message.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    assert_eq!(header("content-type"), Some("application/json"), "{:?}", message.headers);
    assert_eq!(header("item_type"), Some("business"), "{:?}", message.headers);
    assert_eq!(header("document_id"), Some(document_id.as_str()), "{:?}", message.headers);
}

#[tokio::test]
async fn a_document_without_id_gets_one() {
    let app = spawn_app().await;
    let response =
        app.post_json(&json!({"item_type": "profile", "first_name": "Allie", "last_name": "Veblen"})).await;
    assert_eq!(response.status(), 202);
    let receipt: serde_json::Value = response.json().await.unwrap();
    let created = receipt["document_id"].as_str().unwrap();
    uuid::Uuid::parse_str(created).expect("a created document_id is a UUID");
    let partition = i32::try_from(receipt["partition"].as_i64().unwrap()).unwrap();
    let message = read_back(&app.kafka, &app.topic, partition, receipt["offset"].as_i64().unwrap()).await;
    assert_eq!(message.value["document_id"], created);
}

#[tokio::test]
async fn updates_to_one_entity_share_a_key_and_a_partition_in_order() {
    let app = spawn_app().await;
    let profile_id = uuid::Uuid::new_v4().to_string();
    let mut receipts = Vec::new();
    for name in ["First", "Second", "Third"] {
        let response = app
            .post_json(&json!({"item_type": "profile", "profile_id": profile_id, "first_name": name, "last_name": "V"}))
            .await;
        assert_eq!(response.status(), 202);
        receipts.push(response.json::<serde_json::Value>().await.unwrap());
    }
    let partitions: Vec<_> = receipts.iter().map(|r| r["partition"].as_i64().unwrap()).collect();
    assert!(partitions.windows(2).all(|w| w[0] == w[1]), "one entity, one partition: {partitions:?}");
    let offsets: Vec<_> = receipts.iter().map(|r| r["offset"].as_i64().unwrap()).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "in order: {offsets:?}");
    let last = read_back(&app.kafka, &app.topic, i32::try_from(partitions[2]).unwrap(), offsets[2]).await;
    assert_eq!(last.key, profile_id);
    assert_eq!(last.value["body"]["first_name"], "Third");
}

#[tokio::test]
async fn resending_the_same_document_is_accepted_again_with_the_same_identity() {
    let app = spawn_app().await;
    let document = json!({"item_type": "business", "document_id": uuid::Uuid::new_v4(), "name": "Twice"});
    let first: serde_json::Value = app.post_json(&document).await.json().await.unwrap();
    let second = app.post_json(&document).await;
    assert_eq!(second.status(), 202);
    let second: serde_json::Value = second.json().await.unwrap();
    assert_eq!(first["document_id"], second["document_id"]);
    assert_eq!(first["partition"], second["partition"], "same key, same partition");
    // Both copies are on the log; the robots drop the second by its document_id.
    let partition = i32::try_from(second["partition"].as_i64().unwrap()).unwrap();
    let copy = read_back(&app.kafka, &app.topic, partition, second["offset"].as_i64().unwrap()).await;
    assert_eq!(copy.value["document_id"], document["document_id"]);
}
