//! NDJSON batches: one result per document line, in order; a bad line fails only itself.

use serde_json::json;

use crate::helpers::{broker_settings, expect_problem, read_back, spawn_app, spawn_app_with};

async fn post_ndjson(app: &crate::helpers::TestApp, body: String) -> reqwest::Response {
    app.client
        .post(app.url("/v1/documents/batch"))
        .bearer_auth(&app.session)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn each_line_gets_its_own_result_in_order() {
    let app = spawn_app().await;
    let good_id = uuid::Uuid::new_v4().to_string();
    let body = [
        json!({"item_type": "business", "document_id": good_id, "name": "One"}).to_string(),
        "{not json".to_owned(),
        json!({"item_type": "business", "name": ""}).to_string(),
        String::new(),
        json!({"item_type": "logout"}).to_string(),
    ]
    .join("\n");
    let response = post_ndjson(&app, body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    let results: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary: Vec<_> =
        results.iter().map(|r| (r["line"].as_u64().unwrap(), r["status"].as_u64().unwrap())).collect();
    assert_eq!(summary, [(1, 202), (2, 400), (3, 422), (5, 202)], "{text}");
    assert_eq!(results[0]["document_id"], good_id.as_str());
    assert_eq!(results[2]["problem"]["errors"][0]["pointer"], "/name");

    let partition = i32::try_from(results[0]["partition"].as_i64().unwrap()).unwrap();
    let message = read_back(&app.kafka, &app.topic, partition, results[0]["offset"].as_i64().unwrap()).await;
    assert_eq!(message.value["document_id"], good_id.as_str());
}

#[tokio::test]
async fn too_many_lines_is_413() {
    let app = spawn_app_with(broker_settings(), |s| s.batch_max_lines = 2).await;
    let line = json!({"item_type": "business", "name": "x"}).to_string();
    let problem = expect_problem(post_ndjson(&app, [line.as_str(); 3].join("\n")).await, 413).await;
    assert!(problem["detail"].as_str().unwrap().contains("at most 2"), "{problem}");
}

#[tokio::test]
async fn a_batch_needs_the_ndjson_content_type() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/v1/documents/batch"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_problem(response, 415).await;
}
