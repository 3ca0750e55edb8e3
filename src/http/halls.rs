//! `/api/v1/halls/{hall}`: a hall's state, its tickets, and the command
//! endpoint that runs any engine operation.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use crate::engine::{Command, Event, HallId, TicketNumber, TicketView};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/halls", get(list))
        .route("/api/v1/halls/{hall}", get(hall_view))
        .route("/api/v1/halls/{hall}/commands", post(command))
        .route("/api/v1/halls/{hall}/tickets/{ticket}", get(ticket))
}

fn hall_id(p: &str) -> Result<HallId, ApiError> {
    HallId::new(p).map_err(|e| ApiError::not_found("unknown_hall", format!("unknown hall {p:?}: {e}")))
}

fn lock(state: &AppState, id: HallId) -> Result<std::sync::MutexGuard<'_, crate::engine::Hall>, ApiError> {
    state
        .service
        .halls
        .lock(id)
        .map_err(|_| ApiError::not_found("unknown_hall", format!("unknown hall {id}")))
}

async fn list(State(state): State<AppState>) -> Json<Value> {
    let halls: Vec<Value> = state
        .service
        .halls
        .ids()
        .filter_map(|id| {
            state
                .service
                .halls
                .config(id)
                .ok()
                .map(|c| json!({"id": c.id, "name": c.name, "name_en": c.name_en}))
        })
        .collect();
    Json(json!({ "halls": halls }))
}

#[derive(Serialize)]
struct CommandReply {
    events: Vec<Event>,
}

/// Runs one engine command; answers with its events once they are durable.
async fn command(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<Command>, JsonRejection>,
) -> Result<Json<CommandReply>, ApiError> {
    let Path(hall) = path?;
    let Json(cmd) = body?;
    let events = state.service.execute(hall_id(&hall)?, cmd).await?;
    Ok(Json(CommandReply { events }))
}

/// Queues, windows and zone figures of one hall.
async fn hall_view(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(hall) = path?;
    let id = hall_id(&hall)?;
    let now = state.service.now();
    let guard = lock(&state, id)?;
    Ok(Json(json!({
        "hall": id,
        "seq": guard.seq(),
        "business_day": guard.business_day(),
        "zones": guard.zone_summaries(now),
        "queues": guard.queues(),
        "windows": guard.windows(),
    })))
}

async fn ticket(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<TicketView>, ApiError> {
    let Path((hall, ticket)) = path?;
    let id = hall_id(&hall)?;
    let number: TicketNumber = ticket.parse().map_err(|e: crate::engine::TicketNumberError| {
        ApiError::new(axum::http::StatusCode::BAD_REQUEST, "bad_ticket", e.to_string())
    })?;
    let now = state.service.now();
    let guard = lock(&state, id)?;
    guard
        .ticket_view(number, now)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("unknown_ticket", format!("no ticket {number} today")))
}
