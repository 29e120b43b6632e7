//! Building the read point (bind first) and running it until shutdown.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, middleware};
use owp_platform::{
    db::DatabaseSettings,
    http::{self, Health, HttpMetrics, NotReady, ReadyCheck},
    shutdown::ShutdownSettings,
};
use owp_readstore::{ReadStore, ReadStoreSettings};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{Access, CursorKey, Lookups, Result, Waiters, openapi, routes, settings::Settings};

#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    pool: sqlx::PgPool,
    waiters: Waiters,
    /// Stopped when the application stops (the look-up worker).
    stop: CancellationToken,
    grace: Duration,
}

impl Application {
    pub async fn build(
        database: &DatabaseSettings,
        read_store: &ReadStoreSettings,
        shutdown: &ShutdownSettings,
        settings: Settings,
        access: Access,
    ) -> Result<Self> {
        database.create_database_if_missing().await?;
        let pool = database.pool("owp_read", 16).await?;
        let store = Arc::new(read_store.open(pool.clone())?);
        let mut registry = prometheus_client::registry::Registry::default();
        let http_metrics = HttpMetrics::register(&mut registry);
        let ready = {
            let store = store.clone();
            ReadyCheck::new(move || {
                let store = store.clone();
                async move { store.ready().await.map_err(NotReady::read_store) }
            })
        };
        let waiters = Waiters::default();
        let stop = CancellationToken::new();
        let lookups = Lookups::start(store.clone(), &mut registry, stop.clone());
        let listener = http::bind(settings.addr).await?;
        // GETs only: no body worth the name; and a request may wait for an outcome.
        let defaults = http::HttpLimits::from_env();
        let limits = http::HttpLimits {
            max_body_bytes: 16 * 1024,
            request_timeout: defaults.request_timeout + settings.max_wait,
            ..defaults
        };
        let cursors =
            settings.cursor_key.clone().unwrap_or_else(|| CursorKey::derived_from(&database.database_url));
        let state = routes::AppState {
            store,
            lookups,
            waiters: waiters.clone(),
            settings,
            access,
            pool: pool.clone(),
            cursors,
        };
        let router = limits
            .apply(routes::router(state))
            .merge(Health::new(ready, Arc::new(registry)).routes())
            .merge(http::openapi::routes(&openapi::document()))
            .fallback(http::not_found)
            .method_not_allowed_fallback(http::method_not_allowed)
            .layer(middleware::from_fn_with_state(http_metrics, http::track_requests));
        Ok(Self { listener, router, pool, waiters, stop, grace: shutdown.grace })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        tracing::info!(addr = %self.local_addr(), "read point listening");
        let listen = tokio::spawn(self.waiters.clone().listen(self.pool.clone(), shutdown.clone()));
        let served = http::serve(self.listener, self.router, shutdown, self.grace).await;
        listen.abort();
        self.stop.cancel();
        served?;
        Ok(())
    }
}
