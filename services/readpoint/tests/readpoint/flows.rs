//! The user's path: submit, then read the outcome and the documents in one call each.

use std::time::Duration;

use serde_json::json;

use crate::harness::ReadStack;

owp_testkit::end_to_end! {
    a_business_is_accepted_and_readable_in_one_call_each on postgres & opensearch;
    a_bogus_session_is_rejected_with_the_reason on opensearch;
    a_wait_that_ends_answers_pending on opensearch;
    editing_a_profile_updates_its_document_and_deleting_a_row_removes_its_document on opensearch;
}

async fn a_business_is_accepted_and_readable_in_one_call_each(read: ReadStack) {
    let session = read.stack.session("ann").await;
    let id =
        read.stack.post_as(&session, json!({"item_type": "business", "name": "Country Vegetables"})).await;

    let (status, outcome) = read.get_json_as(&session, &format!("/v1/documents/{id}?wait=5s")).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["status"], "accepted", "{outcome}");
    assert_eq!(outcome["messages"][0]["text"], "Your new business has been created!");

    // The business document is written in the same batch as the message, so it is there now.
    let (status, business) = read.get_json(&format!("/v1/collections/businesses/{id}")).await;
    assert_eq!(status, 200, "{business}");
    assert_eq!(business["name"], "Country Vegetables");
    assert_eq!(business["owner"], "ann", "the joined entry is merged in: {business}");
    assert_eq!(business["business_id"], id.as_str());

    // ETag and If-None-Match.
    let response = read.get(&format!("/v1/collections/businesses/{id}")).await;
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let again = read
        .stack
        .client
        .get(format!("{}/v1/collections/businesses/{id}", read.readpoint))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);

    // The user's messages, newest first.
    let second = read.stack.post_as(&session, json!({"item_type": "business", "name": "Town Fruit"})).await;
    let (_, outcome) = read.get_json_as(&session, &format!("/v1/documents/{second}?wait=5s")).await;
    assert_eq!(outcome["status"], "accepted");
    // The outcome waits for the business's own collection; the messages are another index, which
    // OpenSearch makes searchable at its own next refresh.
    owp_testkit::until("the second message is listed", Duration::from_secs(10), async || {
        let (_, messages) = read.get_json_as(&session, "/v1/messages").await;
        messages["messages"].as_array().is_some_and(|listed| listed.len() == 2)
    })
    .await;
    let (status, messages) = read.get_json_as(&session, "/v1/messages").await;
    assert_eq!(status, 200, "{messages}");
    let ids: Vec<&str> =
        messages["messages"].as_array().unwrap().iter().map(|m| m["document_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![second.as_str(), id.as_str()]);
    // A session id is a credential: no served document carries one.
    for message in messages["messages"].as_array().unwrap() {
        assert!(message.get("session_id").is_none(), "{message}");
        assert!(message["owner_user_id"].is_string(), "{message}");
    }

    // Another user sees neither the outcome nor the messages.
    let other = read.stack.session("bob").await;
    let (status, problem) = read.get_json_as(&other, &format!("/v1/documents/{id}")).await;
    assert_eq!(status, 404, "{problem}");
    let (status, messages) = read.get_json_as(&other, "/v1/messages").await;
    assert_eq!(status, 200, "{messages}");
    assert_eq!(messages["messages"], json!([]), "{messages}");
    // Without a session, not at all.
    let (status, _) = read.get_json(&format!("/v1/documents/{id}")).await;
    assert_eq!(status, 404);

    // Listing with a filter and free text.
    let (_, listed) = read.get_json("/v1/collections/businesses?owner=ann&q=fruit").await;
    let names: Vec<&str> =
        listed["items"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Town Fruit"]);
    read.stop().await;
}

async fn a_bogus_session_is_rejected_with_the_reason(read: ReadStack) {
    let bogus = uuid::Uuid::new_v4();
    let id = read.stack.post_as(&bogus, json!({"item_type": "business", "name": "Nobody's"})).await;
    // The read point refuses the bogus session itself...
    let (status, problem) =
        read.get_json_as(&bogus.to_string(), &format!("/v1/documents/{id}?wait=5s")).await;
    assert_eq!(status, 401, "{problem}");
    // ...and the outcome, of a document no user sent, is its id holder's to read.
    let (status, outcome) = read.get_json(&format!("/v1/documents/{id}?wait=5s")).await;
    assert_eq!(status, 200);
    assert_eq!(outcome["status"], "rejected", "{outcome}");
    let text = outcome["messages"][0]["text"].as_str().unwrap();
    assert!(text.contains("needs a live session"), "{text}");
    let (status, _) = read.get_json(&format!("/v1/collections/businesses/{id}")).await;
    assert_eq!(status, 404);
    read.stop().await;
}

async fn a_wait_that_ends_answers_pending(read: ReadStack) {
    let never_sent = uuid::Uuid::new_v4();
    let started = std::time::Instant::now();
    let (status, outcome) = read.get_json(&format!("/v1/documents/{never_sent}?wait=300ms")).await;
    assert_eq!((status, outcome["status"].as_str()), (200, Some("pending")));
    assert!(started.elapsed() >= Duration::from_millis(300), "the wait is honoured");
    assert!(started.elapsed() < Duration::from_secs(5), "and bounded");
    read.stop().await;
}

async fn editing_a_profile_updates_its_document_and_deleting_a_row_removes_its_document(read: ReadStack) {
    let session = read.stack.session("bea").await;
    let created = read
        .stack
        .post_as(&session, json!({"item_type": "profile", "first_name": "Allie", "last_name": "Veblen"}))
        .await;
    let (_, outcome) = read.get_json_as(&session, &format!("/v1/documents/{created}?wait=5s")).await;
    assert_eq!(outcome["status"], "accepted", "{outcome}");
    let profile =
        read.document_until_as(Some(&session), "profiles", &created, |d| d["first_name"] == "Allie").await;
    assert_eq!(profile["username"], "bea");

    let update = read
        .stack
        .post_as(&session, json!({"item_type": "profile", "profile_id": created, "first_name": "Alison", "last_name": "Veblen", "phone": "01-987-234-9812"}))
        .await;
    let (_, outcome) = read.get_json_as(&session, &format!("/v1/documents/{update}?wait=5s")).await;
    assert_eq!(outcome["status"], "accepted", "{outcome}");
    let profile =
        read.document_until_as(Some(&session), "profiles", &created, |d| d["first_name"] == "Alison").await;
    assert_eq!(profile["phone"], "01-987-234-9812");

    // A row deleted in PostgreSQL (say, by an operator) takes its document with it.
    sqlx::query("DELETE FROM profiles WHERE profile_id = $1::uuid")
        .bind(&created)
        .execute(&read.stack.pool)
        .await
        .unwrap();
    let path = format!("/v1/collections/profiles/{created}");
    owp_testkit::until("the deleted profile's document is gone", Duration::from_secs(30), async || {
        read.get_as(&session, &path).await.status() == 404
    })
    .await;

    // A change to a joined table reaches the documents that join it: renaming the user changes
    // the owner of their businesses.
    let business = read.stack.post_as(&session, json!({"item_type": "business", "name": "Bea's"})).await;
    let (_, outcome) = read.get_json_as(&session, &format!("/v1/documents/{business}?wait=5s")).await;
    assert_eq!(outcome["status"], "accepted");
    sqlx::query("UPDATE users SET username = 'beatrice' WHERE username = 'bea'")
        .execute(&read.stack.pool)
        .await
        .unwrap();
    read.document_until("businesses", &business, |d| d["owner"] == "beatrice").await;
    read.stop().await;
}
