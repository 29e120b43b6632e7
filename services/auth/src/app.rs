//! Building auth (bind first) and running it until shutdown.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, middleware};
use owp_platform::{
    db::DatabaseSettings,
    http::{self, Health, HttpMetrics, ReadyCheck},
    kafka::{self, KafkaSettings, ProducerTuning},
    topics::Topics,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{Settings, routes};

#[allow(missing_debug_implementations)] // the producer has no Debug
pub struct Application {
    listener: TcpListener,
    router: Router,
    producer: rdkafka::producer::FutureProducer,
}

impl Application {
    /// `schema` is where the projector's tables are (`owp` unless a test says otherwise).
    pub async fn build(
        kafka_settings: &KafkaSettings,
        topics: &Topics,
        database: &DatabaseSettings,
        schema: &str,
        settings: Settings,
    ) -> anyhow::Result<Self> {
        let pool = database.pool(schema, 8).await?;
        let producer = kafka::producer(kafka_settings, "owp-auth", &ProducerTuning::default())?;
        let mut registry = prometheus_client::registry::Registry::default();
        let http_metrics = HttpMetrics::register(&mut registry);
        let ready = {
            let (pool, producer, topic) = (pool.clone(), producer.clone(), topics.events_topic.clone());
            ReadyCheck::new(move || {
                let (pool, producer, topic) = (pool.clone(), producer.clone(), topic.clone());
                async move {
                    sqlx::query("SELECT 1 FROM users LIMIT 1")
                        .execute(&pool)
                        .await
                        .map_err(|e| format!("PostgreSQL: {e}"))?;
                    match kafka::probe_topic(&producer, &topic, Duration::from_secs(2)).await {
                        Ok(0) => Err(format!("topic {topic} does not exist")),
                        Ok(_) => Ok(()),
                        Err(err) => Err(err.to_string()),
                    }
                }
            })
        };
        let listener = http::bind(settings.addr).await?;
        let state = routes::AppState {
            pool,
            producer: producer.clone(),
            events_topic: topics.events_topic.clone(),
            settings,
        };
        let router = routes::router(state)
            .merge(Health::new(ready, Arc::new(registry)).routes())
            .merge(http::openapi::routes(&crate::openapi::document()))
            .fallback(http::not_found)
            .method_not_allowed_fallback(http::method_not_allowed)
            .layer(middleware::from_fn_with_state(http_metrics, http::track_requests));
        Ok(Self { listener, router, producer })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr(), "auth listening");
        http::serve(self.listener, self.router, shutdown, Duration::from_secs(10)).await?;
        kafka::flush(&self.producer, Duration::from_secs(5));
        Ok(())
    }
}
