//! The write point's settings; each is a flag, an `OWP_*` variable, or a config-file entry.

use std::{net::SocketAddr, time::Duration};

use owp_platform::{duration, http::HttpLimits};

#[derive(Debug, Clone, clap::Args)]
#[group(id = "writepoint_settings")]
pub struct Settings {
    /// Address the write point listens on.
    #[arg(
        id = "writepoint_addr",
        long = "writepoint-addr",
        env = "OWP_WRITEPOINT_ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub addr: SocketAddr,
    /// Longest a request waits for the broker's acknowledgement before answering 503.
    #[arg(long, env = "OWP_PRODUCE_TIMEOUT", default_value = "5s", value_parser = duration::parse)]
    pub produce_timeout: Duration,
    /// Largest accepted body of `POST /v1/documents`, and of each batch line, in bytes.
    #[arg(long, env = "OWP_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest accepted body of `POST /v1/documents/batch`, in bytes.
    #[arg(long, env = "OWP_BATCH_MAX_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub batch_max_bytes: usize,
    /// Most documents (non-empty lines) in one batch request.
    #[arg(long, env = "OWP_BATCH_MAX_LINES", default_value_t = 1000)]
    pub batch_max_lines: usize,
    /// Documents the producer may hold unacknowledged before answering 503 ("queue full").
    #[arg(long, env = "OWP_PRODUCER_QUEUE_MESSAGES", default_value_t = 100_000)]
    pub producer_queue_messages: u32,
    /// How long the producer may wait to fill a batch to the broker.
    #[arg(long, env = "OWP_PRODUCER_LINGER", default_value = "2ms", value_parser = duration::parse)]
    pub producer_linger: Duration,
    /// Idempotent produce: the broker drops the client's own retries, and more than one request
    /// may be in flight per connection without reordering. Off means one request in flight
    /// (duplicates from retries are harmless downstream: robots drop a document_id they have
    /// seen).
    #[arg(long, env = "OWP_PRODUCER_IDEMPOTENT", default_value_t = true, action = clap::ArgAction::Set)]
    pub producer_idempotent: bool,
    /// The bounds every HTTP service shares (`OWP_HTTP_*`, see owp_platform::http::HttpLimits);
    /// the body limit is raised to the largest body a route here reads.
    #[arg(skip = HttpLimits::from_env())]
    pub http: HttpLimits,
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
        assert_eq!(settings.addr.port(), 8080);
        assert_eq!(settings.produce_timeout.as_secs(), 5);
        assert_eq!(settings.max_body_bytes, 1_048_576);
    }
}
