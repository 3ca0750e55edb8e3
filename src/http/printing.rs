//! Slips printed by the server for desks and kiosks bound to a network
//! printer (see `print`): after a ticket is issued, and again on request.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use super::AppState;
use super::error::{ApiError, ErrorDoc};
use super::extract::{HallPath, hall_config, locked, ticket_number};
use crate::engine::{HallId, TicketNumber};
use crate::print::{Printed, PrinterConfig, escpos};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/halls/{hall}/tickets/{ticket}/print", post(reprint))
}

fn printer_for(state: &AppState, hall: HallId, user: &str) -> Option<PrinterConfig> {
    let cfg = state.service.halls.config(hall).ok()?;
    cfg.printers
        .iter()
        .find(|p| p.accounts.iter().any(|a| a == user))
        .cloned()
}

/// Prints a ticket of today's slip on `printer`.
async fn print(
    state: &AppState,
    hall: HallId,
    printer: &PrinterConfig,
    number: TicketNumber,
    base: &str,
) -> Result<Printed, ApiError> {
    let now = state.service.now();
    let slip = {
        let h = locked(state, hall)?;
        let (view, slip) = super::tickets::issued(&state.keys, &h, number, now)
            .ok_or_else(|| ApiError::not_found("unknown_ticket", format!("no ticket {number} today")))?;
        let tz = &h.spec().time_zone;
        let time = jiff::Timestamp::from_millisecond(view.issued_at.0)
            .map(|t| tz.to_datetime(t).strftime("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        escpos::Slip {
            hall: slip.hall_name,
            zone: slip.zone_name,
            service: slip.service_name,
            number: number.to_string(),
            ahead: view.people_ahead as u32,
            time,
            link: format!("{base}/t/{}", slip.token),
            footer: printer.footer.clone(),
        }
    };
    let printed = crate::print::print(printer, &escpos::slip(&slip, printer.cut_partial)).await;
    if !printed.ok {
        tracing::warn!(%hall, printer = %printer.name, ticket = %number, problem = ?printed.problem,
            "a slip was not printed: the desk offers to print it again");
    }
    Ok(printed)
}

/// After an issue: prints the slip where the caller has a printer and adds
/// `printed` to the answer. A repeat of the request (its kept answer) is
/// not printed again: the page offers that.
pub(super) async fn print_issued(
    state: &AppState,
    hall: HallId,
    user: &str,
    headers: &HeaderMap,
    answer: Response,
) -> Result<Response, ApiError> {
    let Some(printer) = printer_for(state, hall, user) else {
        return Ok(answer);
    };
    if answer.status() != axum::http::StatusCode::CREATED || answer.headers().contains_key(super::keyed::REPLAYED) {
        return Ok(answer);
    }
    let (parts, body) = answer.into_parts();
    let bytes = axum::body::to_bytes(body, super::MAX_BODY)
        .await
        .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let Some(number) = v["ticket"]["number"]
        .as_str()
        .and_then(|n| n.parse::<TicketNumber>().ok())
    else {
        return Ok(Response::from_parts(parts, axum::body::Body::from(bytes)));
    };
    let base = super::tickets::ticket_base(state, headers);
    let printed = print(state, hall, &printer, number, &base).await?;
    v["printed"] = serde_json::to_value(&printed).unwrap_or_default();
    let mut r = (parts.status, Json(v)).into_response();
    *r.headers_mut() = parts.headers;
    Ok(r)
}

/// Prints a ticket's slip again on the caller's printer (the desk or kiosk
/// bound to one); 409 `no_printer` for a caller without one.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/tickets/{ticket}/print", tag = "tickets",
    params(("hall" = String, Path, description = "The hall's id"), ("ticket" = String, Path, description = "A ticket number of today")),
    security(("bearer" = [])),
    responses((status = 200, body = Printed, description = "Sent to the printer, or why not (`ok`, `problem`)"),
        (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc),
        (status = 409, body = ErrorDoc)))]
async fn reprint(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    Path((_, ticket)): Path<(String, String)>,
) -> Result<Json<Printed>, ApiError> {
    let p = state.require(&headers, hall, super::tickets::ISSUERS)?;
    hall_config(&state, hall)?;
    let number = ticket_number(&ticket)?;
    let Some(printer) = printer_for(&state, hall, &p.user) else {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "no_printer",
            "this desk has no printer of its own: print from the browser",
        ));
    };
    let base = super::tickets::ticket_base(&state, &headers);
    Ok(Json(print(&state, hall, &printer, number, &base).await?))
}
