//! The instances: per instance an install root, a state directory, a loopback port for its
//! write point, and a `deployer run` process whose JSON events are read back from its stderr.
//! Also packaging and publishing releases with the real `deployer` binary.

use std::{
    io::{BufRead, BufReader, Write},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use aws_sdk_s3::config::Credentials;
use deployer::{
    lease::LeaseRecord,
    store::{Layout, ReleaseStore, S3},
};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use owp_platform::kafka::{KafkaSettings, TopicSpec};

use crate::{haproxy::Haproxy, moto::Moto, report::Scenario};

/// One deploy event, as a deployer logged it.
#[derive(Debug, Clone)]
pub struct Event {
    pub instance: String,
    pub event: String,
    pub version: String,
    pub outcome: String,
    pub duration_ms: u64,
    pub swap_ms: Option<u64>,
    pub detail: String,
    pub at: Instant,
}

pub struct Instance {
    pub name: String,
    pub port: u16,
    pub root: PathBuf,
    pub state: PathBuf,
    pub process: Option<Child>,
    /// Every deployer pid this instance had (a killed one is replaced).
    pub pids: Vec<u32>,
}

/// What a rollout did, as far as the waiting saw.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub finished: Instant,
    pub published: Instant,
    pub killed: Option<Killed>,
}

#[derive(Debug, Clone)]
pub struct Killed {
    pub instance: String,
    pub after_publish: Duration,
}

pub struct Fleet {
    repo: PathBuf,
    /// Where `deployer package` takes the shipped binaries from.
    bin_dir: PathBuf,
    deployer: PathBuf,
    work: PathBuf,
    moto_env: Vec<(&'static str, String)>,
    brokers: String,
    topic: String,
    pub instances: Vec<Instance>,
    pub events: Arc<Mutex<Vec<Event>>>,
    pub store: ReleaseStore,
    run: String,
    settings: Vec<(&'static str, String)>,
}

/// A fresh commands topic for this run, so the fleet's documents stay out of the shared one.
pub async fn create_topic(brokers: &str) -> Result<String> {
    let name = format!("owp.fleet.{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let topic = owp_protocol::TopicName::parse(name.clone()).context("topic name")?;
    owp_platform::kafka::ensure_topics(&KafkaSettings::new(brokers), &[TopicSpec::new(topic, 3)])
        .await
        .with_context(|| {
            format!(
                "cannot create topic {name} on {brokers}: is the broker running (scripts/services start)?"
            )
        })?;
    Ok(name)
}

impl Fleet {
    pub async fn prepare(
        repo: &Path,
        binaries: &crate::Binaries,
        work: &Path,
        moto: &Moto,
        brokers: &str,
        topic: &str,
        count: usize,
    ) -> Result<Self> {
        std::fs::create_dir_all(work.join("logs"))?;
        // The two binaries come from two target directories; the release takes both from here.
        let bin_dir = work.join("bin");
        std::fs::create_dir_all(&bin_dir)?;
        let deployer = bin_dir.join("deployer");
        std::fs::copy(&binaries.deployer, &deployer).context("cannot copy the deployer binary")?;
        std::fs::copy(&binaries.writepoint, bin_dir.join("writepoint"))
            .context("cannot copy the writepoint binary")?;
        let status = Command::new(&deployer)
            .args(["keygen", "--secret-key"])
            .arg(work.join("release.key"))
            .arg("--public-key")
            .arg(work.join("release.pub"))
            .stdout(Stdio::null())
            .status()
            .context("cannot run deployer keygen")?;
        if !status.success() {
            bail!("deployer keygen failed");
        }
        let mut instances = Vec::new();
        for index in 1..=count {
            let name = format!("i{index}");
            let dir = work.join(&name);
            instances.push(Instance {
                port: crate::moto::free_port()?,
                root: dir.join("root"),
                state: dir.join("state"),
                name,
                process: None,
                pids: Vec::new(),
            });
        }
        let config = deployer::aws::loader(&moto.aws())
            .credentials_provider(Credentials::new("test", "test", None, None, "local-fleet"))
            .load()
            .await;
        let store =
            ReleaseStore::new(S3::from_config(&config, &moto.bucket), Layout::new("releases/", "fleet")?);
        let run = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
        Ok(Self {
            repo: repo.to_owned(),
            deployer: deployer.clone(),
            bin_dir,
            work: work.to_owned(),
            moto_env: moto.env(),
            brokers: brokers.to_owned(),
            topic: topic.to_owned(),
            instances,
            events: Arc::new(Mutex::new(Vec::new())),
            store,
            run,
            settings: Vec::new(),
        })
    }

    pub fn ports(&self) -> Vec<u16> {
        self.instances.iter().map(|i| i.port).collect()
    }

    /// The deployer binary: it packages, publishes, and runs on every instance (the one the
    /// releases ship, built the same way).
    fn deployer(&self) -> PathBuf {
        self.deployer.clone()
    }

    /// Packages a signed release of the real binaries with `deployer package`. A bad release's
    /// configuration points the write point at a closed port, so it never becomes ready.
    pub fn package(&self, tag: &str, bad: bool) -> Result<String> {
        let version = format!("{}-{tag}{}", self.run, if bad { "-bad" } else { "" });
        let config_dir = self.work.join(format!("config-{version}"));
        std::fs::create_dir_all(&config_dir)?;
        let defaults = std::fs::read_to_string(self.repo.join("deployer/release-config/writepoint.toml"))?;
        let brokers = if bad { "127.0.0.1:9" } else { self.brokers.as_str() };
        std::fs::write(
            config_dir.join("writepoint.toml"),
            format!("{defaults}kafka-brokers = \"{brokers}\"\ncommands-topic = \"{}\"\n", self.topic),
        )?;
        let output = Command::new(self.deployer())
            .arg("package")
            .args(["--release-version", &version, "--bins", "writepoint,deployer"])
            .arg("--bin-dir")
            .arg(&self.bin_dir)
            .arg("--units-dir")
            .arg(self.repo.join("dist/systemd"))
            .arg("--config-dir")
            .arg(&config_dir)
            .arg("--secret-key")
            .arg(self.work.join("release.key"))
            .arg("--out-dir")
            .arg(self.work.join("dist"))
            .current_dir(&self.repo)
            .output()
            .context("cannot run deployer package")?;
        if !output.status.success() {
            bail!("deployer package failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        eprintln!("packaged {}", String::from_utf8_lossy(&output.stdout).trim());
        Ok(version)
    }

    pub fn publish(&self, version: &str) -> Result<()> {
        let output = Command::new(self.deployer())
            .arg("publish")
            .arg("--tarball")
            .arg(self.work.join("dist").join(format!("owp-{version}.tar.gz")))
            .arg("--public-key")
            .arg(self.work.join("release.pub"))
            .arg("--secret-key")
            .arg(self.work.join("release.key"))
            .envs(self.moto_env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("OWP_DEPLOYER_LOG_FORMAT", "json")
            .output()
            .context("cannot run deployer publish")?;
        if !output.status.success() {
            bail!("deployer publish failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        eprintln!("{}", String::from_utf8_lossy(&output.stdout).trim());
        Ok(())
    }

    pub fn start_all(&mut self, haproxy: &Haproxy, lease_ttl: Duration, scenario: Scenario) -> Result<()> {
        // Tight local timings; the defaults are for AWS. With --kill-deployer the drain is held
        // open for 2 s so that the SIGKILL lands inside it.
        let drain_settle = if scenario == Scenario::KillDeployer { "2s" } else { "1ms" };
        self.settings = vec![
            ("OWP_DEPLOYER_PUBLIC_KEY", self.work.join("release.pub").display().to_string()),
            ("OWP_DEPLOYER_POLL_INTERVAL", "250ms".into()),
            ("OWP_DEPLOYER_LEASE_TTL", format!("{}ms", lease_ttl.as_millis())),
            ("OWP_DEPLOYER_LEASE_RENEW", format!("{}ms", (lease_ttl / 4).as_millis())),
            ("OWP_DEPLOYER_LOCK_RETRY", "200ms".into()),
            ("OWP_DEPLOYER_MIN_HEALTHY", "1".into()),
            ("OWP_DEPLOYER_GUARD_TIMEOUT", "30s".into()),
            ("OWP_DEPLOYER_DRAIN_TIMEOUT", "10s".into()),
            ("OWP_DEPLOYER_DRAIN_SETTLE", drain_settle.into()),
            ("OWP_DEPLOYER_READY_TIMEOUT", "8s".into()),
            ("OWP_DEPLOYER_HEALTHY_TIMEOUT", "10s".into()),
            ("OWP_DEPLOYER_STABILITY_WINDOW", "1s".into()),
            ("OWP_DEPLOYER_LB_POLL_INTERVAL", "50ms".into()),
            ("OWP_DEPLOYER_LOAD_BALANCER", "haproxy".into()),
            ("OWP_DEPLOYER_HAPROXY_SOCKET", haproxy.socket().display().to_string()),
            ("OWP_DEPLOYER_HAPROXY_BACKEND", crate::haproxy::BACKEND.into()),
            ("OWP_DEPLOYER_PROCESS_MANAGER", "child".into()),
            ("OWP_DEPLOYER_SERVICES", "writepoint".into()),
            ("OWP_DEPLOYER_STOP_TIMEOUT", "10s".into()),
            ("OWP_DEPLOYER_LOG_FORMAT", "json".into()),
        ];
        for index in 0..self.instances.len() {
            self.spawn(index)?;
        }
        Ok(())
    }

    fn spawn(&mut self, index: usize) -> Result<()> {
        let instance = &self.instances[index];
        let mut command = Command::new(self.deployer());
        command
            .arg("run")
            .envs(self.moto_env.iter().map(|(k, v)| (*k, v.as_str())))
            .envs(self.settings.iter().map(|(k, v)| (*k, v.as_str())))
            .env("OWP_DEPLOYER_INSTANCE_ID", &instance.name)
            .env("OWP_DEPLOYER_HAPROXY_SERVER", &instance.name)
            .env("OWP_DEPLOYER_INSTALL_ROOT", &instance.root)
            .env("OWP_DEPLOYER_STATE_DIR", &instance.state)
            .env("OWP_DEPLOYER_READY_URLS", format!("http://127.0.0.1:{}/readyz", instance.port))
            // What the services inherit: their address; brokers and topic come from the
            // release's own configuration file, so a bad release can carry a bad one.
            .env("OWP_WRITEPOINT_ADDR", format!("127.0.0.1:{}", instance.port))
            .env("OWP_LOG", "info")
            .env("OWP_LOG_FORMAT", "json")
            .env_remove("OWP_KAFKA_BROKERS")
            .env_remove("OWP_COMMANDS_TOPIC")
            .env_remove("OWP_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group: Ctrl-C on the example does not reach it before cleanup.
            .process_group(0);
        let mut child = command.spawn().context("cannot start deployer run")?;
        let stderr = child.stderr.take().context("no stderr")?;
        let (name, events) = (instance.name.clone(), Arc::clone(&self.events));
        let log_path = self.work.join("logs").join(format!("{name}-deployer.log"));
        std::thread::spawn(move || read_events(stderr, &name, &log_path, &events));
        let instance = &mut self.instances[index];
        instance.pids.push(child.id());
        instance.process = Some(child);
        Ok(())
    }

    /// Until every instance runs `version` and HAProxy has every server up.
    pub async fn wait_serving(&self, haproxy: &Haproxy, version: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let on_version = self.instances.iter().all(|i| self.current(i).as_deref() == Some(version));
            let servers = haproxy.servers().await.unwrap_or_default();
            let all_up = servers.len() == self.instances.len() && servers.iter().all(|s| s.status == "UP");
            if on_version && all_up {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("the fleet was not serving {version} within {timeout:?} (servers: {servers:?})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The release an instance's `current` symlink points to.
    pub fn current(&self, instance: &Instance) -> Option<String> {
        let target = std::fs::read_link(instance.root.join("current")).ok()?;
        Some(target.file_name()?.to_string_lossy().into_owned())
    }

    pub async fn lease(&self) -> Result<Option<LeaseRecord>> {
        Ok(deployer::status::fleet_status(&self.store, None).await?.lease)
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|events| events.clone()).unwrap_or_default()
    }

    fn has_event(&self, instance: &str, event: &str, version: &str, outcome: &str) -> Option<Instant> {
        self.events()
            .into_iter()
            .find(|e| {
                e.instance == instance && e.event == event && e.version == version && e.outcome == outcome
            })
            .map(|e| e.at)
    }

    /// Waits for the rollout's end as the scenario defines it; kills and restarts a deployer
    /// mid-drain for `--kill-deployer`.
    pub async fn await_rollout(
        &mut self,
        haproxy: &Haproxy,
        scenario: Scenario,
        old: &str,
        new: &str,
        published: Instant,
        timeout: Duration,
    ) -> Result<Outcome> {
        let deadline = published + timeout;
        let mut killed = None;
        loop {
            if scenario == Scenario::KillDeployer && killed.is_none() {
                if let Some(index) =
                    self.instances.iter().position(|i| journal_phase(&i.state).as_deref() == Some("drain"))
                {
                    killed = Some(self.kill_and_restart(index, published)?);
                }
            }
            let finished = match scenario {
                Scenario::Normal | Scenario::KillDeployer => {
                    let done: Option<Vec<Instant>> = self
                        .instances
                        .iter()
                        .map(|i| self.has_event(&i.name, "deploy.done", new, "ok"))
                        .collect();
                    done.and_then(|at| at.into_iter().max())
                }
                Scenario::BadRelease => self.bad_release_settled(haproxy, old, new).await?,
            };
            if let Some(finished) = finished {
                if scenario != Scenario::KillDeployer || killed.is_some() {
                    return Ok(Outcome { finished, published, killed });
                }
            }
            if Instant::now() >= deadline {
                bail!("the rollout did not finish within {timeout:?}; see the deployer logs");
            }
            // Fast polling only while a kill is pending: the drain lasts about two seconds.
            let poll = if scenario == Scenario::KillDeployer && killed.is_none() { 2 } else { 50 };
            tokio::time::sleep(Duration::from_millis(poll)).await;
        }
    }

    /// For a bad release: rolled back once, marked bad, the lease free, every instance on the
    /// old release and up.
    async fn bad_release_settled(&self, haproxy: &Haproxy, old: &str, new: &str) -> Result<Option<Instant>> {
        let rolled_back =
            self.instances.iter().filter_map(|i| self.has_event(&i.name, "deploy.rollback", new, "ok")).max();
        let Some(rolled_back) = rolled_back else { return Ok(None) };
        let marked = self.store.bad_marker(&new.parse()?).await?.is_some();
        let lease_free = self.lease().await?.is_some_and(|lease| lease.holder.is_none());
        let on_old = self.instances.iter().all(|i| self.current(i).as_deref() == Some(old));
        let servers = haproxy.servers().await?;
        let all_up = servers.iter().all(|s| s.status == "UP");
        Ok((marked && lease_free && on_old && all_up).then_some(rolled_back))
    }

    fn kill_and_restart(&mut self, index: usize, published: Instant) -> Result<Killed> {
        let name = self.instances[index].name.clone();
        if let Some(mut child) = self.instances[index].process.take() {
            kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).context("cannot SIGKILL the deployer")?;
            let _ = child.wait();
        }
        let after_publish = published.elapsed();
        eprintln!(
            "SIGKILLed the deployer of {name} mid-drain ({:.2} s after publishing); restarting it",
            after_publish.as_secs_f64()
        );
        self.spawn(index)?;
        Ok(Killed { instance: name, after_publish })
    }

    /// Peak and current resident memory of every running deployer, in KiB.
    pub fn deployer_memory(&self) -> Vec<(String, u64, u64)> {
        self.instances
            .iter()
            .filter_map(|i| {
                let pid = i.process.as_ref()?.id();
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
                let field = |name: &str| {
                    status
                        .lines()
                        .find(|l| l.starts_with(name))
                        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
                };
                Some((i.name.clone(), field("VmRSS:")?, field("VmHWM:")?))
            })
            .collect()
    }

    /// Stops the deployers (SIGTERM), then the services they left running.
    pub fn shutdown(&mut self) {
        for instance in &mut self.instances {
            if let Some(mut child) = instance.process.take() {
                let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
                let deadline = Instant::now() + Duration::from_secs(15);
                while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
            let pid_file = instance.state.join("run/writepoint.pid");
            if let Some(pid) =
                std::fs::read_to_string(&pid_file).ok().and_then(|t| t.trim().parse::<i32>().ok())
            {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
                let deadline = Instant::now() + Duration::from_secs(15);
                while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn journal_phase(state: &Path) -> Option<String> {
    let text = std::fs::read(state.join("deploy.json")).ok()?;
    let journal: serde_json::Value = serde_json::from_slice(&text).ok()?;
    journal["phase"].as_str().map(str::to_owned)
}

/// Copies a deployer's stderr to its log file and collects its deploy events.
fn read_events(stderr: impl std::io::Read, instance: &str, log_path: &Path, events: &Mutex<Vec<Event>>) {
    let Ok(mut log) = std::fs::OpenOptions::new().create(true).append(true).open(log_path) else { return };
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let _ = writeln!(log, "{line}");
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        let fields = &value["fields"];
        let Some(event) = fields["event"].as_str() else { continue };
        let text = |name: &str| fields[name].as_str().unwrap_or_default().to_owned();
        let event = Event {
            instance: instance.to_owned(),
            event: event.to_owned(),
            version: text("version"),
            outcome: text("outcome"),
            duration_ms: fields["duration_ms"].as_u64().unwrap_or(0),
            swap_ms: fields["swap_ms"].as_u64(),
            detail: text("detail"),
            at: Instant::now(),
        };
        if let Ok(mut events) = events.lock() {
            events.push(event);
        }
    }
}
