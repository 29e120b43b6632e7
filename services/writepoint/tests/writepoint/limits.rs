//! The bounds every HTTP service runs within: a slow body and a flood of requests are refused
//! with problems, and neither holds the service hostage.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{expect_problem, spawn_app_with};

fn stalled_body() -> (tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>, reqwest::Body) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    (tx, reqwest::Body::wrap_stream(stream))
}

#[tokio::test]
async fn a_body_that_stalls_is_408_and_frees_its_slot() {
    let app = spawn_app_with(crate::helpers::broker_settings(), |s| {
        s.http.body_timeout = Duration::from_millis(300);
    })
    .await;
    let (tx, body) = stalled_body();
    tx.send(Ok(b"{\"item_type\": \"busi".to_vec())).await.unwrap();
    let started = std::time::Instant::now();
    let response = app
        .client
        .post(app.url("/v1/documents"))
        .bearer_auth(&app.session)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, 408).await;
    assert_eq!(problem["type"], "/problems/request-timeout", "{problem}");
    assert!(started.elapsed() < Duration::from_secs(10), "answered within the bound, not held");
    drop(tx);
}

#[tokio::test]
async fn requests_over_the_concurrency_limit_are_503_at_once_and_health_still_answers() {
    let app = spawn_app_with(crate::helpers::broker_settings(), |s| {
        s.http.concurrency = 1;
        s.http.body_timeout = Duration::from_secs(60);
    })
    .await;
    // One request holds the only slot, its body never finishing.
    let (tx, body) = stalled_body();
    tx.send(Ok(b"{".to_vec())).await.unwrap();
    let held = app
        .client
        .post(app.url("/v1/documents"))
        .bearer_auth(&app.session)
        .header("content-type", "application/json")
        .body(body)
        .send();
    let held = tokio::spawn(held);
    app.await_in_flight().await;
    // Any other request is refused at once, never queued.
    let document = json!({"item_type": "business", "name": "x"});
    let started = std::time::Instant::now();
    let refused = app.post_json(&document).await;
    assert!(started.elapsed() < Duration::from_secs(5), "refused at once, not after a wait");
    assert_eq!(refused.headers()["retry-after"], "1");
    let problem = expect_problem(refused, 503).await;
    assert!(problem["detail"].as_str().unwrap().contains("limit"), "{problem}");
    assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    drop(tx);
    held.abort();
}
