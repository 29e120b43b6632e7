//! [`PrivateStack`]: ZooKeeper and Kafka (or KRaft controllers and Kafka) of one test, in a fresh
//! state directory on ports of its own, run by `scripts/services` — the same script, templates
//! and jars as the development stack — and stopped cleanly when the test lets go of it.
//!
//! It never touches another stack: every call names the stack's state directory and ports, and
//! the caller's `OWP_KAFKA_BROKERS` (the shared test broker) is kept from the script.

use std::{
    path::{Path, PathBuf},
    process::{Output, Stdio},
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use tokio::{io::AsyncReadExt as _, io::AsyncWriteExt as _, net::TcpStream, process::Command};

use crate::{Error, Node, Result, Shape, Status, node::Role, ports::Ports};

/// A whole stack start: three brokers, each allowed 120 s by the script, after ZooKeeper's 60 s.
const START_TIMEOUT: Duration = Duration::from_secs(480);
/// One node: a ZooKeeper-mode broker first waits out its old session (up to 60 s), then starts.
const NODE_START_TIMEOUT: Duration = Duration::from_secs(240);
/// A clean stop, per node; the script kills a node that takes longer than `STOP_SECONDS`.
const STOP_SECONDS: u64 = 30;
const STOP_TIMEOUT: Duration = Duration::from_secs(STOP_SECONDS + 30);
const QUICK_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a restarted ZooKeeper node or controller may take to serve.
const SERVE_TIMEOUT: Duration = Duration::from_secs(90);
/// How often a starting node is asked whether it serves.
const POLL: Duration = Duration::from_millis(200);

/// ZooKeeper and Kafka of one test. Dropping it stops every node (`scripts/services stop`) and
/// removes the state directory, unless the test failed: then the directory and its logs stay,
/// and their path is printed.
#[derive(Debug)]
pub struct PrivateStack {
    shape: Shape,
    secure: bool,
    ports: Ports,
    dir: Option<tempfile::TempDir>,
    state_dir: PathBuf,
    /// Set when a start failed or timed out: its message names logs in the state directory.
    keep: AtomicBool,
}

impl PrivateStack {
    /// Starts ZooKeeper and Kafka in `shape` (`scripts/services start [--cluster] [--kraft]
    /// zookeeper kafka`) and returns once every broker serves.
    pub async fn launch(shape: Shape) -> Result<Self> {
        Self::launch_with(shape, false).await
    }

    /// [`launch`](Self::launch) with `--secure`: the brokers listen SASL_SSL only, with the ACLs
    /// of `terraform/templates/kafka-acls.tftpl`; [`kafka_user`](Self::kafka_user) gives each
    /// principal's credentials.
    pub async fn launch_secure(shape: Shape) -> Result<Self> {
        Self::launch_with(shape, true).await
    }

    async fn launch_with(shape: Shape, secure: bool) -> Result<Self> {
        let ports = Ports::reserve()?;
        let dir = tempfile::Builder::new().prefix("owp-stack-").tempdir().map_err(Error::StateDir)?;
        let state_dir = dir.path().to_owned();
        let stack = Self { shape, secure, ports, dir: Some(dir), state_dir, keep: AtomicBool::new(false) };
        let mut args = vec!["start"];
        args.extend(shape.flags());
        if secure {
            args.push("--secure");
        }
        args.extend(["zookeeper", "kafka"]);
        // On failure the stack is dropped here: whatever did start is stopped, the logs the
        // script's message names are kept.
        stack.run(&args, START_TIMEOUT).await.inspect_err(|_| stack.keep_logs())?;
        Ok(stack)
    }

    /// The SCRAM credentials of `principal` (`writepoint`, `auth`, `robots`, `owp-admin`, or the
    /// brokers' own `kafka-broker`) and the CA the brokers' certificate chains to, as the
    /// script wrote them to `kafka-secure/<principal>.env`. Only on a stack launched secure.
    pub fn kafka_user(&self, principal: &str) -> Result<KafkaUser> {
        let file = self.state_dir.join("kafka-secure").join(format!("{principal}.env"));
        if !self.secure {
            return Err(Error::NotSecure);
        }
        let text = std::fs::read_to_string(&file)
            .map_err(|source| Error::Credentials { file: file.clone(), source })?;
        let value = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
                .map(str::to_owned)
                .ok_or_else(|| Error::Credentials {
                    file: file.clone(),
                    source: std::io::Error::new(std::io::ErrorKind::InvalidData, format!("no {name}")),
                })
        };
        Ok(KafkaUser {
            username: value("OWP_KAFKA_SASL_USERNAME")?,
            password: value("OWP_KAFKA_SASL_PASSWORD")?,
            ca: PathBuf::from(value("OWP_KAFKA_SSL_CA_LOCATION")?),
        })
    }

    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The bootstrap list of every broker, e.g. `127.0.0.1:20010,127.0.0.1:20011,127.0.0.1:20012`.
    pub fn brokers(&self) -> String {
        (0..u16::from(self.shape.nodes()))
            .map(|i| format!("127.0.0.1:{}", self.ports.kafka + i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every node of `role` in this stack, by number.
    pub fn nodes(&self, role: Role) -> Vec<Node> {
        let make = match role {
            Role::ZooKeeper if self.shape.kraft() => return Vec::new(),
            Role::Controller if !self.shape.kraft() => return Vec::new(),
            Role::ZooKeeper => Node::zookeeper,
            Role::Kafka => Node::kafka,
            Role::Controller => Node::controller,
        };
        (1..=self.shape.nodes()).map(make).collect()
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The node's log, for a failure message.
    pub fn log(&self, node: Node) -> PathBuf {
        self.state_dir.join("logs").join(format!("{node}.log"))
    }

    /// SIGKILL, as a crash: `scripts/services kill NODE`.
    pub async fn kill(&self, node: Node) -> Result<()> {
        self.run(&["kill", &node.to_string()], QUICK_TIMEOUT).await.map(drop)
    }

    /// A clean stop (SIGTERM, waited for): `scripts/services stop NODE`.
    pub async fn stop(&self, node: Node) -> Result<()> {
        self.run(&["stop", &node.to_string()], STOP_TIMEOUT).await.map(drop)
    }

    /// `scripts/services start NODE`, into the stack it left; returns once the node serves (the
    /// script waits for a broker; a ZooKeeper node or a controller is awaited here).
    pub async fn start(&self, node: Node) -> Result<()> {
        self.run(&["start", &node.to_string()], NODE_START_TIMEOUT)
            .await
            .inspect_err(|_| self.keep_logs())?;
        match node.role() {
            Role::Kafka => Ok(()),
            Role::ZooKeeper => self.await_zookeeper(node).await,
            Role::Controller => {
                self.await_port(node, self.ports.kafka + 100 + u16::from(node.number()) - 1).await
            }
        }
    }

    /// `scripts/services status`: nodes up, ZooKeeper modes, the active controller.
    pub async fn status(&self) -> Result<Status> {
        let output = self.run(&["status"], QUICK_TIMEOUT).await?;
        Ok(Status::new(String::from_utf8_lossy(&output.stdout).into_owned()))
    }

    /// The ZooKeeper node in mode leader, asked of every node directly (`srvr`, no JVM, so it
    /// answers at once); `None` while the ensemble has no leader.
    pub async fn zookeeper_leader(&self) -> Option<Node> {
        for node in self.nodes(Role::ZooKeeper) {
            if srvr(self.zookeeper_port(node)).await.lines().any(|line| line == "Mode: leader") {
                return Some(node);
            }
        }
        None
    }

    fn zookeeper_port(&self, node: Node) -> u16 {
        self.ports.zookeeper + u16::from(node.number()) - 1
    }

    /// Until the ZooKeeper node answers `srvr` with a mode (it has joined a quorum).
    async fn await_zookeeper(&self, node: Node) -> Result<()> {
        let port = self.zookeeper_port(node);
        crate::eventually(SERVE_TIMEOUT, POLL, async || srvr(port).await.contains("Mode: ").then_some(()))
            .await
            .ok_or_else(|| self.not_serving(node))
    }

    async fn await_port(&self, node: Node, port: u16) -> Result<()> {
        crate::eventually(SERVE_TIMEOUT, POLL, async || {
            TcpStream::connect(("127.0.0.1", port)).await.ok().map(drop)
        })
        .await
        .ok_or_else(|| self.not_serving(node))
    }

    /// A start failed: its message points into the state directory, which must outlive the stack.
    fn keep_logs(&self) {
        self.keep.store(true, Ordering::Relaxed);
    }

    fn not_serving(&self, node: Node) -> Error {
        self.keep_logs();
        Error::NotServing { node: node.to_string(), seconds: SERVE_TIMEOUT.as_secs(), log: self.log(node) }
    }

    /// The script with this stack's environment.
    fn command(&self) -> std::process::Command {
        // From the directory cargo runs the test in (every crate sits two levels below the
        // repository's root), not the one this crate was compiled in: CI reuses a build cache
        // across clones, and an unchanged crate keeps the path of the clone that built it.
        let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf(), Into::into);
        let script = crate_dir.join("../../scripts/services");
        let mut command = std::process::Command::new(script);
        command
            .env("OWP_STATE_DIR", &self.state_dir)
            .env("OWP_ZOOKEEPER_PORT", self.ports.zookeeper.to_string())
            .env("OWP_KAFKA_PORT", self.ports.kafka.to_string())
            .env("OWP_OPENSEARCH_PORT", self.ports.opensearch.to_string())
            .env("OWP_STOP_SECONDS", STOP_SECONDS.to_string())
            // The script derives the bootstrap list from the stack's shape unless told one.
            .env_remove("OWP_KAFKA_BROKERS")
            .stdin(Stdio::null());
        command
    }

    async fn run(&self, args: &[&str], timeout: Duration) -> Result<Output> {
        let mut command = Command::from(self.command());
        command.args(args).kill_on_drop(true);
        let joined = args.join(" ");
        let output = match tokio::time::timeout(timeout, command.output()).await {
            Err(_) => {
                self.keep_logs();
                return Err(Error::ScriptTimeout {
                    args: joined,
                    seconds: timeout.as_secs(),
                    state_dir: self.state_dir.clone(),
                });
            }
            Ok(output) => output.map_err(Error::Spawn)?,
        };
        if output.status.success() {
            return Ok(output);
        }
        Err(Error::Script {
            args: joined,
            status: output.status.to_string(),
            state_dir: self.state_dir.clone(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        })
    }
}

impl Drop for PrivateStack {
    fn drop(&mut self) {
        // Everything this stack may run, brokers before their metadata; never opensearch or
        // postgres, which it did not start.
        let stopped = self.command().args(["stop", "kafka", "controller", "zookeeper"]).output();
        match stopped {
            Ok(output) if output.status.success() => {}
            Ok(output) => {
                self.keep_logs();
                eprintln!(
                    "owp-testkit: stopping the stack in {} failed: {}{}",
                    self.state_dir.display(),
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            Err(err) => {
                self.keep_logs();
                eprintln!("owp-testkit: cannot run scripts/services stop: {err}");
            }
        }
        let keep = self.keep.load(Ordering::Relaxed) || std::thread::panicking();
        if let Some(dir) = self.dir.take() {
            if keep {
                let path = dir.keep();
                eprintln!("owp-testkit: the failed stack's state and logs are kept in {}", path.display());
            }
            // Otherwise the TempDir removes the directory as it drops.
        }
    }
}

/// A principal's credentials on a secure stack.
#[derive(Clone)]
pub struct KafkaUser {
    pub username: String,
    pub password: String,
    /// PEM file of the stack's CA.
    pub ca: PathBuf,
}

impl std::fmt::Debug for KafkaUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaUser")
            .field("username", &self.username)
            .field("ca", &self.ca)
            .finish_non_exhaustive()
    }
}

/// ZooKeeper's answer to `srvr`; empty while it does not answer.
async fn srvr(port: u16) -> String {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.write_all(b"srvr").await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    tokio::time::timeout(Duration::from_secs(2), exchange).await.ok().and_then(Result::ok).unwrap_or_default()
}
