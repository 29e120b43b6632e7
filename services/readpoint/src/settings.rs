//! The read point's settings.

use std::{net::SocketAddr, time::Duration};

use owp_platform::duration::parse as parse_duration;

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
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            addr: ([127, 0, 0, 1], 8081).into(),
            max_wait: Duration::from_secs(30),
            poll: Duration::from_millis(250),
        }
    }
}
