//! With the broker gone, POST answers 503 with Retry-After within the produce timeout, and
//! nothing is reported as accepted. Runs a private ZooKeeper and broker (owp-testkit) so it can
//! kill the broker without touching the shared one.

use std::time::{Duration, Instant};

use owp_platform::kafka::KafkaSettings;
use owp_testkit::{Node, PrivateStack, Shape};
use serde_json::json;

use crate::helpers::{expect_problem, spawn_app_with};

#[tokio::test]
async fn with_the_broker_stopped_post_is_503_within_the_timeout() {
    let stack = PrivateStack::launch(Shape::Single).await.unwrap();
    let timeout = Duration::from_secs(1);
    let app = spawn_app_with(KafkaSettings::new(stack.brokers()), |s| s.produce_timeout = timeout).await;

    // While the broker is up, documents are accepted. A broker that has just started may need
    // longer than the 1 s produce timeout for its first write (the new topic's partitions may
    // still be getting their leader; on a busy CI machine that took over a second), so the first
    // 202 is awaited with a deadline.
    owp_testkit::until("the private broker accepts a document", Duration::from_secs(30), async || {
        let response = app.post_json(&json!({"item_type": "business", "name": "Before"})).await;
        let status = response.status();
        assert!(status == 202 || status == 503, "a document before the broker stops: {status}");
        status == 202
    })
    .await;

    stack.kill(Node::kafka(1)).await.unwrap();

    for attempt in 0..3 {
        let started = Instant::now();
        let response =
            app.post_json(&json!({"item_type": "business", "name": format!("During {attempt}")})).await;
        let elapsed = started.elapsed();
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let problem = expect_problem(response, 503).await;
        assert_eq!(retry_after.as_deref(), Some("1"));
        assert!(problem.get("document_id").is_none(), "a 503 must not look like a receipt: {problem}");
        // The bound is the produce timeout; allow scheduling slack, never a hang.
        assert!(elapsed < timeout + Duration::from_millis(750), "answered after {elapsed:?}");
    }

    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    expect_problem(ready, 503).await;

    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|l| l == r#"writepoint_documents_total{outcome="accepted"} 1"#), "{metrics}");
    assert!(
        metrics.lines().any(|l| l == r#"writepoint_documents_total{outcome="unavailable"} 3"#),
        "{metrics}"
    );
}
