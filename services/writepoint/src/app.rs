//! Building the write point (bind first, so tests can use port 0) and running it until shutdown.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, middleware};
use owp_platform::{
    http::{self, Health, HttpMetrics, ReadyCheck},
    kafka::{self, KafkaSettings, ProducerTuning},
    shutdown::ShutdownSettings,
    topics::Topics,
};
use owp_protocol::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{CommandLog, Result, Settings, metrics::Metrics, routes};

/// How long `/readyz` waits for broker metadata.
const READY_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    log: CommandLog,
    grace: Duration,
}

impl Application {
    pub async fn build(
        kafka_settings: &KafkaSettings,
        topics: &Topics,
        shutdown: &ShutdownSettings,
        settings: Settings,
    ) -> Result<Self> {
        let registry = Arc::new(Registry::embedded()?);
        let api = crate::openapi::document(&registry)?;
        let mut metrics_registry = prometheus_client::registry::Registry::default();
        let metrics = Metrics::register(&mut metrics_registry);
        let http_metrics = HttpMetrics::register(&mut metrics_registry);

        let tuning = ProducerTuning {
            delivery_timeout: settings.produce_timeout,
            queue_max_messages: settings.producer_queue_messages,
            linger: settings.producer_linger,
            idempotent: settings.producer_idempotent,
        };
        let producer = kafka::producer(kafka_settings, "owp-writepoint", &tuning)?;
        let log = CommandLog::new(
            producer,
            topics.commands_topic.clone(),
            settings.produce_timeout,
            metrics.produce_latency.clone(),
        );

        let ready = {
            let log = log.clone();
            ReadyCheck::new(move || {
                let log = log.clone();
                async move { kafka::topic_ready(log.producer(), log.topic(), READY_PROBE_TIMEOUT).await }
            })
        };

        let listener = http::bind(settings.addr).await?;
        let grace = shutdown.grace;
        // The largest body a route reads; each route still enforces its own.
        let limits = http::HttpLimits {
            max_body_bytes: settings.batch_max_bytes.max(settings.max_body_bytes),
            ..settings.http
        };
        let state = routes::AppState { registry, log: log.clone(), settings: Arc::new(settings), metrics };
        // Health and metrics stay outside the bounds, so an overloaded instance still answers its
        // load balancer and its scraper.
        let router = limits
            .apply(routes::router(state))
            .merge(Health::new(ready, Arc::new(metrics_registry)).routes())
            .merge(http::openapi::routes(&api))
            .fallback(http::not_found)
            .method_not_allowed_fallback(http::method_not_allowed)
            .layer(middleware::from_fn_with_state(http_metrics, http::track_requests));
        Ok(Self { listener, router, log, grace })
    }

    /// The address actually bound (the port is chosen by the OS when configured as 0).
    pub fn local_addr(&self) -> SocketAddr {
        // A bound listener always has a local address.
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serves until `shutdown` is cancelled, lets in-flight requests finish (bounded), then
    /// flushes the producer so nothing acknowledged to the client is left in memory.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        tracing::info!(addr = %self.local_addr(), topic = %self.log.topic(), "write point listening");
        http::serve(self.listener, self.router, shutdown, self.grace).await?;
        kafka::flush(self.log.producer(), self.grace);
        tracing::info!("write point stopped");
        Ok(())
    }
}
