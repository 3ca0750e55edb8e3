//! Tickets: issuing at the guide desk, a kiosk, a phone or an appointment
//! check-in; looking up, cancelling, reactivating and moving; and the
//! citizen's own ticket, reached through its token.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorDoc};
use super::extract::{Body, ClientIp, HallPath, ticket_number};
use super::keyed::{ClientKey, Keyed, respond};
use crate::auth::Principal;
use crate::config::Role;
use crate::engine::{
    AuditAction, CategoryId, Channel, Command, EventKind, HallId, Issue, LaneRequest, Millis, PersonKey, ServiceId,
    TicketNumber, TicketView, ZoneId,
};
use crate::hub::ticket_json;
use crate::service::{RequestKey, ServiceError};
use crate::wire::event::{Event, StaffKind, staff_events};
use crate::wire::schema::{Id, Instant};
use crate::wire::view::{CitizenTicket, Ticket};
use crate::wire::vocab::{FollowUpStep, Rating, Target};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/halls/{hall}/tickets", post(issue))
        .route("/api/v1/halls/{hall}/appointments/check-in", post(check_in))
        .route("/api/v1/halls/{hall}/mobile-tickets", post(mobile))
        .route("/api/v1/halls/{hall}/mobile-tickets/challenge", post(challenge))
        .route("/api/v1/halls/{hall}/mobile-tickets/cancel", post(cancel_phone_tickets))
        .route("/api/v1/halls/{hall}/tickets/{ticket}", get(lookup))
        .route("/api/v1/halls/{hall}/tickets/{ticket}/cancel", post(cancel))
        .route("/api/v1/halls/{hall}/tickets/{ticket}/reactivate", post(reactivate))
        .route("/api/v1/halls/{hall}/tickets/{ticket}/move", post(move_ticket))
        .route("/api/v1/tickets/{token}", get(citizen))
        .route("/api/v1/tickets/{token}/qr.svg", get(qr))
        .route("/api/v1/tickets/{token}/rating", post(rate))
        .route("/api/v1/halls/{hall}/tickets/{ticket}/follow-up", post(follow_up))
}

/// Where a ticket is taken by staff or a kiosk.
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeskChannel {
    #[default]
    GuideDesk,
    Kiosk,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    #[schema(value_type = Id)]
    pub zone: ZoneId,
    #[schema(value_type = Id)]
    pub service: ServiceId,
    /// A priority category (绿色通道) the guide has checked.
    #[serde(default)]
    #[schema(value_type = Option<Id>)]
    pub category: Option<CategoryId>,
    #[serde(default)]
    pub channel: DeskChannel,
    /// An ID card or phone number, for the one-ticket-per-person rule. It
    /// is reduced to a keyed hash at once and never stored.
    #[serde(default)]
    pub id_number: Option<String>,
    /// The citizen wants to be told of their turn (where the hall sends
    /// notices).
    #[serde(default)]
    pub notify: Option<NotifyRequest>,
}

/// How a citizen wants to be told of their turn, with their consent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyRequest {
    /// A mainland mobile number for texts (短信提示).
    #[serde(default)]
    pub phone: Option<String>,
    /// The citizen's openid in the hall's mini-program or official
    /// account (服务通知).
    #[serde(default)]
    pub wechat_openid: Option<String>,
    /// The citizen agreed that the number is kept, sealed, for today's
    /// notices only. Required.
    pub consent: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInRequest {
    #[schema(value_type = Id)]
    pub zone: ZoneId,
    #[schema(value_type = Id)]
    pub service: ServiceId,
    /// The booked slot, Unix milliseconds.
    #[schema(value_type = Instant)]
    pub slot_start: Millis,
    #[schema(value_type = Instant)]
    pub slot_end: Millis,
    #[serde(default)]
    pub id_number: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MobileRequest {
    #[schema(value_type = Id)]
    pub zone: ZoneId,
    #[schema(value_type = Id)]
    pub service: ServiceId,
    /// Required from a phone: the daily quota is per person.
    pub id_number: String,
    /// Where the hall asks for a proof of work (`bits` above 0 in
    /// `POST …/mobile-tickets/challenge`): the challenge given there…
    #[serde(default)]
    pub challenge: Option<String>,
    /// …and a nonce (up to 64 characters) for which SHA-256 of
    /// `challenge ":" nonce` begins with `bits` zero bits.
    #[serde(default)]
    pub nonce: Option<String>,
    /// The citizen wants to be told of their turn.
    #[serde(default)]
    pub notify: Option<NotifyRequest>,
}

/// The work a phone does before it may take a ticket.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Challenge {
    pub challenge: String,
    /// Leading zero bits the hash must have; 0: this hall asks for no work
    /// (the challenge may then be left out of the request).
    pub bits: u8,
    #[schema(value_type = Instant)]
    pub expires_at: i64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    /// 非常满意, 满意, 基本满意, 不满意 or 非常不满意.
    pub level: Rating,
    /// Optional, at most 500 characters.
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpRequest {
    pub step: FollowUpStep,
    /// What was done, at most 500 characters.
    pub note: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    pub to: Target,
}

/// A new ticket, with what its slip prints (staff issuing it).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Issued {
    pub ticket: Ticket,
    #[serde(flatten)]
    pub slip: Slip,
}

/// A ticket taken from a phone, as its citizen sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Taken {
    pub ticket: CitizenTicket,
    #[serde(flatten)]
    pub slip: Slip,
}

/// What a ticket's slip prints beside the number.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Slip {
    /// Opens the citizen's page for this ticket alone (its QR code).
    pub token: String,
    pub hall_name: String,
    pub zone_name: String,
    pub service_name: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Changed {
    pub events: Vec<Event<StaffKind>>,
    pub ticket: Option<Ticket>,
}

/// Who issues tickets and checks appointments in by code: the guide desk,
/// kiosks, supervisors, administrators.
pub(super) const ISSUERS: &[Role] = &[Role::Guide, Role::Kiosk, Role::Supervisor];
/// Staff at the desk: everything a kiosk may not do (look up, check in by
/// time slot, give priority).
pub(super) const DESK: &[Role] = &[Role::Guide, Role::Supervisor];

/// The person an ID number names, checked by the rules of the kinds the
/// hall accepts (a made-up number is no person: quotas would mean nothing).
pub(super) fn person(state: &AppState, hall: HallId, id: Option<&str>) -> Result<Option<PersonKey>, ApiError> {
    let Some(id) = id.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let cfg = state.service.halls.config(hall)?;
    let recognised = (id.chars().count() <= 32)
        .then(|| crate::config::identity::recognise(id, &cfg.id_kinds))
        .flatten();
    let Some((canonical, _)) = recognised else {
        let kinds: Vec<&str> = cfg.id_kinds.iter().map(|k| k.name()).collect();
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "bad_id_number",
            format!(
                "id_number is not a valid number of a kind this hall accepts ({}): check it and try again",
                kinds.join(", ")
            ),
        ));
    };
    let current = state.keys.person_key(&canonical);
    // After the person key was rotated, someone the hall knows under an
    // earlier key keeps that hash, so its rules (one ticket, one booking
    // a day, the phone quota) still see what they had.
    let earlier = state.keys.earlier_person_keys(&canonical);
    if earlier.is_empty() {
        return Ok(Some(current));
    }
    let hall_state = super::extract::locked(state, hall)?;
    if hall_state.knows_person(current) {
        return Ok(Some(current));
    }
    Ok(Some(
        earlier
            .into_iter()
            .find(|k| hall_state.knows_person(*k))
            .unwrap_or(current),
    ))
}

/// Keeps a citizen's contact, sealed, for the ticket about to be issued;
/// its reference for the ticket. Kept before the ticket is issued, so that
/// an issued ticket always has it (one issue refused leaves a contact
/// nobody names, erased with the day).
async fn notice_ref(
    state: &AppState,
    hall: HallId,
    notify: Option<&NotifyRequest>,
) -> Result<Option<crate::engine::NoticeRef>, ApiError> {
    use axum::http::StatusCode;
    let Some(n) = notify else { return Ok(None) };
    let invalid = |code: &'static str, m: &str| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, m.to_owned());
    if !n.consent {
        return Err(invalid(
            "consent_required",
            "notify needs the citizen's consent (consent: true) to keep their number for today's notices",
        ));
    }
    let phone = match n.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => Some(
            crate::notices::mobile(p)
                .ok_or_else(|| invalid("bad_phone", "phone is not a mainland mobile number (11 digits, 1…)"))?,
        ),
        None => None,
    };
    let wechat = n.wechat_openid.as_deref().map(str::trim).filter(|o| !o.is_empty());
    if wechat.is_some_and(|o| o.len() > 64 || !o.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')) {
        return Err(invalid(
            "bad_openid",
            "wechat_openid is 1 to 64 letters, digits, - or _",
        ));
    }
    if phone.is_none() && wechat.is_none() {
        return Err(invalid("bad_phone", "notify needs a phone number or a WeChat openid"));
    }
    let cfg = state.service.halls.config(hall)?;
    let off = |why: &str| ApiError::new(StatusCode::CONFLICT, "notices_off", why.to_owned());
    let Some(notices) = &cfg.outbound.notices else {
        return Err(off("this hall sends no notices: take the ticket without notify"));
    };
    let wechat_off = notices.wechat.is_none() && notices.webhook.is_none();
    let texts_off = notices.sms.is_none() && notices.webhook.is_none();
    if (phone.is_none() || texts_off) && (wechat.is_none() || wechat_off) {
        return Err(off(if phone.is_some() {
            "this hall sends no texts"
        } else {
            "this hall sends no WeChat messages"
        }));
    }
    let Some(kit) = &state.notices else {
        return Err(off(
            "this server has no notice key (--notice-key-file): notices cannot be kept",
        ));
    };
    let now = state.service.now();
    let day = crate::engine::business_date(&cfg.spec, now);
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    let r = crate::engine::NoticeRef(raw);
    let contact = crate::notices::Contact {
        phone,
        wechat: wechat.map(str::to_owned),
    };
    let sealed = kit.sealer.seal(hall, day, r, &contact);
    // The day ends at the next reset; its contacts go an hour after.
    let ends = jiff::Timestamp::from_millisecond(now.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        + jiff::SignedDuration::from_hours(24);
    kit.contacts
        .put(hall, day, r, sealed, ends)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", e.to_string()))?;
    Ok(Some(r))
}

/// Runs a command that issues one ticket (an issue or a check-in) and
/// answers 201 with the ticket as issued, in the shape `shape` gives it.
pub(super) async fn issue_ticket<T: Serialize>(
    state: &AppState,
    hall: HallId,
    key: Option<RequestKey>,
    cmd: Command,
    quota: Option<(PersonKey, u32)>,
    shape: impl FnOnce(TicketView, Slip) -> T,
) -> Result<Response, ApiError> {
    let now = state.service.now();
    let keys = state.keys.clone();
    respond(
        state,
        hall,
        (key, None),
        cmd,
        |h| match quota {
            Some((p, max)) if h.issued_to(p, Channel::Mobile) >= max as usize => Err(ServiceError::Limit {
                code: "quota_exceeded",
                message: format!("at most {max} tickets per person per day from a phone"),
            }),
            _ => Ok(()),
        },
        axum::http::StatusCode::CREATED,
        // The new ticket's place as it was issued: read under the same
        // lock, before later tickets join behind it.
        |h, events| {
            events
                .iter()
                .find_map(|e| match e.kind {
                    EventKind::TicketIssued { ticket, .. } => Some(ticket),
                    _ => None,
                })
                .and_then(|number| issued(&keys, h, number, now))
                .map(|(ticket, slip)| shape(ticket, slip))
                .ok_or_else(|| {
                    ApiError::new(
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "no ticket issued",
                    )
                })
        },
    )
    .await
}

/// Where citizens' phones reach this server: `--public-url`, else the
/// address the request came to.
pub(super) fn ticket_base(state: &AppState, headers: &HeaderMap) -> String {
    match &state.public_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)))
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

/// A new ticket as staff see it, with its slip.
pub(super) fn staff_issued(ticket: TicketView, slip: Slip) -> Issued {
    Issued {
        ticket: ticket.into(),
        slip,
    }
}

pub(super) fn issued(
    keys: &crate::auth::Keys,
    hall: &crate::engine::Hall,
    number: TicketNumber,
    now: Millis,
) -> Option<(TicketView, Slip)> {
    let cfg = hall.spec();
    let ticket = hall.ticket_view(number, now)?;
    let day = hall.business_day()?;
    let zone = cfg.zone_index(ticket.zone).map(|z| &cfg.zones[z]);
    let service = zone.and_then(|z| z.service_index(ticket.service).map(|s| &z.services[s]));
    let slip = Slip {
        token: keys.ticket_token(cfg.id, day, number),
        hall_name: cfg.name.clone(),
        zone_name: zone.map(|z| z.name.clone()).unwrap_or_default(),
        service_name: service.map(|s| s.name.clone()).unwrap_or_default(),
    };
    Some((ticket, slip))
}

/// Issues a ticket at the guide desk or a kiosk.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/tickets", tag = "tickets", params(("hall" = String, Path, description = "The hall's id")),
    request_body = IssueRequest, security(("bearer" = [])),
    responses((status = 201, body = Issued, description = "Issued and durable"), (status = 400, body = ErrorDoc, description = "Malformed JSON or path"), (status = 401, body = ErrorDoc, description = "Not signed in"), (status = 403, body = ErrorDoc, description = "The role may not do this"), (status = 404, body = ErrorDoc, description = "Unknown hall, zone, service or ticket"), (status = 409, body = ErrorDoc, description = "Refused in the current state"), (status = 422, body = ErrorDoc, description = "A field is missing, unknown or invalid"), (status = 503, body = ErrorDoc, description = "The store is unavailable: nothing was changed")))]
async fn issue(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    key: Keyed,
    Body(req): Body<IssueRequest>,
) -> Result<Response, ApiError> {
    let p = state.require(&headers, hall, ISSUERS)?;
    let kiosk = p.role == Role::Kiosk;
    if kiosk && req.category.is_some() {
        return Err(ApiError::forbidden(
            "a kiosk issues normal tickets: 绿色通道 is given at the guide desk",
        ));
    }
    let lane = match req.category {
        Some(category) => LaneRequest::Priority { category },
        None => LaneRequest::Normal,
    };
    let channel = match req.channel {
        _ if kiosk => Channel::Kiosk,
        DeskChannel::GuideDesk => Channel::GuideDesk,
        DeskChannel::Kiosk => Channel::Kiosk,
    };
    let issue = Issue {
        lane,
        person: person(&state, hall, req.id_number.as_deref())?,
        notice: notice_ref(&state, hall, req.notify.as_ref()).await?,
        ..Issue::normal(req.zone, req.service, channel)
    };
    let answer = issue_ticket(&state, hall, key.by(&p.user), Command::Issue(issue), None, staff_issued).await?;
    super::printing::print_issued(&state, hall, &p.user, &headers, answer).await
}

/// Checks in a booked appointment: a ticket in the appointment lane (or the
/// normal lane if it is too late, as the hall's policy says).
#[utoipa::path(post, path = "/api/v1/halls/{hall}/appointments/check-in", tag = "tickets", params(("hall" = String, Path, description = "The hall's id")),
    request_body = CheckInRequest, security(("bearer" = [])),
    responses((status = 201, body = Issued, description = "Checked in"), (status = 400, body = ErrorDoc, description = "Malformed JSON or path"), (status = 401, body = ErrorDoc, description = "Not signed in"), (status = 403, body = ErrorDoc, description = "The role may not do this"), (status = 404, body = ErrorDoc, description = "Unknown hall, zone, service or ticket"), (status = 409, body = ErrorDoc, description = "Refused in the current state"), (status = 422, body = ErrorDoc, description = "A field is missing, unknown or invalid"), (status = 503, body = ErrorDoc, description = "The store is unavailable: nothing was changed")))]
async fn check_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    key: Keyed,
    Body(req): Body<CheckInRequest>,
) -> Result<Response, ApiError> {
    let p = state.require(&headers, hall, DESK)?;
    let issue = Issue {
        lane: LaneRequest::Appointment {
            slot_start: req.slot_start,
            slot_end: req.slot_end,
        },
        person: person(&state, hall, req.id_number.as_deref())?,
        ..Issue::normal(req.zone, req.service, Channel::AppointmentCheckIn)
    };
    issue_ticket(&state, hall, key.by(&p.user), Command::Issue(issue), None, staff_issued).await
}

/// A proof-of-work challenge for taking a ticket from a phone: public and
/// rate-limited. Good for five minutes and one ticket.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/mobile-tickets/challenge", tag = "public", params(("hall" = String, Path, description = "The hall's id")),
    responses((status = 200, body = Challenge), (status = 404, body = ErrorDoc, description = "Unknown hall"), (status = 429, body = ErrorDoc, description = "Rate limited")))]
async fn challenge(
    State(state): State<AppState>,
    ip: ClientIp,
    HallPath(hall): HallPath,
) -> Result<Json<Challenge>, ApiError> {
    ip.limit(&state.limits.public)?;
    let bits = state.service.halls.config(hall)?.phone_challenge_bits;
    let (challenge, until) = state
        .keys
        .challenge(hall, state.service.now())
        .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    Ok(Json(Challenge {
        challenge,
        bits,
        expires_at: until.0,
    }))
}

/// The proof of work a hall asks for, checked (and spent) for `requester`.
fn proof_of_work(state: &AppState, hall: HallId, req: &MobileRequest, requester: &str) -> Result<(), ApiError> {
    let bits = state.service.halls.config(hall)?.phone_challenge_bits;
    if bits == 0 {
        return Ok(());
    }
    let unprocessable = |code: &'static str, message: String| {
        ApiError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, code, message)
    };
    let (Some(challenge), Some(nonce)) = (req.challenge.as_deref(), req.nonce.as_deref()) else {
        return Err(unprocessable(
            "challenge_required",
            format!(
                "this hall asks phones for a proof of work: POST /api/v1/halls/{hall}/mobile-tickets/challenge, \
                 find a nonce for which SHA-256 of challenge \":\" nonce begins with {bits} zero bits, and send both"
            ),
        ));
    };
    state
        .limits
        .challenges
        .accept(
            &state.keys,
            (hall, bits),
            (challenge, nonce),
            requester,
            state.service.now(),
        )
        .map_err(|e| unprocessable("challenge_failed", e.to_string()))
}

/// Takes a ticket from a phone: public, rate-limited per address, and
/// limited per person and day; where the hall asks, after a proof of work.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/mobile-tickets", tag = "public", params(("hall" = String, Path, description = "The hall's id")),
    request_body = MobileRequest,
    responses((status = 201, body = Taken, description = "Issued"), (status = 429, body = ErrorDoc, description = "Rate limited, or the person's daily quota is used up"), (status = 400, body = ErrorDoc, description = "Malformed JSON or path"), (status = 401, body = ErrorDoc, description = "Not signed in"), (status = 403, body = ErrorDoc, description = "The role may not do this"), (status = 404, body = ErrorDoc, description = "Unknown hall, zone, service or ticket"), (status = 409, body = ErrorDoc, description = "Refused in the current state"), (status = 422, body = ErrorDoc, description = "A field is missing, unknown or invalid"), (status = 503, body = ErrorDoc, description = "The store is unavailable: nothing was changed")))]
async fn mobile(
    State(state): State<AppState>,
    ip: ClientIp,
    HallPath(hall): HallPath,
    key: Keyed,
    Body(req): Body<MobileRequest>,
) -> Result<Response, ApiError> {
    ip.limit(&state.limits.public)?;
    let person_key = person(&state, hall, Some(&req.id_number))?
        .ok_or_else(|| ApiError::bad_request("bad_id_number", "id_number is required to take a ticket from a phone"))?;
    // A retry of this very request (same person, same key) may show the
    // same work again; nobody else may.
    let requester = format!("{:032x}/{}", person_key.0, key.0.as_ref().map_or("", ClientKey::as_str));
    proof_of_work(&state, hall, &req, &requester)?;
    let quota = state.service.halls.config(hall)?.spec.policy.mobile_daily_quota;
    let issue = Issue {
        person: Some(person_key),
        notice: notice_ref(&state, hall, req.notify.as_ref()).await?,
        ..Issue::normal(req.zone, req.service, Channel::Mobile)
    };
    // A citizen's keys are theirs: scoped to the person, not the address.
    let scoped = key.by(&format!("person:{:032x}", person_key.0));
    issue_ticket(
        &state,
        hall,
        scoped,
        Command::Issue(issue),
        Some((person_key, quota)),
        |ticket, slip| Taken {
            ticket: ticket.into(),
            slip,
        },
    )
    .await
}

/// A ticket of today, for staff.
#[utoipa::path(get, path = "/api/v1/halls/{hall}/tickets/{ticket}", tag = "tickets", params(("hall" = String, Path, description = "The hall's id"), ("ticket" = String, Path, description = "A ticket number of today, as A023")),
    security(("bearer" = [])), responses((status = 200, body = Ticket), (status = 400, body = ErrorDoc, description = "Malformed JSON or path"), (status = 401, body = ErrorDoc, description = "Not signed in"), (status = 403, body = ErrorDoc, description = "The role may not do this"), (status = 404, body = ErrorDoc, description = "Unknown hall, zone, service or ticket"), (status = 409, body = ErrorDoc, description = "Refused in the current state"), (status = 422, body = ErrorDoc, description = "A field is missing, unknown or invalid"), (status = 503, body = ErrorDoc, description = "The store is unavailable: nothing was changed")))]
async fn lookup(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    Path((_, ticket)): Path<(String, String)>,
) -> Result<Json<Ticket>, ApiError> {
    state.require(&headers, hall, &[Role::Guide, Role::Supervisor, Role::Window])?;
    let number = ticket_number(&ticket)?;
    let now = state.service.now();
    state
        .service
        .halls
        .lock(hall)?
        .ticket_view(number, now)
        .map(|t| Json(t.into()))
        .ok_or_else(|| ApiError::not_found("unknown_ticket", format!("no ticket {number} today")))
}

/// Runs a command on one ticket and answers with its events and the
/// ticket as the command left it (read under the same lock).
async fn change(
    state: &AppState,
    headers: &HeaderMap,
    (hall, key, audited): (HallId, Keyed, Option<(AuditAction, ClientIp)>),
    ticket: &str,
    roles: &[Role],
    cmd: impl FnOnce(TicketNumber) -> Command,
) -> Result<Response, ApiError> {
    let p: Principal = state.require(headers, hall, roles)?;
    let number = ticket_number(ticket)?;
    let now = state.service.now();
    let note = audited.map(|(action, ip)| ip.note(action, &p.user, Some(number.to_string())));
    respond(
        state,
        hall,
        (key.by(&p.user), note),
        cmd(number),
        |_| Ok(()),
        axum::http::StatusCode::OK,
        |h, events| {
            Ok(Changed {
                events: staff_events(events),
                ticket: h.ticket_view(number, now).map(Into::into),
            })
        },
    )
    .await
}

/// Cancels a waiting or held ticket (the citizen left).
#[utoipa::path(post, path = "/api/v1/halls/{hall}/tickets/{ticket}/cancel", tag = "tickets", params(("hall" = String, Path, description = "The hall's id"), ("ticket" = String, Path, description = "A ticket number of today, as A023")),
    security(("bearer" = [])), responses((status = 200, body = Changed), (status = 400, body = ErrorDoc, description = "Malformed JSON or path"), (status = 401, body = ErrorDoc, description = "Not signed in"), (status = 403, body = ErrorDoc, description = "The role may not do this"), (status = 404, body = ErrorDoc, description = "Unknown hall, zone, service or ticket"), (status = 409, body = ErrorDoc, description = "Refused in the current state"), (status = 422, body = ErrorDoc, description = "A field is missing, unknown or invalid"), (status = 503, body = ErrorDoc, description = "The store is unavailable: nothing was changed")))]
async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    HallPath(hall): HallPath,
    key: Keyed,
    Path((_, ticket)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let audited = Some((AuditAction::TicketCancelled, ip));
    change(&state, &headers, (hall, key, audited), &ticket, DESK, |ticket| {
        Command::Cancel { ticket }
    })
    .await
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelPhoneTickets {
    /// One zone's, or every zone's when absent.
    #[serde(default)]
    #[schema(value_type = Option<crate::wire::schema::Id>)]
    pub zone: Option<ZoneId>,
}

/// What a bulk cancel did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PhoneTicketsCancelled {
    /// The phone tickets that were waiting and are now cancelled.
    #[schema(value_type = Vec<crate::wire::schema::TicketNo>)]
    pub cancelled: Vec<TicketNumber>,
}

/// Cancels every phone ticket still waiting, in one zone or all (a flood
/// of fake ones taken from the internet): supervisors only.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/mobile-tickets/cancel", tag = "supervision", params(("hall" = String, Path, description = "The hall's id")),
    request_body = CancelPhoneTickets, security(("bearer" = [])),
    responses((status = 200, body = PhoneTicketsCancelled), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc),
        (status = 404, body = ErrorDoc, description = "Unknown hall or zone"), (status = 422, body = ErrorDoc), (status = 503, body = ErrorDoc)))]
async fn cancel_phone_tickets(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    HallPath(hall): HallPath,
    key: Keyed,
    Body(req): Body<CancelPhoneTickets>,
) -> Result<Response, ApiError> {
    let p = state.require(&headers, hall, &[Role::Supervisor])?;
    let note = ip.note(
        AuditAction::PhoneTicketsCancelled,
        &p.user,
        Some(req.zone.map_or_else(|| "*".to_owned(), |z| z.to_string())),
    );
    respond(
        &state,
        hall,
        (key.by(&p.user), Some(note)),
        Command::CancelPhoneTickets { zone: req.zone },
        |_| Ok(()),
        axum::http::StatusCode::OK,
        |_, events| {
            Ok(PhoneTicketsCancelled {
                cancelled: events
                    .iter()
                    .filter_map(|e| match e.kind {
                        crate::engine::EventKind::TicketCancelled { ticket } => Some(ticket),
                        _ => None,
                    })
                    .collect(),
            })
        },
    )
    .await
}

/// Puts a no-show (过号) back in its queue: supervisors only.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/tickets/{ticket}/reactivate", tag = "supervision", params(("hall" = String, Path, description = "The hall's id"), ("ticket" = String, Path, description = "A ticket number of today, as A023")),
    security(("bearer" = [])), responses((status = 200, body = Changed), (status = 400, body = ErrorDoc, description = "Malformed JSON or path"), (status = 401, body = ErrorDoc, description = "Not signed in"), (status = 403, body = ErrorDoc, description = "The role may not do this"), (status = 404, body = ErrorDoc, description = "Unknown hall, zone, service or ticket"), (status = 409, body = ErrorDoc, description = "Refused in the current state"), (status = 422, body = ErrorDoc, description = "A field is missing, unknown or invalid"), (status = 503, body = ErrorDoc, description = "The store is unavailable: nothing was changed")))]
async fn reactivate(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    HallPath(hall): HallPath,
    key: Keyed,
    Path((_, ticket)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let audited = Some((AuditAction::TicketReactivated, ip));
    change(
        &state,
        &headers,
        (hall, key, audited),
        &ticket,
        &[Role::Supervisor],
        |ticket| Command::Reactivate { ticket },
    )
    .await
}

/// Moves a waiting or held ticket to another zone or window: supervisors only.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/tickets/{ticket}/move", tag = "supervision", params(("hall" = String, Path, description = "The hall's id"), ("ticket" = String, Path, description = "A ticket number of today, as A023")),
    request_body = MoveRequest, security(("bearer" = [])), responses((status = 200, body = Changed), (status = 400, body = ErrorDoc, description = "Malformed JSON or path"), (status = 401, body = ErrorDoc, description = "Not signed in"), (status = 403, body = ErrorDoc, description = "The role may not do this"), (status = 404, body = ErrorDoc, description = "Unknown hall, zone, service or ticket"), (status = 409, body = ErrorDoc, description = "Refused in the current state"), (status = 422, body = ErrorDoc, description = "A field is missing, unknown or invalid"), (status = 503, body = ErrorDoc, description = "The store is unavailable: nothing was changed")))]
async fn move_ticket(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    HallPath(hall): HallPath,
    key: Keyed,
    Path((_, ticket)): Path<(String, String)>,
    Body(req): Body<MoveRequest>,
) -> Result<Response, ApiError> {
    let audited = Some((AuditAction::TicketMoved, ip));
    change(
        &state,
        &headers,
        (hall, key, audited),
        &ticket,
        &[Role::Supervisor],
        |ticket| Command::Move {
            ticket,
            to: req.to.into(),
        },
    )
    .await
}

/// The citizen's ticket, by the token on its slip: public and rate-limited.
/// Only that ticket, and only on its own business day.
#[utoipa::path(get, path = "/api/v1/tickets/{token}", tag = "public",
    params(("token" = String, Path, description = "The token on the ticket's slip")),
    responses((status = 200, description = "The ticket, as in the live protocol's `ticket` message (docs/protocol.md)"), (status = 404, body = ErrorDoc, description = "Forged, foreign or from an earlier day"), (status = 429, body = ErrorDoc, description = "Rate limited")))]
async fn citizen(State(state): State<AppState>, ip: ClientIp, Path(token): Path<String>) -> Result<Response, ApiError> {
    ip.limit(&state.limits.public)?;
    let (hall, number) = citizen_ticket(&state, &token)?;
    let now = state.service.now();
    let json = state
        .service
        .halls
        .lock(hall)
        .ok()
        .and_then(|h| ticket_json(&h, number, now))
        .ok_or_else(|| ApiError::not_found("unknown_ticket", "no such ticket"))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        json.as_str().to_owned(),
    )
        .into_response())
}

/// The hall and ticket a citizen's token names, if it is valid today.
///
/// # Errors
/// 404 for a forged, foreign or expired token.
pub fn citizen_ticket(state: &AppState, token: &str) -> Result<(HallId, TicketNumber), ApiError> {
    let gone = || {
        ApiError::not_found(
            "unknown_ticket",
            "no such ticket: the link is wrong or from an earlier day",
        )
    };
    let t = state.keys.open_ticket_token(token).ok_or_else(gone)?;
    let today = state.service.halls.lock(t.hall).ok().and_then(|h| h.business_day());
    if today != Some(t.day) {
        return Err(gone());
    }
    super::serve::signed_in();
    Ok((t.hall, t.number))
}

/// The QR code printed on the ticket slip: the citizen's page for this
/// ticket. Public (the token is the secret), rate-limited.
#[utoipa::path(get, path = "/api/v1/tickets/{token}/qr.svg", tag = "public",
    params(("token" = String, Path, description = "The token on the ticket's slip")),
    responses((status = 200, content_type = "image/svg+xml", description = "A QR code of the citizen's page"),
        (status = 404, body = ErrorDoc), (status = 429, body = ErrorDoc)))]
async fn qr(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    ip.limit(&state.limits.public)?;
    citizen_ticket(&state, &token)?;
    let url = format!("{}/t/{token}", ticket_base(&state, &headers));
    let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(([(axum::http::header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// 好差评: the citizen rates their finished service, once, through the
/// token on their slip. Public, rate-limited.
#[utoipa::path(post, path = "/api/v1/tickets/{token}/rating", tag = "public",
    params(("token" = String, Path, description = "The token on the ticket's slip")), request_body = RatingRequest,
    responses((status = 200, body = CitizenTicket, description = "Rated (durable)"),
        (status = 404, body = ErrorDoc, description = "Forged, foreign or from an earlier day"),
        (status = 409, body = ErrorDoc, description = "Not finished yet, or already rated"),
        (status = 422, body = ErrorDoc), (status = 429, body = ErrorDoc)))]
async fn rate(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(token): Path<String>,
    key: Keyed,
    Body(req): Body<RatingRequest>,
) -> Result<Response, ApiError> {
    ip.limit(&state.limits.public)?;
    let (hall, number) = citizen_ticket(&state, &token)?;
    let now = state.service.now();
    let cmd = Command::Rate {
        ticket: number,
        level: req.level.into(),
        comment: req.comment,
    };
    let scoped = key.by(&format!("ticket:{number}"));
    respond(
        &state,
        hall,
        (scoped, None),
        cmd,
        |_| Ok(()),
        axum::http::StatusCode::OK,
        |h, _| {
            h.ticket_view(number, now)
                .map(CitizenTicket::from)
                .ok_or_else(|| ApiError::not_found("unknown_ticket", "no such ticket"))
        },
    )
    .await
}

/// Records a step of a bad rating's follow-up: supervisors.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/tickets/{ticket}/follow-up", tag = "supervision",
    params(("hall" = String, Path, description = "The hall's id"), ("ticket" = String, Path, description = "A ticket number of today")),
    request_body = FollowUpRequest, security(("bearer" = [])),
    responses((status = 200, body = Changed), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc),
        (status = 404, body = ErrorDoc), (status = 409, body = ErrorDoc, description = "No bad rating, or that step is recorded"),
        (status = 422, body = ErrorDoc)))]
async fn follow_up(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    key: Keyed,
    Path((_, ticket)): Path<(String, String)>,
    Body(req): Body<FollowUpRequest>,
) -> Result<Response, ApiError> {
    change(
        &state,
        &headers,
        (hall, key, None),
        &ticket,
        &[Role::Supervisor],
        |ticket| Command::FollowUp {
            ticket,
            step: req.step.into(),
            note: req.note,
        },
    )
    .await
}
