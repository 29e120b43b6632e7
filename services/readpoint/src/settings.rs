//! The read point's settings.

use std::{net::SocketAddr, time::Duration};

use owp_platform::duration::parse as parse_duration;

use owp_collections::CursorKey;

#[derive(Debug, Clone, clap::Args)]
#[group(id = "readpoint_settings")]
pub struct Settings {
    /// Address the read point listens on.
    #[arg(
        id = "readpoint_addr",
        long = "readpoint-addr",
        env = "OWP_READPOINT_ADDR",
        default_value = "127.0.0.1:8081"
    )]
    pub addr: SocketAddr,
    /// The longest `wait` a client may ask for on GET /v1/documents/{id}.
    #[arg(id = "readpoint_max_wait", long = "readpoint-max-wait", env = "OWP_READPOINT_MAX_WAIT", default_value = "30s", value_parser = parse_duration)]
    pub max_wait: Duration,
    /// How often a waiting request looks again while notifications are unavailable; while
    /// they arrive, eight times this (the safety net for a lost one).
    #[arg(id = "readpoint_poll", long = "readpoint-poll", env = "OWP_READPOINT_POLL", default_value = "250ms", value_parser = parse_duration)]
    pub poll: Duration,
    /// The key listing cursors are signed with (32 characters or more), the same on every
    /// instance behind one load balancer; by default one derived from the database credentials.
    #[arg(long = "cursor-key", env = "OWP_CURSOR_KEY", hide_env_values = true, value_parser = |s: &str| CursorKey::from_setting(s))]
    pub cursor_key: Option<CursorKey>,
}

impl Default for Settings {
    fn default() -> Self {
        owp_platform::config::defaults()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_declared_ones() {
        let settings = Settings::default();
        assert_eq!(settings.addr, SocketAddr::from(([127, 0, 0, 1], 8081)));
        assert_eq!(settings.max_wait, Duration::from_secs(30));
        assert_eq!(settings.poll, Duration::from_millis(250));
        assert!(settings.cursor_key.is_none());
    }
}
