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
