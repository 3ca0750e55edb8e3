//! The window's evaluator (评价器): a tablet at the window, signed in as an
//! `evaluator` device bound to that window. It shows who serves there (亮牌
//! 服务: name, staff number and photo from the configuration) and takes
//! the citizen's 好差评 of the service just finished there, so that a
//! citizen without a phone can rate too (seed 004). One rating per ticket,
//! whichever way it comes (the engine refuses a second).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorDoc};
use super::extract::{Body, WindowPath, locked};
use super::keyed::{Keyed, respond};
use crate::config::{Role, StaffCard};
use crate::engine::{Command, TicketNumber, TicketState, WindowNo};
use crate::service::ServiceError;
use crate::wire::vocab::Rating;

/// A ticket may be rated at its window for this long after its service
/// ended: the citizen is still standing there.
pub const RATE_WITHIN_MS: i64 = 10 * 60_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/halls/{hall}/windows/{window}/card", get(card))
        .route("/api/v1/halls/{hall}/windows/{window}/rating", post(rate))
}

/// Who serves at a window, as citizens are shown it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WindowCard {
    pub window: WindowNo,
    pub name: String,
    pub name_en: String,
    pub open: bool,
    /// The account signed on at the window (empty when closed).
    pub staff: String,
    /// Its name, staff number (工号) and photo, where the configuration
    /// gives them.
    pub card: StaffCard,
    /// The ticket in hand.
    #[schema(value_type = Option<String>)]
    pub current: Option<TicketNumber>,
}

/// Who serves at the window. Any account of the hall, devices included.
#[utoipa::path(get, path = "/api/v1/halls/{hall}/windows/{window}/card", tag = "halls",
    params(("hall" = String, Path, description = "The hall's id"), ("window" = u16, Path, description = "The window's number")),
    security(("bearer" = [])),
    responses((status = 200, body = WindowCard), (status = 401, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
async fn card(
    State(state): State<AppState>,
    headers: HeaderMap,
    WindowPath { hall, window }: WindowPath,
) -> Result<Json<WindowCard>, ApiError> {
    state.principal(&headers, None, hall)?;
    let cfg = state.service.halls.config(hall)?.clone();
    let (open, staff, current) = {
        let h = locked(&state, hall)?;
        let w = cfg
            .spec
            .window_index(window)
            .ok_or_else(|| ApiError::not_found("unknown_window", format!("no window {window}")))?;
        let v = h.window_view(w);
        (v.open, v.staff.unwrap_or_default(), v.current)
    };
    let spec = cfg.spec.windows.iter().find(|w| w.number == window);
    // The account signed on there: named by its label since staff names
    // come from the configuration (by its user before that).
    let card = match cfg
        .accounts
        .iter()
        .find(|a| a.card.label(&a.user) == staff)
        .or_else(|| cfg.account(&staff))
    {
        Some(a) => a.card.clone(),
        None => StaffCard {
            name: staff.clone(),
            ..StaffCard::default()
        },
    };
    Ok(Json(WindowCard {
        window,
        name: spec.map(|w| w.name.clone()).unwrap_or_default(),
        name_en: spec.map(|w| w.name_en.clone()).unwrap_or_default(),
        open,
        staff: if open { staff } else { String::new() },
        card: if open { card } else { StaffCard::default() },
        current,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowRating {
    /// The ticket whose service just finished at this window.
    #[schema(value_type = String)]
    pub ticket: TicketNumber,
    pub level: Rating,
    /// The reasons chosen for a bad rating, and anything typed.
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WindowRated {
    #[schema(value_type = String)]
    pub ticket: TicketNumber,
    pub window: WindowNo,
    pub level: Rating,
}

/// 好差评 at the window: the evaluator of this window records the rating of
/// a ticket finished here in the last 10 minutes, once.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/windows/{window}/rating", tag = "windows",
    params(("hall" = String, Path, description = "The hall's id"), ("window" = u16, Path, description = "The window's number")),
    request_body = WindowRating, security(("bearer" = [])),
    responses((status = 200, body = WindowRated), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc),
        (status = 404, body = ErrorDoc),
        (status = 409, body = ErrorDoc, description = "Not finished at this window lately, or rated already"),
        (status = 422, body = ErrorDoc)))]
async fn rate(
    State(state): State<AppState>,
    headers: HeaderMap,
    WindowPath { hall, window }: WindowPath,
    key: Keyed,
    Body(req): Body<WindowRating>,
) -> Result<Response, ApiError> {
    let p = state.require(&headers, hall, &[Role::Evaluator])?;
    if p.role == Role::Evaluator && !p.windows.contains(&window) {
        return Err(ApiError::forbidden(format!(
            "this evaluator stands at another window, not {window}"
        )));
    }
    let now = state.service.now();
    let number = req.ticket;
    let level = req.level;
    let cmd = Command::Rate {
        ticket: number,
        level: level.into(),
        comment: req.comment,
    };
    let here = move |h: &crate::engine::Hall| -> Result<(), ServiceError> {
        let t = h
            .ticket_view(number, now)
            .ok_or(ServiceError::Refused(crate::engine::EngineError::UnknownTicket(number)))?;
        let finished_here = matches!(t.state, TicketState::Finished { window: w } if w == window);
        let ended = t.history.last().map_or(0, |s| s.at.0);
        if !finished_here || now.0 - ended > RATE_WITHIN_MS {
            return Err(ServiceError::Conflict {
                code: "not_rateable_here",
                message: format!("ticket {number} did not just finish at window {window}"),
            });
        }
        Ok(())
    };
    respond(
        &state,
        hall,
        (key.by(&p.user), None),
        cmd,
        here,
        StatusCode::OK,
        |_, _| {
            Ok(WindowRated {
                ticket: number,
                window,
                level,
            })
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_rating_window_covers_a_citizen_still_at_the_desk() {
        assert_eq!(super::RATE_WITHIN_MS, 600_000);
    }
}
