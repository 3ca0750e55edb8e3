//! Extractors shared by the routes: the hall (and window) named in the
//! path, a JSON body whose every rejection is an [`ApiError`], the caller's
//! credentials, the client's address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use crate::auth::{Principal, RateLimiter};
use crate::config::Role;
use crate::engine::{HallId, TicketNumber, WindowNo};

/// The hall named by the path's `{hall}`, one this server runs (404
/// otherwise, with the API's error document).
pub struct HallPath(pub HallId);

/// The window named by the path's `{window}`, of the hall named by its
/// `{hall}` (404 for either that does not exist).
pub struct WindowPath {
    pub hall: HallId,
    pub window: WindowNo,
}

/// The value of one named segment of the request's path.
async fn segment(parts: &mut Parts, state: &AppState, name: &str) -> Result<String, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::bad_request("bad_path", e.body_text()))?;
    params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        // A route that uses the extractor without the segment is a bug.
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("no {{{name}}} in the route"),
            )
        })
}

impl FromRequestParts<AppState> for HallPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let raw = segment(parts, state, "hall").await?;
        Ok(HallPath(hall_id(state, &raw)?))
    }
}

impl FromRequestParts<AppState> for WindowPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let HallPath(hall) = HallPath::from_request_parts(parts, state).await?;
        let raw = segment(parts, state, "window").await?;
        Ok(WindowPath {
            hall,
            window: window_no(state, hall, &raw)?,
        })
    }
}

/// A JSON body. Malformed JSON, unknown fields, a missing content type and
/// oversized bodies all answer with the API's error document.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state)
            .await
            .map_err(|e: JsonRejection| ApiError::from(e))?;
        Ok(Body(v))
    }
}

/// The client's address, for rate limits and sign-in lockouts: behind a
/// trusted reverse proxy, the one it names (see `proxies`).
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
        Ok(ClientIp(state.proxies.client(peer, &parts.headers)))
    }
}

impl ClientIp {
    /// # Errors
    /// 429 while the client's bucket is empty.
    pub fn limit(&self, limiter: &RateLimiter) -> Result<(), ApiError> {
        limiter
            .check(self.0, std::time::Instant::now())
            .map_err(ApiError::too_many)
    }

    /// 429 while the client's bucket is empty, taking nothing from it
    /// (a limit on failures: see [`ClientIp::charge`]).
    ///
    /// # Errors
    /// 429 while the client's bucket is empty.
    pub fn ready(&self, limiter: &RateLimiter) -> Result<(), ApiError> {
        limiter
            .ready(self.0, std::time::Instant::now())
            .map_err(ApiError::too_many)
    }

    /// Counts one failure against the client.
    pub fn charge(&self, limiter: &RateLimiter) {
        limiter.charge(self.0, std::time::Instant::now());
    }

    /// An audit note of `who` doing `action` from this address.
    pub fn note(
        &self,
        action: crate::engine::AuditAction,
        who: &str,
        target: Option<String>,
    ) -> crate::engine::AuditNote {
        crate::engine::AuditNote::new(action, who, Some(self.0.to_string()), target)
    }

    /// Gives back what [`ClientIp::limit`] took (a request that succeeded,
    /// where only failures count).
    pub fn refund(&self, limiter: &RateLimiter) {
        limiter.refund(self.0);
    }
}

/// 400 for a sign-in token sent in an address, where proxies and browser
/// histories keep it: an address carries a short-lived pass instead.
pub fn token_in_address() -> ApiError {
    ApiError::bad_request(
        "token_in_address",
        "a sign-in token does not go in an address (proxies log addresses): get a pass with \
         POST /api/v1/halls/{hall}/passes and send it as ?pass=",
    )
}

/// The bearer token in a request's `Authorization` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Parses a hall id from a path and checks the hall exists.
///
/// # Errors
/// 404 for a hall this server does not have.
pub fn hall_id(state: &AppState, p: &str) -> Result<HallId, ApiError> {
    HallId::new(p)
        .ok()
        .filter(|h| state.service.halls.config(*h).is_ok())
        .ok_or_else(|| ApiError::not_found("unknown_hall", format!("no hall {p:?}")))
}

/// The hall, locked: read it and let go (never across an `.await`).
///
/// # Errors
/// 404 for a hall this server does not have.
pub fn locked(state: &AppState, id: HallId) -> Result<std::sync::MutexGuard<'_, crate::engine::Hall>, ApiError> {
    Ok(state.service.halls.lock(id)?)
}

/// The hall's configuration.
///
/// # Errors
/// 404 for a hall this server does not have.
pub fn hall_config(state: &AppState, id: HallId) -> Result<std::sync::Arc<crate::config::HallConfig>, ApiError> {
    Ok(state.service.halls.config(id)?.clone())
}

/// A business day named in a query, `YYYY-MM-DD`.
///
/// # Errors
/// 400 `bad_date` naming the parameter.
pub fn date(what: &str, s: &str) -> Result<jiff::civil::Date, ApiError> {
    s.parse()
        .map_err(|_| ApiError::bad_request("bad_date", format!("{what} = {s:?} is not a date (YYYY-MM-DD)")))
}

/// # Errors
/// 400 for a number that is not a ticket number.
pub fn ticket_number(p: &str) -> Result<TicketNumber, ApiError> {
    p.parse()
        .map_err(|e: crate::engine::TicketNumberError| ApiError::bad_request("bad_ticket", format!("{p:?}: {e}")))
}

/// # Errors
/// 404 for a window the hall does not have.
pub fn window_no(state: &AppState, hall: HallId, p: &str) -> Result<WindowNo, ApiError> {
    p.parse::<WindowNo>()
        .ok()
        .filter(|n| {
            state
                .service
                .halls
                .config(hall)
                .is_ok_and(|c| c.spec.window_index(*n).is_some())
        })
        .ok_or_else(|| ApiError::not_found("unknown_window", format!("no window {p:?} in hall {hall}")))
}

impl AppState {
    /// The signed-in account behind a request to `hall`.
    ///
    /// # Errors
    /// 401 without a valid token for this hall.
    pub fn principal(
        &self,
        headers: &HeaderMap,
        query_pass: Option<&str>,
        hall: HallId,
    ) -> Result<Principal, ApiError> {
        let from_header = bearer(headers);
        let token = from_header
            .or(query_pass)
            .ok_or_else(|| ApiError::unauthenticated("sign in first: no bearer token"))?;
        let cfg = self.service.halls.config(hall)?;
        let p = self
            .keys
            .verify(token, &cfg, self.service.now())
            .map_err(|e| ApiError::unauthenticated(e.to_string()))?;
        if from_header.is_none() && !p.by_pass {
            return Err(token_in_address());
        }
        if from_header.is_some() && p.by_pass {
            // A pass opens a live connection or an announcement, nothing
            // else (nor another pass, which would make it last for ever).
            return Err(ApiError::unauthenticated(
                "a pass is for ?pass= on a WebSocket or announcement: send the sign-in token",
            ));
        }
        if let Some(device) = &p.device {
            let kept = locked(self, hall)?.device(device).is_some_and(|d| d.account == p.user);
            if !kept {
                return Err(ApiError::unauthenticated(
                    crate::auth::TokenError::DeviceRevoked.to_string(),
                ));
            }
        }
        if let Some(started) = p.session_started
            && locked(self, hall)?
                .signed_out_at(&p.user)
                .is_some_and(|out| out >= started)
        {
            return Err(ApiError::unauthenticated(
                crate::auth::TokenError::SignedOut.to_string(),
            ));
        }
        super::serve::signed_in();
        Ok(p)
    }

    /// As [`AppState::principal`], and one of `roles`.
    ///
    /// # Errors
    /// 401 without valid credentials, 403 for another role.
    pub fn require(&self, headers: &HeaderMap, hall: HallId, roles: &[Role]) -> Result<Principal, ApiError> {
        let p = self.principal(headers, None, hall)?;
        if p.role == Role::Admin || roles.contains(&p.role) {
            Ok(p)
        } else {
            Err(ApiError::forbidden(format!(
                "a {} account may not do this",
                p.role.name()
            )))
        }
    }
}
