//! The translator's settings (flags, environment, or the TOML file given with `--config`).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use owp_platform::duration::parse as parse_duration;

#[derive(Debug, Clone, clap::Args)]
#[group(id = "translator_settings")]
pub struct Settings {
    /// The translator configuration: SQL entries merged into collections. Edits are applied
    /// without a restart.
    #[arg(
        id = "translator_config",
        long = "translator-config",
        env = "OWP_TRANSLATOR_CONFIG",
        default_value = "translator.toml"
    )]
    pub config: PathBuf,
    /// Address of the translator's /healthz, /readyz, /metrics and /status.
    #[arg(
        id = "translator_addr",
        long = "translator-addr",
        env = "OWP_TRANSLATOR_ADDR",
        default_value = "127.0.0.1:8084"
    )]
    pub addr: SocketAddr,
    /// Changed rows taken from the outbox per batch.
    #[arg(
        id = "translator_batch",
        long = "translator-batch",
        env = "OWP_TRANSLATOR_BATCH",
        default_value_t = 5000
    )]
    pub batch: i64,
    /// Keys per chunk of a full rebuild.
    #[arg(
        id = "translator_rebuild_chunk",
        long = "translator-rebuild-chunk",
        env = "OWP_TRANSLATOR_REBUILD_CHUNK",
        default_value_t = 2000
    )]
    pub rebuild_chunk: usize,
    /// How often the outbox is looked at without a notification (the safety net for a lost
    /// NOTIFY), and how often the configuration file is checked for edits.
    #[arg(id = "translator_poll", long = "translator-poll", env = "OWP_TRANSLATOR_POLL", default_value = "1s", value_parser = parse_duration)]
    pub poll: Duration,
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
        assert_eq!(settings.config, PathBuf::from("translator.toml"));
        assert_eq!(settings.addr, SocketAddr::from(([127, 0, 0, 1], 8084)));
        assert_eq!((settings.batch, settings.rebuild_chunk), (5000, 2000));
        assert_eq!(settings.poll, Duration::from_secs(1));
    }
}
