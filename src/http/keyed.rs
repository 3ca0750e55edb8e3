//! `Idempotency-Key`: a POST that changes a hall may carry one, so that a
//! console or kiosk that lost an answer (or a double-clicked button) can
//! send the request again without doing it twice. The first answer is kept
//! with the operation's events, in the same durable batch; a repeat of the
//! request with the same key, within the business day, gets that answer
//! back (with `Idempotent-Replayed: true`), also after a restart. A key
//! reused for a different request is refused with 422.
//!
//! Keys are per account: the same key from two accounts names two
//! requests. Refusals are not kept (nothing was done, so a repeat simply
//! runs again).

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;
use crate::engine::{Command, Event, Hall, HallId};
use crate::service::{Answer, Outcome, RequestKey, ServiceError};

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// A key is 1 to this many visible ASCII characters (a UUID is 36).
pub const MAX_KEY: usize = 128;

/// The key a request came with, and the digest of its method, path and
/// body.
#[derive(Clone, Debug)]
pub struct ClientKey {
    key: String,
    fingerprint: String,
}

impl ClientKey {
    /// The key as the client sent it.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// The key as the hall keeps it: scoped to the account that sent it.
    pub fn by(&self, who: &str) -> RequestKey {
        RequestKey {
            key: format!("{who} {}", self.key),
            fingerprint: self.fingerprint.clone(),
        }
    }
}

/// Reads a POST's `Idempotency-Key`, checks it and fingerprints the
/// request for the handler (see [`Keyed`]).
pub async fn fingerprint(req: Request, next: Next) -> Response {
    let Some(raw) = req.headers().get(&IDEMPOTENCY_KEY) else {
        return next.run(req).await;
    };
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let key = match check_key(raw) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let (mut parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, super::MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("a request body is at most {} bytes", super::MAX_BODY),
            )
            .into_response();
        }
    };
    let mut digest = Sha256::new();
    digest.update(parts.method.as_str().as_bytes());
    digest.update(b" ");
    digest.update(parts.uri.path().as_bytes());
    digest.update(b"\n");
    digest.update(&bytes);
    let fingerprint = digest.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect();
    parts.extensions.insert(ClientKey { key, fingerprint });
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

fn check_key(raw: &HeaderValue) -> Result<String, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "bad_idempotency_key",
            format!("Idempotency-Key must be 1 to {MAX_KEY} visible ASCII characters, as a UUID"),
        )
    };
    let s = raw.to_str().map_err(|_| bad())?;
    // Also accepted as an RFC 8941 string: "…" (the IETF draft's form).
    let s = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s);
    let fine = !s.is_empty() && s.len() <= MAX_KEY && s.bytes().all(|b| b.is_ascii_graphic());
    if fine { Ok(s.to_owned()) } else { Err(bad()) }
}

/// The request's idempotency key, if it has one.
pub struct Keyed(pub Option<ClientKey>);

impl<S: Send + Sync> FromRequestParts<S> for Keyed {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Keyed(parts.extensions.get::<ClientKey>().cloned()))
    }
}

impl Keyed {
    /// The key as kept for `who` (an account, or a citizen's ticket).
    pub fn by(&self, who: &str) -> Option<RequestKey> {
        self.0.as_ref().map(|k| k.by(who))
    }
}

/// Runs `cmd` (with `note` in the audit log, when given) and answers with `status` and what `answer` makes of the
/// hall right after it (under the same lock), serialized there too so
/// that the body kept for the key is the body sent. A repeat of a keyed
/// request answers what the first one did.
///
/// # Errors
/// The service's refusal, or `answer`'s.
pub async fn respond<T: Serialize>(
    state: &AppState,
    hall: HallId,
    (key, note): (Option<RequestKey>, Option<crate::engine::AuditNote>),
    cmd: Command,
    check: impl FnOnce(&Hall) -> Result<(), ServiceError>,
    status: StatusCode,
    answer: impl FnOnce(&Hall, &[Event]) -> Result<T, ApiError>,
) -> Result<Response, ApiError> {
    let outcome = state
        .service
        .execute_keyed(hall, cmd, (key.as_ref(), note), check, |h, events| {
            let body = answer(h, events).and_then(|t| {
                serde_json::to_string(&t)
                    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))
            });
            let kept = body.as_ref().ok().map(|b| Answer {
                status: status.as_u16(),
                body: b.clone(),
            });
            (body, kept)
        })
        .await?;
    Ok(match outcome {
        Outcome::Done(_, body) => json(status, body?),
        Outcome::Repeated(kept) => {
            let status = StatusCode::from_u16(kept.status).unwrap_or(StatusCode::OK);
            let mut r = json(status, kept.body);
            r.headers_mut().insert(REPLAYED, HeaderValue::from_static("true"));
            r
        }
    })
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_visible_ascii() {
        let ok = |s: &str| check_key(&HeaderValue::from_str(s).unwrap());
        assert_eq!(ok("3f1c2a9e-0d7b-4c1e-9a55-1b2c3d4e5f60").unwrap().len(), 36);
        assert_eq!(ok("\"abc\"").unwrap(), "abc");
        assert!(ok("").is_err());
        assert!(ok("a b").is_err());
        assert!(ok(&"k".repeat(MAX_KEY + 1)).is_err());
        assert!(ok("\"\"").is_err());
    }
}
