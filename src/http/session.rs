//! `POST /api/v1/login`: staff and display devices sign in.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorDoc};
use super::extract::{Body, ClientIp, hall_id};
use crate::auth::{Claims, STAFF_SESSION_MS, hash_password, verify_password};

static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
use crate::config::Role;
use crate::engine::WindowNo;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/login", post(login))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub hall: String,
    pub user: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Session {
    pub token: String,
    pub hall: String,
    pub user: String,
    pub role: Role,
    pub windows: Vec<WindowNo>,
    /// Unix milliseconds; absent for display devices, which stay signed in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// Signs in: a token for the `Authorization: Bearer` header (or a
/// WebSocket's `token` query value).
#[utoipa::path(post, path = "/api/v1/login", tag = "public", request_body = Login,
    responses((status = 200, body = Session), (status = 401, body = ErrorDoc, description = "Wrong user name or password"),
        (status = 404, body = ErrorDoc, description = "Unknown hall"), (status = 429, body = ErrorDoc, description = "Too many attempts")))]
async fn login(State(state): State<AppState>, ip: ClientIp, Body(req): Body<Login>) -> Result<Json<Session>, ApiError> {
    ip.limit(&state.limits.login)?;
    let hall = hall_id(&state, &req.hall)?;
    let cfg = state.service.halls.config(hall)?.clone();
    let refused = || ApiError::unauthenticated("wrong user name or password");
    let account = cfg.account(&req.user).cloned();
    // Verify even for an unknown user, so timing does not tell which
    // user names exist.
    let hash = account.as_ref().map_or_else(
        || DUMMY.get_or_init(|| hash_password("-").unwrap_or_default()).clone(),
        |a| a.password_hash.clone(),
    );
    let password = req.password;
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let account = account.filter(|_| ok).ok_or_else(refused)?;
    let expires = if account.role == Role::Display {
        0
    } else {
        state.service.now().0 + STAFF_SESSION_MS
    };
    let token = state.keys.sign(&Claims {
        hall,
        user: account.user.clone(),
        expires,
    });
    tracing::info!(%hall, user = %account.user, role = ?account.role, "signed in");
    Ok(Json(Session {
        token,
        hall: hall.to_string(),
        user: account.user,
        role: account.role,
        windows: account.windows,
        expires_at: (expires != 0).then_some(expires),
    }))
}
