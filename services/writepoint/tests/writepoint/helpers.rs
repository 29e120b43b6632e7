//! Test harness: a write point on port 0 with its own topic, and a real consumer to read back.

use std::time::{Duration, Instant};

use owp_platform::{
    kafka::{self, KafkaSettings, TopicSpec},
    shutdown::ShutdownSettings,
    topics::Topics,
};
use owp_protocol::TopicName;
use owp_writepoint::{Application, Settings};
use rdkafka::{Message, Offset, TopicPartitionList, consumer::Consumer, message::Headers};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const PARTITIONS: i32 = 3;

pub fn broker_settings() -> KafkaSettings {
    KafkaSettings::new(std::env::var("OWP_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into()))
}

pub fn unique_topic() -> TopicName {
    TopicName::parse(format!("owp.test.{}", uuid::Uuid::new_v4().simple())).unwrap()
}

#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    pub topic: TopicName,
    pub kafka: KafkaSettings,
    pub client: reqwest::Client,
    /// The session `post_json` sends documents with (the write point does not check that it is
    /// live: the robots decide that).
    pub session: String,
    pub shutdown: CancellationToken,
    pub server: Option<JoinHandle<owp_writepoint::Result<()>>>,
}

/// A write point on a fresh topic of the shared test broker.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(broker_settings(), |_| {}).await
}

pub async fn spawn_app_with(kafka_settings: KafkaSettings, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let topic = unique_topic();
    kafka::ensure_topics(&kafka_settings, &[TopicSpec::new(topic.clone(), PARTITIONS)])
        .await
        .expect("the test broker must accept CreateTopics; is it running? (scripts/test starts it)");
    spawn_app_on(kafka_settings, topic, adjust).await
}

/// A write point on `topic`, which exists already.
pub async fn spawn_app_on(
    kafka_settings: KafkaSettings,
    topic: TopicName,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = Settings::defaults();
    settings.addr = ([127, 0, 0, 1], 0).into();
    adjust(&mut settings);
    let topics = Topics { commands_topic: topic.clone(), ..Topics::default() };
    let app =
        Application::build(&kafka_settings, &topics, &ShutdownSettings::default(), settings).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run(shutdown.clone()));
    let test_app = TestApp {
        base,
        topic,
        kafka: kafka_settings,
        client: reqwest::Client::new(),
        session: uuid::Uuid::new_v4().to_string(),
        shutdown,
        server: Some(server),
    };
    test_app.await_ready().await;
    test_app
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits (bounded) until `/readyz` answers 200: the topic's metadata has propagated.
    pub async fn await_ready(&self) {
        owp_testkit::until("the write point is ready", Duration::from_secs(30), async || {
            let response = self.client.get(self.url("/readyz")).send().await;
            response.is_ok_and(|r| r.status() == 200)
        })
        .await;
    }

    /// Waits (bounded) until a `POST /v1/documents` is inside the handler.
    pub async fn await_in_flight(&self) {
        let needle = r#"http_requests_in_flight{route="/v1/documents"} 1"#;
        let mut metrics = String::new();
        let inside =
            owp_testkit::eventually(Duration::from_secs(10), Duration::from_millis(20), async || {
                metrics = self.client.get(self.url("/metrics")).send().await.unwrap().text().await.unwrap();
                metrics.lines().any(|line| line == needle).then_some(())
            })
            .await;
        assert!(inside.is_some(), "the request never reached the handler:\n{metrics}");
    }

    /// POSTs a document with the app's session.
    pub async fn post_json(&self, body: &serde_json::Value) -> reqwest::Response {
        self.post_json_as(Some(&self.session), body).await
    }

    pub async fn post_json_as(&self, session: Option<&str>, body: &serde_json::Value) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/v1/documents"))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(session) = session {
            request = request.bearer_auth(session);
        }
        request.send().await.unwrap()
    }
}

/// A message as read back from the broker.
#[derive(Debug)]
pub struct Read {
    pub key: String,
    pub value: serde_json::Value,
    pub headers: Vec<(String, String)>,
}

/// Reads the message at `topic/partition/offset` with a real consumer, waiting up to 15 s.
pub async fn read_back(
    kafka_settings: &KafkaSettings,
    topic: &TopicName,
    partition: i32,
    offset: i64,
) -> Read {
    let kafka_settings = kafka_settings.clone();
    let topic = topic.clone();
    tokio::task::spawn_blocking(move || {
        let consumer = kafka::reader(&kafka_settings, "owp-writepoint-test").unwrap();
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(topic.as_str(), partition, Offset::Offset(offset)).unwrap();
        consumer.assign(&assignment).unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            assert!(Instant::now() < deadline, "no message at {topic}/{partition}@{offset} within 15 s");
            let Some(message) = consumer.poll(Duration::from_millis(250)) else { continue };
            let message = message.unwrap();
            assert_eq!(message.offset(), offset, "the consumer must start at the offset the 202 named");
            return Read {
                key: String::from_utf8(message.key().unwrap().to_vec()).unwrap(),
                value: serde_json::from_slice(message.payload().unwrap()).unwrap(),
                headers: message
                    .headers()
                    .map(|headers| {
                        headers
                            .iter()
                            .map(|h| {
                                (
                                    h.key.to_owned(),
                                    String::from_utf8_lossy(h.value.unwrap_or_default()).into(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            };
        }
    })
    .await
    .unwrap()
}

/// Asserts the response is a problem+json with `status`, and returns its body.
pub async fn expect_problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], status, "{body}");
    assert!(body["type"].as_str().unwrap().starts_with("/problems/"), "{body}");
    assert!(body["title"].is_string(), "{body}");
    body
}

/// The pointers named in a problem's `errors`.
pub fn pointers(problem: &serde_json::Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| errors.iter().map(|e| e["pointer"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}
