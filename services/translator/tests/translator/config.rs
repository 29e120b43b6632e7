//! Hot reload of the translator configuration.

use std::time::Duration;

use serde_json::json;

use crate::harness::{ReadStack, shipped_config};

owp_testkit::end_to_end! {
    a_config_edit_adds_a_collection_that_is_backfilled on opensearch;
    an_invalid_config_edit_is_refused_and_reported_and_the_old_one_stays on opensearch;
}

async fn a_config_edit_adds_a_collection_that_is_backfilled(read: ReadStack) {
    let session = read.stack.session("cal").await;
    let id = read.stack.post_as(&session, json!({"item_type": "business", "name": "Early Bird"})).await;
    let (_, outcome) = read.get_json_as(&session, &format!("/v1/documents/{id}?wait=5s")).await;
    assert_eq!(outcome["status"], "accepted");

    // A new collection, each user's page with their businesses: two entries, one of them an
    // array, readable by its owner only.
    let edited = format!(
        "{}\n[[entries]]\ncollection_name = \"owner_pages\"\nkey_to_denormalize_upon = \"user_id\"\nvisibility = \"owner\"\nowner_field = \"user_id\"\nsql = \"SELECT user_id, username FROM users\"\n\n\
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
        .document_until_as(Some(&session), "owner_pages", &user_id.to_string(), |d| {
            d["businesses"].as_array().is_some_and(|b| b.len() == 1)
        })
        .await;
    assert_eq!(page["username"], "cal");
    assert_eq!(page["businesses"][0]["name"], "Early Bird");
    // The read point follows the edit's visibility: another user finds nothing, not even in a list.
    let other = read.stack.session("cal-neighbour").await;
    let neighbour: uuid::Uuid =
        sqlx::query_scalar("SELECT user_id FROM users WHERE username = 'cal-neighbour'")
            .fetch_one(&read.stack.pool)
            .await
            .unwrap();
    read.document_until_as(Some(&other), "owner_pages", &neighbour.to_string(), |_| true).await;
    let (status, _) = read.get_json_as(&other, &format!("/v1/collections/owner_pages/{user_id}")).await;
    assert_eq!(status, 404);
    // A listing is a search: it sees the neighbour's page once the index has refreshed, and
    // never anyone else's.
    let mut listed = serde_json::Value::Null;
    owp_testkit::until("the neighbour's page is listed", Duration::from_secs(30), async || {
        let (status, page) = read.get_json_as(&other, "/v1/collections/owner_pages").await;
        assert_eq!(status, 200, "{page}");
        listed = page;
        listed["items"].as_array().is_some_and(|items| !items.is_empty())
    })
    .await;
    let users: Vec<&str> =
        listed["items"].as_array().unwrap().iter().filter_map(|p| p["username"].as_str()).collect();
    assert_eq!(users, vec!["cal-neighbour"], "{listed}");

    // And kept up to date afterwards.
    let later = read.stack.post_as(&session, json!({"item_type": "business", "name": "Late Owl"})).await;
    let (_, outcome) = read.get_json_as(&session, &format!("/v1/documents/{later}?wait=5s")).await;
    assert_eq!(outcome["status"], "accepted");
    read.document_until_as(Some(&session), "owner_pages", &user_id.to_string(), |d| {
        d["businesses"].as_array().is_some_and(|b| b.len() == 2)
    })
    .await;
    read.stop().await;
}

async fn an_invalid_config_edit_is_refused_and_reported_and_the_old_one_stays(read: ReadStack) {
    let before = read.status().await["config_hash"].clone();
    let broken = format!(
        "{}\n[[entries]]\ncollection_name = \"broken\"\nkey_to_denormalize_upon = \"business_id\"\nvisibility = \"public\"\nsql = \"SELECT business_id, nonexistent_column FROM businesses\"\n",
        shipped_config()
    );
    std::fs::write(&read.config, broken).unwrap();
    owp_testkit::until("the edit is refused", Duration::from_secs(30), async || {
        read.status().await["config_refused"].is_object()
    })
    .await;
    let status = read.status().await;
    let error = status["config_refused"]["error"].as_str().unwrap();
    assert!(error.contains("translator.toml"), "names the file: {error}");
    assert!(error.contains("entries[6]"), "names the entry: {error}");
    assert!(error.contains("nonexistent_column"), "says why: {error}");
    assert_eq!(status["config_hash"], before, "the old configuration stays");
    assert!(status["collections"].as_array().unwrap().iter().all(|c| c["name"] != "broken"));

    // A served collection that would carry session ids (credentials) is refused too.
    let leaky = format!(
        "{}\n[[entries]]\ncollection_name = \"leaky\"\nkey_to_denormalize_upon = \"document_id\"\nvisibility = \"public\"\nsql = \"SELECT document_id, session_id FROM messages\"\n",
        shipped_config()
    );
    std::fs::write(&read.config, leaky).unwrap();
    owp_testkit::until("the leaky edit is refused", Duration::from_secs(30), async || {
        read.status().await["config_refused"]["error"].as_str().is_some_and(|e| e.contains("credential"))
    })
    .await;
    assert_eq!(read.status().await["config_hash"], before, "the old configuration stays");
    let (status, _) = read.get_json("/v1/collections/leaky").await;
    assert_eq!(status, 404);

    // The old collections still work.
    let session = read.stack.session("dee").await;
    let id = read.stack.post_as(&session, json!({"item_type": "business", "name": "Still Fine"})).await;
    let (_, outcome) = read.get_json_as(&session, &format!("/v1/documents/{id}?wait=5s")).await;
    assert_eq!(outcome["status"], "accepted");
    read.stop().await;
}
