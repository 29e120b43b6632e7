//! Health, readiness and metrics endpoints.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_readyz_and_metrics_answer() {
    let app = spawn_app().await;
    assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(app.client.get(app.url("/readyz")).send().await.unwrap().status(), 200);

    assert_eq!(app.post_json(&json!({"item_type": "business", "name": "Metered"})).await.status(), 202);
    assert_eq!(app.post_json(&json!({"item_type": "business"})).await.status(), 422);

    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let has = |needle: &str| metrics.lines().any(|line| line.contains(needle));
    assert!(has(r#"http_requests_total{route="/v1/documents",method="POST",status="202"} 1"#), "{metrics}");
    assert!(has(r#"http_requests_total{route="/v1/documents",method="POST",status="422"} 1"#), "{metrics}");
    assert!(has("writepoint_produce_duration_seconds_count 1"), "{metrics}");
    assert!(has(r#"writepoint_documents_total{outcome="accepted"} 1"#), "{metrics}");
}

#[tokio::test]
async fn readyz_is_503_when_the_topic_is_missing() {
    let app = crate::helpers::spawn_app_with(crate::helpers::broker_settings(), |_| {}).await;
    // A second app pointed at a topic nobody created.
    let mut settings = owp_writepoint::Settings::defaults();
    settings.addr = ([127, 0, 0, 1], 0).into();
    let topics = owp_platform::topics::Topics {
        commands_topic: crate::helpers::unique_topic(),
        ..owp_platform::topics::Topics::default()
    };
    let shutdown = owp_platform::shutdown::ShutdownSettings::default();
    let missing = owp_writepoint::Application::build(&app.kafka, &topics, &shutdown, settings).await.unwrap();
    let base = format!("http://{}", missing.local_addr());
    let stop = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(missing.run(stop.clone()));
    let problem =
        crate::helpers::expect_problem(app.client.get(format!("{base}/readyz")).send().await.unwrap(), 503)
            .await;
    // A fixed detail naming the broker; the topic and the driver's words go to the log.
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("does not exist on the broker"), "{problem}");
    assert!(!detail.contains(topics.commands_topic.as_str()), "{problem}");
    stop.cancel();
    server.await.unwrap().unwrap();
}
