//! Auth settings.

use std::{net::SocketAddr, time::Duration};

use owp_platform::duration;

#[derive(Debug, Clone, clap::Args)]
#[group(id = "auth_settings")]
pub struct Settings {
    /// Address auth listens on.
    #[arg(id = "auth_addr", long = "auth-addr", env = "OWP_AUTH_ADDR", default_value = "127.0.0.1:8082")]
    pub addr: SocketAddr,
    /// Proxies in front of auth that each append the address they saw to `X-Forwarded-For` (the
    /// load balancer in production: 1). With 0 the client is the TCP peer; with n it is the n-th
    /// address from the right of `X-Forwarded-For`, the one the outermost trusted proxy saw.
    #[arg(long, env = "OWP_TRUSTED_PROXIES", default_value_t = 0)]
    pub trusted_proxies: usize,
    /// Failed logins a (username, client address) pair may make before each further attempt must
    /// wait: `--login-backoff-base`, doubling with every failure.
    #[arg(
        long,
        env = "OWP_LOGIN_FAILURES_BEFORE_BACKOFF",
        default_value_t = 5,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000)
    )]
    pub login_failures_before_backoff: u32,
    /// The first wait of a (username, client address) pair that has used up its failures.
    #[arg(long, env = "OWP_LOGIN_BACKOFF_BASE", default_value = "1s", value_parser = duration::parse)]
    pub login_backoff_base: Duration,
    /// The longest wait the doubling reaches.
    #[arg(long, env = "OWP_LOGIN_BACKOFF_MAX", default_value = "15m", value_parser = duration::parse)]
    pub login_backoff_max: Duration,
    /// A (username, client address) pair's failures are forgotten once it has not tried for this
    /// long (a success forgets them at once).
    #[arg(long, env = "OWP_LOGIN_FAILURE_MEMORY", default_value = "24h", value_parser = duration::parse)]
    pub login_failure_memory: Duration,
    /// Failed logins one client address may make, whatever the usernames, per
    /// `--login-address-window`.
    #[arg(
        long,
        env = "OWP_LOGIN_ADDRESS_LIMIT",
        default_value_t = 100,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000)
    )]
    pub login_address_limit: u32,
    /// The window `--login-address-limit` counts in.
    #[arg(long, env = "OWP_LOGIN_ADDRESS_WINDOW", default_value = "15m", value_parser = duration::parse)]
    pub login_address_window: Duration,
    /// Password hashes computed at once (argon2 takes 19 MiB and tens of milliseconds each);
    /// default: the number of CPUs.
    #[arg(
        long,
        env = "OWP_PASSWORD_HASHING_CONCURRENCY",
        default_value_t = cpus(),
        value_parser = clap::value_parser!(u32).range(1..=4096)
    )]
    pub password_hashing_concurrency: u32,
    /// Longest a sign-up or login waits for a hashing slot before answering 503.
    #[arg(long, env = "OWP_PASSWORD_HASHING_WAIT", default_value = "500ms", value_parser = duration::parse)]
    pub password_hashing_wait: Duration,
    /// Longest auth waits for its own fact to be applied before answering 503.
    #[arg(long, env = "OWP_AUTH_APPLY_TIMEOUT", default_value = "5s", value_parser = duration::parse)]
    pub apply_timeout: Duration,
}

fn cpus() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(1))
}

impl Settings {
    /// The defaults, as `--help` shows them, with any `OWP_*` variable applied; for tests and
    /// embedding.
    pub fn defaults() -> Self {
        owp_platform::config::from_env()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_defaults_parse() {
        let settings = super::Settings::defaults();
        assert_eq!(settings.trusted_proxies, 0);
        assert!(settings.password_hashing_concurrency >= 1);
        assert!(settings.login_address_limit > settings.login_failures_before_backoff);
    }
}
