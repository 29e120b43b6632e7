//! Settings of the robots process.

use owp_robot::RobotSettings;

use crate::sessions::SessionLimits;

/// Where the projector's tables (and its bookkeeping) live; rebuilt by `owp replay`.
pub const PROJECTION_SCHEMA: &str = "owp";
/// Where the command robots keep their bookkeeping; not a projection, never rebuilt.
pub const ROBOTS_SCHEMA: &str = "owp_robots";

#[derive(Debug, Clone, clap::Args)]
pub struct RobotsSettings {
    #[command(flatten)]
    pub robot: RobotSettings,
    #[command(flatten)]
    pub sessions: SessionLimits,
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
            sessions: SessionLimits::defaults(),
            addr: ([127, 0, 0, 1], 8083).into(),
        }
    }
}
