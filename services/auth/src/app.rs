//! Building auth (bind first) and running it until shutdown.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, middleware};
use owp_platform::{
    db::{self, DatabaseSettings},
    http::{self, Health, HttpMetrics, NotReady, ReadyCheck},
    kafka::{self, KafkaSettings, ProducerTuning},
    shutdown::ShutdownSettings,
    topics::Topics,
};
use owp_projection::accounts::Accounts;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{AUTH_SCHEMA, Error, MIGRATOR, Settings, password::Passwords, routes, throttle::Throttle};

#[allow(missing_debug_implementations)] // the producer has no Debug
pub struct Application {
    listener: TcpListener,
    router: Router,
    producer: rdkafka::producer::FutureProducer,
    throttle: Throttle,
    grace: Duration,
}

/// Brings auth's own schema up to date, as the robots do theirs: several processes may start at
/// once, so a session lock makes them take turns (CREATE SCHEMA IF NOT EXISTS is not safe
/// against a concurrent twin). Returns a pool on that schema.
pub async fn prepare_database(database: &DatabaseSettings) -> Result<PgPool, Error> {
    let pool = database.pool(AUTH_SCHEMA, 8).await?;
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock(hashtext('owp_auth.migrate'))").execute(&mut *conn).await?;
    let migrated = async {
        sqlx::query(&db::create_schema_if_missing(AUTH_SCHEMA)).execute(&mut *conn).await?;
        MIGRATOR.run(&mut *conn).await?;
        Ok::<_, Error>(())
    }
    .await;
    sqlx::query("SELECT pg_advisory_unlock(hashtext('owp_auth.migrate'))").execute(&mut *conn).await?;
    migrated?;
    drop(conn);
    Ok(pool)
}

/// How often counters that hold nothing back any more are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(60);

impl Application {
    /// `schema` is where the projector's tables are (`owp` unless a test says otherwise).
    pub async fn build(
        kafka_settings: &KafkaSettings,
        topics: &Topics,
        database: &DatabaseSettings,
        schema: &str,
        shutdown: &ShutdownSettings,
        settings: Settings,
    ) -> Result<Self, Error> {
        let accounts = Accounts::new(database.pool(schema, 8).await?);
        let own_pool = prepare_database(database).await?;
        let throttle = Throttle::new(own_pool.clone(), &settings);
        let concurrency = usize::try_from(settings.password_hashing_concurrency).unwrap_or(1);
        let passwords = Passwords::new(concurrency, settings.password_hashing_wait).await?;
        let producer = kafka::producer(kafka_settings, "owp-auth", &ProducerTuning::default())?;
        let mut registry = prometheus_client::registry::Registry::default();
        let http_metrics = HttpMetrics::register(&mut registry);
        let ready = {
            let (pool, own, producer, topic) =
                (accounts.clone(), own_pool.clone(), producer.clone(), topics.events_topic.clone());
            ReadyCheck::new(move || {
                let (pool, own, producer, topic) =
                    (pool.clone(), own.clone(), producer.clone(), topic.clone());
                async move {
                    pool.ready().await.map_err(NotReady::database)?;
                    sqlx::query("SELECT 1 FROM login_pair_failures LIMIT 1")
                        .execute(&own)
                        .await
                        .map_err(NotReady::database)?;
                    kafka::topic_ready(&producer, &topic, Duration::from_secs(2)).await
                }
            })
        };
        let listener = http::bind(settings.addr).await?;
        let state = routes::AppState {
            accounts,
            producer: producer.clone(),
            events_topic: topics.events_topic.clone(),
            settings,
            passwords,
            throttle: throttle.clone(),
        };
        // Credentials are small; health and metrics stay outside the bounds, so an overloaded
        // instance still answers its load balancer and its scraper.
        let limits = http::HttpLimits { max_body_bytes: 64 * 1024, ..http::HttpLimits::from_env() };
        let router = limits
            .apply(routes::router(state))
            .merge(Health::new(ready, Arc::new(registry)).routes())
            .merge(http::openapi::routes(&crate::openapi::document()))
            .fallback(http::not_found)
            .method_not_allowed_fallback(http::method_not_allowed)
            .layer(middleware::from_fn_with_state(http_metrics, http::track_requests));
        Ok(Self { listener, router, producer, throttle, grace: shutdown.grace })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        tracing::info!(addr = %self.local_addr(), "auth listening");
        let purging = tokio::spawn(purge(self.throttle, shutdown.clone()));
        http::serve(self.listener, self.router, shutdown, self.grace).await?;
        purging.abort();
        kafka::flush(&self.producer, self.grace);
        Ok(())
    }
}

async fn purge(throttle: Throttle, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(PURGE_EVERY);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        match throttle.purge().await {
            Ok(0) => {}
            Ok(deleted) => tracing::debug!(deleted, "purged spent login counters"),
            Err(err) => tracing::warn!(error = %err, "cannot purge login counters"),
        }
    }
}
