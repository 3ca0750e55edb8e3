//! `/api/v1/halls/{hall}/windows/{window}/{action}`: everything a window
//! does. Window staff act only on their own windows; a supervisor may close
//! any window remotely; administrators may do everything.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorDoc};
use super::extract::WindowPath;
use super::keyed::{Keyed, respond};
use crate::config::Role;
use crate::engine::{Command, TicketNumber, WindowNo};
use crate::wire;
use crate::wire::event::{Event, StaffKind, staff_events};
use crate::wire::view::{Ticket, Window};
use crate::wire::vocab::{PauseReason, Target};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/halls/{hall}/windows/{window}/{action}", post(act))
}

/// Every window action, as named in the path.
pub const ACTIONS: &[&str] = &[
    "open",
    "close",
    "call-next",
    "call",
    "recall",
    "skip",
    "start",
    "finish",
    "transfer",
    "hold",
    "call-back",
    "pause",
    "resume",
    "auto-call",
    "serve-first",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    /// Shown on the window screen; defaults to the signed-in user.
    #[serde(default)]
    staff: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TicketBody {
    ticket: TicketNumber,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    to: Target,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PauseBody {
    reason: PauseReason,
    /// Expected length in minutes (预计恢复), if staff say.
    #[serde(default)]
    minutes: Option<u16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AutoCallBody {
    on: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeFirstBody {
    zone: Option<crate::engine::ZoneId>,
}

/// What a window action answers: its events, once durable, and the window
/// and its current ticket as the action left them.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WindowReply {
    pub events: Vec<Event<StaffKind>>,
    pub window: Window,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Ticket>,
}

/// An absent body reads as `{}`; anything else must be the action's JSON.
pub(super) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    let raw: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(raw).map_err(|e| {
        // As the JSON extractor answers: 400 for what is not JSON, 422
        // for JSON that is not the request.
        let (status, code) = if e.is_syntax() || e.is_eof() {
            (axum::http::StatusCode::BAD_REQUEST, "malformed_json")
        } else {
            (axum::http::StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
        };
        ApiError::new(status, code, e.to_string())
    })
}

fn command(action: &str, window: WindowNo, bytes: &Bytes, staff: &str) -> Result<Command, ApiError> {
    Ok(match action {
        "open" => {
            let b: OpenBody = body(bytes)?;
            if b.staff.is_some_and(|s| s != staff) {
                return Err(ApiError::forbidden(format!(
                    "a window is signed on in the signed-in account's name ({staff}), as the configuration gives it"
                )));
            }
            Command::Open {
                window,
                staff: Some(staff.to_owned()),
            }
        }
        "call" => Command::CallTicket {
            window,
            ticket: body::<TicketBody>(bytes)?.ticket,
        },
        "call-back" => Command::CallBack {
            window,
            ticket: body::<TicketBody>(bytes)?.ticket,
        },
        "transfer" => Command::Transfer {
            window,
            to: body::<TransferBody>(bytes)?.to.into(),
        },
        "pause" => {
            let b: PauseBody = body(bytes)?;
            Command::Pause {
                window,
                reason: b.reason.into(),
                minutes: b.minutes,
            }
        }
        "auto-call" => Command::SetAutoCall {
            window,
            on: body::<AutoCallBody>(bytes)?.on,
        },
        "serve-first" => Command::ServeFirst {
            window,
            zone: body::<ServeFirstBody>(bytes)?.zone,
        },
        simple => {
            let _: Empty = body(bytes)?;
            match simple {
                "close" => Command::Close { window },
                "call-next" => Command::CallNext { window },
                "recall" => Command::Recall { window },
                "skip" => Command::Skip { window },
                "start" => Command::Start { window },
                "finish" => Command::Finish { window },
                "hold" => Command::Hold { window },
                "resume" => Command::Resume { window },
                other => {
                    return Err(ApiError::not_found(
                        "unknown_action",
                        format!("no window action {other:?}; actions: {}", ACTIONS.join(", ")),
                    ));
                }
            }
        }
    })
}

/// Every field any window action takes; each action reads its own (see
/// the `action` parameter) and refuses the others.
#[derive(Deserialize, utoipa::ToSchema)]
#[allow(dead_code)] // documents the bodies; each action parses its own struct
pub struct WindowActionBody {
    /// `open`: who staffs it is always the signed-in account as the
    /// configuration names it (李明（工号0305）); a different name is refused.
    staff: Option<String>,
    /// `call`, `call-back`: the ticket.
    #[schema(value_type = Option<wire::schema::TicketNo>)]
    ticket: Option<TicketNumber>,
    /// `transfer`: where to.
    to: Option<Target>,
    /// `pause`: why.
    reason: Option<PauseReason>,
    /// `pause`: for about how long, 1 to 480 minutes, if staff say (the
    /// window display shows when it resumes).
    #[schema(minimum = 1, maximum = 480)]
    minutes: Option<u16>,
    /// `auto-call`: on or off.
    on: Option<bool>,
    /// `serve-first` (潮汐窗口, supervisors): the zone the window takes
    /// first for the rest of the day; null for its own order again.
    #[schema(value_type = Option<wire::schema::Id>)]
    zone: Option<crate::engine::ZoneId>,
}

#[utoipa::path(post, path = "/api/v1/halls/{hall}/windows/{window}/{action}", tag = "windows",
    params(("hall" = String, Path, description = "The hall's id"),
           ("window" = u16, Path, description = "The window's number"),
           ("action" = String, Path, description = "open, close, call-next, call, recall, skip, start, finish, transfer, hold, call-back, pause, resume, auto-call or serve-first")),
    request_body(content = Option<WindowActionBody>, description = "Only for open (staff), call and call-back (ticket), transfer (to), pause (reason, minutes), auto-call (on), serve-first (zone); empty otherwise"),
    security(("bearer" = [])),
    responses((status = 200, body = WindowReply, description = "Done and durable"),
        (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc, description = "Not this account's window"),
        (status = 404, body = ErrorDoc, description = "Unknown hall, window, action or ticket"),
        (status = 409, body = ErrorDoc, description = "Refused in the window's or ticket's state"),
        (status = 422, body = ErrorDoc, description = "A bad body"), (status = 503, body = ErrorDoc)))]
async fn act(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: super::extract::ClientIp,
    WindowPath { hall, window }: WindowPath,
    Path((_, _, action)): Path<(String, String, String)>,
    key: Keyed,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let p = state.principal(&headers, None, hall)?;
    // A supervisor may close any window remotely and give it a zone first
    // (潮汐窗口); window staff may not change what their window serves.
    let supervised = matches!(action.as_str(), "close" | "serve-first");
    let allowed = (p.may_operate(window) && action != "serve-first")
        || (supervised && matches!(p.role, Role::Supervisor | Role::Admin));
    if !allowed {
        return Err(ApiError::forbidden(format!(
            "{} ({}) may not operate window {window}",
            p.user,
            p.role.name()
        )));
    }
    // Who staffs the window is the signed-in person, as the configuration
    // or the directory names them: never what the request says (好差评 are
    // reported by it).
    let staff = p.label.clone();
    let cmd = command(&action, window, &bytes, &staff)?;
    let now = state.service.now();
    // The window and its ticket as this action left them, read under the
    // same lock as the action: not as a later operation has left them.
    // A window closed is in the audit log: a supervisor may close another's.
    let note = (action == "close").then(|| {
        ip.note(
            crate::engine::AuditAction::WindowClosed,
            &p.user,
            Some(window.to_string()),
        )
    });
    respond(
        &state,
        hall,
        (key.by(&p.user), note),
        cmd,
        |_| Ok(()),
        StatusCode::OK,
        |h, events| {
            let w = h.spec().window_index(window).unwrap_or(0);
            let view = h.window_view(w);
            let ticket = view.current.and_then(|t| h.ticket_view(t, now));
            Ok(WindowReply {
                events: staff_events(events),
                window: view.into(),
                ticket: ticket.map(Into::into),
            })
        },
    )
    .await
}
