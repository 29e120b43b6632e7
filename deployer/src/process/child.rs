//! Services as plain child processes, for hosts without systemd: `<root>/current/bin/<name>`,
//! with `OWP_CONFIG` pointing at the release's `config/<name>.toml` when it ships one, output
//! appended to `<state>/logs/<name>.log`, and the pid in `<state>/run/<name>.pid`.
//!
//! Services run in their own process group and outlive the deployer, as units outlive it under
//! systemd: a deployer that crashes (or is SIGKILLed) leaves them serving, and the next deployer
//! adopts them through the pid files. A pid is only signalled when its environment carries the
//! marker this manager set for that root and service, so a stale pid file (the pid reused by an
//! unrelated process) can never hit anything else.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

use crate::{Error, Result};

/// The environment variable that marks a process as started by this manager, for this root and
/// service: checked before a pid from a pid file is ever signalled.
const MARKER: &str = "OWP_DEPLOYER_MANAGED";

/// How often `stop` looks whether a process has exited.
const EXIT_POLL: Duration = Duration::from_millis(10);

#[derive(Debug, Clone)]
pub struct Children {
    root: PathBuf,
    run_dir: PathBuf,
    log_dir: PathBuf,
    services: Vec<String>,
    stop_timeout: Duration,
}

impl Children {
    pub fn new(root: &Path, state_dir: &Path, services: Vec<String>, stop_timeout: Duration) -> Result<Self> {
        if services.is_empty() {
            return Err(Error::Config("the child process manager needs at least one service".into()));
        }
        if let Some(bad) = services.iter().find(|s| s.is_empty() || s.contains('/') || s.starts_with('.')) {
            return Err(Error::Config(format!("{bad:?} is not a binary name")));
        }
        let run_dir = state_dir.join("run");
        let log_dir = state_dir.join("logs");
        for dir in [&run_dir, &log_dir] {
            std::fs::create_dir_all(dir)
                .map_err(|err| Error::io(format!("cannot create {}", dir.display()), err))?;
        }
        Ok(Self { root: root.to_owned(), run_dir, log_dir, services, stop_timeout })
    }

    pub async fn start(&self) -> Result<()> {
        for name in &self.services {
            if self.pid_of(name).is_some() {
                continue;
            }
            self.spawn(name)?;
        }
        Ok(())
    }

    pub async fn stop(&self) -> Result<()> {
        for name in &self.services {
            let Some(pid) = self.pid_of(name) else { continue };
            let _ = kill(pid, Signal::SIGTERM);
            if !wait_exit(pid, self.stop_timeout).await {
                tracing::warn!(service = %name, pid = pid.as_raw(), "did not exit within the stop timeout; killing it");
                let _ = kill(pid, Signal::SIGKILL);
                if !wait_exit(pid, Duration::from_secs(5)).await {
                    return Err(Error::Process(format!("{name} (pid {pid}) survived SIGKILL")));
                }
            }
            let _ = std::fs::remove_file(self.pid_file(name));
        }
        Ok(())
    }

    pub fn running(&self) -> bool {
        self.services.iter().all(|name| self.pid_of(name).is_some())
    }

    /// The pid of a running service that this install root started, if any.
    pub fn pid_of(&self, name: &str) -> Option<Pid> {
        let text = std::fs::read_to_string(self.pid_file(name)).ok()?;
        let pid = Pid::from_raw(text.trim().parse().ok()?);
        (alive(pid) && self.is_ours(pid, name)).then_some(pid)
    }

    fn spawn(&self, name: &str) -> Result<()> {
        let current = self.root.join("current");
        let binary = current.join("bin").join(name);
        if !binary.is_file() {
            return Err(Error::Process(format!(
                "{} does not exist (is `current` a release?)",
                binary.display()
            )));
        }
        let log_path = self.log_dir.join(format!("{name}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|err| Error::io(format!("cannot open {}", log_path.display()), err))?;
        let log_err = log.try_clone().map_err(|err| Error::io("cannot duplicate the log file", err))?;
        let mut command = tokio::process::Command::new(&binary);
        // Resolve the symlink now: the process keeps running this release even after a flip.
        let release_dir = std::fs::canonicalize(&current)
            .map_err(|err| Error::io(format!("cannot resolve {}", current.display()), err))?;
        let config = release_dir.join("config").join(format!("{name}.toml"));
        if config.is_file() {
            command.env("OWP_CONFIG", &config);
        }
        command.env(MARKER, self.marker(name));
        command
            .current_dir(&release_dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .kill_on_drop(false);
        let mut child = command
            .spawn()
            .map_err(|err| Error::Process(format!("cannot start {}: {err}", binary.display())))?;
        let pid = child.id().ok_or_else(|| Error::Process(format!("{name} exited at once")))?;
        let pid_file = self.pid_file(name);
        let partial = pid_file.with_extension("pid.partial");
        std::fs::write(&partial, format!("{pid}\n"))
            .and_then(|()| std::fs::rename(&partial, &pid_file))
            .map_err(|err| Error::io(format!("cannot write {}", pid_file.display()), err))?;
        tracing::info!(service = %name, pid, release = %release_dir.display(), "started");
        // Reap it when it exits, so it does not linger as a zombie that still looks alive.
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        Ok(())
    }

    fn pid_file(&self, name: &str) -> PathBuf {
        self.run_dir.join(format!("{name}.pid"))
    }

    /// Whether the process carries this root's marker for `name` in its environment (which
    /// survives `exec`, unlike the executable path of a service started through a script).
    fn is_ours(&self, pid: Pid, name: &str) -> bool {
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else { return false };
        let wanted = format!("{MARKER}={}", self.marker(name));
        environ.split(|b| *b == 0).any(|entry| entry == wanted.as_bytes())
    }

    fn marker(&self, name: &str) -> String {
        format!("{}#{name}", self.root.display())
    }

    pub fn describe(&self) -> String {
        format!("child processes {} under {}", self.services.join(", "), self.root.display())
    }
}

/// Alive and not a zombie.
fn alive(pid: Pid) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

async fn wait_exit(pid: Pid, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(EXIT_POLL).await;
    }
    true
}
