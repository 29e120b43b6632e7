//! Graceful shutdown: a request in flight when SIGTERM arrives still gets its answer.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{read_back, spawn_app};

#[tokio::test]
async fn an_in_flight_request_finishes_after_shutdown_begins() {
    let mut app = spawn_app().await;
    let document_id = uuid::Uuid::new_v4().to_string();
    let body = json!({"item_type": "business", "document_id": document_id, "name": "Late"}).to_string();
    let (first, rest) = body.split_at(10);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    tx.send(Ok(first.as_bytes().to_vec())).await.unwrap();
    let request = app
        .client
        .post(app.url("/v1/documents"))
        .bearer_auth(&app.session)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(tokio_stream_from(rx)))
        .send();
    let request = tokio::spawn(request);

    // Wait until the server is inside the handler, waiting for the rest of the body.
    app.await_in_flight().await;
    assert!(!request.is_finished());
    app.shutdown.cancel();
    // New connections are refused once shutdown began...
    let refused = wait_until_refused(&app).await;
    assert!(refused, "the server kept accepting new connections after shutdown");
    // ...but the request in flight completes.
    tx.send(Ok(rest.as_bytes().to_vec())).await.unwrap();
    drop(tx);
    let response = request.await.unwrap().unwrap();
    assert_eq!(response.status(), 202);
    let receipt: serde_json::Value = response.json().await.unwrap();
    app.server.take().unwrap().await.unwrap().unwrap();
    let partition = i32::try_from(receipt["partition"].as_i64().unwrap()).unwrap();
    let message = read_back(&app.kafka, &app.topic, partition, receipt["offset"].as_i64().unwrap()).await;
    assert_eq!(message.value["document_id"], document_id.as_str());
}

async fn wait_until_refused(app: &crate::helpers::TestApp) -> bool {
    let fresh = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    owp_testkit::eventually(Duration::from_secs(5), Duration::from_millis(20), async || {
        let answer = fresh.get(app.url("/healthz")).timeout(Duration::from_millis(500)).send().await;
        answer.is_err().then_some(())
    })
    .await
    .is_some()
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
