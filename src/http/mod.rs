//! HTTP routes. One sub-router per resource; handlers lock a hall, run the
//! engine and answer, never awaiting while a hall is locked.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::shards::Halls;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub halls: Halls,
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    Router::new().route("/healthz", get(healthz)).with_state(state)
}

/// Liveness: the process answers and its halls are loaded.
async fn healthz(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "status": "ok", "halls": state.halls.ids().map(|h| h.to_string()).collect::<Vec<_>>() }))
}
