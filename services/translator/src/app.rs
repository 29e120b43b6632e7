//! Building the translator (its status server bound first) and running it until shutdown.

use std::{sync::Arc, time::Duration};

use axum::Router;
use owp_platform::{
    db::DatabaseSettings,
    http::{self, Health, NotReady, ReadyCheck},
    shutdown::ShutdownSettings,
};
use owp_readstore::{ReadStore, ReadStoreSettings};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{Engine, Result, Settings, SharedStatus, capture, metrics, pool, routes};

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
    ) -> Result<Self> {
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
            .merge(routes::router(status.clone()))
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

    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let stop = shutdown.child_token();
        let server_stop = stop.clone();
        let server = tokio::spawn(http::serve(self.listener, self.router, server_stop, self.grace));
        let result = self.engine.run(stop.clone()).await;
        stop.cancel();
        server.await??;
        result
    }
}

impl std::fmt::Debug for Translator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Translator").field("addr", &self.local_addr()).finish_non_exhaustive()
    }
}
