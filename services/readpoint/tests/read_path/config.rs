//! Hot reload of the translator configuration.

use std::time::Duration;

use serde_json::json;

use crate::harness::{ReadStack, shipped_config};

end_to_end! {
    a_config_edit_adds_a_collection_that_is_backfilled on opensearch;
    an_invalid_config_edit_is_refused_and_reported_and_the_old_one_stays on opensearch;
}

async fn a_config_edit_adds_a_collection_that_is_backfilled(read: ReadStack) {
    let session = read.stack.session("cal").await;
    let id =
        read.stack.post(json!({"item_type": "business", "session_id": session, "name": "Early Bird"})).await;
    let (_, outcome) = read.get_json(&format!("/v1/documents/{id}?session_id={session}&wait=5s")).await;
    assert_eq!(outcome["status"], "accepted");

    // A new collection: every business's sessions' messages... kept simple: names with their
    // owners' sessions, two entries, one of them an array.
    let edited = format!(
        "{}\n[[entries]]\ncollection_name = \"owner_pages\"\nkey_to_denormalize_upon = \"user_id\"\nsql = \"SELECT user_id, username FROM users\"\n\n\
         [[entries]]\ncollection_name = \"owner_pages\"\nkey_to_denormalize_upon = \"user_id\"\nsql = \"SELECT owner_user_id AS user_id, business_id, name FROM businesses\"\narray_field = \"businesses\"\n",
        shipped_config()
    );
    std::fs::write(&read.config, edited).unwrap();
    let user_id: uuid::Uuid = sqlx::query_scalar("SELECT user_id FROM users WHERE username = 'cal'")
        .fetch_one(&read.stack.pool)
        .await
        .unwrap();
    // Backfilled: the business that existed before the edit is in the new collection.
    let page = read
        .document_until("owner_pages", &user_id.to_string(), |d| {
            d["businesses"].as_array().is_some_and(|b| b.len() == 1)
        })
        .await;
    assert_eq!(page["username"], "cal");
    assert_eq!(page["businesses"][0]["name"], "Early Bird");

    // And kept up to date afterwards.
    let later =
        read.stack.post(json!({"item_type": "business", "session_id": session, "name": "Late Owl"})).await;
    let (_, outcome) = read.get_json(&format!("/v1/documents/{later}?session_id={session}&wait=5s")).await;
    assert_eq!(outcome["status"], "accepted");
    read.document_until("owner_pages", &user_id.to_string(), |d| {
        d["businesses"].as_array().is_some_and(|b| b.len() == 2)
    })
    .await;
    read.stop().await;
}

async fn an_invalid_config_edit_is_refused_and_reported_and_the_old_one_stays(read: ReadStack) {
    let before = read.status().await["config_hash"].clone();
    let broken = format!(
        "{}\n[[entries]]\ncollection_name = \"broken\"\nkey_to_denormalize_upon = \"business_id\"\nsql = \"SELECT business_id, nonexistent_column FROM businesses\"\n",
        shipped_config()
    );
    std::fs::write(&read.config, broken).unwrap();
    read.until("the edit is refused", Duration::from_secs(30), async || {
        read.status().await["config_refused"].is_object()
    })
    .await;
    let status = read.status().await;
    let error = status["config_refused"]["error"].as_str().unwrap();
    assert!(error.contains("translator.toml"), "names the file: {error}");
    assert!(error.contains("entries[5]"), "names the entry: {error}");
    assert!(error.contains("nonexistent_column"), "says why: {error}");
    assert_eq!(status["config_hash"], before, "the old configuration stays");
    assert!(status["collections"].as_array().unwrap().iter().all(|c| c["name"] != "broken"));

    // The old collections still work.
    let session = read.stack.session("dee").await;
    let id =
        read.stack.post(json!({"item_type": "business", "session_id": session, "name": "Still Fine"})).await;
    let (_, outcome) = read.get_json(&format!("/v1/documents/{id}?session_id={session}&wait=5s")).await;
    assert_eq!(outcome["status"], "accepted");
    read.stop().await;
}
