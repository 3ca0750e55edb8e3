//! Appointments (预约): booked ahead (by an online booking system through
//! this API, or at the desk), listed, cancelled, and checked in by their
//! code on the day for a ticket in the appointment lane.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorDoc};
use super::extract::{Body, HallPath, date, locked};
use super::keyed::{Keyed, respond};
use super::tickets::{DeskChannel, ISSUERS, Issued, issue_ticket, person, staff_issued};
use super::windows::body;
use crate::config::Role;
use crate::engine::{Channel, Code, Command, EngineError, HallId, Millis, ServiceId, ZoneId, business_date};
use crate::wire::schema::{Id, Instant};
use crate::wire::view::Booking;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/halls/{hall}/appointments", post(book).get(list))
        .route("/api/v1/halls/{hall}/appointments/{code}", get(one))
        .route("/api/v1/halls/{hall}/appointments/{code}/check-in", post(check_in))
        .route("/api/v1/halls/{hall}/appointments/{code}/cancel", post(cancel))
}

/// Who books, lists and cancels: the guide desk and supervisors (and an
/// administrator account for a booking system).
const BOOKERS: &[Role] = &[Role::Guide, Role::Supervisor];

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookRequest {
    /// The booking system's own code (letters and digits, 4 to 23); one is
    /// made (8 digits) when absent.
    #[serde(default)]
    pub code: Option<String>,
    #[schema(value_type = Id)]
    pub zone: ZoneId,
    #[schema(value_type = Id)]
    pub service: ServiceId,
    /// The slot, Unix milliseconds; it must lie in the zone's opening hours.
    #[schema(value_type = Instant)]
    pub slot_start: Millis,
    #[schema(value_type = Instant)]
    pub slot_end: Millis,
    /// An ID card or phone number: one appointment per person and day. It
    /// is reduced to a keyed hash at once and never stored.
    #[serde(default)]
    pub id_number: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInByCode {
    #[serde(default)]
    pub channel: DeskChannel,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DayQuery {
    /// The business day, `YYYY-MM-DD`; today by default.
    pub day: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BookingList {
    #[schema(value_type = String, format = Date)]
    pub day: jiff::civil::Date,
    pub bookings: Vec<Booking>,
}

/// Codes are read case-blind: `A7K2` and `a7k2` are one code.
fn code(s: &str) -> Result<Code, ApiError> {
    let lower = s.trim().to_ascii_lowercase();
    let ok = (4..=Code::MAX).contains(&lower.len()) && lower.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then(|| Code::new(&lower).ok()).flatten().ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_code",
            format!("{s:?} is not an appointment code (4 to 23 letters and digits)"),
        )
    })
}

fn fresh_code() -> Result<Code, ApiError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("no randomness: {e}"),
        )
    })?;
    let digits: String = bytes.iter().map(|b| char::from(b'0' + b % 10)).collect();
    code(&digits)
}

fn booking_of(state: &AppState, hall: HallId, c: Code) -> Result<Booking, ApiError> {
    found(c, locked(state, hall)?.booking(c))
}

fn found(c: Code, b: Option<crate::engine::BookingView>) -> Result<Booking, ApiError> {
    b.map(Into::into).ok_or_else(|| EngineError::UnknownBooking(c).into())
}

/// Books an appointment. Answers `201` with the booking and its code.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/appointments", tag = "tickets",
    params(("hall" = String, Path, description = "The hall's id")), request_body = BookRequest, security(("bearer" = [])),
    responses((status = 201, body = Booking, description = "Booked and durable"), (status = 401, body = ErrorDoc),
        (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc, description = "Unknown hall, zone or service"),
        (status = 409, body = ErrorDoc, description = "Code taken, the person already booked that day, or the zone is closed then"),
        (status = 422, body = ErrorDoc, description = "A bad code, slot or field"), (status = 503, body = ErrorDoc)))]
async fn book(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    key: Keyed,
    Body(req): Body<BookRequest>,
) -> Result<Response, ApiError> {
    let p = state.require(&headers, hall, BOOKERS)?;
    let who = person(&state, hall, req.id_number.as_deref())?;
    let given = req.code.as_deref().map(code).transpose()?;
    // A made-up code may collide with one in use: try a few.
    for _ in 0..5 {
        let c = match given {
            Some(c) => c,
            None => fresh_code()?,
        };
        let cmd = Command::Book {
            code: c,
            zone: req.zone,
            service: req.service,
            slot_start: req.slot_start,
            slot_end: req.slot_end,
            person: who,
        };
        // The booking as this command left it, under the same lock.
        let booked = respond(
            &state,
            hall,
            (key.by(&p.user), None),
            cmd,
            |_| Ok(()),
            StatusCode::CREATED,
            |h, _| found(c, h.booking(c)),
        );
        match booked.await {
            Ok(r) => return Ok(r),
            Err(e) if e.code == "booking_taken" && given.is_none() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "internal",
        "no free appointment code found; try again",
    ))
}

/// The appointments of a business day, by slot.
#[utoipa::path(get, path = "/api/v1/halls/{hall}/appointments", tag = "tickets",
    params(("hall" = String, Path, description = "The hall's id"), DayQuery), security(("bearer" = [])),
    responses((status = 200, body = BookingList), (status = 400, body = ErrorDoc), (status = 401, body = ErrorDoc),
        (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    q: Result<Query<DayQuery>, QueryRejection>,
) -> Result<Json<BookingList>, ApiError> {
    state.require(&headers, hall, BOOKERS)?;
    let Query(q) = q.map_err(|e| ApiError::bad_request("bad_query", e.body_text()))?;
    let guard = locked(&state, hall)?;
    let day = match q.day {
        Some(s) => date("day", &s)?,
        None => business_date(guard.spec(), state.service.now()),
    };
    Ok(Json(BookingList {
        day,
        bookings: guard.bookings_on(day).into_iter().map(Into::into).collect(),
    }))
}

/// One appointment, by its code.
#[utoipa::path(get, path = "/api/v1/halls/{hall}/appointments/{code}", tag = "tickets",
    params(("hall" = String, Path, description = "The hall's id"), ("code" = String, Path, description = "The appointment's code")),
    security(("bearer" = [])),
    responses((status = 200, body = Booking), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc),
        (status = 404, body = ErrorDoc), (status = 422, body = ErrorDoc)))]
async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    Path((_, c)): Path<(String, String)>,
) -> Result<Json<Booking>, ApiError> {
    state.require(&headers, hall, BOOKERS)?;
    Ok(Json(booking_of(&state, hall, code(&c)?)?))
}

/// Checks an appointment in by its code, on its day: a ticket in the
/// appointment lane (the normal lane if past the grace time), answered like
/// any issued ticket. The body may be empty or give the `channel`.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/appointments/{code}/check-in", tag = "tickets",
    params(("hall" = String, Path, description = "The hall's id"), ("code" = String, Path, description = "The appointment's code")),
    request_body(content = CheckInByCode, description = "Optional"), security(("bearer" = [])),
    responses((status = 201, body = Issued, description = "Checked in"), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc),
        (status = 404, body = ErrorDoc, description = "No such appointment"),
        (status = 409, body = ErrorDoc, description = "Not its day, already checked in, cancelled or missed; or the zone is closed"),
        (status = 422, body = ErrorDoc), (status = 503, body = ErrorDoc)))]
async fn check_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    key: Keyed,
    Path((_, c)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let p = state.require(&headers, hall, ISSUERS)?;
    let c = code(&c)?;
    let req: CheckInByCode = body(&bytes)?;
    let channel = match req.channel {
        _ if p.role == Role::Kiosk => Channel::Kiosk,
        DeskChannel::GuideDesk => Channel::GuideDesk,
        DeskChannel::Kiosk => Channel::Kiosk,
    };
    let cmd = Command::CheckIn {
        code: c,
        channel,
        number: None,
    };
    issue_ticket(&state, hall, key.by(&p.user), cmd, None, staff_issued).await
}

/// Cancels an appointment that has not been checked in.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/appointments/{code}/cancel", tag = "tickets",
    params(("hall" = String, Path, description = "The hall's id"), ("code" = String, Path, description = "The appointment's code")),
    security(("bearer" = [])),
    responses((status = 200, body = Booking), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc),
        (status = 404, body = ErrorDoc), (status = 409, body = ErrorDoc, description = "Already checked in, cancelled or missed"),
        (status = 503, body = ErrorDoc)))]
async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    key: Keyed,
    Path((_, c)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let p = state.require(&headers, hall, BOOKERS)?;
    let c = code(&c)?;
    let cmd = Command::CancelBooking { code: c };
    respond(
        &state,
        hall,
        (key.by(&p.user), None),
        cmd,
        |_| Ok(()),
        StatusCode::OK,
        |h, _| found(c, h.booking(c)),
    )
    .await
}
