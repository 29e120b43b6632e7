//! The translator: SQL entries from `translator.toml` turned into denormalized documents in the
//! read store, kept up to date from the projections' outbox, rebuilt in full beside the live
//! version when the configuration changes, the projection is swapped by `owp replay`, or an
//! operator asks.
//!
//! - [`capture`]: change capture of the projection (the outbox and its triggers);
//! - [`config`]: the file's shape; [`plan`]: each entry checked against PostgreSQL;
//! - [`documents`]: documents built from the current state for a set of keys;
//! - [`engine`]: the loop (outbox batches, hot reload, rebuild requests);
//! - [`rebuild`]: one collection rebuilt into a new version;
//! - [`operator`]: what `owp translator …` does.

pub mod capture;
pub mod documents;
mod engine;
mod error;
mod metrics;
pub mod operator;
pub mod plan;
pub mod rebuild;
mod settings;
pub mod state;
mod status;

use std::{sync::Arc, time::Duration};

use axum::{Json, Router, extract::State, routing::get};
use owp_platform::{
    db::{DatabaseSettings, PROJECTION_SCHEMA},
    http::{self, Health, NotReady, ReadyCheck},
    shutdown::ShutdownSettings,
};
use owp_readstore::{AnyStore, ReadStore, ReadStoreSettings};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use engine::Engine;
pub use error::{Error, Result};
/// `translator.toml`, shared with the read point (which serves what it defines).
pub use owp_collections::config;
pub use settings::Settings;
pub use status::{CollectionStatus, Role, SharedStatus, Status};

/// Session settings of every translator connection: the projection schema first, and UTC, so
/// that timestamps in documents do not depend on the server's time zone.
pub async fn pool(database: &DatabaseSettings, max_connections: u32) -> anyhow::Result<sqlx::PgPool> {
    Ok(database.pool_with(PROJECTION_SCHEMA, max_connections, &[("TimeZone", "UTC")]).await?)
}

/// A translator ready to run: its status server is bound, its configuration not yet loaded
/// (that happens once it is the active instance).
pub struct Translator {
    engine: Engine,
    listener: TcpListener,
    router: Router,
    grace: Duration,
}

impl Translator {
    /// Refuses to start, naming what is missing, until the projection schema is migrated (the
    /// robots migrate it; `owp up` starts them first) and change capture is (see [`capture`]).
    pub async fn build(
        database: &DatabaseSettings,
        read_store: &ReadStoreSettings,
        shutdown: &ShutdownSettings,
        settings: Settings,
    ) -> anyhow::Result<Self> {
        let pool = pool(database, 8).await?;
        capture::check(database, &pool).await?;
        let store = Arc::new(read_store.open(pool.clone())?);
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = metrics::Metrics::register(&mut registry);
        let status = SharedStatus::default();
        let ready = {
            let (pool, store) = (pool.clone(), store.clone());
            ReadyCheck::new(move || {
                let (pool, store) = (pool.clone(), store.clone());
                async move {
                    sqlx::query("SELECT 1").execute(&pool).await.map_err(NotReady::database)?;
                    store.ready().await.map_err(NotReady::read_store)
                }
            })
        };
        let router = Health::new(ready, Arc::new(registry))
            .routes()
            .merge(Router::new().route("/status", get(status_route)).with_state(status.clone()))
            .fallback(http::not_found);
        let listener = http::bind(settings.addr).await?;
        let engine = Engine::new(pool, store, settings, status, metrics);
        Ok(Self { engine, listener, router, grace: shutdown.grace })
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| ([127, 0, 0, 1], 0).into())
    }

    pub fn status(&self) -> SharedStatus {
        self.engine.status.clone()
    }

    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let stop = shutdown.child_token();
        let server_stop = stop.clone();
        let server = tokio::spawn(http::serve(self.listener, self.router, server_stop, self.grace));
        let result = self.engine.run(stop.clone()).await;
        stop.cancel();
        server.await??;
        Ok(result?)
    }
}

async fn status_route(State(status): State<SharedStatus>) -> Json<Status> {
    Json(status.snapshot())
}

/// For callers that hold a store already (benchmarks, tests).
pub fn store_kind(store: &AnyStore) -> &'static str {
    store.kind()
}

impl std::fmt::Debug for Translator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Translator").field("addr", &self.local_addr()).finish_non_exhaustive()
    }
}
