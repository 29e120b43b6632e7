//! Serving a router until shutdown: stop accepting, let in-flight requests finish, but never wait
//! longer than the grace period.

use std::{net::SocketAddr, time::Duration};

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{Error, Result};

/// Binds before serving, so a caller (or a test using port 0) knows the address up front.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|source| Error::Bind { addr, source })
}

pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    grace: Duration,
) -> Result<()> {
    // With each connection's peer address, for services that key anything by client (auth's login
    // throttling reads it as `ConnectInfo<SocketAddr>`).
    let server = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result.map_err(Error::Serve),
        () = deadline => {
            tracing::warn!(grace_seconds = grace.as_secs_f64(), "in-flight requests did not finish within the grace period");
            Ok(())
        }
    }
}
