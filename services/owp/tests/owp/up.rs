//! `owp up` creates its topics, serves the write point, and drains on SIGTERM; `owp read` shows
//! what was written.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn brokers() -> String {
    std::env::var("OWP_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn owp_up_accepts_a_document_that_owp_read_shows() {
    let port = free_port();
    let topic = format!("owp.test.up.{}", uuid::Uuid::new_v4().simple());
    let mut owp = Command::new(env!("CARGO_BIN_EXE_owp"))
        .args(["up", "--services", "writepoint", "--commands-partitions", "2"])
        .env("OWP_KAFKA_BROKERS", brokers())
        .env("OWP_WRITEPOINT_ADDR", format!("127.0.0.1:{port}"))
        .env("OWP_COMMANDS_TOPIC", &topic)
        .env("OWP_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq_status(&format!("{base}/readyz")) != Some(200) {
        assert!(Instant::now() < deadline, "owp up did not become ready within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }

    let document_id = uuid::Uuid::new_v4().to_string();
    let body = serde_json::json!({"item_type": "business", "document_id": document_id, "name": "Via owp up"});
    let receipt = post(&format!("{base}/v1/documents"), &body.to_string());
    assert_eq!(receipt["topic"], topic.as_str());

    let read = Command::new(env!("CARGO_BIN_EXE_owp"))
        .args(["read", "--topic", &topic])
        .args(["--partition", &receipt["partition"].to_string()])
        .args(["--offset", &receipt["offset"].to_string()])
        .env("OWP_KAFKA_BROKERS", brokers())
        .env("OWP_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    let line: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    assert_eq!(line["key"], document_id.as_str());
    assert_eq!(line["value"]["document_id"], document_id.as_str());
    assert_eq!(line["value"]["body"]["name"], "Via owp up");

    // SIGTERM drains and exits cleanly.
    let term = Command::new("kill").args(["-TERM", &owp.id().to_string()]).status().unwrap();
    assert!(term.success());
    let status = wait_with_deadline(&mut owp, Duration::from_secs(15));
    assert!(status.success(), "owp up exited with {status}");
}

fn wait_with_deadline(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("did not exit within {limit:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Minimal blocking HTTP for a test that drives separate processes.
fn ureq_status(url: &str) -> Option<u16> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async { reqwest::get(url).await.ok().map(|r| r.status().as_u16()) })
}

fn post(url: &str, body: &str) -> serde_json::Value {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        // A business needs a session; the write point only checks that one is sent.
        let response = reqwest::Client::new()
            .post(url)
            .bearer_auth(uuid::Uuid::new_v4())
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        response.json().await.unwrap()
    })
}

/// `owp up` as `scripts/up` runs it: it sets the database up with OWP_DATABASE_URL, then each
/// service connects as its own role (the default, OWP_DATABASE_ROLES). A user signs up, logs in,
/// creates a business through the write point and reads its outcome and the business back, so
/// every service's own statements run under its role's grants: the robots' and auth's
/// migrations and writes, the translator's reads of the projection and its read store tables
/// (PostgreSQL JSONB, created at run time), the read point's session check and reads.
#[test]
fn owp_up_serves_a_user_end_to_end_with_a_database_role_per_service() {
    let base = std::env::var("OWP_TEST_DATABASE_BASE")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let id = uuid::Uuid::new_v4().simple().to_string();
    let database = format!("owp_test_up_roles_{id}");
    let ports: Vec<u16> = (0..5).map(|_| free_port()).collect();
    let [writepoint, readpoint, auth, robots, translator] = [0, 1, 2, 3, 4].map(|i| ports[i]);
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../translator.toml");
    let mut owp = Command::new(env!("CARGO_BIN_EXE_owp"))
        .arg("up")
        .env("OWP_KAFKA_BROKERS", brokers())
        .env("OWP_DATABASE_URL", format!("{base}/{database}"))
        .env("OWP_READ_STORE", "postgres")
        .env("OWP_TRANSLATOR_CONFIG", config)
        .env("OWP_COMMANDS_TOPIC", format!("owp.test.roles.{id}.commands"))
        .env("OWP_EVENTS_TOPIC", format!("owp.test.roles.{id}.events"))
        .env("OWP_DEADLETTER_TOPIC", format!("owp.test.roles.{id}.deadletter"))
        .env("OWP_GROUP_PREFIX", format!("owp.test.roles.{id}."))
        .env("OWP_WRITEPOINT_ADDR", format!("127.0.0.1:{writepoint}"))
        .env("OWP_READPOINT_ADDR", format!("127.0.0.1:{readpoint}"))
        .env("OWP_AUTH_ADDR", format!("127.0.0.1:{auth}"))
        .env("OWP_ROBOTS_ADDR", format!("127.0.0.1:{robots}"))
        .env("OWP_TRANSLATOR_ADDR", format!("127.0.0.1:{translator}"))
        .env("OWP_LOG_FORMAT", "json")
        .env_remove("OWP_DATABASE_ROLES")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let result = std::panic::catch_unwind(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let client = reqwest::Client::new();
            for port in [writepoint, readpoint, auth, robots, translator] {
                owp_testkit::until(&format!("port {port} is ready"), Duration::from_secs(60), async || {
                    let ready = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await;
                    ready.is_ok_and(|r| r.status() == 200)
                })
                .await;
            }
            let credentials = serde_json::json!({"username": format!("ann-{id}"), "password": "a long enough password"});
            let signup = client.post(format!("http://127.0.0.1:{auth}/v1/signup")).json(&credentials).send().await.unwrap();
            assert!(signup.status().is_success(), "signup: {}", signup.text().await.unwrap());
            let login = client.post(format!("http://127.0.0.1:{auth}/v1/login")).json(&credentials).send().await.unwrap();
            assert!(login.status().is_success(), "login: {}", login.status());
            let login: serde_json::Value = login.json().await.unwrap();
            let session = login["session_id"].as_str().unwrap().to_owned();
            let document_id = post_business(&client, writepoint, &session, "Role Vegetables").await;
            let outcome: serde_json::Value = client
                .get(format!("http://127.0.0.1:{readpoint}/v1/documents/{document_id}?wait=20s"))
                .bearer_auth(&session)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(outcome["status"], "accepted", "{outcome}");
            let url = format!("http://127.0.0.1:{readpoint}/v1/collections/businesses/{document_id}");
            let doc = readable(&client, &url, Duration::from_secs(20)).await;
            assert_eq!(doc["name"], "Role Vegetables", "{doc}");
            // Listings and the caller's messages: the read store's listing path as the read point.
            for path in ["/v1/collections/businesses?limit=5&q=vegetables", "/v1/messages"] {
                let listed =
                    client.get(format!("http://127.0.0.1:{readpoint}{path}")).bearer_auth(&session).send().await.unwrap();
                assert_eq!(listed.status(), 200, "{path}: {}", listed.text().await.unwrap());
            }
            let logout =
                client.post(format!("http://127.0.0.1:{auth}/v1/logout")).bearer_auth(&session).send().await.unwrap();
            assert!(logout.status().is_success(), "logout: {}", logout.status());
            let users = Command::new("psql")
                .args([&format!("{base}/postgres"), "-Atc"])
                .arg(format!(
                    "SELECT string_agg(DISTINCT usename, ',' ORDER BY usename) FROM pg_stat_activity WHERE datname = '{database}'"
                ))
                .output()
                .unwrap();
            let users = String::from_utf8_lossy(&users.stdout).trim().to_owned();
            assert_eq!(users, "owp_auth,owp_readpoint,owp_robots,owp_translator", "connected to {database}");

            // An operator rebuilds the projection as the set-up's user: the rebuilt schema stays
            // the robots', with the grants the others had, and the services keep working.
            let replay = Command::new(env!("CARGO_BIN_EXE_owp"))
                .arg("replay")
                .env("OWP_KAFKA_BROKERS", brokers())
                .env("OWP_DATABASE_URL", format!("{base}/{database}"))
                .env("OWP_EVENTS_TOPIC", format!("owp.test.roles.{id}.events"))
                .env("OWP_COMMANDS_TOPIC", format!("owp.test.roles.{id}.commands"))
                .env("OWP_DEADLETTER_TOPIC", format!("owp.test.roles.{id}.deadletter"))
                .env("OWP_GROUP_PREFIX", format!("owp.test.roles.{id}."))
                .env("OWP_LOG_FORMAT", "json")
                .output()
                .unwrap();
            assert!(replay.status.success(), "owp replay: {}", String::from_utf8_lossy(&replay.stderr));
            let rebuilt = Command::new("psql")
                .args([&format!("{base}/{database}"), "-Atc"])
                .arg(
                    "SELECT pg_get_userbyid(nspowner) || ' ' || has_table_privilege('owp_readpoint', 'owp.sessions', 'SELECT') \
                     || ' ' || has_table_privilege('owp_translator', 'owp.businesses', 'SELECT') \
                     || ' ' || has_table_privilege('owp_readpoint', 'owp.sessions', 'DELETE') \
                     FROM pg_namespace WHERE nspname = 'owp'",
                )
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&rebuilt.stdout).trim(), "owp_robots true true false");
            let again = client
                .post(format!("http://127.0.0.1:{auth}/v1/login"))
                .json(&credentials)
                .send()
                .await
                .unwrap();
            assert!(again.status().is_success(), "login after the replay: {}", again.status());
            // The translator, under its role, puts change capture on the swapped-in schema: a
            // business created now reaches the read point.
            let session = again.json::<serde_json::Value>().await.unwrap()["session_id"].as_str().unwrap().to_owned();
            let document_id = post_business(&client, writepoint, &session, "After the replay").await;
            let url = format!("http://127.0.0.1:{readpoint}/v1/collections/businesses/{document_id}");
            let doc = readable(&client, &url, Duration::from_secs(30)).await;
            assert_eq!(doc["name"], "After the replay", "{doc}");
        });
    });
    let _ = Command::new("kill").args(["-TERM", &owp.id().to_string()]).status();
    let status = wait_with_deadline(&mut owp, Duration::from_secs(30));
    let mut log = String::new();
    std::io::Read::read_to_string(owp.stderr.as_mut().unwrap(), &mut log).unwrap();
    let drop_database = Command::new("psql")
        .args([
            &format!("{base}/postgres"),
            "-qc",
            &format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"),
        ])
        .status();
    if let Err(panic) = result {
        eprintln!("owp up log:\n{log}");
        std::panic::resume_unwind(panic);
    }
    assert!(status.success(), "owp up exited with {status}:\n{log}");
    assert!(drop_database.is_ok_and(|s| s.success()), "cannot drop {database}");
    // Every service connected as its role: none of them fell back to the set-up's user.
    assert!(!log.contains("permission denied"), "{log}");
}

/// The document at `url` once the read point serves it, failing the test after `limit`.
/// POSTs a new business as `session`; its document id once the write point answered 202.
async fn post_business(client: &reqwest::Client, writepoint: u16, session: &str, name: &str) -> String {
    let document_id = uuid::Uuid::new_v4().to_string();
    let business = serde_json::json!({"item_type": "business", "document_id": document_id, "name": name});
    let sent = client
        .post(format!("http://127.0.0.1:{writepoint}/v1/documents"))
        .bearer_auth(session)
        .json(&business)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    document_id
}

async fn readable(client: &reqwest::Client, url: &str, limit: Duration) -> serde_json::Value {
    let found = owp_testkit::eventually(limit, Duration::from_millis(100), async || {
        let response = client.get(url).send().await.ok()?;
        if response.status() != 200 {
            return None;
        }
        response.json::<serde_json::Value>().await.ok()
    })
    .await;
    found.unwrap_or_else(|| panic!("{url} was not readable within {limit:?}"))
}
