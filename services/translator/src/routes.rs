//! `GET /status`: what the translator is doing (see [`crate::Status`]); `/healthz`, `/readyz` and
//! `/metrics` are the platform's.

use axum::{Json, Router, extract::State, routing::get};

use crate::{SharedStatus, Status};

pub(crate) fn router(status: SharedStatus) -> Router {
    Router::new().route("/status", get(status_route)).with_state(status)
}

async fn status_route(State(status): State<SharedStatus>) -> Json<Status> {
    Json(status.snapshot())
}
