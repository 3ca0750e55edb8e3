//! HTTP routes. One sub-router per resource; handlers lock a hall, run the
//! engine and answer, never awaiting while a hall is locked.

mod error;
mod halls;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

pub use error::ApiError;

use crate::service::Service;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub service: Service,
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(halls::router())
        .fallback(not_found)
        .with_state(state)
}

/// Liveness: the process answers and its halls are loaded.
async fn healthz(State(state): State<AppState>) -> Json<Value> {
    let halls: Vec<String> = state.service.halls.ids().map(|h| h.to_string()).collect();
    Json(json!({ "status": "ok", "halls": halls }))
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route")
}
