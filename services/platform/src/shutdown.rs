//! Shutdown signalling: one token per process, cancelled on SIGTERM or Ctrl-C, that every
//! server and consumer watches so that they all drain together; and how long draining may take.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::duration;

/// How long a service may take to stop, the same setting in every service. One per process:
/// each binary flattens it beside its own settings, `owp up` once for all the services it runs.
#[derive(Debug, Clone, Copy, clap::Args)]
#[group(id = "shutdown_settings")]
pub struct ShutdownSettings {
    /// How long in-flight requests may take to finish after SIGTERM; then, in a service that
    /// publishes to Kafka, as long again for its messages still on their way to the broker.
    #[arg(
        id = "shutdown_grace",
        long = "shutdown-grace",
        value_name = "SHUTDOWN_GRACE",
        env = "OWP_SHUTDOWN_GRACE",
        default_value = "10s",
        value_parser = duration::parse
    )]
    pub grace: Duration,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        crate::config::defaults()
    }
}

/// Returns a token that is cancelled when the process receives SIGTERM or SIGINT.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received, draining");
        cancel.cancel();
    });
    token
}

async fn wait_for_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed the process can still be stopped by SIGTERM.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_grace_is_ten_seconds() {
        assert_eq!(super::ShutdownSettings::default().grace.as_secs(), 10);
    }
}
