//! HAProxy from Debian as the fleet's load balancer: one frontend on a free loopback port, one
//! backend with a server per instance, `/readyz` health checks, and the runtime API on a unix
//! socket at admin level for the deployers.
//!
//! `/readyz` asks the broker for metadata, which takes up to 2 s on a busy machine, so a check
//! may take 3 s (without `timeout check` HAProxy allows only `inter`, and a slow broker would
//! take every server out at once). No retries and no redispatch: a request sent to an instance that is going away fails and is
//! counted, so zero failures means the deployers drained properly, not that HAProxy hid it.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use deployer::lb::{self, HaproxySocket};

pub const BACKEND: &str = "fleet";

pub struct Haproxy {
    frontend_port: u16,
    socket: PathBuf,
    process: Child,
}

impl Haproxy {
    pub fn start(work: &Path, ports: &[u16]) -> Result<Self> {
        let frontend_port = crate::moto::free_port()?;
        let socket = work.join("haproxy.sock");
        let mut config = format!(
            "global\n    stats socket {socket} mode 600 level admin\n    maxconn 4096\n\n\
             defaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n    \
             retries 0\n    option http-keep-alive\n    timeout check 3s\n\n\
             frontend web\n    bind 127.0.0.1:{frontend_port}\n    default_backend {BACKEND}\n\n\
             backend {BACKEND}\n    balance roundrobin\n    option httpchk GET /readyz\n    \
             http-check expect status 200\n    default-server inter 250ms fall 2 rise 2\n",
            socket = socket.display()
        );
        for (index, port) in ports.iter().enumerate() {
            config.push_str(&format!("    server i{} 127.0.0.1:{port} check\n", index + 1));
        }
        let config_path = work.join("haproxy.cfg");
        std::fs::write(&config_path, config).context("cannot write haproxy.cfg")?;
        let check = Command::new("haproxy").arg("-c").arg("-q").arg("-f").arg(&config_path).status();
        match check {
            Ok(status) if status.success() => {}
            Ok(_) => bail!("haproxy refused {}", config_path.display()),
            Err(err) => bail!("cannot run haproxy ({err}): run scripts/install-deployer-deps"),
        }
        let log = std::fs::File::create(work.join("logs/haproxy.log"))?;
        let process = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start haproxy")?;
        crate::moto::wait_port(frontend_port, Duration::from_secs(10))?;
        Ok(Self { frontend_port, socket, process })
    }

    pub fn frontend(&self) -> String {
        format!("127.0.0.1:{}", self.frontend_port)
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Every server's status, by name (`i1` …).
    pub async fn servers(&self) -> Result<Vec<lb::ServerStat>> {
        let api = lb::Haproxy::new(HaproxySocket::Unix(self.socket.clone()), BACKEND.into(), "i1".into());
        Ok(api.servers().await?)
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
