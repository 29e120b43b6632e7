//! The local readiness gate: the instance's own `/readyz` URLs, polled on loopback before the
//! instance is registered, so the load balancer never sees a release that is not ready.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::{Error, Result};

/// How often readiness is polled while waiting.
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct ReadyProbe {
    urls: Vec<String>,
    client: reqwest::Client,
}

impl ReadyProbe {
    pub fn new(urls: Vec<String>) -> Result<Self> {
        if let Some(bad) = urls.iter().find(|url| reqwest::Url::parse(url).is_err()) {
            return Err(Error::Config(format!("{bad:?} is not a URL")));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            // Each probe is one short request; an idle pool only holds file descriptors.
            .pool_max_idle_per_host(1)
            .build()
            .map_err(|err| Error::Config(format!("cannot build the HTTP client: {err}")))?;
        Ok(Self { urls, client })
    }

    /// `Ok` when every URL answers 2xx, else the first reason it does not.
    pub async fn check(&self) -> Result<(), String> {
        for url in &self.urls {
            match self.client.get(url).send().await {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => return Err(format!("{url} answered {}", response.status())),
                Err(err) => return Err(error_chain(&err)),
            }
        }
        Ok(())
    }

    /// Waits until [`ReadyProbe::check`] passes, at most `timeout`.
    pub async fn wait_ready(&self, timeout: Duration, cancel: &CancellationToken) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.check().await {
                Ok(()) => return Ok(()),
                Err(reason) => reason,
            };
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!("local readiness (last: {last})"),
                    after: timeout,
                });
            }
            tokio::select! {
                () = cancel.cancelled() => return Err(Error::Shutdown),
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

/// The error with its causes ("connection refused" is only in the source chain).
fn error_chain(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
