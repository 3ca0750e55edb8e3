//! `/api/v1/halls`: the halls, a hall's figures, queues and windows, and
//! the administrator's generic command endpoint.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use super::AppState;
use super::error::{ApiError, ErrorDoc};
use super::extract::{Body, HallPath, WindowPath, locked};
use super::keyed::{Keyed, respond};
use crate::config::{HallConfig, Role};
use crate::engine::{Code, Command, HallId, WindowNo, ZoneId};
use crate::wire::event::{Event, StaffKind, staff_events};
use crate::wire::view::{Alert, DisplayWindow, DisplayZone, Queue, Window, Zone, alerts};
use crate::wire::vocab::{AlertKind, AlertTarget};
use crate::wire::{self, Audience};

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
const READERS: &[Role] = &[
    Role::Supervisor,
    Role::Guide,
    Role::Window,
    Role::Display,
    Role::Kiosk,
    Role::Evaluator,
];

#[derive(Serialize, utoipa::ToSchema)]
pub struct HallList {
    pub halls: Vec<HallEntry>,
}

/// A hall and what it offers: what a guide desk or a phone needs to offer
/// a choice.
#[derive(Serialize, utoipa::ToSchema)]
pub struct HallEntry {
    #[schema(value_type = wire::schema::Id)]
    pub id: HallId,
    /// The configuration version this is from (see the live snapshot's
    /// `hall.config`).
    pub config: u32,
    pub name: String,
    pub name_en: String,
    pub zones: Vec<ZoneEntry>,
    /// The priority groups (绿色通道) a guide may mark.
    pub categories: Vec<Named>,
    pub windows: Vec<WindowEntry>,
    /// The hall display page plays each call's announcement.
    pub announce_in_browser: bool,
    /// ... with the browser's own voice where it has one for each language
    /// (`GET …/announcements/text`), the clips otherwise.
    pub announce_speech: bool,
    /// Calls older than this are not spoken by a display that missed them.
    pub announce_within_secs: u32,
    /// The hall display's scrolling notice (温馨提示); empty: the page's own.
    pub notice: String,
    pub notice_en: String,
    /// What the window console allows, from the hall's policy.
    pub rules: WindowRules,
    /// The notices a citizen may ask for when taking a ticket: by text
    /// (`phone`), by WeChat (`wechat_openid`); both false when none.
    pub notices: NoticeChannels,
}

/// How this hall can tell citizens of their turn.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NoticeChannels {
    pub sms: bool,
    pub wechat: bool,
    /// Told when this many or fewer are ahead (0: not told then).
    pub ahead: u32,
}

/// The parts of a hall's policy a window console follows.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WindowRules {
    /// 办结 straight from called, without 开始办理.
    pub finish_from_called: bool,
    /// Recalls (重呼) allowed per call.
    pub recall_limit: u32,
    /// Windows start paused at 签到 (开始服务 starts calling).
    pub open_paused: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ZoneEntry {
    #[schema(value_type = wire::schema::Id)]
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
    #[schema(value_type = Vec<wire::schema::Id>)]
    pub zones: Vec<ZoneId>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Named {
    #[schema(value_type = wire::schema::Id)]
    pub id: Code,
    pub name: String,
    pub name_en: String,
}

fn entry(c: &HallConfig) -> HallEntry {
    let n = c.outbound.notices.as_ref();
    HallEntry {
        notices: NoticeChannels {
            sms: n.is_some_and(|n| n.sms.is_some() || n.webhook.is_some()),
            wechat: n.is_some_and(|n| n.wechat.is_some() || n.webhook.is_some()),
            ahead: if n.is_some_and(|n| n.sends(crate::notices::NoticeKind::Near)) {
                c.spec.policy.notice_ahead
            } else {
                0
            },
        },
        id: c.spec.id,
        config: c.version,
        name: c.spec.name.clone(),
        name_en: c.spec.name_en.clone(),
        zones: c
            .spec
            .zones
            .iter()
            .filter(|z| !z.retired)
            .map(|z| ZoneEntry {
                id: z.id,
                name: z.name.clone(),
                name_en: z.name_en.clone(),
                prefix: z.prefix.clone(),
                services: z
                    .services
                    .iter()
                    .filter(|s| !s.retired)
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
            .filter(|w| !w.retired)
            .map(|w| WindowEntry {
                number: w.number,
                name: w.name.clone(),
                name_en: w.name_en.clone(),
                zones: w.serves.iter().map(|s| c.spec.zones[s.zone].id).collect(),
            })
            .collect(),
        announce_in_browser: c.voice.play_browser || c.voice.play_speech,
        announce_speech: c.voice.play_speech,
        announce_within_secs: c.voice.announce_within_secs,
        notice: c.display.notice.clone(),
        notice_en: c.display.notice_en.clone(),
        rules: WindowRules {
            finish_from_called: c.spec.policy.finish_from_called,
            recall_limit: c.spec.policy.recall_limit,
            open_paused: c.spec.policy.open_paused,
        },
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
        .map(|c| entry(&c))
        .collect();
    Json(HallList { halls })
}

/// A hall's whole state as it stands (including operations still being
/// made durable), as staff read it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct HallState {
    #[schema(value_type = wire::schema::Id)]
    pub hall: HallId,
    pub seq: u64,
    #[schema(value_type = Option<String>, format = Date)]
    pub business_day: Option<jiff::civil::Date>,
    pub zones: Vec<Zone>,
    pub queues: Vec<Queue>,
    pub windows: Vec<Window>,
    /// 超时预警 that are up.
    pub alerts: Vec<Alert>,
}

/// The same as a display account reads it (what a public screen shows).
#[derive(Serialize, utoipa::ToSchema)]
pub struct DisplayHallState {
    #[schema(value_type = wire::schema::Id)]
    pub hall: HallId,
    pub seq: u64,
    #[schema(value_type = Option<String>, format = Date)]
    pub business_day: Option<jiff::civil::Date>,
    pub zones: Vec<DisplayZone>,
    pub queues: Vec<Queue>,
    pub windows: Vec<DisplayWindow>,
}

/// A reading for staff, or for a display account.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Read<S, D> {
    Staff(S),
    Display(D),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ZoneList {
    pub zones: Vec<Zone>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DisplayZoneList {
    pub zones: Vec<DisplayZone>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ZoneState {
    pub summary: Zone,
    pub queue: Queue,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DisplayZoneState {
    pub summary: DisplayZone,
    pub queue: Queue,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WindowList {
    pub windows: Vec<Window>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DisplayWindowList {
    pub windows: Vec<DisplayWindow>,
}

/// Who may read, and in which form.
fn reader(state: &AppState, headers: &HeaderMap, hall: HallId) -> Result<Audience, ApiError> {
    Ok(Audience::of(state.require(headers, hall, READERS)?.role))
}

/// The hall's state; a display account gets what a public screen shows.
#[utoipa::path(get, path = "/api/v1/halls/{hall}", tag = "halls",
    params(("hall" = String, Path, description = "The hall's id")), security(("bearer" = [])),
    responses((status = 200, body = Read<HallState, DisplayHallState>), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
async fn hall_view(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(id): HallPath,
) -> Result<Json<Read<HallState, DisplayHallState>>, ApiError> {
    let audience = reader(&state, &headers, id)?;
    let now = state.service.now();
    let guard = locked(&state, id)?;
    let (seq, business_day) = (guard.seq(), guard.business_day());
    let queues = guard.queues().into_iter().map(Queue::from).collect();
    Ok(Json(match audience {
        Audience::Staff => Read::Staff(HallState {
            hall: id,
            seq,
            business_day,
            zones: guard.zone_summaries(now).into_iter().map(Zone::from).collect(),
            queues,
            windows: guard.windows().into_iter().map(Window::from).collect(),
            alerts: alerts(guard.alerts()),
        }),
        Audience::Display => Read::Display(DisplayHallState {
            hall: id,
            seq,
            business_day,
            zones: guard.zone_summaries(now).into_iter().map(DisplayZone::from).collect(),
            queues,
            windows: guard.windows().into_iter().map(DisplayWindow::from).collect(),
        }),
    }))
}

#[utoipa::path(get, path = "/api/v1/halls/{hall}/zones", tag = "halls",
    params(("hall" = String, Path, description = "The hall's id")), security(("bearer" = [])),
    responses((status = 200, body = Read<ZoneList, DisplayZoneList>), (status = 401, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
async fn zones(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(id): HallPath,
) -> Result<Json<Read<ZoneList, DisplayZoneList>>, ApiError> {
    let audience = reader(&state, &headers, id)?;
    let summaries = locked(&state, id)?.zone_summaries(state.service.now());
    Ok(Json(match audience {
        Audience::Staff => Read::Staff(ZoneList {
            zones: summaries.into_iter().map(Zone::from).collect(),
        }),
        Audience::Display => Read::Display(DisplayZoneList {
            zones: summaries.into_iter().map(DisplayZone::from).collect(),
        }),
    }))
}

/// One zone's figures and waiting lists.
#[utoipa::path(get, path = "/api/v1/halls/{hall}/zones/{zone}", tag = "halls",
    params(("hall" = String, Path, description = "The hall's id"), ("zone" = String, Path, description = "The zone's id")),
    security(("bearer" = [])),
    responses((status = 200, body = Read<ZoneState, DisplayZoneState>), (status = 401, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
async fn zone(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(id): HallPath,
    Path((_, zone)): Path<(String, String)>,
) -> Result<Json<Read<ZoneState, DisplayZoneState>>, ApiError> {
    let audience = reader(&state, &headers, id)?;
    let now = state.service.now();
    let guard = locked(&state, id)?;
    let z = ZoneId::new(&zone)
        .ok()
        .and_then(|z| guard.spec().zone_index(z))
        .ok_or_else(|| ApiError::not_found("unknown_zone", format!("no zone {zone:?} in hall {id}")))?;
    let summary = guard.zone_summary(z, now);
    let queue = guard.queue_head(z, usize::MAX).into();
    Ok(Json(match audience {
        Audience::Staff => Read::Staff(ZoneState {
            summary: summary.into(),
            queue,
        }),
        Audience::Display => Read::Display(DisplayZoneState {
            summary: summary.into(),
            queue,
        }),
    }))
}

#[utoipa::path(get, path = "/api/v1/halls/{hall}/windows", tag = "halls",
    params(("hall" = String, Path, description = "The hall's id")), security(("bearer" = [])),
    responses((status = 200, body = Read<WindowList, DisplayWindowList>), (status = 401, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
async fn windows(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(id): HallPath,
) -> Result<Json<Read<WindowList, DisplayWindowList>>, ApiError> {
    let audience = reader(&state, &headers, id)?;
    let views = locked(&state, id)?.windows();
    Ok(Json(match audience {
        Audience::Staff => Read::Staff(WindowList {
            windows: views.into_iter().map(Window::from).collect(),
        }),
        Audience::Display => Read::Display(DisplayWindowList {
            windows: views.into_iter().map(DisplayWindow::from).collect(),
        }),
    }))
}

#[utoipa::path(get, path = "/api/v1/halls/{hall}/windows/{window}", tag = "windows",
    params(("hall" = String, Path, description = "The hall's id"), ("window" = u16, Path, description = "The window's number")),
    security(("bearer" = [])),
    responses((status = 200, body = Read<Window, DisplayWindow>), (status = 401, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
async fn window(
    State(state): State<AppState>,
    headers: HeaderMap,
    WindowPath { hall, window }: WindowPath,
) -> Result<Json<Read<Window, DisplayWindow>>, ApiError> {
    let audience = reader(&state, &headers, hall)?;
    let guard = locked(&state, hall)?;
    let w = guard
        .spec()
        .window_index(window)
        .ok_or_else(|| ApiError::not_found("unknown_window", "no such window"))?;
    let view = guard.window_view(w);
    Ok(Json(match audience {
        Audience::Staff => Read::Staff(view.into()),
        Audience::Display => Read::Display(view.into()),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CommandReply {
    pub events: Vec<Event<StaffKind>>,
}

/// Runs any engine command (administrators: scripts and repairs). The
/// per-resource routes are what pages use.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/commands", tag = "admin",
    params(("hall" = String, Path, description = "The hall's id")), request_body = wire::input::Command, security(("bearer" = [])),
    responses((status = 200, body = CommandReply, description = "Done and durable"), (status = 401, body = ErrorDoc),
        (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc), (status = 409, body = ErrorDoc),
        (status = 422, body = ErrorDoc), (status = 503, body = ErrorDoc)))]
async fn command(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(id): HallPath,
    key: Keyed,
    Body(cmd): Body<wire::input::Command>,
) -> Result<Response, ApiError> {
    let p = state.require(&headers, id, &[Role::Admin])?;
    let mut cmd: crate::engine::Command = cmd.into();
    // Staff on a window are an account of the hall, named as configured.
    if let crate::engine::Command::Open { staff: Some(s), .. } = &mut cmd {
        let cfg = state.service.halls.config(id)?;
        let account = cfg
            .accounts
            .iter()
            .find(|a| a.user == *s || a.card.label(&a.user) == *s)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_body",
                    format!("staff {s:?} is not an account of hall {id}"),
                )
            })?;
        *s = account.card.label(&account.user);
    }
    replied(&state, id, key.by(&p.user), cmd).await
}

/// Runs `cmd` and answers with its events.
async fn replied(
    state: &AppState,
    hall: HallId,
    key: Option<crate::service::RequestKey>,
    cmd: crate::engine::Command,
) -> Result<Response, ApiError> {
    respond(
        state,
        hall,
        (key, None),
        cmd,
        |_| Ok(()),
        StatusCode::OK,
        |_, events| {
            Ok(CommandReply {
                events: staff_events(events),
            })
        },
    )
    .await
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
    HallPath(id): HallPath,
    key: Keyed,
    Body(req): Body<AcknowledgeRequest>,
) -> Result<Response, ApiError> {
    let who = state.require(&headers, id, &[Role::Supervisor])?;
    let key = key.by(&who.user);
    let cmd = Command::AcknowledgeAlert {
        alert: req.alert.into(),
        target: req.target.into(),
        by: who.user,
    };
    replied(&state, id, key, cmd).await
}
