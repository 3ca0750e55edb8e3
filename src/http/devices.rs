//! Devices: the hall displays, LED strips, kiosks and evaluators a hall
//! keeps signed in (see `engine::devices`). An administrator lists and
//! revokes them; a device without a keyboard is paired by a code that a
//! supervisor enters on the board (see `auth::pairing`); a kiosk's
//! settings open with its PIN, checked here against the hash in the
//! configuration.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorDoc};
use super::extract::{Body, ClientIp, HallPath, locked};
use super::session::{Session, device_session};
use super::windows::body;
use crate::auth::{Approved, PAIRING_MS, PairingError, Poll};
use crate::config::{Account, HallConfig, Role};
use crate::engine::{AuditAction, Command, MAX_DEVICE_NAME, WindowNo};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/halls/{hall}/devices", get(list).post(create))
        .route("/api/v1/halls/{hall}/devices/{device}/revoke", post(revoke))
        .route("/api/v1/halls/{hall}/devices/unlock", post(unlock))
        .route("/api/v1/halls/{hall}/pairings", post(start))
        .route("/api/v1/halls/{hall}/pairings/{code}/approve", post(approve))
        .route("/api/v1/pairings/{secret}", get(poll))
}

/// The sign-in a pairing hands its device.
pub type PairedSession = Session;

/// One device the hall keeps signed in.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceEntry {
    pub id: String,
    pub account: String,
    /// The account's role, if it still exists.
    pub role: Option<Role>,
    /// The evaluator's window.
    pub windows: Vec<WindowNo>,
    pub name: String,
    /// Unix milliseconds.
    pub paired_at: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceList {
    pub devices: Vec<DeviceEntry>,
    /// The hall's device accounts: what a pairing may sign a device in as.
    pub accounts: Vec<DeviceAccount>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceAccount {
    pub user: String,
    pub role: Role,
    pub windows: Vec<WindowNo>,
}

/// The devices signed in to the hall, oldest first.
#[utoipa::path(get, path = "/api/v1/halls/{hall}/devices", tag = "admin",
    params(("hall" = String, Path, description = "The hall's id")), security(("bearer" = [])),
    responses((status = 200, body = DeviceList), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc)))]
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
) -> Result<Json<DeviceList>, ApiError> {
    state.require(&headers, hall, &[Role::Supervisor])?;
    let cfg = state.service.halls.config(hall)?.clone();
    let mut devices: Vec<DeviceEntry> = locked(&state, hall)?
        .devices()
        .map(|d| {
            let account = cfg.account(&d.account);
            DeviceEntry {
                id: d.id.clone(),
                account: d.account.clone(),
                role: account.map(|a| a.role),
                windows: account.map(|a| a.windows.clone()).unwrap_or_default(),
                name: d.name.clone(),
                paired_at: d.paired_at.0,
            }
        })
        .collect();
    devices.sort_by(|a, b| (a.paired_at, &a.id).cmp(&(b.paired_at, &b.id)));
    let accounts = cfg
        .accounts
        .iter()
        .filter(|a| a.role.is_device())
        .map(|a| DeviceAccount {
            user: a.user.clone(),
            role: a.role,
            windows: a.windows.clone(),
        })
        .collect();
    Ok(Json(DeviceList { devices, accounts }))
}

/// An administrator signs a device in without its screen: the device's
/// sign-in, for a provisioning script (and the load tool) to hand to it.
/// The pages themselves sign in by password or pairing code.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/devices", tag = "admin",
    params(("hall" = String, Path, description = "The hall's id")), request_body = ApproveRequest, security(("bearer" = [])),
    responses((status = 201, body = PairedSession), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc),
        (status = 422, body = ErrorDoc, description = "Not a device account of this hall")))]
pub(super) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: super::extract::ClientIp,
    HallPath(hall): HallPath,
    Body(req): Body<ApproveRequest>,
) -> Result<Response, ApiError> {
    let p = state.require(&headers, hall, &[Role::Admin])?;
    let cfg = state.service.halls.config(hall)?.clone();
    let account = device_account(&cfg, &req.account)?;
    let by = ip.note(AuditAction::DevicePaired, &p.user, None);
    let session = device_session(&state, hall, account, req.name.as_deref().unwrap_or_default(), by).await?;
    tracing::info!(%hall, device = ?session.device, account = %account.user, by = %p.user, "device signed in by an administrator");
    Ok((StatusCode::CREATED, Json(session)).into_response())
}

fn device_account<'a>(cfg: &'a HallConfig, user: &str) -> Result<&'a Account, ApiError> {
    cfg.account(user).filter(|a| a.role.is_device()).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_device_account",
            format!("{user:?} is not a display, kiosk or evaluator account of this hall"),
        )
    })
}

/// Signs a device out for good: its token stops working at once and its
/// live connections are closed. Administrators only.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/devices/{device}/revoke", tag = "admin",
    params(("hall" = String, Path, description = "The hall's id"), ("device" = String, Path, description = "The device's id")),
    security(("bearer" = [])),
    responses((status = 200, body = Revoked), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc),
        (status = 404, body = ErrorDoc, description = "No such device is signed in")))]
pub(super) async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: super::extract::ClientIp,
    HallPath(hall): HallPath,
    Path((_, device)): Path<(String, String)>,
) -> Result<Json<Revoked>, ApiError> {
    let p = state.require(&headers, hall, &[Role::Admin])?;
    let note = ip.note(AuditAction::DeviceRevoked, &p.user, Some(device.clone()));
    state
        .service
        .execute_noted(hall, Command::RevokeDevice { device: device.clone() }, note)
        .await?;
    tracing::info!(%hall, %device, by = %p.user, "device revoked");
    Ok(Json(Revoked { device }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Revoked {
    /// The device signed out.
    pub device: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnlockRequest {
    pub pin: String,
}

/// A kiosk's settings PIN, checked against the hash its account has in the
/// configuration (a kiosk without one cannot open its settings: revoke it
/// instead). Rate-limited like sign-in.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/devices/unlock", tag = "tickets",
    params(("hall" = String, Path, description = "The hall's id")), request_body = UnlockRequest, security(("bearer" = [])),
    responses((status = 204, description = "The PIN is right"), (status = 401, body = ErrorDoc, description = "Wrong PIN"),
        (status = 403, body = ErrorDoc), (status = 429, body = ErrorDoc, description = "Too many wrong PINs: locked for a while"),
        (status = 503, body = ErrorDoc, description = "Too many checks waiting")))]
pub(super) async fn unlock(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    HallPath(hall): HallPath,
    Body(req): Body<UnlockRequest>,
) -> Result<StatusCode, ApiError> {
    let p = state.require(&headers, hall, &[Role::Kiosk])?;
    ip.limit(&state.limits.login)?;
    let cfg = state.service.halls.config(hall)?.clone();
    let hash = cfg
        .account(&p.user)
        .and_then(|a| a.pin_hash.clone())
        .ok_or_else(|| ApiError::forbidden("this kiosk has no settings PIN in the configuration"))?;
    // Four digits fall to guessing unless the kiosk locks as an account does.
    let key = format!("{hall}/pin/{}", p.device.as_deref().unwrap_or(&p.user));
    let limits = &state.limits;
    limits
        .lockouts
        .begin(&key, std::time::Instant::now())
        .map_err(super::session::locked)?;
    let Ok(ok) = limits.passwords.verify(req.pin, hash).await else {
        limits.lockouts.abandoned(&key);
        return Err(super::session::busy());
    };
    if ok {
        limits.lockouts.succeeded(&key);
        ip.refund(&limits.login);
        Ok(StatusCode::NO_CONTENT)
    } else {
        limits.lockouts.failed(&key, std::time::Instant::now());
        Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong_pin", "wrong PIN"))
    }
}

#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PairingRequest {
    /// Where the device stands ("东门 LED"), shown to the supervisor.
    #[serde(default)]
    pub name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PairingStarted {
    /// Six digits to show on the device's screen.
    pub code: String,
    /// Only the device knows it: `GET /api/v1/pairings/{secret}`.
    pub secret: String,
    /// Unix milliseconds.
    pub expires_at: i64,
}

/// A device asks to be paired: it shows the code and polls with the
/// secret until someone enters the code on the supervisor board. Public
/// and rate-limited.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/pairings", tag = "public",
    params(("hall" = String, Path, description = "The hall's id")), request_body = PairingRequest,
    responses((status = 201, body = PairingStarted), (status = 404, body = ErrorDoc), (status = 422, body = ErrorDoc),
        (status = 429, body = ErrorDoc)))]
pub(super) async fn start(
    State(state): State<AppState>,
    ip: ClientIp,
    HallPath(hall): HallPath,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    ip.limit(&state.limits.login)?;
    let req: PairingRequest = body(&bytes)?;
    let name = req.name.trim();
    if name.chars().count() > MAX_DEVICE_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_device",
            format!("a device's name is at most {MAX_DEVICE_NAME} characters"),
        ));
    }
    let now = state.service.now();
    let (code, secret) = state.pairings.start(hall, name, now).map_err(pairing_error)?;
    Ok((
        StatusCode::CREATED,
        Json(PairingStarted {
            code,
            secret,
            expires_at: now.0 + PAIRING_MS,
        }),
    )
        .into_response())
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PairingState {
    /// Nobody has entered the code yet.
    Waiting { code: String, expires_at: i64 },
    /// The device's sign-in: handed over once.
    Paired { session: PairedSession },
}

/// A waiting device asks whether its code has been entered. Public: the
/// secret is the device's alone.
#[utoipa::path(get, path = "/api/v1/pairings/{secret}", tag = "public",
    params(("secret" = String, Path, description = "The secret `POST …/pairings` gave")),
    responses((status = 200, body = PairingState), (status = 404, body = ErrorDoc, description = "Expired or unknown: ask again"),
        (status = 429, body = ErrorDoc)))]
pub(super) async fn poll(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(secret): Path<String>,
) -> Result<Json<PairingState>, ApiError> {
    ip.limit(&state.limits.public)?;
    match state.pairings.poll(&secret, state.service.now()) {
        Poll::Waiting { code, expires_at } => Ok(Json(PairingState::Waiting {
            code,
            expires_at: expires_at.0,
        })),
        Poll::Approved(a) => Ok(Json(PairingState::Paired { session: a.session })),
        Poll::Unknown => Err(ApiError::not_found(
            "unknown_pairing",
            "no such pairing: it expired or was used; ask for a new code",
        )),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// The device account it signs in as: a display, kiosk or evaluator.
    pub account: String,
    /// Overrides the name the device gave.
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApproveReply {
    pub device: String,
    pub account: String,
    pub name: String,
}

/// Enters a device's pairing code: the device is signed in as `account`
/// (a display, kiosk or evaluator account of this hall) on its next poll.
/// Supervisors and administrators.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/pairings/{code}/approve", tag = "supervision",
    params(("hall" = String, Path, description = "The hall's id"), ("code" = String, Path, description = "The code on the device's screen")),
    request_body = ApproveRequest, security(("bearer" = [])),
    responses((status = 200, body = ApproveReply), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc),
        (status = 404, body = ErrorDoc, description = "No device waits with this code"),
        (status = 422, body = ErrorDoc, description = "Not a device account of this hall")))]
pub(super) async fn approve(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: super::extract::ClientIp,
    HallPath(hall): HallPath,
    Path((_, code)): Path<(String, String)>,
    Body(req): Body<ApproveRequest>,
) -> Result<Json<ApproveReply>, ApiError> {
    let p = state.require(&headers, hall, &[Role::Supervisor])?;
    let cfg = state.service.halls.config(hall)?.clone();
    let account = device_account(&cfg, &req.account)?;
    let code = code.trim().to_owned();
    let asked = state
        .pairings
        .waiting(hall, &code, state.service.now())
        .map_err(pairing_error)?;
    let name = req.name.unwrap_or(asked);
    let by = ip.note(AuditAction::DevicePaired, &p.user, None);
    let session = device_session(&state, hall, account, &name, by).await?;
    let device = session.device.clone().unwrap_or_default();
    state
        .pairings
        .approve(
            hall,
            &code,
            Approved {
                device: device.clone(),
                session,
            },
            state.service.now(),
        )
        .map_err(pairing_error)?;
    tracing::info!(%hall, %device, account = %account.user, by = %p.user, "device paired by code");
    Ok(Json(ApproveReply {
        device,
        account: account.user.clone(),
        name: name.trim().to_owned(),
    }))
}

fn pairing_error(e: PairingError) -> ApiError {
    match e {
        PairingError::Full => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "pairings_full", e.to_string()),
        PairingError::NoSuchCode(_) => ApiError::not_found("unknown_pairing", e.to_string()),
        PairingError::NoRandomness(_) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}
