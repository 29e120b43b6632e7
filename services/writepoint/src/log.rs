//! Appending accepted documents to the commands topic, and waiting for the acknowledgement.

use std::time::{Duration, Instant};

use owp_platform::kafka;
use owp_protocol::{DocumentId, Submission, TopicName};
use prometheus_client::metrics::histogram::Histogram;
use rdkafka::{
    error::{KafkaError, RDKafkaErrorCode},
    producer::{FutureProducer, FutureRecord},
};
use serde::{Deserialize, Serialize};

/// Where an accepted document now lives on the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Receipt {
    /// The document's id: the one it was sent with, or the one the write point created.
    #[schema(value_type = String, format = Uuid)]
    pub document_id: DocumentId,
    /// The commands topic.
    pub topic: String,
    #[schema(minimum = 0)]
    pub partition: i32,
    #[schema(minimum = 0)]
    pub offset: i64,
}

/// Why a document could not be appended. Each variant means "not accepted": the client may
/// resend with the same `document_id` safely.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    #[error("the producer queue is full")]
    QueueFull,
    #[error("the broker did not acknowledge within {0:?}")]
    Timeout(Duration),
    #[error("the broker refused or could not be reached: {0}")]
    Broker(KafkaError),
}

/// The commands topic as the write point sees it: append and wait for the acknowledgement.
#[derive(Clone)]
pub struct CommandLog {
    producer: FutureProducer,
    topic: TopicName,
    timeout: Duration,
    latency: Histogram,
}

impl std::fmt::Debug for CommandLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandLog").field("topic", &self.topic).field("timeout", &self.timeout).finish()
    }
}

impl CommandLog {
    pub fn new(producer: FutureProducer, topic: TopicName, timeout: Duration, latency: Histogram) -> Self {
        Self { producer, topic, timeout, latency }
    }

    pub fn producer(&self) -> &FutureProducer {
        &self.producer
    }

    pub fn topic(&self) -> &TopicName {
        &self.topic
    }

    /// Appends the command under its key. Returns only once the broker has acknowledged it
    /// (`acks=all`), or fails within the produce timeout.
    pub async fn append(&self, submission: &Submission) -> Result<Receipt, ProduceError> {
        let command = &submission.command;
        let payload = command.to_json();
        let record = FutureRecord::to(self.topic.as_str())
            .key(submission.key.as_str())
            .payload(&payload)
            .headers(kafka::command_headers(command));
        let start = Instant::now();
        let delivery = match self.producer.send_result(record) {
            Ok(delivery) => delivery,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                return Err(ProduceError::QueueFull);
            }
            Err((err, _)) => return Err(ProduceError::Broker(err)),
        };
        // librdkafka's message.timeout.ms is the same bound; this is the belt to its braces, so a
        // request can never hang on a lost callback.
        let outcome = tokio::time::timeout(self.timeout, delivery).await;
        let result = match outcome {
            Err(_) => Err(ProduceError::Timeout(self.timeout)),
            Ok(Err(_canceled)) => Err(ProduceError::Broker(KafkaError::Canceled)),
            Ok(Ok(Err((err, _)))) => Err(ProduceError::Broker(err)),
            Ok(Ok(Ok(delivered))) => Ok(Receipt {
                document_id: command.document_id,
                topic: self.topic.to_string(),
                partition: delivered.partition,
                offset: delivered.offset,
            }),
        };
        if result.is_ok() {
            self.latency.observe(start.elapsed().as_secs_f64());
        }
        result
    }
}
