//! Auth settings.

use std::{net::SocketAddr, time::Duration};

use owp_platform::duration;

#[derive(Debug, Clone, clap::Args)]
#[group(id = "auth_settings")]
pub struct Settings {
    /// Address auth listens on.
    #[arg(id = "auth_addr", long = "auth-addr", env = "OWP_AUTH_ADDR", default_value = "127.0.0.1:8082")]
    pub addr: SocketAddr,
    /// Failed logins within the window that lock an account.
    #[arg(long, env = "OWP_LOCKOUT_FAILURES", default_value_t = 5)]
    pub lockout_failures: i64,
    /// The window failed logins are counted in; an account stays locked until its oldest counted
    /// failure leaves the window.
    #[arg(long, env = "OWP_LOCKOUT_WINDOW", default_value = "15m", value_parser = duration::parse)]
    pub lockout_window: Duration,
    /// Longest auth waits for its own fact to be applied before answering 503.
    #[arg(long, env = "OWP_AUTH_APPLY_TIMEOUT", default_value = "5s", value_parser = duration::parse)]
    pub apply_timeout: Duration,
}

impl Settings {
    pub fn defaults() -> Self {
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            settings: Settings,
        }
        <Wrapper as clap::Parser>::try_parse_from(["auth"])
            .map(|w| w.settings)
            .unwrap_or_else(|err| panic!("built-in defaults must parse: {err}"))
    }
}
