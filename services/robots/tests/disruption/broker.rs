//! A private tansu broker for a disruption test, its log in SQLite in a directory of the test's
//! own: the test can restart it, and if it breaks, it breaks only this test.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A free loopback port and a fresh directory for a private broker.
pub fn place() -> (std::path::PathBuf, u16) {
    let dir = std::env::temp_dir().join(format!("owp-broker-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    (dir, port)
}

/// `storage` is tansu's storage engine: `sqlite://tansu.db` survives a restart, `memory://tansu/`
/// is faster and enough when the broker is not restarted.
pub fn start_broker(dir: &std::path::Path, port: u16, storage: &str) -> Child {
    let child = Command::new(std::env::var("OWP_TANSU_BIN").unwrap_or_else(|_| "tansu".into()))
        .current_dir(dir)
        .args(["broker", "--listener-url", &format!("tcp://127.0.0.1:{port}")])
        .args(["--advertised-listener-url", &format!("tcp://127.0.0.1:{port}")])
        .args(["--storage-engine", storage])
        .stdout(Stdio::null())
        .stderr(std::fs::OpenOptions::new().create(true).append(true).open(dir.join("tansu.log")).unwrap())
        .spawn()
        .expect("tansu must be installed (scripts/install-deps)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tansu did not listen within 20 s");
        std::thread::sleep(Duration::from_millis(25));
    }
    child
}
