//! Requests for a hall another node owns, passed to that node and its
//! answer passed back, so a kiosk or console may reach any node (a load
//! balancer in front sends anything anywhere).
//!
//! Forwarded, not redirected: browsers follow a 307 for a `fetch`, but a
//! redirect to another origin drops the `Authorization` header and runs
//! into CORS, and kiosks behind one address may not reach the nodes
//! directly at all. One hop only: a forwarded request that finds the hall
//! gone again is answered `503 hall_moving`, never passed on further.
//!
//! Live feeds (`…/live`) are not forwarded: every node follows every
//! hall's events from Redis and serves screens itself.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::cluster::keeper::Place;
use crate::engine::{Code, HallId};

/// Marks a request one node passed to another.
pub const FORWARDED: HeaderName = HeaderName::from_static("x-hallcall-forwarded-by");

/// Headers that belong to one connection, not to the request.
const HOP_BY_HOP: [HeaderName; 5] = [
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::HOST,
    header::CONTENT_LENGTH,
    header::UPGRADE,
];

/// The hall a path is about: `/api/v1/halls/HALL` and below, live feeds
/// aside.
fn hall_of(path: &str) -> Option<HallId> {
    let rest = path.strip_prefix("/api/v1/halls/")?;
    let (hall, below) = rest.split_once('/').unwrap_or((rest, ""));
    if below == "live" {
        return None;
    }
    Code::new(hall).ok()
}

fn moving(hall: HallId, why: &str) -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "hall_moving",
        format!("hall {hall} is moving between servers ({why}); nothing was changed, try again in a moment"),
    )
    .retry_after(1.0)
    .into_response()
}

/// Middleware: serves here what this node owns, passes on what another
/// owns, and answers 503 for a hall between owners.
pub async fn forward(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(cluster) = &state.cluster else {
        return next.run(req).await;
    };
    let (req, hall) = match hall_of(req.uri().path()) {
        Some(hall) => (req, Some(hall)),
        None => named_elsewhere(&state, req).await,
    };
    let Some(hall) = hall else {
        return next.run(req).await;
    };
    match settled(&cluster.placement, hall).await {
        // Unknown halls get their 404 from the handlers.
        None | Some(Place::Here) => next.run(req).await,
        Some(Place::Moving) => moving(hall, "no node serves it this moment"),
        Some(Place::At(_)) if req.headers().contains_key(&FORWARDED) => {
            moving(hall, "it left the node the request was passed to")
        }
        Some(Place::At(url)) => {
            // An owner that stops answering (paused, cut off) is replaced
            // within seconds: stop waiting then, not at the client's timeout.
            tokio::select! {
                answer = pass(cluster, hall, &url, req) => answer,
                () = moved_from(&cluster.placement, hall, &url) => unconfirmed(hall),
            }
        }
    }
}

/// How long a request waits for a hall between nodes to land on one
/// before it is answered 503: a handover takes a beat or two.
const WAIT_FOR_OWNER: std::time::Duration = std::time::Duration::from_millis(1500);

/// Where the hall is served, waiting a moment while it moves.
async fn settled(placement: &crate::cluster::keeper::Placement, hall: HallId) -> Option<Place> {
    let until = tokio::time::Instant::now() + WAIT_FOR_OWNER;
    loop {
        let place = placement.get(hall);
        if place != Some(Place::Moving) || tokio::time::Instant::now() >= until {
            return place;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// Resolves once the hall is no longer placed at `url`.
async fn moved_from(placement: &crate::cluster::keeper::Placement, hall: HallId, url: &str) {
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if placement.get(hall) != Some(Place::At(url.to_owned())) {
            return;
        }
    }
}

/// The owner took the request and gave no answer: it may have done it.
fn unconfirmed(hall: HallId) -> Response {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "owner_unconfirmed",
        format!(
            "the server that owned hall {hall} stopped answering and the hall moved: the operation may have been done; retry with the same Idempotency-Key"
        ),
    )
    .retry_after(1.0)
    .into_response()
}

/// The hall of a request whose path does not name one: a sign-in names it
/// in its body (the sign-in is written to the hall's audit log, so the
/// hall's node must take it), a citizen's ticket link in its token, a
/// device's pairing poll in its secret (the pairing waits in the memory of
/// the hall's node).
async fn named_elsewhere(state: &AppState, req: Request) -> (Request, Option<HallId>) {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/api/v1/tickets/") {
        let (token, below) = rest.split_once('/').unwrap_or((rest, ""));
        let hall = (below != "live")
            .then(|| state.keys.open_ticket_token(token).map(|t| t.hall))
            .flatten();
        return (req, hall);
    }
    if let Some(secret) = path.strip_prefix("/api/v1/pairings/") {
        let hall = secret.split_once('.').and_then(|(hall, _)| Code::new(hall).ok());
        return (req, hall);
    }
    if path != "/api/v1/login" || req.method() != axum::http::Method::POST {
        return (req, None);
    }
    #[derive(serde::Deserialize)]
    struct Named {
        hall: String,
    }
    let (parts, body) = req.into_parts();
    // Too large or unreadable: left for the handler to refuse.
    let bytes = axum::body::to_bytes(body, super::MAX_BODY).await.unwrap_or_default();
    let hall = serde_json::from_slice::<Named>(&bytes)
        .ok()
        .and_then(|n| Code::new(&n.hall).ok());
    (Request::from_parts(parts, Body::from(bytes)), hall)
}

/// Passes the request to the node at `url` and its answer back.
async fn pass(cluster: &super::Cluster, hall: HallId, url: &str, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, super::config::MAX_CONFIG_BODY).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is too large",
        )
        .into_response();
    };
    let target = format!(
        "{url}{}",
        parts.uri.path_and_query().map_or(parts.uri.path(), |p| p.as_str())
    );
    let mut out = cluster.client.request(parts.method.clone(), &target).body(body);
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(name) {
            out = out.header(name, value);
        }
    }
    out = out.header(&FORWARDED, cluster.node.as_str());
    let answer = match out.send().await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(%hall, owner = %url, error = %e, "cannot pass a request to the hall's node");
            return moving(hall, "its node does not answer");
        }
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = match answer.bytes().await {
        Ok(b) => b,
        Err(e) => {
            // The owner may have done it: say so, as for a slow store.
            tracing::warn!(%hall, owner = %url, error = %e, "the hall's node broke off its answer");
            return unconfirmed(hall);
        }
    };
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    for (name, value) in &headers {
        if !HOP_BY_HOP.contains(name) {
            resp.headers_mut().append(name, value.clone());
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hall_paths_other_than_live_feeds_are_forwarded() {
        let h = |s: &str| hall_of(s).map(|h| h.to_string());
        assert_eq!(h("/api/v1/halls/qiaocheng"), Some("qiaocheng".into()));
        assert_eq!(h("/api/v1/halls/qiaocheng/tickets"), Some("qiaocheng".into()));
        assert_eq!(h("/api/v1/halls/qiaocheng/windows/3/call"), Some("qiaocheng".into()));
        assert_eq!(h("/api/v1/halls/qiaocheng/live"), None);
        assert_eq!(h("/api/v1/halls"), None);
        assert_eq!(h("/api/v1/login"), None);
        assert_eq!(h("/api/v1/halls/../x"), None);
    }
}
