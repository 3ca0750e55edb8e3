//! A hall's configuration while it runs, for administrators: the version in
//! force and its history, a new version from a whole document or from the
//! administration page's edits, and any earlier version's document (to
//! compare, or to go back to). A change is validated as the server's file
//! is, then applied as an event of the hall's log (see `engine::respec`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::edits::{Edit, apply_edits};
use super::error::{ApiError, ErrorDoc};
use super::extract::{Body, HallPath, hall_config};
use crate::config::Role;
use crate::engine::{Command, ConfigChange, ConfigNote, EventKind, MAX_REASON, SpecDoc};

/// A hall's document is far larger than any other request body.
pub const MAX_CONFIG_BODY: usize = 512 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/halls/{hall}/config", axum::routing::get(current).put(replace))
        .route("/api/v1/halls/{hall}/config/edits", axum::routing::post(edit))
        .route(
            "/api/v1/halls/{hall}/config/versions/{version}",
            axum::routing::get(version),
        )
        .layer(axum::extract::DefaultBodyLimit::max(MAX_CONFIG_BODY))
}

/// One version in the history.
#[derive(Serialize, utoipa::ToSchema)]
pub struct VersionNote {
    pub version: u32,
    #[schema(value_type = crate::wire::schema::Instant)]
    pub at: i64,
    pub by: String,
    pub reason: String,
}

impl From<&ConfigNote> for VersionNote {
    fn from(n: &ConfigNote) -> Self {
        VersionNote {
            version: n.version,
            at: n.at.0,
            by: n.by.clone(),
            reason: n.reason.clone(),
        }
    }
}

/// The configuration in force.
#[derive(Serialize, utoipa::ToSchema)]
pub struct HallConfigDoc {
    pub version: u32,
    /// The hall's `[[hall]]` document, as `hallcall config export` writes it.
    pub text: String,
    /// Every version, oldest first.
    pub history: Vec<VersionNote>,
    /// Whether staff may sign in through the server's directory (so the
    /// document may map directory groups).
    pub directory: bool,
    /// What the administration page edits, read from the document.
    pub hall: AdminHall,
}

/// The parts of a hall the administration page edits one by one (the
/// rest it edits in the document). No password hashes.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AdminHall {
    pub zones: Vec<AdminZone>,
    pub windows: Vec<AdminWindow>,
    pub accounts: Vec<AdminAccount>,
    pub notice: String,
    pub notice_en: String,
    pub special_days: Vec<AdminDay>,
    /// `[hall.policy]` in force, each key as the file writes it.
    #[schema(value_type = Object)]
    pub policy: serde_json::Value,
    /// `[hall.voice]` in force, each key as the file writes it.
    #[schema(value_type = Object)]
    pub voice: serde_json::Value,
    pub categories: Vec<AdminCategory>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AdminCategory {
    #[schema(value_type = crate::wire::schema::Id)]
    pub id: crate::engine::CategoryId,
    pub name: String,
    pub name_en: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AdminZone {
    #[schema(value_type = crate::wire::schema::Id)]
    pub id: crate::engine::ZoneId,
    pub name: String,
    pub name_en: String,
    pub prefix: String,
    pub service_minutes: u32,
    pub services: Vec<AdminService>,
    /// `mon` … `sun`.
    pub days: Vec<String>,
    /// `HH:MM-HH:MM`; none: the whole business day.
    pub open: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AdminService {
    #[schema(value_type = crate::wire::schema::Id)]
    pub id: crate::engine::ServiceId,
    pub name: String,
    pub name_en: String,
    pub results: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AdminWindow {
    pub number: u16,
    pub name: String,
    pub name_en: String,
    /// In order of preference, as the document writes them: `ZONE` (all
    /// of it) or `ZONE/SERVICE`.
    pub serves: Vec<String>,
    pub results_only: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AdminAccount {
    pub user: String,
    pub role: Role,
    pub windows: Vec<u16>,
    pub name: String,
    pub staff_number: String,
    pub photo: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AdminDay {
    #[schema(value_type = String, format = Date)]
    pub date: jiff::civil::Date,
    pub open: bool,
}

fn admin_hall(c: &crate::config::HallConfig) -> AdminHall {
    let spec = &c.spec;
    let serves = |w: &crate::engine::WindowSpec| -> Vec<String> {
        w.serves
            .iter()
            .flat_map(|s| {
                let zone = &spec.zones[s.zone];
                if s.services == crate::engine::ServiceMask::whole_zone(zone, w.results_only) {
                    vec![zone.id.to_string()]
                } else {
                    zone.services
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| s.services.contains(*i))
                        .map(|(_, sv)| format!("{}/{}", zone.id, sv.id))
                        .collect()
                }
            })
            .collect()
    };
    AdminHall {
        zones: spec
            .live_zones()
            .map(|(_, z)| AdminZone {
                id: z.id,
                name: z.name.clone(),
                name_en: z.name_en.clone(),
                prefix: z.prefix.clone(),
                service_minutes: z.default_service_secs / 60,
                days: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                    .iter()
                    .zip(z.hours.days)
                    .filter(|(_, open)| *open)
                    .map(|(d, _)| (*d).to_owned())
                    .collect(),
                open: z
                    .hours
                    .intervals
                    .iter()
                    .map(|(a, b)| format!("{}-{}", a.strftime("%H:%M"), b.strftime("%H:%M")))
                    .collect(),
                services: z
                    .services
                    .iter()
                    .filter(|s| !s.retired)
                    .map(|s| AdminService {
                        id: s.id,
                        name: s.name.clone(),
                        name_en: s.name_en.clone(),
                        results: s.results,
                    })
                    .collect(),
            })
            .collect(),
        windows: spec
            .live_windows()
            .map(|(_, w)| AdminWindow {
                number: w.number,
                name: w.name.clone(),
                name_en: w.name_en.clone(),
                serves: serves(w),
                results_only: w.results_only,
            })
            .collect(),
        accounts: c
            .accounts
            .iter()
            .map(|a| AdminAccount {
                user: a.user.clone(),
                role: a.role,
                windows: a.windows.clone(),
                name: a.card.name.clone(),
                staff_number: a.card.staff_number.clone(),
                photo: a.card.photo.clone(),
            })
            .collect(),
        notice: c.display.notice.clone(),
        notice_en: c.display.notice_en.clone(),
        special_days: spec
            .special_days
            .iter()
            .map(|&(date, open)| AdminDay { date, open })
            .collect(),
        policy: policy(c),
        voice: voice(&c.voice),
        categories: spec
            .categories
            .iter()
            .map(|k| AdminCategory {
                id: k.id,
                name: k.name.clone(),
                name_en: k.name_en.clone(),
            })
            .collect(),
    }
}

/// The voice as the file writes it, for the page.
fn voice(v: &crate::config::Voice) -> serde_json::Value {
    let template = |l: crate::config::Lang| v.languages.iter().find(|(x, _)| *x == l).map(|(_, t)| t.clone());
    let prefixes = |l: crate::config::Lang| -> serde_json::Map<String, serde_json::Value> {
        v.prefix_say
            .iter()
            .filter(|(x, _, _)| *x == l)
            .map(|(_, p, w)| (p.clone(), serde_json::Value::from(w.as_str())))
            .collect()
    };
    let mut play = Vec::new();
    if v.play_device {
        play.push("device");
    }
    if v.play_browser {
        play.push("browser");
    }
    if v.play_speech {
        play.push("speech");
    }
    serde_json::json!({
        "languages": v.languages.iter().map(|(l, _)| l.code()).collect::<Vec<_>>(),
        "zh": template(crate::config::Lang::Zh).unwrap_or_else(|| crate::config::ZH_TEMPLATE.to_owned()),
        "en": template(crate::config::Lang::En).unwrap_or_else(|| crate::config::EN_TEMPLATE.to_owned()),
        "repeat": v.repeat,
        "gap_ms": v.gap_ms,
        "language_pause_ms": v.language_pause_ms,
        "letters": if v.letters_spoken { "spoken" } else { "silent" },
        "prefix_zh": prefixes(crate::config::Lang::Zh),
        "prefix_en": prefixes(crate::config::Lang::En),
        "window_two": if v.window_two_liang { "liang" } else { "er" },
        "play": play,
        "announce_within_seconds": v.announce_within_secs,
    })
}

/// The policy as the file writes it (minutes, a ratio), for the page.
fn policy(c: &crate::config::HallConfig) -> serde_json::Value {
    let p = &c.spec.policy;
    let minutes = |ms: i64| ms / 60_000;
    serde_json::json!({
        "priority_ratio": format!("{}:{}", p.priority_calls, p.normal_calls),
        "max_normal_wait_minutes": minutes(p.max_normal_wait_ms),
        "skip_requeue_places": p.skip_requeue_places,
        "max_skips": p.max_skips,
        "recall_limit": p.recall_limit,
        "transfer_placement": p.transfer_placement,
        "one_waiting_ticket_per_person": p.one_waiting_ticket_per_person,
        "number_digits": p.number_digits,
        "appointment_early_minutes": minutes(p.appointment_early_ms),
        "appointment_grace_minutes": minutes(p.appointment_grace_ms),
        "open_paused": p.open_paused,
        "finish_from_called": p.finish_from_called,
        "wait_target_minutes": minutes(p.wait_target_ms),
        "mobile_daily_quota": p.mobile_daily_quota,
        "mobile_waiting_per_zone": p.mobile_waiting_per_zone,
        "notice_ahead": p.notice_ahead,
        "phone_challenge_bits": c.phone_challenge_bits,
    })
}

/// A whole new document.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVersion {
    /// The version the document was edited from (see `GET …/config`): a
    /// change made from an older one is refused with 409.
    pub base: u32,
    pub text: String,
    #[serde(default)]
    pub reason: String,
}

/// Edits to the document in force, as the administration page makes them.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEdits {
    pub base: u32,
    pub edits: Vec<Edit>,
    #[serde(default)]
    pub reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VersionChanged {
    pub version: u32,
}

/// The configuration in force, with its history: administrators.
#[utoipa::path(get, path = "/api/v1/halls/{hall}/config", tag = "admin",
    params(("hall" = String, Path, description = "The hall's id")), security(("bearer" = [])),
    responses((status = 200, body = HallConfigDoc), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc),
        (status = 404, body = ErrorDoc)))]
async fn current(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
) -> Result<Json<HallConfigDoc>, ApiError> {
    state.require(&headers, hall, &[Role::Admin])?;
    let history = {
        let guard = super::extract::locked(&state, hall)?;
        guard.config().history.iter().map(VersionNote::from).collect()
    };
    let cfg = hall_config(&state, hall)?;
    Ok(Json(HallConfigDoc {
        version: cfg.version,
        text: cfg.text.to_string(),
        history,
        directory: state.directory.is_some(),
        hall: admin_hall(&cfg),
    }))
}

/// Runs the hall on a new document from now on: administrators. Refused
/// with 422 `config_invalid` and every problem (line, column, place) when
/// the document does not validate, and with 409 `config_refused` when the
/// change would strand a citizen or was made from an older version.
#[utoipa::path(put, path = "/api/v1/halls/{hall}/config", tag = "admin",
    params(("hall" = String, Path, description = "The hall's id")), request_body = NewVersion,
    security(("bearer" = [])),
    responses((status = 200, body = VersionChanged), (status = 400, body = ErrorDoc), (status = 401, body = ErrorDoc),
        (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc), (status = 409, body = ErrorDoc),
        (status = 422, body = ErrorDoc), (status = 503, body = ErrorDoc)))]
async fn replace(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    Body(v): Body<NewVersion>,
) -> Result<Json<VersionChanged>, ApiError> {
    let p = state.require(&headers, hall, &[Role::Admin])?;
    change(&state, hall, &p.user, v.base, v.text, v.reason).await
}

/// Applies the administration page's edits to the document in force and
/// runs the hall on the result: administrators. Passwords given in the
/// edits are hashed here and only the hash is kept.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/config/edits", tag = "admin",
    params(("hall" = String, Path, description = "The hall's id")), request_body = NewEdits,
    security(("bearer" = [])),
    responses((status = 200, body = VersionChanged), (status = 400, body = ErrorDoc), (status = 401, body = ErrorDoc),
        (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc), (status = 409, body = ErrorDoc),
        (status = 422, body = ErrorDoc), (status = 503, body = ErrorDoc)))]
async fn edit(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    Body(e): Body<NewEdits>,
) -> Result<Json<VersionChanged>, ApiError> {
    let p = state.require(&headers, hall, &[Role::Admin])?;
    let cfg = hall_config(&state, hall)?;
    if e.base != cfg.version {
        return Err(stale(cfg.version, e.base));
    }
    if e.edits.is_empty() || e.edits.len() > 100 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "give 1 to 100 edits",
        ));
    }
    let text = cfg.text.to_string();
    let edits = e.edits;
    let text = tokio::task::spawn_blocking(move || apply_edits(&text, &edits))
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error"))?
        .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "config_invalid", m))?;
    change(&state, hall, &p.user, e.base, text, e.reason).await
}

fn stale(current: u32, base: u32) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "config_refused",
        format!("the configuration is at version {current}, not {base}: reload it and make the change again"),
    )
}

async fn change(
    state: &AppState,
    hall: crate::engine::HallId,
    by: &str,
    base: u32,
    text: String,
    reason: String,
) -> Result<Json<VersionChanged>, ApiError> {
    if reason.chars().count() > MAX_REASON {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_long",
            format!("a reason is at most {MAX_REASON} characters"),
        ));
    }
    if let Some(c) = reason.chars().find(|&c| !crate::engine::allowed(c)) {
        return Err(crate::engine::EngineError::BadText(c).into());
    }
    let name = format!("hall {hall}");
    let parsed = crate::config::parse_hall(&text, &name, state.directory.is_some())
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "config_invalid", e.to_string()))?;
    state
        .announcer
        .clips()
        .check(&parsed)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "config_invalid", e.to_string()))?;
    if parsed.spec.id != hall {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "config_invalid",
            format!("the document is hall {}'s, not {hall}'s", parsed.spec.id),
        ));
    }
    let cmd = Command::ChangeConfig(Box::new(ConfigChange {
        base,
        spec: SpecDoc(parsed.spec.clone()),
        text,
        by: by.to_owned(),
        reason,
    }));
    let events = state.service.execute(hall, cmd).await?;
    let version = events
        .iter()
        .find_map(|e| match e.kind {
            EventKind::ConfigChanged { version, .. } => Some(version),
            _ => None,
        })
        .unwrap_or(base + 1);
    tracing::info!(%hall, version, by, "configuration changed");
    Ok(Json(VersionChanged { version }))
}

/// One version with its document.
#[derive(Serialize, utoipa::ToSchema)]
pub struct VersionDoc {
    #[serde(flatten)]
    pub note: VersionNote,
    pub text: String,
}

/// An earlier version's document, to compare or go back to: administrators.
/// 410 `version_gone` for one older than the days the store keeps.
#[utoipa::path(get, path = "/api/v1/halls/{hall}/config/versions/{version}", tag = "admin",
    params(("hall" = String, Path, description = "The hall's id"), ("version" = u32, Path, description = "The version")),
    security(("bearer" = [])),
    responses((status = 200, body = VersionDoc), (status = 400, body = ErrorDoc), (status = 401, body = ErrorDoc),
        (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc), (status = 410, body = ErrorDoc)))]
async fn version(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((raw_hall, raw_version)): Path<(String, String)>,
) -> Result<Json<VersionDoc>, ApiError> {
    let hall = super::extract::hall_id(&state, &raw_hall)?;
    state.require(&headers, hall, &[Role::Admin])?;
    let wanted: u32 = raw_version
        .parse()
        .map_err(|_| ApiError::bad_request("bad_path", format!("{raw_version:?} is not a version number")))?;
    let (note, current) = {
        let guard = super::extract::locked(&state, hall)?;
        let cs = guard.config();
        let note = cs.history.iter().find(|n| n.version == wanted).cloned();
        (note, (cs.version == wanted).then(|| cs.text.to_string()))
    };
    let Some(note) = note else {
        return Err(ApiError::not_found(
            "unknown_version",
            format!("hall {hall} has no version {wanted}"),
        ));
    };
    let text = match (current, note.day) {
        (Some(text), _) => Some(text),
        (None, Some(day)) => state
            .service
            .store
            .scan_days(hall, (day, day), None, move |found: &mut Option<String>, e| {
                if let EventKind::ConfigChanged { version, text, .. } = e.kind
                    && version == wanted
                {
                    *found = Some(text);
                }
                Ok(())
            })
            .await
            .map_err(super::reports::store_error)?,
        (None, None) => None,
    };
    let Some(text) = text else {
        return Err(ApiError::new(
            StatusCode::GONE,
            "version_gone",
            format!("version {wanted} is older than the days the store keeps: its document is no longer here"),
        ));
    };
    Ok(Json(VersionDoc {
        note: VersionNote::from(&note),
        text,
    }))
}
