//! The write point's routes; one file per route, state shared through [`AppState`].

pub(crate) mod batch;
pub(crate) mod documents;

use std::sync::Arc;

use axum::{Router, routing::post};
use owp_protocol::Registry;

use crate::{CommandLog, Settings, metrics::Metrics};

/// What every handler needs, cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    pub log: CommandLog,
    pub settings: Arc<Settings>,
    pub metrics: Metrics,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/documents", post(documents::submit))
        .route("/v1/documents/batch", post(batch::submit))
        .with_state(state)
}
