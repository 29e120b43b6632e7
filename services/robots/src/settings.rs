//! Settings of the robots process.

/// Where the projector's tables (and its bookkeeping) live; rebuilt by `owp replay`.
pub use owp_platform::db::PROJECTION_SCHEMA;
use owp_projection::sessions::SessionLimits;
use owp_robot_framework::RobotSettings;

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
        owp_platform::config::defaults()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::ReplayOptions;

    #[test]
    fn the_defaults_are_the_declared_ones() {
        let settings = RobotsSettings::default();
        assert_eq!(settings.addr, std::net::SocketAddr::from(([127, 0, 0, 1], 8083)));
        assert_eq!(settings.robot.group_prefix, owp_robot_framework::GROUP_PREFIX);
        assert_eq!(settings.sessions.idle, std::time::Duration::from_secs(30 * 60));
        let replay = ReplayOptions::default();
        assert_eq!((replay.group_prefix.as_str(), replay.batch), (owp_robot_framework::GROUP_PREFIX, 5000));
    }
}
