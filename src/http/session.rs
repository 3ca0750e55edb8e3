//! `POST /api/v1/login`: staff and display devices sign in.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorDoc};
use super::extract::{Body, ClientIp, hall_id};
use std::time::{Duration, Instant};

use crate::auth::directory::DirectoryError;
use crate::auth::{Claims, Granted, STAFF_SESSION_MS};
use crate::config::{Account, Role};

/// Longer user names and passwords are refused unchecked.
const MAX_USER: usize = 64;
const MAX_PASSWORD: usize = 256;

/// 429 while an account is locked after wrong passwords.
pub(super) fn locked(wait: Duration) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "account_locked",
        format!(
            "too many wrong passwords for this account: try again in {} s",
            wait.as_secs_f64().ceil().max(1.0)
        ),
    )
    .retry_after(wait.as_secs_f64())
}

/// 503 while too many password checks wait.
pub(super) fn busy() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "too many sign-ins at once: try again in a moment",
    )
    .retry_after(1.0)
}
use crate::engine::{AuditAction, AuditNote, Command, HallId, WindowNo};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/halls/{hall}/sign-out", post(sign_out))
        .route("/api/v1/halls/{hall}/passes", post(pass))
        .route("/api/v1/halls/{hall}/accounts/{user}/sign-out", post(sign_out_account))
}

/// Signs out everywhere: every session of this account begun before now
/// stops working (a device signs out for good, as if revoked).
#[utoipa::path(post, path = "/api/v1/halls/{hall}/sign-out", tag = "public", params(("hall" = String, Path, description = "The hall's id")),
    security(("bearer" = [])),
    responses((status = 204, description = "Signed out"), (status = 401, body = ErrorDoc), (status = 503, body = ErrorDoc)))]
async fn sign_out(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    ip: ClientIp,
    super::extract::HallPath(hall): super::extract::HallPath,
) -> Result<axum::http::StatusCode, ApiError> {
    let p = state.principal(&headers, None, hall)?;
    let (cmd, note) = match p.device {
        Some(device) => (
            Command::RevokeDevice { device: device.clone() },
            ip.note(AuditAction::DeviceRevoked, &p.user, Some(device)),
        ),
        None => (
            Command::SignOut { user: p.user.clone() },
            ip.note(AuditAction::SignedOut, &p.user, None),
        ),
    };
    state.service.execute_noted(hall, cmd, note).await?;
    tracing::info!(%hall, user = %p.user, "signed out");
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// An administrator ends every session of an account (a lost phone, a
/// clerk who left): those begun before now stop working at once.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/accounts/{user}/sign-out", tag = "admin",
    params(("hall" = String, Path, description = "The hall's id"), ("user" = String, Path, description = "The account")),
    security(("bearer" = [])),
    responses((status = 204, description = "Its sessions are void"), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc),
        (status = 404, body = ErrorDoc, description = "No such account"), (status = 503, body = ErrorDoc)))]
async fn sign_out_account(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    ip: ClientIp,
    super::extract::HallPath(hall): super::extract::HallPath,
    axum::extract::Path((_, user)): axum::extract::Path<(String, String)>,
) -> Result<axum::http::StatusCode, ApiError> {
    let p = state.require(&headers, hall, &[Role::Admin])?;
    // A directory person has no account here to find: any name may be one.
    let cfg = state.service.halls.config(hall)?;
    if cfg.account(&user).is_none() && cfg.directory_groups.is_empty() {
        return Err(ApiError::not_found(
            "unknown_account",
            format!("no account {user:?} in hall {hall}"),
        ));
    }
    let note = ip.note(AuditAction::AccountSignedOut, &p.user, Some(user.clone()));
    state
        .service
        .execute_noted(hall, Command::SignOut { user: user.clone() }, note)
        .await?;
    tracing::info!(%hall, %user, by = %p.user, "account signed out by an administrator");
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub hall: String,
    pub user: String,
    pub password: String,
    /// For a device account: where this device stands ("东门 LED"), as the
    /// device list shows it.
    #[serde(default)]
    pub device_name: Option<String>,
}

#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct Session {
    pub token: String,
    pub hall: String,
    pub user: String,
    pub role: Role,
    pub windows: Vec<WindowNo>,
    /// Unix milliseconds; absent for devices, which stay signed in until
    /// revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// A device's id (displays, kiosks, evaluators): its sign-in is good
    /// while the hall keeps it (`GET /api/v1/halls/{hall}/devices`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// A pass: a token good for a minute, to put in an address where a
/// header cannot go (a WebSocket, an `<audio>` element).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Pass {
    pub pass: String,
    /// Unix milliseconds: the pass is refused after this.
    pub expires_at: i64,
}

/// Makes a pass for the signed-in account's session (its token in the
/// `Authorization` header), to open a WebSocket with `?pass=` or fetch an
/// announcement: a sign-in token never goes in an address, where proxies
/// and histories keep it. The pass is void with its session.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/passes", tag = "public", params(("hall" = String, Path, description = "The hall's id")),
    security(("bearer" = [])),
    responses((status = 200, body = Pass), (status = 401, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
async fn pass(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    super::extract::HallPath(hall): super::extract::HallPath,
) -> Result<Json<Pass>, ApiError> {
    let p = state.principal(&headers, None, hall)?;
    let cfg = state.service.halls.config(hall)?;
    let now = state.service.now();
    Ok(Json(Pass {
        pass: state
            .keys
            .pass(&p, &cfg, now)
            .map_err(|e| ApiError::unauthenticated(e.to_string()))?,
        expires_at: now.0 + crate::auth::PASS_MS,
    }))
}

/// Signs in: a token for the `Authorization: Bearer` header (WebSockets
/// and `<audio>` take a pass made from it: `POST …/passes`).
#[utoipa::path(post, path = "/api/v1/login", tag = "public", request_body = Login,
    responses((status = 200, body = Session), (status = 401, body = ErrorDoc, description = "Wrong user name or password"),
        (status = 403, body = ErrorDoc, description = "The directory knows the person, but no group of theirs has a role in this hall (no_role)"),
        (status = 404, body = ErrorDoc, description = "Unknown hall"), (status = 429, body = ErrorDoc, description = "Too many wrong passwords from this address (rate_limited) or for this account (account_locked); see Retry-After"),
        (status = 503, body = ErrorDoc, description = "Too many password checks waiting (busy), or the staff directory cannot answer (directory_unavailable; local accounts still sign in); see Retry-After")))]
async fn login(State(state): State<AppState>, ip: ClientIp, Body(req): Body<Login>) -> Result<Json<Session>, ApiError> {
    // Only wrong passwords count against the address: a hall's PCs behind
    // one NAT address all sign in at 8:30.
    ip.ready(&state.limits.login)?;
    let hall = hall_id(&state, &req.hall)?;
    let cfg = state.service.halls.config(hall)?.clone();
    let refused = || {
        ip.charge(&state.limits.login);
        state.limits.refused_sign_ins.note(hall, &req.user, ip.0);
        tracing::info!(%hall, user = ?req.user, address = %ip.0, "sign-in refused");
        ApiError::unauthenticated("wrong user name or password")
    };
    if req.user.len() > MAX_USER || req.password.len() > MAX_PASSWORD {
        return Err(refused());
    }
    // Per account (a name in this hall, known or not), before any check.
    let key = format!("{hall}/{}", req.user);
    let limits = &state.limits;
    limits.lockouts.begin(&key, Instant::now()).map_err(|wait| {
        limits.refused_sign_ins.note(hall, &req.user, ip.0);
        locked(wait)
    })?;
    let local = cfg.account(&req.user).cloned();
    // Names without a local account are the directory's, where the hall
    // maps directory groups; local accounts work whatever it does.
    if let (None, Some(directory), false) = (&local, &state.directory, cfg.directory_groups.is_empty()) {
        let person = match directory.sign_in(&req.user, &req.password).await {
            Ok(person) => person,
            Err(e) => {
                limits.lockouts.abandoned(&key);
                tracing::warn!(%hall, user = ?req.user, error = %e, "a directory sign-in could not be checked");
                return Err(directory_unavailable(&e));
            }
        };
        let Some(person) = person else {
            limits.lockouts.failed(&key, Instant::now());
            return Err(refused());
        };
        limits.lockouts.succeeded(&key);
        let Some((role, windows)) = cfg.directory_role(&person.groups) else {
            tracing::info!(%hall, user = %req.user, dn = %person.dn, "a directory member without a role here");
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "no_role",
                format!(
                    "the directory knows {}, but none of their groups has a role in this hall: ask an administrator",
                    req.user
                ),
            ));
        };
        let granted = Granted {
            role,
            windows: windows.clone(),
            label: person.card.label(&req.user),
        };
        let by = ip.note(AuditAction::SignedIn, &req.user, Some(person.dn.clone()));
        return Ok(Json(
            staff_session(
                &state,
                hall,
                req.user,
                (role, windows),
                Some(granted),
                &cfg.directory_binding(),
                by,
            )
            .await?,
        ));
    }
    let ok = match &local {
        Some(a) => match limits.passwords.verify(req.password, a.password_hash.clone()).await {
            Ok(ok) => ok,
            Err(_) => {
                limits.lockouts.abandoned(&key);
                return Err(busy());
            }
        },
        // An unknown name takes as long, so timing does not tell which
        // names exist, but costs no check.
        None => {
            limits.passwords.pretend().await;
            false
        }
    };
    let Some(account) = local.filter(|_| ok) else {
        limits.lockouts.failed(&key, Instant::now());
        return Err(refused());
    };
    limits.lockouts.succeeded(&key);
    if account.role.is_device() {
        let name = req.device_name.unwrap_or_default();
        let by = ip.note(AuditAction::DevicePaired, &account.user, None);
        return Ok(Json(device_session(&state, hall, &account, &name, by).await?));
    }
    let by = ip.note(AuditAction::SignedIn, &account.user, None);
    Ok(Json(
        staff_session(
            &state,
            hall,
            account.user,
            (account.role, account.windows),
            None,
            &account.password_hash,
            by,
        )
        .await?,
    ))
}

/// 503 while the directory cannot say whether a password is right.
fn directory_unavailable(e: &DirectoryError) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "directory_unavailable",
        format!("{e}: directory accounts cannot sign in now (local accounts still can)"),
    )
    .retry_after(if *e == DirectoryError::Busy { 1.0 } else { 10.0 })
}

/// A person's session for a working day, in the audit log before the
/// token is handed out. `granted` is what a directory sign-in gave (it
/// goes in the token; a local account's is read from the configuration);
/// `binding` is what the token is bound to.
async fn staff_session(
    state: &AppState,
    hall: HallId,
    user: String,
    (role, windows): (Role, Vec<WindowNo>),
    granted: Option<Granted>,
    binding: &str,
    by: AuditNote,
) -> Result<Session, ApiError> {
    state.service.execute(hall, Command::Record { notes: vec![by] }).await?;
    let expires = state.service.now().0 + STAFF_SESSION_MS;
    let token = state.keys.sign(
        &Claims {
            hall,
            user: user.clone(),
            expires,
            device: None,
            pass: false,
            started: None,
            granted,
        },
        binding,
    );
    tracing::info!(%hall, %user, ?role, "signed in");
    Ok(Session {
        token,
        hall: hall.to_string(),
        user,
        role,
        windows,
        expires_at: Some(expires),
        device: None,
    })
}

/// Pairs a new device for a device account (made durable before it is
/// answered) and signs it in for good: its token is valid until an
/// administrator revokes the device.
///
/// # Errors
/// The hall refuses the pairing, or the store is unavailable.
pub(super) async fn device_session(
    state: &AppState,
    hall: HallId,
    account: &Account,
    name: &str,
    by: AuditNote,
) -> Result<Session, ApiError> {
    let device = new_device_id()?;
    let note = AuditNote {
        target: Some(device.clone()),
        ..by
    };
    state
        .service
        .execute_noted(
            hall,
            Command::PairDevice {
                device: device.clone(),
                account: account.user.clone(),
                name: name.trim().to_owned(),
            },
            note,
        )
        .await?;
    let token = state.keys.sign(
        &Claims {
            hall,
            user: account.user.clone(),
            expires: 0,
            device: Some(device.clone()),
            pass: false,
            started: None,
            granted: None,
        },
        &account.password_hash,
    );
    tracing::info!(%hall, user = %account.user, role = ?account.role, %device, "device paired");
    Ok(Session {
        token,
        hall: hall.to_string(),
        user: account.user.clone(),
        role: account.role,
        windows: account.windows.clone(),
        expires_at: None,
        device: Some(device),
    })
}

/// A fresh device id: `dev-` and 24 hex digits.
fn new_device_id() -> Result<String, ApiError> {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("no randomness: {e}"),
        )
    })?;
    Ok(format!(
        "dev-{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    ))
}
