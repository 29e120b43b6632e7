//! HAProxy through its runtime API (`stats socket ... level admin`), over a unix socket or TCP:
//! `set server <backend>/<server> state maint|ready` takes the server out and puts it back, and
//! `show stat` gives its check status and the sessions it still serves, so draining waits for
//! exactly the in-flight requests and not a second longer.

use std::{collections::HashMap, net::SocketAddr, path::PathBuf, time::Duration};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{FleetHealth, TargetState};
use crate::{Error, Result};

/// Bound on one runtime API exchange; HAProxy answers these in microseconds.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the runtime API listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HaproxySocket {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl std::str::FromStr for HaproxySocket {
    type Err = String;

    /// `/path/to/socket`, `unix:/path`, or `host:port` (an IP address and port).
    fn from_str(text: &str) -> Result<Self, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            return Ok(Self::Unix(path.into()));
        }
        if text.starts_with('/') {
            return Ok(Self::Unix(text.into()));
        }
        text.parse()
            .map(Self::Tcp)
            .map_err(|_| format!("{text:?} is neither a socket path nor an IP:port address"))
    }
}

impl std::fmt::Display for HaproxySocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
            Self::Tcp(addr) => write!(f, "{addr}"),
        }
    }
}

/// One server in one HAProxy backend.
#[derive(Debug, Clone)]
pub struct Haproxy {
    socket: HaproxySocket,
    backend: String,
    server: String,
}

/// One row of `show stat` for a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerStat {
    pub name: String,
    pub status: String,
    /// Current sessions: requests the server is serving right now.
    pub sessions: u64,
}

impl Haproxy {
    pub fn new(socket: HaproxySocket, backend: String, server: String) -> Self {
        Self { socket, backend, server }
    }

    pub async fn register(&self) -> Result<()> {
        self.command_expect_empty(&format!("set server {}/{} state ready", self.backend, self.server)).await
    }

    /// Maintenance, not `drain`: `drain` still sends persistent-connection traffic, `maint`
    /// sends nothing new while the requests already in flight finish.
    pub async fn deregister(&self) -> Result<()> {
        self.command_expect_empty(&format!("set server {}/{} state maint", self.backend, self.server)).await
    }

    pub async fn health(&self) -> Result<FleetHealth> {
        let servers = self.servers().await?;
        let mut me = None;
        let (mut others_healthy, mut others) = (0, 0);
        for server in servers {
            let state = state_of(&server.status);
            if server.name == self.server {
                me = Some(state);
            } else {
                others += 1;
                others_healthy += usize::from(state.is_healthy());
            }
        }
        let me =
            me.ok_or_else(|| self.error(format!("backend {} has no server {}", self.backend, self.server)))?;
        Ok(FleetHealth { me, others_healthy, others })
    }

    pub async fn in_flight(&self) -> Result<u64> {
        self.servers()
            .await?
            .into_iter()
            .find(|server| server.name == self.server)
            .map(|server| server.sessions)
            .ok_or_else(|| self.error(format!("backend {} has no server {}", self.backend, self.server)))
    }

    /// Every server of the backend.
    pub async fn servers(&self) -> Result<Vec<ServerStat>> {
        // All proxies, filtered here: `show stat <name>` picks the first proxy of that name,
        // which is the frontend when a frontend and a backend share it.
        let text = self.command("show stat").await?;
        parse_stat(&text, &self.backend).map_err(|reason| self.error(reason))
    }

    pub fn describe(&self) -> String {
        format!("HAProxy server {}/{} via {}", self.backend, self.server, self.socket)
    }

    async fn command_expect_empty(&self, command: &str) -> Result<()> {
        let reply = self.command(command).await?;
        if reply.trim().is_empty() {
            Ok(())
        } else {
            Err(self.error(format!("`{command}` answered: {}", reply.trim())))
        }
    }

    /// Sends one command and reads the reply; HAProxy closes the connection after it.
    pub async fn command(&self, command: &str) -> Result<String> {
        let exchange = async {
            let mut reply = String::new();
            match &self.socket {
                HaproxySocket::Unix(path) => {
                    let mut stream = tokio::net::UnixStream::connect(path).await?;
                    stream.write_all(format!("{command}\n").as_bytes()).await?;
                    stream.read_to_string(&mut reply).await?;
                }
                HaproxySocket::Tcp(addr) => {
                    let mut stream = tokio::net::TcpStream::connect(addr).await?;
                    stream.write_all(format!("{command}\n").as_bytes()).await?;
                    stream.read_to_string(&mut reply).await?;
                }
            }
            Ok::<_, std::io::Error>(reply)
        };
        match tokio::time::timeout(COMMAND_TIMEOUT, exchange).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(err)) => Err(self.error(format!("`{command}`: {err}"))),
            Err(_) => Err(self.error(format!("`{command}`: no answer within {COMMAND_TIMEOUT:?}"))),
        }
    }

    fn error(&self, message: String) -> Error {
        Error::Haproxy { socket: self.socket.to_string(), message }
    }
}

/// Parses `show stat` CSV (`# pxname,svname,...` header), keeping the server rows of `backend`.
pub fn parse_stat(text: &str, backend: &str) -> Result<Vec<ServerStat>, String> {
    let mut lines = text.lines();
    let header = lines
        .next()
        .and_then(|line| line.strip_prefix("# "))
        .ok_or_else(|| format!("unexpected `show stat` reply: {}", text.trim()))?;
    let columns: HashMap<&str, usize> = header.split(',').enumerate().map(|(i, name)| (name, i)).collect();
    let column =
        |name: &str| columns.get(name).copied().ok_or_else(|| format!("`show stat` has no {name} column"));
    let (proxy_at, name_at) = (column("pxname")?, column("svname")?);
    let (status_at, sessions_at) = (column("status")?, column("scur")?);
    let mut servers = Vec::new();
    for line in lines.filter(|line| !line.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        let name = fields.get(name_at).copied().unwrap_or_default();
        if fields.get(proxy_at).copied() != Some(backend) || name == "BACKEND" || name == "FRONTEND" {
            continue;
        }
        servers.push(ServerStat {
            name: name.to_owned(),
            status: fields.get(status_at).copied().unwrap_or_default().to_owned(),
            sessions: fields.get(sessions_at).and_then(|v| v.parse().ok()).unwrap_or(0),
        });
    }
    Ok(servers)
}

/// HAProxy's status column: `UP`, `DOWN`, `MAINT`, `DRAIN`, `no check`, and transitions such as
/// `UP 1/2` (up, failing checks) or `DOWN 1/2` (down, passing checks).
fn state_of(status: &str) -> TargetState {
    match status {
        "UP" | "no check" => TargetState::Healthy,
        "DRAIN" => TargetState::Draining,
        s if s.starts_with("MAINT") => TargetState::Unused,
        s if s.starts_with("DOWN ") => TargetState::Initial,
        s if s.starts_with("UP ") => TargetState::Unhealthy(format!("failing checks ({s})")),
        s => TargetState::Unhealthy(s.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_show_stat() {
        let text = "# pxname,svname,qcur,qmax,scur,smax,status\nfleet,FRONTEND,,,4,9,OPEN\nfleet,a,0,0,3,9,UP\n\
                    other,x,0,0,0,0,UP\nfleet,b,0,0,0,1,MAINT\nfleet,c,0,0,0,1,DOWN 1/2\nfleet,BACKEND,0,0,3,9,UP\n\n";
        let servers = parse_stat(text, "fleet").unwrap();
        assert_eq!(servers.len(), 3);
        assert_eq!(servers[0], ServerStat { name: "a".into(), status: "UP".into(), sessions: 3 });
        assert_eq!(state_of(&servers[1].status), TargetState::Unused);
        assert_eq!(state_of(&servers[2].status), TargetState::Initial);
        assert!(parse_stat("Unknown command.\n", "fleet").is_err());
    }

    #[test]
    fn socket_addresses_parse() {
        assert_eq!("/run/haproxy.sock".parse(), Ok(HaproxySocket::Unix("/run/haproxy.sock".into())));
        assert_eq!("127.0.0.1:9999".parse(), Ok(HaproxySocket::Tcp("127.0.0.1:9999".parse().unwrap())));
        assert!("haproxy".parse::<HaproxySocket>().is_err());
    }
}
