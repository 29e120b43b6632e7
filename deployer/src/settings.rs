//! `deployer run`'s settings: every one a flag with an `OWP_DEPLOYER_*` variable, or an entry
//! of the `--config` file. The defaults suit AWS (an ALB with 5 s health checks and systemd
//! units); the local fleet passes tighter timings.

use std::{path::PathBuf, time::Duration};

use owp_platform::duration;

use crate::{lb::HaproxySocket, store::StoreSettings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LbKind {
    /// An AWS Application Load Balancer (target groups by ARN).
    Alb,
    /// HAProxy, through its runtime API.
    Haproxy,
    /// Nothing in front of the instance.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProcessKind {
    /// systemd units (`--units`).
    Systemd,
    /// Child processes of the deployer (`--services`), for hosts without systemd.
    Child,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunSettings {
    #[command(flatten)]
    pub store: StoreSettings,

    /// This instance's name in the lease, status reports and events; defaults to the EC2 instance
    /// id (from the instance metadata service) behind an ALB, else the host name.
    #[arg(long, env = "OWP_DEPLOYER_INSTANCE_ID")]
    pub instance_id: Option<String>,
    /// Install root: `releases/<version>/` and the `current` symlink the services run from.
    #[arg(long, env = "OWP_DEPLOYER_INSTALL_ROOT", default_value = "/opt/owp")]
    pub install_root: PathBuf,
    /// Where the deployer keeps its journal, downloads, and (child manager) pid files and logs.
    #[arg(long, env = "OWP_DEPLOYER_STATE_DIR", default_value = "/var/lib/owp-deployer")]
    pub state_dir: PathBuf,
    /// minisign public key that every release's manifest signature must verify against.
    #[arg(long, env = "OWP_DEPLOYER_PUBLIC_KEY", default_value = "/etc/owp/release.pub")]
    pub public_key: PathBuf,

    /// How often the current-release pointer is polled.
    #[arg(long, env = "OWP_DEPLOYER_POLL_INTERVAL", default_value = "2s", value_parser = duration::parse)]
    pub poll_interval: Duration,
    /// Fleet lease TTL: how long a holder that stopped renewing keeps the fleet waiting.
    #[arg(long, env = "OWP_DEPLOYER_LEASE_TTL", default_value = "15s", value_parser = duration::parse)]
    pub lease_ttl: Duration,
    /// How often the holder renews the lease (well under the TTL).
    #[arg(long, env = "OWP_DEPLOYER_LEASE_RENEW", default_value = "5s", value_parser = duration::parse)]
    pub lease_renew: Duration,
    /// How often a deployer waiting for the lease tries again.
    #[arg(long, env = "OWP_DEPLOYER_LOCK_RETRY", default_value = "1s", value_parser = duration::parse)]
    pub lock_retry: Duration,

    /// Healthy targets, other than this instance, required before it is taken out.
    #[arg(long, env = "OWP_DEPLOYER_MIN_HEALTHY", default_value_t = 1)]
    pub min_healthy: usize,
    /// Longest wait for the other targets to be healthy enough before giving the lease back.
    #[arg(long, env = "OWP_DEPLOYER_GUARD_TIMEOUT", default_value = "60s", value_parser = duration::parse)]
    pub guard_timeout: Duration,
    /// Longest wait for in-flight requests after deregistering.
    #[arg(long, env = "OWP_DEPLOYER_DRAIN_TIMEOUT", default_value = "30s", value_parser = duration::parse)]
    pub drain_timeout: Duration,
    /// Least time between deregistering and stopping the services: lets a load balancer that
    /// cannot report in-flight requests (the ALB) stop routing here. With HAProxy, which reports
    /// them, the drain also waits until none are left.
    #[arg(long, env = "OWP_DEPLOYER_DRAIN_SETTLE", default_value = "5s", value_parser = duration::parse)]
    pub drain_settle: Duration,
    /// Longest wait for the new release's local `/readyz` before rolling back.
    #[arg(long, env = "OWP_DEPLOYER_READY_TIMEOUT", default_value = "30s", value_parser = duration::parse)]
    pub ready_timeout: Duration,
    /// Longest wait for the load balancer to report the instance healthy before rolling back.
    #[arg(long, env = "OWP_DEPLOYER_HEALTHY_TIMEOUT", default_value = "60s", value_parser = duration::parse)]
    pub healthy_timeout: Duration,
    /// How long the new release must stay ready and healthy before the lease is released.
    #[arg(long, env = "OWP_DEPLOYER_STABILITY_WINDOW", default_value = "5s", value_parser = duration::parse)]
    pub stability_window: Duration,
    /// How often the load balancer's view is polled while waiting.
    #[arg(long, env = "OWP_DEPLOYER_LB_POLL_INTERVAL", default_value = "1s", value_parser = duration::parse)]
    pub lb_poll_interval: Duration,
    /// Local readiness URLs, all of which must answer 2xx (comma-separated).
    #[arg(
        long = "ready-url",
        env = "OWP_DEPLOYER_READY_URLS",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:8080/readyz,http://127.0.0.1:8081/readyz,http://127.0.0.1:8082/readyz"
    )]
    pub ready_urls: Vec<String>,
    /// Installed releases kept on disk (the current and previous one are always kept).
    #[arg(long, env = "OWP_DEPLOYER_KEEP_RELEASES", default_value_t = 3)]
    pub keep_releases: usize,

    /// The load balancer in front of this instance.
    #[arg(long, env = "OWP_DEPLOYER_LOAD_BALANCER", value_enum, default_value = "alb")]
    pub load_balancer: LbKind,
    /// ALB target group ARNs this instance serves in (comma-separated).
    #[arg(long, env = "OWP_DEPLOYER_TARGET_GROUP_ARNS", value_delimiter = ',')]
    pub target_group_arns: Vec<String>,
    /// The ALB target id; defaults to the instance id.
    #[arg(long, env = "OWP_DEPLOYER_TARGET_ID")]
    pub target_id: Option<String>,
    /// The ALB target port, when the target groups do not use their own port.
    #[arg(long, env = "OWP_DEPLOYER_TARGET_PORT")]
    pub target_port: Option<i32>,
    /// HAProxy runtime API: a unix socket path or IP:port (`stats socket ... level admin`).
    #[arg(long, env = "OWP_DEPLOYER_HAPROXY_SOCKET")]
    pub haproxy_socket: Option<HaproxySocket>,
    /// HAProxy backend this instance is a server of.
    #[arg(long, env = "OWP_DEPLOYER_HAPROXY_BACKEND")]
    pub haproxy_backend: Option<String>,
    /// HAProxy server name of this instance; defaults to the instance id.
    #[arg(long, env = "OWP_DEPLOYER_HAPROXY_SERVER")]
    pub haproxy_server: Option<String>,

    /// How the services are stopped and started.
    #[arg(long, env = "OWP_DEPLOYER_PROCESS_MANAGER", value_enum, default_value = "systemd")]
    pub process_manager: ProcessKind,
    /// systemd units restarted on a swap (comma-separated).
    #[arg(
        long,
        env = "OWP_DEPLOYER_UNITS",
        value_delimiter = ',',
        default_value = "owp-writepoint.service,owp-readpoint.service,owp-auth.service,owp-robots.service,owp-translator.service"
    )]
    pub units: Vec<String>,
    /// Binaries run by the child process manager (comma-separated), from `current/bin/`.
    #[arg(long, env = "OWP_DEPLOYER_SERVICES", value_delimiter = ',', default_value = "writepoint")]
    pub services: Vec<String>,
    /// Child process manager: how long a service may take to exit after SIGTERM before SIGKILL.
    #[arg(long, env = "OWP_DEPLOYER_STOP_TIMEOUT", default_value = "30s", value_parser = duration::parse)]
    pub stop_timeout: Duration,
}
