//! The stack a benchmark runs against, on free ports of its own with its own topics and database,
//! in one of two topologies:
//! - `in-process`: every service in this process, started by the code of `owp up` itself;
//! - `processes`: the binaries `writepoint`, `robots`, `auth`, `translator` and `readpoint`, each a
//!   child process with the environment its systemd unit gives it (`dist/systemd/*.service`: the
//!   settings of `/etc/owp/owp.env`, `RUST_LOG=info`, the translator's configuration file), as in
//!   production.
//!
//! Either way every record goes through the broker, and the stack is ready when every service's
//! `/readyz` answers 200. It must never stop a process it did not start: children are stopped by
//! their own pid (SIGTERM, then SIGKILL after a bound), and killed if the benchmark itself fails
//! before stopping them.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, bail};
use clap::Parser;
use owp_platform::{db::DatabaseSettings, kafka::KafkaSettings, topics::Topics};
use owp_readstore::ReadStoreSettings;
use tokio::{
    process::{Child, Command},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use owp::up::{self, Service};

/// How long a service may take to answer `/readyz` after it starts.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a child may drain after SIGTERM before it is killed (the units allow 45 s).
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Topology {
    /// Every service in this process, as `owp up` runs them.
    InProcess,
    /// Each service its own child process, as the systemd units run them.
    Processes,
}

impl Topology {
    pub fn describe(self) -> &'static str {
        match self {
            Topology::InProcess => "in-process (owp up: every service in one process)",
            Topology::Processes => {
                "processes (writepoint, robots, auth, translator, readpoint as systemd runs them)"
            }
        }
    }
}

/// What the stack runs on.
#[derive(Debug)]
pub struct StackSettings<'a> {
    pub kafka: &'a KafkaSettings,
    pub topics: &'a Topics,
    pub database: &'a DatabaseSettings,
    pub read_store: &'a ReadStoreSettings,
    /// Consumer groups are named under this prefix, so that they are the run's own.
    pub group_prefix: String,
    pub translator_config: PathBuf,
    /// Where the service binaries are (the `processes` topology).
    pub bin_dir: PathBuf,
    /// Where the children's logs go (the `processes` topology).
    pub log_dir: PathBuf,
}

/// One free port per service, all chosen before any is used.
#[derive(Debug, Clone, Copy)]
struct Ports {
    writepoint: SocketAddr,
    readpoint: SocketAddr,
    auth: SocketAddr,
    robots: SocketAddr,
    translator: SocketAddr,
}

impl Ports {
    fn free() -> anyhow::Result<Self> {
        // Held together, so the OS hands out five different ports.
        let listeners = (0..5)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .collect::<std::io::Result<Vec<_>>>()
            .context("cannot find free ports")?;
        let addrs = listeners.iter().map(|l| l.local_addr()).collect::<std::io::Result<Vec<_>>>()?;
        Ok(Self {
            writepoint: addrs[0],
            readpoint: addrs[1],
            auth: addrs[2],
            robots: addrs[3],
            translator: addrs[4],
        })
    }

    fn of(&self, service: Service) -> SocketAddr {
        match service {
            Service::Writepoint => self.writepoint,
            Service::Readpoint => self.readpoint,
            Service::Auth => self.auth,
            Service::Robots => self.robots,
            Service::Translator => self.translator,
        }
    }
}

/// The start order of `owp up`: the robots create the database and the tables the others read.
const ORDER: [Service; 5] =
    [Service::Robots, Service::Auth, Service::Writepoint, Service::Translator, Service::Readpoint];

fn name(service: Service) -> &'static str {
    match service {
        Service::Writepoint => "writepoint",
        Service::Readpoint => "readpoint",
        Service::Auth => "auth",
        Service::Robots => "robots",
        Service::Translator => "translator",
    }
}

#[derive(Debug)]
pub struct Stack {
    pub writepoint_url: String,
    pub readpoint_url: String,
    pub auth_url: String,
    running: Running,
}

#[derive(Debug)]
enum Running {
    InProcess { stop: CancellationToken, thread: std::thread::JoinHandle<anyhow::Result<()>> },
    Processes { children: Vec<(Service, Child)>, log_dir: PathBuf },
}

impl Stack {
    pub async fn start(topology: Topology, settings: &StackSettings<'_>) -> anyhow::Result<Self> {
        let ports = Ports::free()?;
        let url = |service| format!("http://{}", ports.of(service));
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
        let mut running = match topology {
            Topology::InProcess => {
                let (stop, thread) = in_process(settings, &ports)?;
                Running::InProcess { stop, thread }
            }
            Topology::Processes => {
                std::fs::create_dir_all(&settings.log_dir)
                    .with_context(|| format!("cannot create {}", settings.log_dir.display()))?;
                Running::Processes { children: Vec::new(), log_dir: settings.log_dir.clone() }
            }
        };
        for service in ORDER {
            if let Err(err) = running.start(settings, &ports, service, &client).await {
                let err = err.context(format!("{} did not start", name(service)));
                return Err(stop_after(running, err).await);
            }
        }
        Ok(Self {
            writepoint_url: url(Service::Writepoint),
            readpoint_url: url(Service::Readpoint),
            auth_url: url(Service::Auth),
            running,
        })
    }

    /// An error if a service stopped on its own (a crashed service fails the benchmark).
    pub fn check(&mut self) -> anyhow::Result<()> {
        self.running.check()
    }

    /// Stops every service (SIGTERM and drain, as systemd stops them) and reports any that
    /// failed.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.running.stop().await
    }
}

/// Stops what runs after `err`, and returns `err`.
async fn stop_after(running: Running, err: anyhow::Error) -> anyhow::Error {
    match running.stop().await {
        Ok(()) => err,
        Err(stop) => err.context(format!("stopping the others failed too: {stop:#}")),
    }
}

/// `owp up`'s own code, with its settings from the environment as `owp up` reads them, on the
/// run's ports, topics, consumer groups, database and read store. It runs on a runtime of its
/// own, as in its own `owp up` process, so that the load generator does not share its workers.
fn in_process(
    settings: &StackSettings<'_>,
    ports: &Ports,
) -> anyhow::Result<(CancellationToken, std::thread::JoinHandle<anyhow::Result<()>>)> {
    #[derive(Parser)]
    struct UpFromEnvironment {
        #[command(flatten)]
        up: up::UpArgs,
    }
    let mut args = UpFromEnvironment::try_parse_from(["owp"]).context("settings of owp up")?.up;
    args.services = ORDER.to_vec();
    // The benchmark created the topics already, with the partitions it prints.
    args.ensure_topics = false;
    args.writepoint.addr = ports.writepoint;
    args.readpoint.addr = ports.readpoint;
    args.auth.addr = ports.auth;
    args.robots.addr = ports.robots;
    args.robots.robot.group_prefix = settings.group_prefix.clone();
    args.translator.addr = ports.translator;
    args.translator.config = settings.translator_config.clone();
    args.read_store = settings.read_store.clone();
    let stop = CancellationToken::new();
    let (kafka, topics, database) =
        (settings.kafka.clone(), settings.topics.clone(), settings.database.clone());
    let token = stop.clone();
    let thread = std::thread::Builder::new().name("owp-up".into()).spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        runtime.block_on(up::run(&kafka, &topics, &database, args, token))
    })?;
    Ok((stop, thread))
}

/// Starts one service binary with its unit's environment.
fn spawn(settings: &StackSettings<'_>, ports: &Ports, service: Service) -> anyhow::Result<Child> {
    let binary = settings.bin_dir.join(name(service));
    if !binary.is_file() {
        bail!("{} is missing: build the binaries (cargo build --release --bins)", binary.display());
    }
    let log_path = settings.log_dir.join(format!("{}.log", name(service)));
    let log =
        std::fs::File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let mut command = Command::new(&binary);
    command
        .env_clear()
        .envs(environment(settings, ports, service)?)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    command.spawn().with_context(|| format!("cannot start {}", binary.display()))
}

/// A unit's environment: what `/etc/owp/owp.env` holds on an instance (brokers, database, read
/// store, every listen address; see terraform/templates/app-user-data.sh.tftpl), the unit's own
/// `Environment=` lines, and the run's own names. `OWP_*` settings of this process (robot tuning,
/// `OWP_LOG`) are passed on, so both topologies run with the same tuning.
fn environment(
    settings: &StackSettings<'_>,
    ports: &Ports,
    service: Service,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(key, _)| key == "PATH" || (key.starts_with("OWP_") && key != "OWP_CONFIG"))
        .collect();
    let mut set = |key: &str, value: String| env.push((key.to_owned(), value));
    set("OWP_KAFKA_BROKERS", settings.kafka.kafka_brokers.clone());
    set("OWP_DATABASE_URL", settings.database.database_url.clone());
    set("OWP_READ_STORE", settings.read_store.read_store.clone());
    set("OWP_READ_STORE_PREFIX", settings.read_store.index_prefix.clone());
    set("OWP_WRITEPOINT_ADDR", ports.writepoint.to_string());
    set("OWP_READPOINT_ADDR", ports.readpoint.to_string());
    set("OWP_AUTH_ADDR", ports.auth.to_string());
    set("OWP_ROBOTS_ADDR", ports.robots.to_string());
    set("OWP_TRANSLATOR_ADDR", ports.translator.to_string());
    set("OWP_COMMANDS_TOPIC", settings.topics.commands_topic.to_string());
    set("OWP_EVENTS_TOPIC", settings.topics.events_topic.to_string());
    set("OWP_DEADLETTER_TOPIC", settings.topics.deadletter_topic.to_string());
    set("OWP_GROUP_PREFIX", settings.group_prefix.clone());
    set("RUST_LOG", "info".to_owned());
    match service {
        // The translator runs the file; the read point reads who may see each collection in it.
        Service::Translator | Service::Readpoint => {
            let config = std::path::absolute(&settings.translator_config)
                .with_context(|| format!("{}", settings.translator_config.display()))?;
            set("OWP_TRANSLATOR_CONFIG", config.display().to_string());
        }
        Service::Writepoint | Service::Robots | Service::Auth => {}
    }
    // Later entries win: the run's settings over what was passed on.
    let mut seen = std::collections::HashSet::new();
    let mut unique: Vec<(String, String)> =
        env.into_iter().rev().filter(|(key, _)| seen.insert(key.clone())).collect();
    unique.reverse();
    Ok(unique)
}

async fn await_ready(client: &reqwest::Client, base: &str, running: &mut Running) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        running.check()?;
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("{base}/readyz did not answer 200 within {READY_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Running {
    /// Starts `service` (a child process; in process, `owp up` started it already) and waits
    /// until it is ready.
    async fn start(
        &mut self,
        settings: &StackSettings<'_>,
        ports: &Ports,
        service: Service,
        client: &reqwest::Client,
    ) -> anyhow::Result<()> {
        if let Running::Processes { children, .. } = self {
            children.push((service, spawn(settings, ports, service)?));
        }
        await_ready(client, &format!("http://{}", ports.of(service)), self).await
    }

    fn check(&mut self) -> anyhow::Result<()> {
        match self {
            Running::InProcess { thread, .. } => {
                if thread.is_finished() {
                    bail!("owp up stopped by itself");
                }
            }
            Running::Processes { children, log_dir } => {
                for (service, child) in children.iter_mut() {
                    if let Some(status) = child.try_wait()? {
                        bail!("{} exited ({status}); its log:\n{}", name(*service), tail(log_dir, *service));
                    }
                }
            }
        }
        Ok(())
    }

    async fn stop(self) -> anyhow::Result<()> {
        match self {
            Running::InProcess { stop, thread } => {
                stop.cancel();
                let joined = tokio::task::spawn_blocking(move || thread.join()).await?;
                joined.map_err(|_| anyhow::anyhow!("owp up panicked"))?
            }
            Running::Processes { children, log_dir } => {
                let mut failures = Vec::new();
                // In reverse start order, as `owp up` has them stop: the readers first.
                for (service, mut child) in children.into_iter().rev() {
                    if let Err(err) = stop_child(&mut child).await {
                        failures.push(format!(
                            "{}: {err:#}; its log:\n{}",
                            name(service),
                            tail(&log_dir, service)
                        ));
                    }
                }
                if failures.is_empty() { Ok(()) } else { bail!("{}", failures.join("\n")) }
            }
        }
    }
}

/// SIGTERM to this child's own pid, then SIGKILL if it has not drained within the bound.
async fn stop_child(child: &mut Child) -> anyhow::Result<()> {
    if let Some(status) = child.try_wait()? {
        bail!("it had exited already ({status})");
    }
    let pid = child.id().context("no pid")?;
    let sent = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await?;
    anyhow::ensure!(sent.success(), "kill -TERM {pid} failed");
    match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
        Ok(status) => {
            let status = status?;
            anyhow::ensure!(status.success(), "it exited with {status} after SIGTERM");
            Ok(())
        }
        Err(_) => {
            child.kill().await?;
            bail!("it did not stop within {STOP_TIMEOUT:?} of SIGTERM; killed")
        }
    }
}

/// The last lines of a child's log, for an error message.
fn tail(log_dir: &Path, service: Service) -> String {
    let path = log_dir.join(format!("{}.log", name(service)));
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(20);
    format!("({})\n{}", path.display(), lines[start..].join("\n"))
}
