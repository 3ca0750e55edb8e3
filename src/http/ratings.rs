//! `GET /api/v1/halls/{hall}/ratings`: today's 好差评, for the supervisor's
//! board, so its list of bad ratings (with their follow-ups) is the
//! server's, whatever browser it is opened in.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorDoc};
use super::extract::{HallPath, locked};
use crate::config::Role;
use crate::wire::view::Ticket;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/halls/{hall}/ratings", get(list))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RatingsQuery {
    /// Only 不满意 and 非常不满意.
    #[serde(default)]
    pub bad: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RatedTickets {
    /// Today's rated tickets, the latest rating first, each with its
    /// rating and follow-ups.
    pub tickets: Vec<Ticket>,
}

/// Today's rated tickets (`?bad=true`: the bad ones). Supervisors.
#[utoipa::path(get, path = "/api/v1/halls/{hall}/ratings", tag = "supervision",
    params(("hall" = String, Path, description = "The hall's id"), RatingsQuery), security(("bearer" = [])),
    responses((status = 200, body = RatedTickets), (status = 400, body = ErrorDoc), (status = 401, body = ErrorDoc),
        (status = 403, body = ErrorDoc)))]
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    q: Result<Query<RatingsQuery>, QueryRejection>,
) -> Result<Json<RatedTickets>, ApiError> {
    state.require(&headers, hall, &[Role::Supervisor])?;
    let Query(q) = q.map_err(|e| ApiError::bad_request("bad_query", e.body_text()))?;
    let now = state.service.now();
    let mut rated: Vec<_> = locked(&state, hall)?
        .tickets(now)
        .filter(|t| t.rating.as_ref().is_some_and(|r| !q.bad || r.level.is_bad()))
        .collect();
    rated.sort_by_key(|t| std::cmp::Reverse(t.rating.as_ref().map(|r| r.at)));
    Ok(Json(RatedTickets {
        tickets: rated.into_iter().map(Into::into).collect(),
    }))
}
