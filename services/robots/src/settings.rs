//! Settings of the robots process.

use std::time::Duration;

use owp_platform::duration;
use owp_robot::RobotSettings;

/// Where the projector's tables (and its bookkeeping) live; rebuilt by `owp replay`.
pub const PROJECTION_SCHEMA: &str = "owp";
/// Where the command robots keep their bookkeeping; not a projection, never rebuilt.
pub const ROBOTS_SCHEMA: &str = "owp_robots";

#[derive(Debug, Clone, clap::Args)]
pub struct RobotsSettings {
    #[command(flatten)]
    pub robot: RobotSettings,
    /// A session unused for this long no longer counts as live (default: sessions never expire).
    #[arg(long, env = "OWP_SESSION_IDLE_TIMEOUT", value_parser = duration::parse)]
    pub session_idle_timeout: Option<Duration>,
    /// Address of the robots' /healthz, /readyz and /metrics.
    #[arg(
        id = "robots_addr",
        long = "robots-addr",
        env = "OWP_ROBOTS_ADDR",
        default_value = "127.0.0.1:8083"
    )]
    pub addr: std::net::SocketAddr,
}

impl Default for RobotsSettings {
    fn default() -> Self {
        Self {
            robot: RobotSettings::default(),
            session_idle_timeout: None,
            addr: ([127, 0, 0, 1], 8083).into(),
        }
    }
}
