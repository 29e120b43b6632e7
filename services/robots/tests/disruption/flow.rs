//! A stream of documents for the disruption tests, and the checks made after it: every document
//! has exactly one outcome fact, no row is missing or doubled, and a rebuild from the log equals
//! the projection.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use owp_protocol::{Registry, SessionId};
use owp_robots::replay::{self, ReplayOptions};
use rdkafka::{
    error::KafkaError,
    producer::{FutureProducer, FutureRecord},
    types::RDKafkaErrorCode,
};
use serde_json::{Value, json};

use crate::support::{Names, read_all, wait_scalar};

/// What was sent: document ids by expected outcome.
#[derive(Debug, Default)]
pub struct Sent {
    pub businesses: Vec<String>,
    pub bogus: Vec<String>,
    pub profiles: Vec<String>,
    /// Records the test's producer had to send again (see [`RESENT`]).
    pub resent: usize,
}

impl Sent {
    pub fn total(&self) -> usize {
        self.businesses.len() + self.bogus.len() + self.profiles.len()
    }
}

/// How many documents each disruption test sends while it disrupts: 50,000, or
/// `OWP_DISRUPTION_DOCUMENTS`.
pub fn documents() -> usize {
    std::env::var("OWP_DISRUPTION_DOCUMENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000)
}

/// Document number `index` of a stream, with a fresh id, recorded in `sent`, and the session it
/// is sent with: 8 of 10 are businesses with the live session, 1 a business with a bogus
/// session, 1 a profile without a session.
pub fn document(index: usize, session: &str, sent: &mut Sent) -> (Value, Option<SessionId>) {
    let id = uuid::Uuid::new_v4().to_string();
    match index % 10 {
        8 => {
            sent.bogus.push(id.clone());
            let document =
                json!({"item_type": "business", "document_id": id, "name": format!("bogus {index}")});
            (document, Some(SessionId::new_random()))
        }
        9 => {
            sent.profiles.push(id.clone());
            (
                json!({"item_type": "profile", "document_id": id, "first_name": "P", "last_name": format!("{index}")}),
                None,
            )
        }
        _ => {
            sent.businesses.push(id.clone());
            let document =
                json!({"item_type": "business", "document_id": id, "name": format!("business {index}")});
            (document, Some(SessionId::parse(session).unwrap()))
        }
    }
}

/// Produces `count` commands in chunks ([`document`]'s mix), exactly as the write point would,
/// calling `between` after each chunk so the test can disrupt things while documents flow.
pub async fn send(
    producer: &FutureProducer,
    names: &Names,
    session: &str,
    count: usize,
    chunk: usize,
    mut between: impl AsyncFnMut(usize),
) -> Sent {
    let registry = Registry::embedded().unwrap();
    let mut sent = Sent::default();
    let topic = names.topics.commands_topic.as_str();
    for start in (0..count).step_by(chunk) {
        let mut sends = Vec::new();
        for index in start..(start + chunk).min(count) {
            let (document, session) = document(index, session, &mut sent);
            let submission =
                registry.parse_document(document, session, time::OffsetDateTime::now_utc()).unwrap();
            sends.push((submission.key.as_str().to_owned(), submission.command.to_json()));
        }
        let deliveries = sends.iter().map(|(key, payload)| deliver(producer, topic, key, payload));
        sent.resent += futures::future::join_all(deliveries).await.into_iter().sum::<usize>();
        between(start + chunk).await;
    }
    sent
}

/// What librdkafka fails a record with, unwritten, for a moment after a broker restart: a
/// metadata answer from the restarted broker's still empty cache leaves the topic or partition
/// unknown to it, or drops the broker's handle with what was queued there.
const RESENT: [RDKafkaErrorCode; 3] =
    [RDKafkaErrorCode::UnknownTopic, RDKafkaErrorCode::UnknownPartition, RDKafkaErrorCode::BrokerDestroy];

/// Sends one record until the broker acknowledges it (bounded), resending it — same key, same
/// payload, as a client of the write point resends after a 503 — after a [`RESENT`] error; the
/// robots drop a copy by its document id. Returns how many times it was resent.
async fn deliver(producer: &FutureProducer, topic: &str, key: &str, payload: &[u8]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut resent = 0;
    loop {
        let record = FutureRecord::to(topic).key(key).payload(payload);
        match producer.send(record, Duration::from_secs(120)).await {
            Ok(_) => return resent,
            Err((KafkaError::MessageProduction(code), _))
                if RESENT.contains(&code) && Instant::now() < deadline =>
            {
                resent += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err((err, _)) => panic!("the test's producer must deliver (it waits out restarts): {err}"),
        }
    }
}

/// Waits until every document has an outcome, then checks everything the issue asks.
pub async fn check(names: &Names, sent: &Sent, limit: Duration) {
    let pool = names.pool().await;
    let total = i64::try_from(sent.total()).unwrap();
    wait_scalar(&pool, "SELECT count(*) FROM messages WHERE kind <> 'session.ended'", total, limit).await;

    let count = |status: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM messages WHERE status = $1")
                .bind(status)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("accepted").await as usize, sent.businesses.len() + sent.profiles.len());
    assert_eq!(count("rejected").await as usize, sent.bogus.len());
    assert_eq!(count("failed").await, 0);
    let businesses: i64 =
        sqlx::query_scalar("SELECT count(*) FROM businesses").fetch_one(&pool).await.unwrap();
    assert_eq!(businesses as usize, sent.businesses.len(), "no business missing or doubled");
    let profiles: i64 = sqlx::query_scalar("SELECT count(*) FROM profiles").fetch_one(&pool).await.unwrap();
    assert_eq!(profiles as usize, sent.profiles.len());
    let ids: Vec<uuid::Uuid> = sent
        .businesses
        .iter()
        .chain(&sent.bogus)
        .chain(&sent.profiles)
        .map(|id| id.parse().unwrap())
        .collect();
    let present: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE document_id = ANY($1)")
        .bind(&ids)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(present, total, "every document has its outcome");

    // Exactly one outcome fact per document: redeliveries carry the same event id and kind.
    let events = read_all(&names.kafka, names.topics.events_topic.as_str()).await;
    let mut outcomes: HashMap<String, (String, String)> = HashMap::new();
    let mut copies = 0usize;
    for event in &events {
        let (Some(document), Some(event_id), Some(kind)) =
            (event["document_id"].as_str(), event["event_id"].as_str(), event["kind"].as_str())
        else {
            continue;
        };
        if !["business.created", "business.rejected", "profile.created"].contains(&kind) {
            continue;
        }
        match outcomes.get(document) {
            Some(first) => {
                assert_eq!(
                    first,
                    &(event_id.to_owned(), kind.to_owned()),
                    "two different outcomes for {document}"
                );
                copies += 1;
            }
            None => {
                outcomes.insert(document.to_owned(), (event_id.to_owned(), kind.to_owned()));
            }
        }
    }
    assert_eq!(outcomes.len(), sent.total());
    crate::report(&format!(
        "{} documents, {} outcome facts, {copies} redelivered copies (same id, deduplicated)",
        sent.total(),
        outcomes.len()
    ));

    let options = ReplayOptions { group_prefix: names.group_prefix(), batch: 5000 };
    let report = replay::replay(&names.kafka, &names.topics, &names.database, &options, true, &|_, _| {})
        .await
        .unwrap();
    for check in &report.checks {
        assert!(check.equal(), "replay --verify found a difference: {check:?}");
    }
    assert_eq!(report.checks.len(), replay::TABLES.len());
}

/// Logs in through auth and returns the session id.
pub async fn session(auth: &str, client: &reqwest::Client) -> String {
    let username = format!("flow{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let body = json!({"username": username, "password": "a good password"});
    let signup = client.post(format!("{auth}/v1/signup")).json(&body).send().await.unwrap();
    assert_eq!(signup.status(), 201, "{}", signup.text().await.unwrap());
    let login = client.post(format!("{auth}/v1/login")).json(&body).send().await.unwrap();
    assert_eq!(login.status(), 200);
    login.json::<Value>().await.unwrap()["session_id"].as_str().unwrap().to_owned()
}
