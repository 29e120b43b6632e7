//! Kafka with SASL/SCRAM over TLS and ACLs per service principal (`scripts/services start
//! --secure`, on a private stack): each principal may do its own job and nothing else (the ACLs of
//! `terraform/templates/kafka-acls.tftpl`), a wrong
//! password and a plaintext client are turned away, and the write point itself, given its
//! credentials, gets a document onto the commands topic.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use owp_platform::kafka::{self, KafkaSettings, Password, ProducerTuning, TopicSpec};
use owp_protocol::TopicName;
use owp_testkit::{PrivateStack, Shape, eventually};
use rdkafka::{
    ClientContext, Offset, TopicPartitionList,
    consumer::{CommitMode, Consumer},
    error::KafkaError,
    producer::{BaseProducer, DeliveryResult, FutureRecord, Producer, ProducerContext},
    types::RDKafkaErrorCode,
};
use serde_json::json;

use crate::helpers::{read_back, spawn_app_on};

/// Long enough for a first connection (TLS and SCRAM) on a busy machine; a refusal must come
/// well before it.
const DEADLINE: Duration = Duration::from_secs(20);

fn principal(stack: &PrivateStack, name: &str) -> KafkaSettings {
    let user = stack.kafka_user(name).unwrap();
    KafkaSettings::sasl_ssl(stack.brokers(), user.username, Password::new(user.password), user.ca)
}

/// Produces one record to `topic` as `settings`' principal and returns the broker's answer.
async fn produce(settings: &KafkaSettings, client_id: &str, topic: &TopicName) -> Result<(), KafkaError> {
    let producer = kafka::producer(settings, client_id, &ProducerTuning::default()).unwrap();
    let record = FutureRecord::to(topic.as_str()).key("acl-test").payload("{}");
    producer.send(record, DEADLINE).await.map(drop).map_err(|(err, _)| err)
}

fn refused_as_unauthorized(result: Result<(), KafkaError>, what: &str) {
    match result {
        Err(KafkaError::MessageProduction(RDKafkaErrorCode::TopicAuthorizationFailed)) => {}
        other => panic!("{what}: expected TopicAuthorizationFailed, got {other:?}"),
    }
}

/// As `settings`' principal, reads `topic` from its start in group `<client_id>-reader` until a
/// record comes, then commits the group's offsets; returns the first error, reading or committing.
async fn read_and_commit(
    settings: &KafkaSettings,
    client_id: &str,
    topic: &TopicName,
) -> Result<(), KafkaError> {
    let (settings, client_id, topic) = (settings.clone(), client_id.to_owned(), topic.clone());
    tokio::task::spawn_blocking(move || {
        let consumer = kafka::reader(&settings, &client_id).unwrap();
        let mut assignment = TopicPartitionList::new();
        for partition in 0..3 {
            assignment.add_partition_offset(topic.as_str(), partition, Offset::Beginning).unwrap();
        }
        consumer.assign(&assignment).unwrap();
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "{client_id} read nothing from {topic} within {DEADLINE:?}"
            );
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(_)) => break,
                Some(Err(err)) => return Err(err),
                None => {}
            }
        }
        consumer.commit_consumer_state(CommitMode::Sync)
    })
    .await
    .unwrap()
}

/// The client-wide errors librdkafka reports (authentication, transport), as they come.
#[derive(Clone, Default)]
struct Errors(Arc<Mutex<Vec<RDKafkaErrorCode>>>);

impl ClientContext for Errors {
    fn error(&self, error: KafkaError, _reason: &str) {
        if let Some(code) = error.rdkafka_error_code() {
            self.0.lock().unwrap().push(code);
        }
    }
}

impl ProducerContext for Errors {
    type DeliveryOpaque = ();

    fn delivery(&self, _: &DeliveryResult<'_>, (): Self::DeliveryOpaque) {}
}

/// Connects as `settings` says and returns the first client-wide error among `expected`, polling
/// the client until one comes or the deadline passes (never a hang).
async fn first_error(settings: &KafkaSettings, expected: &[RDKafkaErrorCode]) -> Option<RDKafkaErrorCode> {
    let errors = Errors::default();
    let producer: BaseProducer<Errors> =
        settings.client_config("owp-acl-test").unwrap().create_with_context(errors.clone()).unwrap();
    let producer = Arc::new(producer);
    eventually(DEADLINE, Duration::from_millis(50), async || {
        let client = producer.clone();
        // Serves the error callback; a metadata request makes the client connect.
        tokio::task::spawn_blocking(move || {
            let _ = client.client().fetch_metadata(None, Duration::from_millis(200));
            client.poll(Duration::from_millis(10));
        })
        .await
        .unwrap();
        errors.0.lock().unwrap().iter().copied().find(|code| expected.contains(code))
    })
    .await
}

#[tokio::test]
async fn each_principal_does_its_own_job_only_and_strangers_are_turned_away() {
    let stack = PrivateStack::launch_secure(Shape::Single).await.unwrap();
    let (commands, events) = (TopicName::commands(), TopicName::events());
    let admin = principal(&stack, "owp-admin");
    let writepoint = principal(&stack, "writepoint");
    let auth = principal(&stack, "auth");
    let robots = principal(&stack, "robots");
    let deadletter = TopicName::deadletter();

    // The operator's principal creates the topics, as `owp up` does.
    let specs = [&commands, &events, &deadletter].map(|topic| TopicSpec::new(topic.clone(), 3));
    kafka::ensure_topics(&admin, &specs).await.unwrap();

    // Each writer on its own topic: allowed.
    produce(&writepoint, "owp-writepoint", &commands).await.expect("the write point may produce commands");
    produce(&auth, "owp-auth", &events).await.expect("auth may produce events");

    // Each writer on the other's topic: refused by the broker's authorizer.
    refused_as_unauthorized(
        produce(&writepoint, "owp-writepoint", &events).await,
        "the write point producing to the events topic",
    );
    refused_as_unauthorized(
        produce(&auth, "owp-auth", &commands).await,
        "auth producing to the commands topic",
    );

    // The robots read commands in their own groups and publish outcomes and dead letters, but
    // never write a command, nor commit offsets for a group outside their prefix.
    read_and_commit(&robots, "owp.robot.commands", &commands).await.expect("the robots may read commands");
    produce(&robots, "owp-robots", &events).await.expect("the robots may publish facts");
    produce(&robots, "owp-robots", &deadletter).await.expect("the robots may park records");
    refused_as_unauthorized(produce(&robots, "owp-robots", &commands).await, "the robots producing commands");
    let stranger = read_and_commit(&robots, "owp-stranger", &commands).await;
    assert_eq!(
        stranger.as_ref().err().and_then(KafkaError::rdkafka_error_code),
        Some(RDKafkaErrorCode::GroupAuthorizationFailed),
        "the robots in a group outside owp.robot.*: {stranger:?}"
    );

    // A wrong password: an authentication failure, not a silent retry until the deadline.
    let mut wrong = writepoint.clone();
    wrong.kafka_sasl_password = Some(Password::new("not-the-password"));
    assert_eq!(
        first_error(&wrong, &[RDKafkaErrorCode::Authentication]).await,
        Some(RDKafkaErrorCode::Authentication),
        "a wrong password must be refused as an authentication failure within {DEADLINE:?}"
    );
    let refused = produce(&wrong, "owp-writepoint", &commands).await;
    assert!(refused.is_err(), "nothing is accepted with a wrong password: {refused:?}");

    // A plaintext client never gets a word through the SASL_SSL listener.
    let plaintext = KafkaSettings::new(stack.brokers());
    let transport = [RDKafkaErrorCode::BrokerTransportFailure, RDKafkaErrorCode::AllBrokersDown];
    assert!(
        first_error(&plaintext, &transport).await.is_some(),
        "a plaintext client must fail at the transport within {DEADLINE:?}"
    );
    let refused = produce(&plaintext, "owp-plaintext", &commands).await;
    assert!(refused.is_err(), "nothing is accepted from a plaintext client: {refused:?}");

    // The write point service with its own credentials: 202, and the document is on the topic.
    let app = spawn_app_on(writepoint.clone(), commands.clone(), |_| {}).await;
    let document_id = uuid::Uuid::new_v4().to_string();
    let response = app
        .post_json(&json!({"item_type": "business", "document_id": document_id, "name": "Secure Greens"}))
        .await;
    assert_eq!(response.status(), 202);
    let receipt: serde_json::Value = response.json().await.unwrap();
    assert_eq!(receipt["topic"], commands.as_str());
    let partition = i32::try_from(receipt["partition"].as_i64().unwrap()).unwrap();
    let message = read_back(&admin, &commands, partition, receipt["offset"].as_i64().unwrap()).await;
    assert_eq!(message.value["document_id"], document_id.as_str());
}
