//! `/api/v1/halls`: the halls, a hall's figures, queues and windows, and
//! the administrator's generic command endpoint.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use super::AppState;
use super::error::{ApiError, ErrorDoc};
use super::extract::{Body, hall_id, locked, window_no};
use crate::config::{HallConfig, Role};
use crate::engine::{
    Alert, AlertKind, AlertTarget, Code, Command, Event, HallId, WindowNo, WindowView, ZoneId, ZoneQueue, ZoneSummary,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/halls", get(list))
        .route("/api/v1/halls/{hall}", get(hall_view))
        .route("/api/v1/halls/{hall}/zones", get(zones))
        .route("/api/v1/halls/{hall}/zones/{zone}", get(zone))
        .route("/api/v1/halls/{hall}/windows", get(windows))
        .route("/api/v1/halls/{hall}/windows/{window}", get(window))
        .route("/api/v1/halls/{hall}/commands", post(command))
        .route("/api/v1/halls/{hall}/alerts/acknowledge", post(acknowledge))
}

/// Every role of the hall may read its state; displays included.
const READERS: &[Role] = &[Role::Supervisor, Role::Guide, Role::Window, Role::Display];

#[derive(Serialize, utoipa::ToSchema)]
pub struct HallList {
    pub halls: Vec<HallEntry>,
}

/// A hall and what it offers: what a guide desk or a phone needs to offer
/// a choice.
#[derive(Serialize, utoipa::ToSchema)]
pub struct HallEntry {
    pub id: HallId,
    pub name: String,
    pub name_en: String,
    pub zones: Vec<ZoneEntry>,
    /// The priority groups (绿色通道) a guide may mark.
    pub categories: Vec<Named>,
    pub windows: Vec<WindowEntry>,
    /// The hall display page plays each call's announcement.
    pub announce_in_browser: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ZoneEntry {
    pub id: ZoneId,
    pub name: String,
    pub name_en: String,
    pub prefix: String,
    pub services: Vec<Named>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WindowEntry {
    pub number: WindowNo,
    pub name: String,
    pub name_en: String,
    /// The zones it calls from, in order of preference.
    pub zones: Vec<ZoneId>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Named {
    pub id: Code,
    pub name: String,
    pub name_en: String,
}

fn entry(c: &HallConfig) -> HallEntry {
    HallEntry {
        id: c.spec.id,
        name: c.spec.name.clone(),
        name_en: c.spec.name_en.clone(),
        zones: c
            .spec
            .zones
            .iter()
            .map(|z| ZoneEntry {
                id: z.id,
                name: z.name.clone(),
                name_en: z.name_en.clone(),
                prefix: z.prefix.clone(),
                services: z
                    .services
                    .iter()
                    .map(|s| Named {
                        id: s.id,
                        name: s.name.clone(),
                        name_en: s.name_en.clone(),
                    })
                    .collect(),
            })
            .collect(),
        categories: c
            .spec
            .categories
            .iter()
            .map(|k| Named {
                id: k.id,
                name: k.name.clone(),
                name_en: k.name_en.clone(),
            })
            .collect(),
        windows: c
            .spec
            .windows
            .iter()
            .map(|w| WindowEntry {
                number: w.number,
                name: w.name.clone(),
                name_en: w.name_en.clone(),
                zones: w.serves.iter().map(|s| c.spec.zones[s.zone].id).collect(),
            })
            .collect(),
        announce_in_browser: c.voice.play_browser,
    }
}

/// The halls this server runs. Public.
#[utoipa::path(get, path = "/api/v1/halls", tag = "public", responses((status = 200, body = HallList)))]
async fn list(State(state): State<AppState>) -> Json<HallList> {
    let halls = state
        .service
        .halls
        .ids()
        .filter_map(|id| state.service.halls.config(id).ok())
        .map(|c| entry(c))
        .collect();
    Json(HallList { halls })
}

/// A hall's whole state as it stands (including operations still being
/// made durable).
#[derive(Serialize, utoipa::ToSchema)]
pub struct HallState {
    pub hall: HallId,
    pub seq: u64,
    #[schema(value_type = Option<String>, format = Date)]
    pub business_day: Option<jiff::civil::Date>,
    pub zones: Vec<ZoneSummary>,
    pub queues: Vec<ZoneQueue>,
    pub windows: Vec<WindowView>,
    /// 超时预警 that are up.
    pub alerts: Vec<Alert>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ZoneList {
    pub zones: Vec<ZoneSummary>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ZoneState {
    pub summary: ZoneSummary,
    pub queue: ZoneQueue,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WindowList {
    pub windows: Vec<WindowView>,
}

#[utoipa::path(get, path = "/api/v1/halls/{hall}", tag = "halls",
    params(("hall" = String, Path, description = "The hall's id")), security(("bearer" = [])),
    responses((status = 200, body = HallState), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
async fn hall_view(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(hall): Path<String>,
) -> Result<Json<HallState>, ApiError> {
    let id = hall_id(&state, &hall)?;
    state.require(&headers, id, READERS)?;
    let now = state.service.now();
    let guard = locked(&state, id)?;
    Ok(Json(HallState {
        hall: id,
        seq: guard.seq(),
        business_day: guard.business_day(),
        zones: guard.zone_summaries(now),
        queues: guard.queues(),
        windows: guard.windows(),
        alerts: guard.alerts().to_vec(),
    }))
}

#[utoipa::path(get, path = "/api/v1/halls/{hall}/zones", tag = "halls",
    params(("hall" = String, Path, description = "The hall's id")), security(("bearer" = [])),
    responses((status = 200, body = ZoneList), (status = 401, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
async fn zones(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(hall): Path<String>,
) -> Result<Json<ZoneList>, ApiError> {
    let id = hall_id(&state, &hall)?;
    state.require(&headers, id, READERS)?;
    let now = state.service.now();
    let guard = locked(&state, id)?;
    Ok(Json(ZoneList {
        zones: guard.zone_summaries(now),
    }))
}

/// One zone's figures and waiting lists.
#[utoipa::path(get, path = "/api/v1/halls/{hall}/zones/{zone}", tag = "halls",
    params(("hall" = String, Path, description = "The hall's id"), ("zone" = String, Path, description = "The zone's id")),
    security(("bearer" = [])),
    responses((status = 200, body = ZoneState), (status = 401, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
async fn zone(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((hall, zone)): Path<(String, String)>,
) -> Result<Json<ZoneState>, ApiError> {
    let id = hall_id(&state, &hall)?;
    state.require(&headers, id, READERS)?;
    let now = state.service.now();
    let guard = locked(&state, id)?;
    let z = ZoneId::new(&zone)
        .ok()
        .and_then(|z| guard.spec().zone_index(z))
        .ok_or_else(|| ApiError::not_found("unknown_zone", format!("no zone {zone:?} in hall {id}")))?;
    Ok(Json(ZoneState {
        summary: guard.zone_summaries(now).swap_remove(z),
        queue: guard.queues().swap_remove(z),
    }))
}

#[utoipa::path(get, path = "/api/v1/halls/{hall}/windows", tag = "halls",
    params(("hall" = String, Path, description = "The hall's id")), security(("bearer" = [])),
    responses((status = 200, body = WindowList), (status = 401, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
async fn windows(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(hall): Path<String>,
) -> Result<Json<WindowList>, ApiError> {
    let id = hall_id(&state, &hall)?;
    state.require(&headers, id, READERS)?;
    let guard = locked(&state, id)?;
    Ok(Json(WindowList {
        windows: guard.windows(),
    }))
}

#[utoipa::path(get, path = "/api/v1/halls/{hall}/windows/{window}", tag = "windows",
    params(("hall" = String, Path, description = "The hall's id"), ("window" = u16, Path, description = "The window's number")),
    security(("bearer" = [])),
    responses((status = 200, body = WindowView), (status = 401, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
async fn window(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((hall, window)): Path<(String, String)>,
) -> Result<Json<WindowView>, ApiError> {
    let id = hall_id(&state, &hall)?;
    state.require(&headers, id, READERS)?;
    let n = window_no(&state, id, &window)?;
    let guard = locked(&state, id)?;
    let w = guard
        .spec()
        .window_index(n)
        .ok_or_else(|| ApiError::not_found("unknown_window", "no such window"))?;
    Ok(Json(guard.windows().swap_remove(w)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CommandReply {
    pub events: Vec<Event>,
}

/// Runs any engine command (administrators: scripts and repairs). The
/// per-resource routes are what pages use.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/commands", tag = "admin",
    params(("hall" = String, Path, description = "The hall's id")), request_body = Command, security(("bearer" = [])),
    responses((status = 200, body = CommandReply, description = "Done and durable"), (status = 401, body = ErrorDoc),
        (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc), (status = 409, body = ErrorDoc),
        (status = 422, body = ErrorDoc), (status = 503, body = ErrorDoc)))]
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

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeRequest {
    pub alert: AlertKind,
    pub target: AlertTarget,
}

/// A supervisor has seen an alert; it is recorded with their name and
/// stays up until its cause is gone.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/alerts/acknowledge", tag = "supervision",
    params(("hall" = String, Path, description = "The hall's id")), request_body = AcknowledgeRequest, security(("bearer" = [])),
    responses((status = 200, body = CommandReply), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc),
        (status = 409, body = ErrorDoc, description = "No such alert is up, or it was acknowledged already")))]
async fn acknowledge(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(hall): Path<String>,
    Body(req): Body<AcknowledgeRequest>,
) -> Result<Json<CommandReply>, ApiError> {
    let id = hall_id(&state, &hall)?;
    let who = state.require(&headers, id, &[Role::Supervisor])?;
    let cmd = Command::AcknowledgeAlert {
        alert: req.alert,
        target: req.target,
        by: who.user,
    };
    let events = state.service.execute(id, cmd).await?;
    Ok(Json(CommandReply { events }))
}
