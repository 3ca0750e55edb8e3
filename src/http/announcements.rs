//! `GET /api/v1/halls/{hall}/announcements?ticket=A023&window=5`: the
//! call's announcement as WAV, for the hall display page to play (it
//! queues them and plays one at a time, in call order).

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AppState;
use super::error::{ApiError, ErrorDoc};
use super::extract::{HallPath, hall_config, ticket_number, window_no};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/halls/{hall}/announcements", get(announcement))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AnnouncementQuery {
    /// The ticket called, as A023.
    pub ticket: String,
    /// The window it was called to.
    pub window: String,
    /// A pass (`POST /api/v1/halls/{hall}/passes`), for an `<audio>`
    /// element that cannot send headers.
    #[serde(default)]
    pub pass: Option<String>,
    /// Refused: a sign-in token does not go in an address.
    #[serde(default)]
    #[param(ignore)]
    pub token: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/halls/{hall}/announcements", tag = "halls",
    params(("hall" = String, Path, description = "The hall's id"), AnnouncementQuery), security(("bearer" = [])),
    responses((status = 200, content_type = "audio/wav", description = "16-bit mono WAV at 22,050 Hz"),
        (status = 400, body = ErrorDoc), (status = 401, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
pub async fn announcement(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    q: Result<Query<AnnouncementQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("bad_query", e.body_text()))?;
    if q.token.is_some() {
        return Err(super::extract::token_in_address());
    }
    state.principal(&headers, q.pass.as_deref(), hall)?;
    let ticket = ticket_number(&q.ticket)?;
    let window = window_no(&state, hall, &q.window)?;
    let voice = hall_config(&state, hall)?.voice.clone();
    let announcer = state.announcer.clone();
    let wav = tokio::task::spawn_blocking(move || announcer.wav(&voice, ticket, window))
        .await
        .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal", e))?;
    Ok((
        [
            (header::CONTENT_TYPE, "audio/wav"),
            // The same call always sounds the same (until the config changes).
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        wav,
    )
        .into_response())
}
