//! Auth under abuse, against the real broker and PostgreSQL: login throttling per (username,
//! client address) and per address, unknown usernames costing what known ones do, bounded
//! hashing, and the session credential kept out of URLs and bodies.
//!
//! Each test runs its own stack (topics, database, the robots that apply auth's facts, and auth
//! with the settings under test). Client addresses are set with `X-Forwarded-For` behind one
//! trusted proxy, as behind the load balancer in production.

use std::time::{Duration, Instant};

use owp_auth::Settings;
use owp_platform::{
    db::DatabaseSettings,
    kafka::{self, KafkaSettings, TopicSpec},
    shutdown::ShutdownSettings,
    topics::Topics,
};
use owp_robots::{Robots, RobotsSettings};
use owp_testkit::eventually;
use reqwest::{Response, StatusCode, header};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "the right password";
const WRONG: &str = "a wrong password";

/// Robots and auth on topics and a database of their own.
struct Stack {
    auth: String,
    client: reqwest::Client,
    /// The projection.
    pool: PgPool,
    shutdown: CancellationToken,
    tasks: JoinSet<anyhow::Result<()>>,
}

impl Stack {
    /// Auth behind one trusted proxy, with `tune` applied to its settings.
    async fn start(tune: impl FnOnce(&mut Settings)) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let prefix = format!("owp.test.{}", &id[..16]);
        let topics = Topics::prefixed(&prefix).unwrap();
        let brokers = std::env::var("OWP_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
        let kafka = KafkaSettings::new(brokers);
        let specs: Vec<_> = [&topics.commands_topic, &topics.events_topic, &topics.deadletter_topic]
            .into_iter()
            .map(|topic| TopicSpec::new(topic.clone(), 3))
            .collect();
        kafka::ensure_topics(&kafka, &specs).await.expect("the broker must accept CreateTopics");
        let base = std::env::var("OWP_TEST_DATABASE_BASE")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let database = DatabaseSettings::new(format!("{base}/owp_test_{}", &id[..16]));
        owp_robots::app::prepare_database(&database).await.unwrap();

        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let mut robots_settings =
            RobotsSettings { addr: ([127, 0, 0, 1], 0).into(), ..RobotsSettings::default() };
        robots_settings.robot.group_prefix = format!("{prefix}.robot.");
        robots_settings.robot.max_backoff = Duration::from_secs(1);
        let shutdown_settings = ShutdownSettings::default();
        let robots =
            Robots::build(&kafka, &topics, &database, &shutdown_settings, robots_settings).await.unwrap();
        let stop = shutdown.clone();
        tasks.spawn(async move { robots.run(stop).await.map_err(anyhow::Error::from) });

        let mut settings = Settings::defaults();
        settings.addr = ([127, 0, 0, 1], 0).into();
        settings.apply_timeout = Duration::from_secs(30);
        settings.trusted_proxies = 1;
        tune(&mut settings);
        let auth =
            owp_auth::Application::build(&kafka, &topics, &database, "owp", &shutdown_settings, settings)
                .await
                .unwrap();
        let auth_url = format!("http://{}", auth.local_addr());
        let stop = shutdown.clone();
        tasks.spawn(async move { auth.run(stop).await.map_err(anyhow::Error::from) });

        let stack = Self {
            auth: auth_url,
            client: reqwest::Client::new(),
            pool: database.pool("owp", 4).await.unwrap(),
            shutdown,
            tasks,
        };
        let ready = eventually(Duration::from_secs(30), Duration::from_millis(50), async || {
            let response = stack.client.get(format!("{}/readyz", stack.auth)).send().await.ok()?;
            (response.status() == StatusCode::OK).then_some(())
        })
        .await;
        assert!(ready.is_some(), "auth not ready within 30 s");
        stack
    }

    async fn stop(mut self) {
        self.shutdown.cancel();
        while let Some(joined) = self.tasks.join_next().await {
            joined.unwrap().unwrap();
        }
    }

    async fn signup(&self, username: &str) {
        let response = self
            .client
            .post(format!("{}/v1/signup", self.auth))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }

    /// A login from client address `from`.
    async fn login(&self, username: &str, password: &str, from: &str) -> Response {
        self.client
            .post(format!("{}/v1/login", self.auth))
            .header("x-forwarded-for", from)
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap()
    }

    async fn session(&self, username: &str, from: &str) -> String {
        let response = self.login(username, PASSWORD, from).await;
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()["session_id"].as_str().unwrap().to_owned()
    }

    /// The statuses of `count` logins sent at once, `attempt(i)` giving each one's username,
    /// password and address.
    async fn at_once(
        &self,
        count: usize,
        attempt: impl Fn(usize) -> (String, String, String),
    ) -> Vec<(StatusCode, Option<u64>)> {
        let mut requests = JoinSet::new();
        for i in 0..count {
            let (username, password, from) = attempt(i);
            let request = self
                .client
                .post(format!("{}/v1/login", self.auth))
                .header("x-forwarded-for", from)
                .json(&json!({"username": username, "password": password}));
            requests.spawn(async move {
                let response = request.send().await.unwrap();
                (response.status(), retry_after(&response))
            });
        }
        requests.join_all().await
    }

    /// Waits (bounded) until `count` login.failed facts for `username` are applied.
    async fn await_failures(&self, username: &str, count: i64) {
        let applied = eventually(Duration::from_secs(30), Duration::from_millis(50), async || {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM login_failures WHERE username = $1")
                .bind(username)
                .fetch_one(&self.pool)
                .await
                .unwrap();
            (n == count).then_some(())
        })
        .await;
        assert!(applied.is_some(), "{count} login.failed facts for {username} not applied within 30 s");
    }
}

fn retry_after(response: &Response) -> Option<u64> {
    response.headers().get(header::RETRY_AFTER).map(|value| value.to_str().unwrap().parse().unwrap())
}

fn count(statuses: &[(StatusCode, Option<u64>)], status: u16) -> usize {
    statuses.iter().filter(|(s, _)| s.as_u16() == status).count()
}

#[tokio::test]
async fn guesses_from_one_address_do_not_lock_out_a_correct_login_from_another() {
    let stack = Stack::start(|settings| {
        settings.login_failures_before_backoff = 3;
        // Far longer than the test: a refusal here is the throttle, not a race with its expiry.
        settings.login_backoff_base = Duration::from_secs(600);
    })
    .await;
    stack.signup("victim").await;
    let attacker = "203.0.113.9";
    for _ in 0..3 {
        let response = stack.login("victim", WRONG, attacker).await;
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
    }
    // The attacker's address waits, even with the right password...
    let refused = stack.login("victim", PASSWORD, attacker).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()[header::CONTENT_TYPE], "application/problem+json");
    let wait = retry_after(&refused).expect("a 429 says when to retry");
    assert!((1..=600).contains(&wait), "Retry-After {wait}");
    // ...while the user, elsewhere, logs in.
    assert_eq!(stack.login("victim", PASSWORD, "198.51.100.20").await.status(), 200);
    // The failures are still facts on the log, for the audit trail.
    stack.await_failures("victim", 3).await;

    // A success forgets the pair's failures, including the wait the successful attempt itself
    // started by being the third.
    let user = "192.0.2.44";
    for _ in 0..2 {
        assert_eq!(stack.login("victim", WRONG, user).await.status(), 401);
    }
    assert_eq!(stack.login("victim", PASSWORD, user).await.status(), 200);
    for _ in 0..2 {
        assert_eq!(stack.login("victim", WRONG, user).await.status(), 401);
    }
    stack.stop().await;
}

#[tokio::test]
async fn each_further_failure_doubles_the_wait() {
    let base = Duration::from_secs(4);
    let stack = Stack::start(|settings| {
        settings.login_failures_before_backoff = 1;
        settings.login_backoff_base = base;
    })
    .await;
    stack.signup("slow").await;
    let from = "203.0.113.10";
    assert_eq!(stack.login("slow", WRONG, from).await.status(), 401);
    let first = stack.login("slow", WRONG, from).await;
    assert_eq!(first.status(), 429);
    let first = retry_after(&first).unwrap();
    assert!((1..=base.as_secs()).contains(&first), "first wait {first}");
    // Once the wait is over the next guess is checked, and fails, and the wait after it is twice
    // the base: more than the base is left even after the check's own time.
    let admitted = eventually(Duration::from_secs(30), Duration::from_millis(200), async || {
        let response = stack.login("slow", WRONG, from).await;
        (response.status() != 429).then(|| response.status())
    })
    .await;
    assert_eq!(admitted, Some(StatusCode::UNAUTHORIZED));
    let second = stack.login("slow", WRONG, from).await;
    assert_eq!(second.status(), 429);
    let second = retry_after(&second).unwrap();
    assert!(second > base.as_secs() && second <= 2 * base.as_secs(), "second wait {second}");
    stack.stop().await;
}

#[tokio::test]
async fn fifty_parallel_guesses_get_no_further_than_the_limit() {
    let stack = Stack::start(|settings| {
        settings.login_failures_before_backoff = 5;
        settings.login_backoff_base = Duration::from_secs(600);
        settings.login_address_limit = 10;
        // Every admitted guess is checked, however long the queue for argon2.
        settings.password_hashing_wait = Duration::from_secs(300);
    })
    .await;
    stack.signup("target").await;

    // One username from one address: five guesses are checked, the other 45 refused unchecked.
    let statuses = stack.at_once(50, |_| ("target".into(), WRONG.into(), "203.0.113.50".into())).await;
    assert_eq!((count(&statuses, 401), count(&statuses, 429)), (5, 45), "{statuses:?}");
    assert!(statuses.iter().all(|(s, wait)| s.as_u16() != 429 || wait.is_some()), "{statuses:?}");
    stack.await_failures("target", 5).await;

    // Fifty usernames from one address: the address's limit holds however they are spread.
    let statuses = stack.at_once(50, |i| (format!("sprayed{i}"), WRONG.into(), "203.0.113.51".into())).await;
    assert_eq!((count(&statuses, 401), count(&statuses, 429)), (10, 40), "{statuses:?}");
    // That address is done for the window, even for a right password; the user elsewhere is not.
    assert_eq!(stack.login("target", PASSWORD, "203.0.113.51").await.status(), 429);
    assert_eq!(stack.login("target", PASSWORD, "198.51.100.51").await.status(), 200);
    stack.stop().await;
}

#[tokio::test]
async fn an_unknown_username_takes_as_long_as_a_known_one() {
    let stack = Stack::start(|_| {}).await;
    stack.signup("known").await;
    // Each attempt from an address of its own: nothing here is throttled.
    let mut addresses = (0u32..).map(|i| format!("10.7.{}.{}", i / 250, i % 250 + 1));
    let mut time = async |username: &str| {
        let from = addresses.next().unwrap();
        let started = Instant::now();
        let response = stack.login(username, WRONG, &from).await;
        let took = started.elapsed();
        assert_eq!(response.status(), 401, "{username}");
        took
    };
    // Warm up (connections, caches, the first produce) before measuring.
    for _ in 0..3 {
        time("known").await;
        time("nobody").await;
    }
    // Interleaved, so that whatever else the machine does weighs on both alike.
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        known.push(time("known").await);
        unknown.push(time("nobody").await);
    }
    let median = |mut samples: Vec<Duration>| {
        samples.sort();
        samples[samples.len() / 2]
    };
    let (known, unknown) = (median(known), median(unknown));
    eprintln!("median login time: known username {known:?}, unknown {unknown:?}");
    let (fast, slow) = if known < unknown { (known, unknown) } else { (unknown, known) };
    assert!(
        fast.as_secs_f64() >= slow.as_secs_f64() * 0.75,
        "medians differ by more than 25 %: known {known:?}, unknown {unknown:?}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_saturated_hasher_answers_503_with_retry_after() {
    let stack = Stack::start(|settings| {
        settings.password_hashing_concurrency = 1;
        settings.password_hashing_wait = Duration::from_millis(1);
    })
    .await;
    stack.signup("busy").await;
    let statuses =
        stack.at_once(8, |i| ("busy".into(), PASSWORD.into(), format!("203.0.113.{}", 100 + i))).await;
    let busy: Vec<_> = statuses.iter().filter(|(s, _)| s.as_u16() == 503).collect();
    assert!(!busy.is_empty(), "no 503 with one hashing slot and 8 logins at once: {statuses:?}");
    assert!(busy.iter().all(|(_, wait)| wait.is_some_and(|w| w >= 1)), "{statuses:?}");
    assert!(count(&statuses, 200) >= 1, "{statuses:?}");
    assert_eq!(count(&statuses, 200) + busy.len(), 8, "{statuses:?}");
    stack.stop().await;
}

#[tokio::test]
async fn login_sets_the_session_cookie() {
    let stack = Stack::start(|_| {}).await;
    stack.signup("browser").await;
    let response = stack.login("browser", PASSWORD, "192.0.2.1").await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    let session = response.json::<Value>().await.unwrap()["session_id"].as_str().unwrap().to_owned();
    let mut parts = cookie.split(';').map(str::trim);
    assert_eq!(parts.next(), Some(format!("owp_session={session}").as_str()), "{cookie}");
    let mut attributes: Vec<_> = parts.collect();
    attributes.sort_unstable();
    assert_eq!(attributes, ["HttpOnly", "Path=/", "SameSite=Strict", "Secure"], "{cookie}");
    stack.stop().await;
}

#[tokio::test]
async fn logout_takes_the_session_from_the_header_or_cookie_only() {
    let stack = Stack::start(|_| {}).await;
    stack.signup("leaver").await;
    let session = stack.session("leaver", "192.0.2.2").await;
    let logout = || stack.client.post(format!("{}/v1/logout", stack.auth));
    let assert_names_the_header = async |response: Response| {
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
        let problem: Value = response.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("Authorization"), "{problem}");
    };

    // In the body or the query string: refused, even alongside a right header.
    assert_names_the_header(logout().json(&json!({"session_id": session})).send().await.unwrap()).await;
    assert_names_the_header(
        logout().bearer_auth(&session).json(&json!({"session_id": session})).send().await.unwrap(),
    )
    .await;
    let query = stack.client.post(format!("{}/v1/logout?session_id={session}", stack.auth));
    assert_names_the_header(query.send().await.unwrap()).await;
    // Refused means not used: the session is still live.
    let live: bool = sqlx::query_scalar("SELECT ended_at IS NULL FROM sessions WHERE session_id = $1::uuid")
        .bind(&session)
        .fetch_one(&stack.pool)
        .await
        .unwrap();
    assert!(live);

    let none = logout().send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()[header::WWW_AUTHENTICATE], "Bearer");

    let ended = logout().bearer_auth(&session).send().await.unwrap();
    assert_eq!(ended.status(), 200);
    let cleared = ended.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cleared.starts_with("owp_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(ended.json::<Value>().await.unwrap()["session_id"], session.as_str());
    assert_eq!(logout().bearer_auth(&session).send().await.unwrap().status(), 404);

    // A browser sends the cookie login set.
    let second = stack.session("leaver", "192.0.2.2").await;
    let by_cookie =
        logout().header(header::COOKIE, format!("theme=dark; owp_session={second}")).send().await.unwrap();
    assert_eq!(by_cookie.status(), 200);
    stack.stop().await;
}
