//! `GET /api/v1/halls/{hall}/announcements?ticket=A023&window=5`: the
//! call's announcement as WAV, for the hall display page to play (it
//! queues them and plays one at a time, in call order); `…/announcements/text`:
//! the same as text, for a display that speaks with its own voice.

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
    Router::new()
        .route("/api/v1/halls/{hall}/announcements", get(announcement))
        .route("/api/v1/halls/{hall}/announcements/text", get(announcement_text))
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

/// The call asked about, for a signed-in screen or staff member, and the
/// hall's voice.
fn the_call(
    state: &AppState,
    headers: &HeaderMap,
    hall: crate::engine::HallId,
    q: Result<Query<AnnouncementQuery>, QueryRejection>,
) -> Result<
    (
        crate::config::Voice,
        crate::engine::TicketNumber,
        crate::engine::WindowNo,
    ),
    ApiError,
> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("bad_query", e.body_text()))?;
    if q.token.is_some() {
        return Err(super::extract::token_in_address());
    }
    state.principal(headers, q.pass.as_deref(), hall)?;
    let ticket = ticket_number(&q.ticket)?;
    let window = window_no(state, hall, &q.window)?;
    Ok((hall_config(state, hall)?.voice.clone(), ticket, window))
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
    let (voice, ticket, window) = the_call(&state, &headers, hall, q)?;
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

/// One language's sentence.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SpokenPart {
    /// A BCP 47 tag a speech engine takes: `zh-CN` or `en-US`.
    pub lang: &'static str,
    /// What to say, digits written as they are read (零二三, "zero two three").
    pub text: String,
}

/// A call's announcement as text.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SpokenAnnouncement {
    /// In order, each language's sentence.
    pub parts: Vec<SpokenPart>,
    /// The whole said this many times.
    pub repeat: u32,
    /// Silence between the languages, and between repeats (ms).
    pub language_pause_ms: u32,
    pub repeat_pause_ms: u32,
}

#[utoipa::path(get, path = "/api/v1/halls/{hall}/announcements/text", tag = "halls",
    params(("hall" = String, Path, description = "The hall's id"), AnnouncementQuery), security(("bearer" = [])),
    responses((status = 200, body = SpokenAnnouncement, description = "The announcement's sentences, for a device's own voice"),
        (status = 400, body = ErrorDoc), (status = 401, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
pub async fn announcement_text(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    q: Result<Query<AnnouncementQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (voice, ticket, window) = the_call(&state, &headers, hall, q)?;
    let parts = state
        .announcer
        .text(&voice, ticket, window)
        .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal", e))?;
    let body = SpokenAnnouncement {
        parts: parts
            .into_iter()
            .map(|(lang, text)| SpokenPart {
                lang: match lang {
                    crate::config::Lang::Zh => "zh-CN",
                    crate::config::Lang::En => "en-US",
                },
                text,
            })
            .collect(),
        repeat: voice.repeat,
        language_pause_ms: voice.language_pause_ms,
        repeat_pause_ms: crate::audio::REPEAT_PAUSE_MS,
    };
    Ok(([(header::CACHE_CONTROL, "private, max-age=3600")], axum::Json(body)).into_response())
}
