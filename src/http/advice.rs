//! `GET /api/v1/halls/{hall}/advice`: 潮汐窗口, which window should take
//! a zone whose wait passes the hall's target (engine `advice`). Following
//! one is `POST …/windows/{n}/serve-first`.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorDoc};
use super::extract::{HallPath, locked};
use crate::config::Role;
use crate::engine::{self, WindowNo, ZoneId};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/halls/{hall}/advice", get(advice))
}

/// What the supervisor is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdviceAction {
    /// Let an open window take the zone first for the rest of the day.
    ServeFirst,
    /// Send staff to a closed window that serves the zone, taking it first.
    OpenAndServeFirst,
    /// The zone is short again: the window goes back to its own order.
    Restore,
}

/// One proposal, with the forecast waits for a ticket taken now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Advice {
    pub action: AdviceAction,
    #[schema(value_type = crate::wire::schema::Id)]
    pub zone: ZoneId,
    pub window: WindowNo,
    /// The zone's wait now and after the change.
    pub wait_before_ms: i64,
    pub wait_after_ms: i64,
    /// The longest wait of the other zones after the change.
    pub others_after_ms: i64,
}

impl From<engine::Advice> for Advice {
    fn from(a: engine::Advice) -> Advice {
        Advice {
            action: match a.action {
                engine::AdviceAction::ServeFirst => AdviceAction::ServeFirst,
                engine::AdviceAction::OpenAndServeFirst => AdviceAction::OpenAndServeFirst,
                engine::AdviceAction::Restore => AdviceAction::Restore,
            },
            zone: a.zone,
            window: a.window,
            wait_before_ms: a.wait_before_ms,
            wait_after_ms: a.wait_after_ms,
            others_after_ms: a.others_after_ms,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdviceList {
    /// The hall's target (`policy.wait_target_minutes`), in ms.
    pub target_ms: i64,
    /// Longest waits first.
    pub advice: Vec<Advice>,
}

/// 潮汐窗口 advice for now: each candidate tried on a copy of the hall by
/// the forecast the pages show.
#[utoipa::path(get, path = "/api/v1/halls/{hall}/advice", tag = "supervision",
    params(("hall" = String, Path, description = "The hall's id")), security(("bearer" = [])),
    responses((status = 200, body = AdviceList), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc),
        (status = 404, body = ErrorDoc)))]
pub(super) async fn advice(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(id): HallPath,
) -> Result<Json<AdviceList>, ApiError> {
    state.require(&headers, id, &[Role::Supervisor])?;
    let now = state.service.now();
    // Played forward outside the hall's lock: a copy, on a blocking thread.
    let copy = locked(&state, id)?.copy_for_forecast();
    let target_ms = copy.spec().policy.wait_target_ms;
    let advice = tokio::task::spawn_blocking(move || copy.advice(now))
        .await
        .map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("advice: {e}"),
            )
        })?;
    Ok(Json(AdviceList {
        target_ms,
        advice: advice.into_iter().map(Advice::from).collect(),
    }))
}
