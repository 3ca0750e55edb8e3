//! `/api/v1/halls`: the halls, a hall's figures, queues and windows, and
//! the administrator's generic command endpoint.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Body, hall_id, window_no};
use crate::config::Role;
use crate::engine::{Command, Event, WindowView, ZoneId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/halls", get(list))
        .route("/api/v1/halls/{hall}", get(hall_view))
        .route("/api/v1/halls/{hall}/zones", get(zones))
        .route("/api/v1/halls/{hall}/zones/{zone}", get(zone))
        .route("/api/v1/halls/{hall}/windows", get(windows))
        .route("/api/v1/halls/{hall}/windows/{window}", get(window))
        .route("/api/v1/halls/{hall}/commands", post(command))
}

/// Every role of the hall may read its state; displays included.
const READERS: &[crate::config::Role] = &[Role::Supervisor, Role::Guide, Role::Window, Role::Display];

/// The halls this server runs, with their zones and services: what a guide
/// desk or a phone needs to offer a choice. Public.
async fn list(State(state): State<AppState>) -> Json<Value> {
    let halls: Vec<Value> = state
        .service
        .halls
        .ids()
        .filter_map(|id| state.service.halls.config(id).ok())
        .map(|c| {
            let zones: Vec<Value> = c
                .zones
                .iter()
                .map(|z| {
                    let services: Vec<Value> = z
                        .services
                        .iter()
                        .map(|s| json!({"id": s.id, "name": s.name, "name_en": s.name_en}))
                        .collect();
                    json!({"id": z.id, "name": z.name, "name_en": z.name_en, "prefix": z.prefix, "services": services})
                })
                .collect();
            let categories: Vec<Value> = c
                .categories
                .iter()
                .map(|k| json!({"id": k.id, "name": k.name, "name_en": k.name_en}))
                .collect();
            json!({"id": c.id, "name": c.name, "name_en": c.name_en, "zones": zones, "categories": categories})
        })
        .collect();
    Json(json!({ "halls": halls }))
}

/// Queues, windows and zone figures of one hall.
async fn hall_view(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(hall): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = hall_id(&state, &hall)?;
    state.require(&headers, id, READERS)?;
    let now = state.service.now();
    let guard = state
        .service
        .halls
        .lock(id)
        .map_err(|_| ApiError::not_found("unknown_hall", "no such hall"))?;
    Ok(Json(json!({
        "hall": id,
        "seq": guard.seq(),
        "business_day": guard.business_day(),
        "zones": guard.zone_summaries(now),
        "queues": guard.queues(),
        "windows": guard.windows(),
    })))
}

async fn zones(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(hall): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = hall_id(&state, &hall)?;
    state.require(&headers, id, READERS)?;
    let now = state.service.now();
    let guard = state
        .service
        .halls
        .lock(id)
        .map_err(|_| ApiError::not_found("unknown_hall", "no such hall"))?;
    Ok(Json(json!({ "zones": guard.zone_summaries(now) })))
}

/// One zone's figures and waiting lists.
async fn zone(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((hall, zone)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let id = hall_id(&state, &hall)?;
    state.require(&headers, id, READERS)?;
    let cfg = state
        .service
        .halls
        .config(id)
        .map_err(|_| ApiError::not_found("unknown_hall", "no such hall"))?;
    let z = ZoneId::new(&zone)
        .ok()
        .and_then(|z| cfg.zone_index(z))
        .ok_or_else(|| ApiError::not_found("unknown_zone", format!("no zone {zone:?} in hall {id}")))?;
    let now = state.service.now();
    let guard = state
        .service
        .halls
        .lock(id)
        .map_err(|_| ApiError::not_found("unknown_hall", "no such hall"))?;
    Ok(Json(json!({
        "summary": guard.zone_summaries(now).swap_remove(z),
        "queue": guard.queues().swap_remove(z),
    })))
}

async fn windows(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(hall): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = hall_id(&state, &hall)?;
    state.require(&headers, id, READERS)?;
    let guard = state
        .service
        .halls
        .lock(id)
        .map_err(|_| ApiError::not_found("unknown_hall", "no such hall"))?;
    Ok(Json(json!({ "windows": guard.windows() })))
}

async fn window(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((hall, window)): Path<(String, String)>,
) -> Result<Json<WindowView>, ApiError> {
    let id = hall_id(&state, &hall)?;
    state.require(&headers, id, READERS)?;
    let n = window_no(&state, id, &window)?;
    let cfg = state
        .service
        .halls
        .config(id)
        .map_err(|_| ApiError::not_found("unknown_hall", "no such hall"))?;
    let w = cfg
        .window_index(n)
        .ok_or_else(|| ApiError::not_found("unknown_window", "no such window"))?;
    let guard = state
        .service
        .halls
        .lock(id)
        .map_err(|_| ApiError::not_found("unknown_hall", "no such hall"))?;
    Ok(Json(guard.windows().swap_remove(w)))
}

#[derive(Serialize)]
struct CommandReply {
    events: Vec<Event>,
}

/// Runs any engine command (administrators: scripts and repairs). The
/// per-resource routes are what pages use.
async fn command(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(hall): Path<String>,
    Body(cmd): Body<Command>,
) -> Result<Json<CommandReply>, ApiError> {
    let id = hall_id(&state, &hall)?;
    state.require(&headers, id, &[Role::Admin])?;
    let events = state.service.execute(id, cmd).await?;
    Ok(Json(CommandReply { events }))
}
