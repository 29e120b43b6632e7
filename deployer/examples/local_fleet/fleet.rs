//! The fleet, as scripts/local-env starts and stops it: moto (S3), HAProxy and per instance an
//! install root, a state directory and a `deployer run` process whose JSON events are read back
//! from its log. Also publishing to it, and what the scenarios wait for and report.

use std::{
    ffi::{OsStr, OsString},
    io::{BufRead, BufReader},
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use aws_sdk_s3::config::Credentials;
use deployer::{
    aws::AwsSettings,
    lb::{self, HaproxySocket},
    lease::LeaseRecord,
    store::{Layout, ReleaseStore, S3},
};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

use crate::{releases::Releases, report::Scenario};

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
    pub root: PathBuf,
    pub state: PathBuf,
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
    /// The environment's directory (scripts/local-env's DIR).
    dir: PathBuf,
    pub instances: Vec<Instance>,
    pub events: Arc<Mutex<Vec<Event>>>,
    pub store: ReleaseStore,
    /// The environment's settings (DIR/env): the deployer CLI's, the write point's URL.
    env: Vec<(String, String)>,
}

/// Runs scripts/local-env with the deployer of `target_dir`, its output in DIR/logs/local-env.log.
fn local_env(repo: &Path, target_dir: &Path, dir: &Path, args: &[OsString]) -> Result<()> {
    std::fs::create_dir_all(dir.join("logs"))?;
    let log_path = dir.join("logs/local-env.log");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path)?;
    let status = Command::new(repo.join("scripts/local-env"))
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .context("cannot run scripts/local-env")?;
    if !status.success() {
        bail!("scripts/local-env failed; see {}", log_path.display());
    }
    Ok(())
}

/// Ends what [`Fleet::start`] started in `dir`, by pid (whether or not it returned).
pub fn stop(repo: &Path, target_dir: &Path, dir: &Path) -> Result<()> {
    local_env(repo, target_dir, dir, &["stop".into(), dir.into()])
}

impl Fleet {
    /// Starts the fleet in `dir` on release `version` with scripts/local-env, without `owp up`:
    /// the write points take brokers and topic from the release's configuration file, so that a
    /// bad release can carry a bad one. `settings` go to every deployer. From then on every
    /// deployer's events are collected from its log.
    pub async fn start(
        repo: &Path,
        target_dir: &Path,
        dir: &Path,
        releases: &Releases,
        version: &str,
        count: usize,
        settings: &[String],
    ) -> Result<Self> {
        let mut args: Vec<OsString> = vec!["start".into(), dir.into()];
        args.extend(["--release".into(), releases.tarball(version).into()]);
        args.extend(["--public-key".into(), releases.public_key().into()]);
        args.extend(["--secret-key".into(), releases.secret_key().into()]);
        args.extend(["--instances".into(), count.to_string().into(), "--no-services".into()]);
        for setting in settings {
            args.extend(["--set".into(), setting.into()]);
        }
        local_env(repo, target_dir, dir, &args)?;

        let text = std::fs::read_to_string(dir.join("env")).context("no env file")?;
        let env: Vec<(String, String)> = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        let get = |name: &str| setting(&env, name);
        let aws = AwsSettings {
            region: Some(get("OWP_DEPLOYER_REGION")?.to_owned()),
            endpoint_url: Some(get("OWP_DEPLOYER_ENDPOINT_URL")?.to_owned()),
        };
        let config = deployer::aws::loader(&aws)
            .credentials_provider(Credentials::new("test", "test", None, None, "local-fleet"))
            .load()
            .await;
        let store = ReleaseStore::new(
            S3::from_config(&config, get("OWP_DEPLOYER_BUCKET")?),
            Layout::new("releases/", get("OWP_DEPLOYER_ENVIRONMENT")?)?,
        );
        let events = Arc::new(Mutex::new(Vec::new()));
        let mut instances = Vec::new();
        for index in 1..=count {
            let name = format!("i{index}");
            let pid = std::fs::read_to_string(dir.join(format!("run/{name}-deployer.pid")))?;
            let (log_path, events) = (dir.join(format!("logs/{name}-deployer.log")), Arc::clone(&events));
            let instance = name.clone();
            std::thread::spawn(move || read_events(&log_path, &instance, &events));
            instances.push(Instance {
                root: dir.join(&name).join("root"),
                state: dir.join(&name).join("state"),
                name,
                pids: vec![pid.trim().parse()?],
            });
        }
        Ok(Self { dir: dir.to_owned(), instances, events, store, env })
    }

    /// The write point behind HAProxy, as host:port.
    pub fn frontend(&self) -> String {
        let url = setting(&self.env, "OWP_WRITEPOINT_URL").unwrap_or_default();
        url.trim_start_matches("http://").to_owned()
    }

    /// Every HAProxy server's status, by name (`i1` …).
    pub async fn servers(&self) -> Result<Vec<lb::ServerStat>> {
        let socket = HaproxySocket::Unix(self.dir.join("haproxy.sock"));
        // "fleet": the backend of scripts/local-env's haproxy.cfg.
        Ok(lb::Haproxy::new(socket, "fleet".into(), "i1".into()).servers().await?)
    }

    pub fn publish(&self, releases: &Releases, version: &str) -> Result<()> {
        let output = Command::new(&releases.deployer)
            .arg("publish")
            .arg("--tarball")
            .arg(releases.tarball(version))
            .arg("--public-key")
            .arg(releases.public_key())
            .arg("--secret-key")
            .arg(releases.secret_key())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("OWP_DEPLOYER_LOG_FORMAT", "json")
            .output()
            .context("cannot run deployer publish")?;
        if !output.status.success() {
            bail!("deployer publish failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        eprintln!("{}", String::from_utf8_lossy(&output.stdout).trim());
        Ok(())
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
                Scenario::BadRelease => self.bad_release_settled(old, new).await?,
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
    async fn bad_release_settled(&self, old: &str, new: &str) -> Result<Option<Instant>> {
        let rolled_back =
            self.instances.iter().filter_map(|i| self.has_event(&i.name, "deploy.rollback", new, "ok")).max();
        let Some(rolled_back) = rolled_back else { return Ok(None) };
        let marked = self.store.bad_marker(&new.parse()?).await?.is_some();
        let lease_free = self.lease().await?.is_some_and(|lease| lease.holder.is_none());
        let on_old = self.instances.iter().all(|i| self.current(i).as_deref() == Some(old));
        let servers = self.servers().await?;
        let all_up = servers.iter().all(|s| s.status == "UP");
        Ok((marked && lease_free && on_old && all_up).then_some(rolled_back))
    }

    fn kill_and_restart(&mut self, index: usize, published: Instant) -> Result<Killed> {
        let name = self.instances[index].name.clone();
        let pid = *self.instances[index].pids.last().context("no deployer pid")?;
        // Restarted exactly as scripts/local-env started it: its command line and environment.
        let proc_file = |file: &str| std::fs::read(format!("/proc/{pid}/{file}"));
        let (cmdline, environ) = (proc_file("cmdline")?, proc_file("environ")?);
        kill(Pid::from_raw(pid as i32), Signal::SIGKILL).context("cannot SIGKILL the deployer")?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let after_publish = published.elapsed();
        eprintln!(
            "SIGKILLed the deployer of {name} mid-drain ({:.2} s after publishing); restarting it",
            after_publish.as_secs_f64()
        );
        let mut argv = cmdline.split(|b| *b == 0).filter(|arg| !arg.is_empty()).map(OsStr::from_bytes);
        let mut command = Command::new(argv.next().context("no command line")?);
        command.args(argv).env_clear();
        for entry in environ.split(|b| *b == 0) {
            if let Some(at) = entry.iter().position(|b| *b == b'=') {
                command.env(OsStr::from_bytes(&entry[..at]), OsStr::from_bytes(&entry[at + 1..]));
            }
        }
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join(format!("logs/{name}-deployer.log")))?;
        let mut child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot restart the deployer")?;
        std::fs::write(self.dir.join(format!("run/{name}-deployer.pid")), format!("{}\n", child.id()))?;
        self.instances[index].pids.push(child.id());
        // Reaped when it exits, so that scripts/local-env stop does not wait on a zombie.
        std::thread::spawn(move || child.wait());
        Ok(Killed { instance: name, after_publish })
    }

    /// Peak and current resident memory of every running deployer, in KiB.
    pub fn deployer_memory(&self) -> Vec<(String, u64, u64)> {
        self.instances
            .iter()
            .filter_map(|i| {
                let pid = i.pids.last()?;
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
}

fn setting<'a>(env: &'a [(String, String)], name: &str) -> Result<&'a str> {
    let value = env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    value.with_context(|| format!("{name} is not in the environment's env file"))
}

/// Alive and not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

fn journal_phase(state: &Path) -> Option<String> {
    let text = std::fs::read(state.join("deploy.json")).ok()?;
    let journal: serde_json::Value = serde_json::from_slice(&text).ok()?;
    journal["phase"].as_str().map(str::to_owned)
}

/// Follows a deployer's log (a restarted deployer appends to it) and collects its deploy events.
fn read_events(log_path: &Path, instance: &str, events: &Mutex<Vec<Event>>) {
    let Ok(log) = std::fs::File::open(log_path) else { return };
    let mut log = BufReader::new(log);
    let mut line = Vec::new();
    loop {
        match log.read_until(b'\n', &mut line) {
            Ok(0) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            // The rest of the line is still being written.
            Ok(_) if !line.ends_with(b"\n") => continue,
            Ok(_) => {}
            Err(_) => return,
        }
        let value = serde_json::from_slice::<serde_json::Value>(&line);
        line.clear();
        let Ok(value) = value else { continue };
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
