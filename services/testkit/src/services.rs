//! A whole stack of services in process (robots, auth, write point), on its own topics and its
//! own database, against the real broker and PostgreSQL: shared by the robots' and the read
//! point's test binaries (feature `services`).

use std::time::{Duration, Instant};

use owp_platform::{
    db::DatabaseSettings,
    kafka::{self, KafkaSettings, TopicSpec},
    shutdown::ShutdownSettings,
    topics::Topics,
};
use owp_robots::{Robots, RobotsSettings};
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::Consumer,
    producer::{FutureProducer, FutureRecord},
};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub const PARTITIONS: i32 = 3;

pub fn brokers() -> String {
    std::env::var("OWP_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

pub fn database_base() -> String {
    std::env::var("OWP_TEST_DATABASE_BASE").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Topics, consumer groups and a database of their own.
#[derive(Debug, Clone)]
pub struct Names {
    pub prefix: String,
    pub topics: Topics,
    pub kafka: KafkaSettings,
    pub database: DatabaseSettings,
}

impl Names {
    pub async fn create_with(kafka: KafkaSettings) -> Self {
        Self::create_replicated(kafka, 1).await
    }

    /// With every topic on `replication` brokers (3 on a cluster, so a broker may die).
    pub async fn create_replicated(kafka: KafkaSettings, replication: i32) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let prefix = format!("owp.test.{}", &id[..16]);
        let topics = Topics::prefixed(&prefix).unwrap();
        let specs: Vec<_> = [&topics.commands_topic, &topics.events_topic, &topics.deadletter_topic]
            .into_iter()
            .map(|t| TopicSpec { replication, ..TopicSpec::new(t.clone(), PARTITIONS) })
            .collect();
        kafka::ensure_topics(&kafka, &specs).await.expect("the broker must accept CreateTopics");
        let database = DatabaseSettings::new(format!("{}/owp_test_{}", database_base(), &id[..16]));
        database.create_database_if_missing().await.unwrap();
        Self { prefix, topics, kafka, database }
    }

    pub async fn create() -> Self {
        Self::create_with(KafkaSettings::new(brokers())).await
    }

    pub fn group_prefix(&self) -> String {
        format!("{}.robot.", self.prefix)
    }

    pub fn robots_settings(&self) -> RobotsSettings {
        let mut settings = RobotsSettings { addr: ([127, 0, 0, 1], 0).into(), ..RobotsSettings::default() };
        settings.robot.group_prefix = self.group_prefix();
        settings.robot.max_backoff = Duration::from_secs(1);
        settings
    }

    /// Environment for a `robots` or `owp` child process on these names.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("OWP_KAFKA_BROKERS".into(), self.kafka.kafka_brokers.clone()),
            ("OWP_DATABASE_URL".into(), self.database.database_url.clone()),
            ("OWP_COMMANDS_TOPIC".into(), self.topics.commands_topic.to_string()),
            ("OWP_EVENTS_TOPIC".into(), self.topics.events_topic.to_string()),
            ("OWP_DEADLETTER_TOPIC".into(), self.topics.deadletter_topic.to_string()),
            ("OWP_GROUP_PREFIX".into(), self.group_prefix()),
            ("OWP_ROBOTS_ADDR".into(), "127.0.0.1:0".into()),
            ("OWP_LOG_FORMAT".into(), "json".into()),
            ("OWP_ROBOT_MAX_BACKOFF".into(), "1s".into()),
        ]
    }

    pub async fn pool(&self) -> PgPool {
        self.database.pool("owp", 4).await.unwrap()
    }
}

/// A running stack. Robots run in this process unless the test runs them itself.
#[derive(Debug)]
pub struct Stack {
    pub names: Names,
    pub auth: String,
    pub writepoint: String,
    /// The in-process robots' health and metrics, when the stack runs them.
    pub robots: Option<String>,
    pub client: reqwest::Client,
    pub pool: PgPool,
    pub shutdown: CancellationToken,
    tasks: JoinSet<anyhow::Result<()>>,
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_on(Names::create().await, true).await
    }

    /// With `robots` false, the test starts the robots (e.g. as a child process it can kill).
    pub async fn start_on(names: Names, robots: bool) -> Self {
        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        // The schema must exist before auth starts; the robots (or the child) create it.
        owp_robots::app::prepare_database(&names.database).await.unwrap();
        let mut robots_url = None;
        if robots {
            let robots = Robots::build(
                &names.kafka,
                &names.topics,
                &names.database,
                &ShutdownSettings::default(),
                names.robots_settings(),
            )
            .await
            .unwrap();
            robots_url = Some(format!("http://{}", robots.local_addr()));
            let stop = shutdown.clone();
            tasks.spawn(async move { robots.run(stop).await.map_err(anyhow::Error::from) });
        }
        let mut auth_settings = owp_auth::Settings::defaults();
        auth_settings.addr = ([127, 0, 0, 1], 0).into();
        auth_settings.apply_timeout = Duration::from_secs(30);
        let auth = owp_auth::Application::build(
            &names.kafka,
            &names.topics,
            &names.database,
            "owp",
            &ShutdownSettings::default(),
            auth_settings,
        )
        .await
        .unwrap();
        let auth_url = format!("http://{}", auth.local_addr());
        let stop = shutdown.clone();
        tasks.spawn(async move { auth.run(stop).await.map_err(anyhow::Error::from) });
        let mut wp_settings = owp_writepoint::Settings::defaults();
        wp_settings.addr = ([127, 0, 0, 1], 0).into();
        let writepoint = owp_writepoint::Application::build(
            &names.kafka,
            &names.topics,
            &ShutdownSettings::default(),
            wp_settings,
        )
        .await
        .unwrap();
        let writepoint_url = format!("http://{}", writepoint.local_addr());
        let stop = shutdown.clone();
        tasks.spawn(async move { writepoint.run(stop).await.map_err(anyhow::Error::from) });
        let pool = names.pool().await;
        let stack = Self {
            names,
            auth: auth_url,
            writepoint: writepoint_url,
            robots: robots_url,
            client: reqwest::Client::new(),
            pool,
            shutdown,
            tasks,
        };
        stack.await_ready(&stack.auth).await;
        stack.await_ready(&stack.writepoint).await;
        stack
    }

    async fn await_ready(&self, base: &str) {
        crate::until(&format!("{base}/readyz answers 200"), Duration::from_secs(30), async || {
            let response = self.client.get(format!("{base}/readyz")).send().await;
            response.is_ok_and(|r| r.status() == 200)
        })
        .await;
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while let Some(joined) = self.tasks.join_next().await {
            joined.unwrap().unwrap();
        }
    }

    pub async fn auth_post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client.post(format!("{}{path}", self.auth)).json(&body).send().await.unwrap()
    }

    pub async fn signup(&self, username: &str, password: &str) -> uuid::Uuid {
        let response =
            self.auth_post("/v1/signup", json!({"username": username, "password": password})).await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let body: Value = response.json().await.unwrap();
        body["user_id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.auth_post("/v1/login", json!({"username": username, "password": password})).await
    }

    pub async fn session(&self, username: &str) -> String {
        self.signup(username, "a good password").await;
        let response = self.login(username, "a good password").await;
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()["session_id"].as_str().unwrap().to_owned()
    }

    /// POSTs a document; returns its document_id.
    pub async fn post(&self, document: Value) -> String {
        self.post_with(None, document).await
    }

    /// POSTs a document with `Authorization: Bearer <session>`; returns its document_id.
    pub async fn post_as(&self, session: impl std::fmt::Display, document: Value) -> String {
        self.post_with(Some(session.to_string()), document).await
    }

    async fn post_with(&self, session: Option<String>, mut document: Value) -> String {
        let id =
            document["document_id"].as_str().map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        document["document_id"] = json!(id);
        let mut request = self.client.post(format!("{}/v1/documents", self.writepoint)).json(&document);
        if let Some(session) = session {
            request = request.bearer_auth(session);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
        id
    }

    /// Waits (bounded) for the document's outcome message: `(status, text)`.
    pub async fn outcome(&self, document_id: &str) -> (String, String) {
        wait_outcome(&self.pool, document_id, Duration::from_secs(30)).await
    }
}

pub async fn wait_outcome(pool: &PgPool, document_id: &str, limit: Duration) -> (String, String) {
    let id: uuid::Uuid = document_id.parse().unwrap();
    let row = crate::eventually(limit, Duration::from_millis(20), async || {
        sqlx::query_as("SELECT status, text FROM messages WHERE document_id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await
            .unwrap()
    })
    .await;
    row.unwrap_or_else(|| panic!("no outcome for {document_id} within {limit:?}"))
}

/// Waits (bounded) until `query` returns `expected`.
pub async fn wait_scalar(pool: &PgPool, query: &str, expected: i64, limit: Duration) {
    let mut value = -1;
    let reached = crate::eventually(limit, Duration::from_millis(50), async || {
        value = sqlx::query_scalar(query).fetch_one(pool).await.unwrap_or(-1);
        (value == expected).then_some(())
    })
    .await;
    assert!(reached.is_some(), "{query} is {value}, not {expected}, after {limit:?}");
}

/// A producer that waits out a broker restart (a minute per message).
pub fn producer(kafka: &KafkaSettings) -> FutureProducer {
    let tuning = kafka::ProducerTuning {
        delivery_timeout: Duration::from_secs(60),
        ..kafka::ProducerTuning::default()
    };
    kafka::producer(kafka, "owp-test", &tuning).unwrap()
}

pub async fn produce(producer: &FutureProducer, topic: &str, key: &str, payload: &[u8]) -> (i32, i64) {
    let delivery = producer
        .send(FutureRecord::to(topic).key(key).payload(payload), Duration::from_secs(10))
        .await
        .map_err(|(err, _)| err)
        .unwrap();
    (delivery.partition, delivery.offset)
}

/// Every message on `topic` (all partitions), read with a real consumer.
pub async fn read_all(kafka: &KafkaSettings, topic: &str) -> Vec<Value> {
    let kafka = kafka.clone();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let consumer = kafka::reader(&kafka, "owp-robots-test").unwrap();
        let mut highs = Vec::new();
        let mut assignment = TopicPartitionList::new();
        for partition in 0..PARTITIONS {
            let (_, high) = consumer.fetch_watermarks(&topic, partition, Duration::from_secs(10)).unwrap();
            highs.push(high);
            assignment.add_partition_offset(&topic, partition, Offset::Beginning).unwrap();
        }
        consumer.assign(&assignment).unwrap();
        let total: i64 = highs.iter().sum();
        let mut out = Vec::new();
        // A long log takes a while; what must not happen is the reading stalling.
        let mut deadline = Instant::now() + Duration::from_secs(30);
        while (out.len() as i64) < total {
            assert!(
                Instant::now() < deadline,
                "read {} of {total} messages of {topic}, then nothing for 30 s",
                out.len()
            );
            if let Some(message) = consumer.poll(Duration::from_millis(200)) {
                deadline = Instant::now() + Duration::from_secs(30);
                let message = message.unwrap();
                out.push(
                    serde_json::from_slice(message.payload().unwrap_or_default()).unwrap_or(Value::Null),
                );
            }
        }
        out
    })
    .await
    .unwrap()
}

/// Row count and checksum of every projection table, to compare states.
pub async fn snapshot(pool: &PgPool) -> Vec<(String, i64, String)> {
    let mut out = Vec::new();
    for table in owp_robots::replay::TABLES {
        let (count, digest): (i64, String) = sqlx::query_as(&format!(
            "SELECT count(*), coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM {table} t"
        ))
        .fetch_one(pool)
        .await
        .unwrap();
        out.push(((*table).to_owned(), count, digest));
    }
    out
}
