//! Kafka client set-up, written once: broker settings, the durable producer every write path
//! uses, topic creation, and the metadata probe behind `/readyz`.
//!
//! The producer is always `acks=all` (a write reported as accepted is on every in-sync replica)
//! and idempotent unless a writer's records are deduplicated downstream anyway.

use std::{path::PathBuf, time::Duration};

use owp_protocol::{Command, Event, TopicName};
use rdkafka::{
    ClientConfig,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    consumer::BaseConsumer,
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, Producer},
    types::RDKafkaErrorCode,
};

use crate::{Error, Result};

/// Where the brokers are and how a client proves who it is. Shared by every service that talks
/// to Kafka, so each service's principal is only a matter of the credentials it is given.
#[derive(Clone, clap::Args)]
pub struct KafkaSettings {
    /// Comma-separated bootstrap brokers.
    #[arg(long, env = "OWP_KAFKA_BROKERS", default_value = "127.0.0.1:9092", global = true)]
    pub kafka_brokers: String,
    /// How clients reach the brokers: PLAINTEXT (no authentication; the default local stack) or
    /// SASL_SSL (TLS, and SASL/SCRAM with the username and password below).
    #[arg(long, env = "OWP_KAFKA_SECURITY_PROTOCOL", value_enum, default_value_t, global = true)]
    pub kafka_security_protocol: SecurityProtocol,
    /// The SASL mechanism under SASL_SSL.
    #[arg(long, env = "OWP_KAFKA_SASL_MECHANISM", value_enum, default_value_t, global = true)]
    pub kafka_sasl_mechanism: SaslMechanism,
    /// The SCRAM user (the service's principal) under SASL_SSL.
    #[arg(long, env = "OWP_KAFKA_SASL_USERNAME", global = true)]
    pub kafka_sasl_username: Option<String>,
    /// The SCRAM password under SASL_SSL; from the environment (or a secret), never printed.
    #[arg(long, env = "OWP_KAFKA_SASL_PASSWORD", hide_env_values = true, global = true)]
    pub kafka_sasl_password: Option<Password>,
    /// PEM file of the CA that signed the brokers' certificates, under SASL_SSL; the system's CAs
    /// when absent.
    #[arg(long, env = "OWP_KAFKA_SSL_CA_LOCATION", global = true)]
    pub kafka_ssl_ca_location: Option<PathBuf>,
    /// Whether a broker's certificate must name the address the client dialled. Only turn it
    /// off for brokers reached by an address their certificate cannot carry.
    #[arg(long, env = "OWP_KAFKA_SSL_ENDPOINT_IDENTIFICATION", default_value_t = true,
        action = clap::ArgAction::Set, global = true)]
    pub kafka_ssl_endpoint_identification: bool,
}

/// `security.protocol`: the two a deployment uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SecurityProtocol {
    #[default]
    #[value(name = "PLAINTEXT")]
    Plaintext,
    #[value(name = "SASL_SSL")]
    SaslSsl,
}

/// `sasl.mechanism`: SCRAM only, whose credentials the brokers keep salted and hashed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SaslMechanism {
    #[default]
    #[value(name = "SCRAM-SHA-512")]
    ScramSha512,
    #[value(name = "SCRAM-SHA-256")]
    ScramSha256,
}

impl SaslMechanism {
    fn as_str(self) -> &'static str {
        match self {
            Self::ScramSha512 => "SCRAM-SHA-512",
            Self::ScramSha256 => "SCRAM-SHA-256",
        }
    }
}

/// A password whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Password {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        Ok(Self::new(text))
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSettings")
            .field("kafka_brokers", &self.kafka_brokers)
            .field("kafka_security_protocol", &self.kafka_security_protocol)
            .field("kafka_sasl_mechanism", &self.kafka_sasl_mechanism)
            .field("kafka_sasl_username", &self.kafka_sasl_username)
            .field("kafka_sasl_password", &self.kafka_sasl_password)
            .field("kafka_ssl_ca_location", &self.kafka_ssl_ca_location)
            .field("kafka_ssl_endpoint_identification", &self.kafka_ssl_endpoint_identification)
            .finish()
    }
}

impl KafkaSettings {
    /// Plaintext brokers, as the default local stack runs them.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            kafka_brokers: brokers.into(),
            kafka_security_protocol: SecurityProtocol::Plaintext,
            kafka_sasl_mechanism: SaslMechanism::ScramSha512,
            kafka_sasl_username: None,
            kafka_sasl_password: None,
            kafka_ssl_ca_location: None,
            kafka_ssl_endpoint_identification: true,
        }
    }

    /// SASL_SSL brokers, as a principal: `username` with `password`, brokers signed by `ca`.
    pub fn sasl_ssl(
        brokers: impl Into<String>,
        username: impl Into<String>,
        password: Password,
        ca: impl Into<PathBuf>,
    ) -> Self {
        Self {
            kafka_security_protocol: SecurityProtocol::SaslSsl,
            kafka_sasl_username: Some(username.into()),
            kafka_sasl_password: Some(password),
            kafka_ssl_ca_location: Some(ca.into()),
            ..Self::new(brokers)
        }
    }

    /// A client configuration with the brokers, the credentials and a client id set, for any
    /// client type. Refuses settings that cannot work (SASL_SSL without a username, say) with the
    /// setting and the reason, before librdkafka would fail on first use instead.
    pub fn client_config(&self, client_id: &str) -> Result<ClientConfig> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.kafka_brokers)
            .set("client.id", client_id)
            // Notice a dead broker within seconds rather than librdkafka's default minutes.
            .set("socket.connection.setup.timeout.ms", "3000")
            .set("reconnect.backoff.max.ms", "1000");
        match self.kafka_security_protocol {
            SecurityProtocol::Plaintext => {
                config.set("security.protocol", "plaintext");
            }
            SecurityProtocol::SaslSsl => {
                let missing = |setting| Error::KafkaSetting {
                    setting,
                    reason: "must be set when OWP_KAFKA_SECURITY_PROTOCOL is SASL_SSL".into(),
                };
                let username =
                    self.kafka_sasl_username.as_deref().ok_or_else(|| missing("OWP_KAFKA_SASL_USERNAME"))?;
                let password =
                    self.kafka_sasl_password.as_ref().ok_or_else(|| missing("OWP_KAFKA_SASL_PASSWORD"))?;
                config
                    .set("security.protocol", "sasl_ssl")
                    .set("sasl.mechanism", self.kafka_sasl_mechanism.as_str())
                    .set("sasl.username", username)
                    .set("sasl.password", password.expose())
                    .set(
                        "ssl.endpoint.identification.algorithm",
                        if self.kafka_ssl_endpoint_identification { "https" } else { "none" },
                    );
                if let Some(ca) = &self.kafka_ssl_ca_location {
                    // librdkafka's own message for a missing file names neither file nor setting.
                    if !ca.is_file() {
                        return Err(Error::KafkaSetting {
                            setting: "OWP_KAFKA_SSL_CA_LOCATION",
                            reason: format!("{} is not a readable file", ca.display()),
                        });
                    }
                    config.set("ssl.ca.location", ca.to_string_lossy());
                }
            }
        }
        Ok(config)
    }
}

/// How the durable producer behaves.
#[derive(Debug, Clone)]
pub struct ProducerTuning {
    /// Upper bound on the time from `send` to acknowledgement, retries included.
    pub delivery_timeout: Duration,
    /// Messages waiting in the client before `send` answers "queue full".
    pub queue_max_messages: u32,
    /// How long the client may wait to fill a batch; small, because callers wait for the ack.
    pub linger: Duration,
    /// Idempotent delivery (the broker drops the client's own retries). Without it, one request
    /// in flight per connection keeps the order; for writers whose records are deduplicated
    /// downstream anyway.
    pub idempotent: bool,
}

impl Default for ProducerTuning {
    fn default() -> Self {
        Self {
            delivery_timeout: Duration::from_secs(5),
            queue_max_messages: 100_000,
            linger: Duration::from_millis(2),
            idempotent: true,
        }
    }
}

/// The durable producer: `acks=all`, idempotent unless told otherwise, bounded delivery time.
pub fn producer(
    settings: &KafkaSettings,
    client_id: &str,
    tuning: &ProducerTuning,
) -> Result<FutureProducer> {
    let mut config = settings.client_config(client_id)?;
    if tuning.idempotent {
        config.set("enable.idempotence", "true");
    } else {
        config.set("enable.idempotence", "false").set("max.in.flight.requests.per.connection", "1");
    }
    config
        .set("acks", "all")
        .set("message.timeout.ms", millis(tuning.delivery_timeout))
        .set("queue.buffering.max.messages", tuning.queue_max_messages.to_string())
        .set("linger.ms", millis(tuning.linger))
        .create()
        .map_err(|err| Error::kafka("cannot create producer", err))
}

fn millis(duration: Duration) -> String {
    duration.as_millis().max(1).to_string()
}

/// The header names of commands and facts. Each header repeats a field of the JSON payload, which
/// stays complete, so that a consumer can filter or route records without parsing them.
pub mod header {
    pub const CONTENT_TYPE: &str = "content-type";
    pub const ITEM_TYPE: &str = "item_type";
    pub const DOCUMENT_ID: &str = "document_id";
    pub const KIND: &str = "kind";
    pub const EVENT_ID: &str = "event_id";
}

const JSON: &str = "application/json";

/// A command's headers: its item type and document id.
pub fn command_headers(command: &Command) -> OwnedHeaders {
    let document_id = command.document_id.to_string();
    OwnedHeaders::new_with_capacity(3)
        .insert(Header { key: header::CONTENT_TYPE, value: Some(JSON) })
        .insert(Header { key: header::ITEM_TYPE, value: Some(command.item_type.as_str()) })
        .insert(Header { key: header::DOCUMENT_ID, value: Some(document_id.as_str()) })
}

/// A fact's headers: its kind, its event id and the document that caused it.
pub fn event_headers(event: &Event) -> OwnedHeaders {
    let (event_id, document_id) = (event.event_id.to_string(), event.document_id.to_string());
    OwnedHeaders::new_with_capacity(4)
        .insert(Header { key: header::CONTENT_TYPE, value: Some(JSON) })
        .insert(Header { key: header::KIND, value: Some(event.kind.as_str()) })
        .insert(Header { key: header::EVENT_ID, value: Some(event_id.as_str()) })
        .insert(Header { key: header::DOCUMENT_ID, value: Some(document_id.as_str()) })
}

/// The headers of a payload that is a command or a fact (a parked message put back on its
/// topic, say); `None` for anything else.
pub fn headers_of(payload: &[u8]) -> Option<OwnedHeaders> {
    if let Ok(command) = Command::from_json(payload) {
        return Some(command_headers(&command));
    }
    Event::from_json(payload).ok().map(|event| event_headers(&event))
}

/// A topic to create: name, partitions and settings such as `retention.ms`.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: TopicName,
    pub partitions: i32,
    pub replication: i32,
    pub config: Vec<(String, String)>,
}

impl TopicSpec {
    pub fn new(name: TopicName, partitions: i32) -> Self {
        Self { name, partitions, replication: 1, config: Vec::new() }
    }

    /// Retention in milliseconds; `None` keeps messages forever (`retention.ms=-1`).
    pub fn retention(mut self, retention: Option<Duration>) -> Self {
        let value = retention.map_or_else(|| "-1".to_owned(), |d| d.as_millis().to_string());
        self.config.push(("retention.ms".into(), value));
        self
    }
}

/// Creates the topics that do not exist yet; existing topics are left as they are.
/// Returns the names that were created.
pub async fn ensure_topics(settings: &KafkaSettings, topics: &[TopicSpec]) -> Result<Vec<TopicName>> {
    let admin: AdminClient<DefaultClientContext> = settings
        .client_config("owp-admin")?
        .create()
        .map_err(|err| Error::kafka("cannot create admin client", err))?;
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|spec| {
            spec.config.iter().fold(
                NewTopic::new(spec.name.as_str(), spec.partitions, TopicReplication::Fixed(spec.replication)),
                |topic, (key, value)| topic.set(key, value),
            )
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(&new_topics, &options)
        .await
        .map_err(|err| Error::kafka("cannot create topics", err))?;
    let mut created = Vec::new();
    for (spec, result) in topics.iter().zip(results) {
        match result {
            Ok(_) => created.push(spec.name.clone()),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(Error::kafka(
                    format!("cannot create topic {name}"),
                    rdkafka::error::KafkaError::AdminOp(code),
                ));
            }
        }
    }
    Ok(created)
}

/// Whether the brokers answer a metadata request for `topic` within `timeout`, and with how
/// many partitions. Runs the blocking librdkafka call off the async runtime.
pub async fn probe_topic(producer: &FutureProducer, topic: &TopicName, timeout: Duration) -> Result<usize> {
    let producer = producer.clone();
    let topic = topic.clone();
    tokio::task::spawn_blocking(move || {
        let metadata = producer
            .client()
            .fetch_metadata(Some(topic.as_str()), timeout)
            .map_err(|err| Error::kafka("broker metadata unavailable", err))?;
        let partitions = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic.as_str() && t.error().is_none())
            .map_or(0, |t| t.partitions().len());
        Ok(partitions)
    })
    .await
    .unwrap_or_else(|join| Err(Error::Task(join.to_string())))
}

/// The readiness check of a service that writes to `topic`: the brokers answer a metadata request
/// within `timeout` and the topic exists. The 503's detail names the broker; the error is logged.
pub async fn topic_ready(
    producer: &FutureProducer,
    topic: &TopicName,
    timeout: Duration,
) -> Result<(), crate::http::NotReady> {
    use crate::http::NotReady;
    match probe_topic(producer, topic, timeout).await {
        Ok(0) => Err(NotReady::new(
            "a topic this service writes to does not exist on the broker",
            format_args!("topic {topic} does not exist"),
        )),
        Ok(_) => Ok(()),
        Err(err) => Err(NotReady::broker(err)),
    }
}

/// The partition ids of `topic` (empty when the topic does not exist).
pub async fn partitions(producer: &FutureProducer, topic: &TopicName, timeout: Duration) -> Result<Vec<i32>> {
    let producer = producer.clone();
    let topic = topic.clone();
    tokio::task::spawn_blocking(move || {
        let metadata = producer
            .client()
            .fetch_metadata(Some(topic.as_str()), timeout)
            .map_err(|err| Error::kafka("broker metadata unavailable", err))?;
        Ok(metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic.as_str() && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect())
    })
    .await
    .unwrap_or_else(|join| Err(Error::Task(join.to_string())))
}

/// A plain consumer, assigned by hand; used by operator commands and tests to read what is on a
/// topic without joining a consumer group.
pub fn reader(settings: &KafkaSettings, client_id: &str) -> Result<BaseConsumer> {
    settings
        .client_config(client_id)?
        .set("group.id", format!("{client_id}-reader"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        // It reads a log to its end, where a fetch finds nothing and the broker would hold it
        // for librdkafka's default 500 ms before the caller learns it has read everything.
        .set("fetch.wait.max.ms", "10")
        .create()
        .map_err(|err| Error::kafka("cannot create consumer", err))
}

/// Flushes a producer on shutdown, bounded, so acknowledged-but-unsent work is not silently lost.
pub fn flush(producer: &FutureProducer, timeout: Duration) {
    if let Err(err) = producer.flush(timeout) {
        tracing::warn!(error = %err, "producer flush did not complete");
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::message::Headers;

    use super::*;

    fn pairs(headers: &OwnedHeaders) -> Vec<(String, String)> {
        headers
            .iter()
            .map(|h| (h.key.to_owned(), String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned()))
            .collect()
    }

    const DOCUMENT: &str = "0f3c1a52-5c1e-4f43-9d0e-5a4b8f1e2d3c";

    #[test]
    fn a_command_is_headed_by_its_item_type_and_document_id() {
        let payload = format!(
            r#"{{"document_id":"{DOCUMENT}","item_type":"business","received_at":"2025-01-01T00:00:00Z","body":{{"name":"x"}}}}"#
        );
        let headers = headers_of(payload.as_bytes()).expect("a command");
        let expected = [("content-type", JSON), ("item_type", "business"), ("document_id", DOCUMENT)];
        assert_eq!(pairs(&headers), expected.map(|(k, v)| (k.to_owned(), v.to_owned())));
    }

    #[test]
    fn a_fact_is_headed_by_its_kind_event_id_and_document_id() {
        let event = "5b1d0c52-5c1e-4f43-9d0e-5a4b8f1e2d3c";
        let payload = format!(
            r#"{{"event_id":"{event}","kind":"business.created","document_id":"{DOCUMENT}","occurred_at":"2025-01-01T00:00:00Z","body":{{}}}}"#
        );
        let headers = headers_of(payload.as_bytes()).expect("a fact");
        let expected = [
            ("content-type", JSON),
            ("kind", "business.created"),
            ("event_id", event),
            ("document_id", DOCUMENT),
        ];
        assert_eq!(pairs(&headers), expected.map(|(k, v)| (k.to_owned(), v.to_owned())));
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let settings =
            KafkaSettings::sasl_ssl("b:9092", "writepoint", Password::new("hunter2-secret"), "/dev/null");
        let shown = format!("{settings:?} {}", Password::new("hunter2-secret"));
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(shown.contains("writepoint") && shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn sasl_ssl_without_credentials_or_with_a_missing_ca_is_refused_naming_the_setting() {
        let mut settings = KafkaSettings::new("b:9092");
        settings.kafka_security_protocol = SecurityProtocol::SaslSsl;
        let err = settings.client_config("c").unwrap_err().to_string();
        assert!(err.contains("OWP_KAFKA_SASL_USERNAME"), "{err}");
        settings.kafka_sasl_username = Some("auth".into());
        let err = settings.client_config("c").unwrap_err().to_string();
        assert!(err.contains("OWP_KAFKA_SASL_PASSWORD"), "{err}");
        let settings = KafkaSettings::sasl_ssl("b:9092", "auth", Password::new("p"), "/nonexistent/ca.pem");
        let err = settings.client_config("c").unwrap_err().to_string();
        assert!(err.contains("OWP_KAFKA_SSL_CA_LOCATION") && err.contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn anything_else_has_no_headers() {
        assert!(headers_of(b"not json").is_none());
        assert!(headers_of(br#"{"item_type":"business"}"#).is_none());
    }
}
