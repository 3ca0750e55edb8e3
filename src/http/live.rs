//! The WebSocket subscriptions (docs/protocol.md): a hall, zone or window
//! for screens, LED strips and consoles, and one ticket for its citizen.
//!
//! Each connection is one task: it forwards its hall's shared frames that
//! concern its scope, pings every 10 s, and drops a peer silent for 30 s or
//! one that stops reading for 10 s. A connection that falls behind the
//! hall's ring is sent a snapshot instead, so its memory stays bounded.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::AppState;
use super::error::ApiError;
use super::extract::hall_id;
use super::tickets::citizen_ticket;
use crate::hub::{Feed, Format, Render, Scope};

/// Clients send only small control messages: a longer one is answered
/// with an error and the connection stays.
pub const MAX_MESSAGE: usize = 4096;
/// A frame beyond this is not even read: the connection is closed (1009).
pub const MAX_FRAME: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/halls/{hall}/live", get(hall_live))
        .route("/api/v1/tickets/{token}/live", get(ticket_live))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveQuery {
    /// `hall` (default), `zone:ID` or `window:N`.
    #[serde(default)]
    pub scope: String,
    /// `json` (default) or `led`.
    #[serde(default)]
    pub format: String,
    /// The last sequence number the client has: it is sent what it missed.
    #[serde(default)]
    pub since: Option<u64>,
    /// The sign-in token (browsers cannot set headers on a WebSocket).
    #[serde(default)]
    pub token: Option<String>,
}

fn upgrade(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    // Small buffers: most connections are idle screens, and frames are a
    // few hundred bytes.
    ws.read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
}

fn query(q: Result<Query<LiveQuery>, QueryRejection>) -> Result<LiveQuery, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request("bad_query", e.body_text()))
}

fn websocket(
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<WebSocketUpgrade, ApiError> {
    ws.map_err(|e| ApiError::bad_request("not_websocket", e.body_text()))
}

/// A hall, zone or window: any signed-in account of the hall, displays
/// included.
async fn hall_live(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(hall): Path<String>,
    q: Result<Query<LiveQuery>, QueryRejection>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let hall = hall_id(&state, &hall)?;
    let q = query(q)?;
    state.principal(&headers, q.token.as_deref(), hall)?;
    let cfg = state
        .service
        .halls
        .config(hall)
        .map_err(|_| ApiError::not_found("unknown_hall", "no such hall"))?
        .clone();
    let scope = Scope::parse(&q.scope, &cfg).map_err(|e| ApiError::bad_request("bad_scope", e.to_string()))?;
    let format = Format::parse(&q.format).map_err(|e| ApiError::bad_request("bad_format", e.to_string()))?;
    let served = match scope {
        Scope::Window(w, _) => cfg.windows[w].serves.iter().map(|s| s.zone).collect(),
        _ => Vec::new(),
    };
    let feed = state
        .hub
        .feed(hall)
        .cloned()
        .ok_or_else(|| ApiError::not_found("unknown_hall", "no such hall"))?;
    let ws = websocket(ws)?;
    Ok(upgrade(ws).on_upgrade(move |socket| serve(socket, state, feed, scope, format, q.since, served)))
}

/// One ticket, by the citizen's token: public.
async fn ticket_live(
    State(state): State<AppState>,
    Path(token): Path<String>,
    q: Result<Query<LiveQuery>, QueryRejection>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let (hall, number) = citizen_ticket(&state, &token)?;
    let feed = state
        .hub
        .feed(hall)
        .cloned()
        .ok_or_else(|| ApiError::not_found("unknown_ticket", "no such ticket"))?;
    let ws = websocket(ws)?;
    Ok(upgrade(ws).on_upgrade(move |socket| {
        serve(
            socket,
            state,
            feed,
            Scope::Ticket(number),
            Format::Json,
            q.since,
            Vec::new(),
        )
    }))
}

struct Counted(Arc<crate::hub::HubStats>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why a connection ended early.
enum End {
    /// The peer is gone or broke the protocol.
    Gone,
    /// The peer stopped reading.
    Stalled,
}

async fn send(socket: &mut WebSocket, text: Utf8Bytes, limit: Duration) -> Result<(), End> {
    match tokio::time::timeout(limit, socket.send(Message::Text(text))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::Gone),
        Err(_) => Err(End::Stalled),
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.send(Message::Close(Some(frame)))).await;
}

fn error_text(code: &str, message: &str) -> Utf8Bytes {
    Utf8Bytes::from(crate::hub::wire_error(code, message))
}

async fn serve(
    mut socket: WebSocket,
    state: AppState,
    feed: Arc<Feed>,
    scope: Scope,
    format: Format,
    since: Option<u64>,
    served: Vec<usize>,
) {
    let stats = state.hub.stats.clone();
    let beat = state.hub.heartbeat;
    let limit = beat.send_timeout;
    stats.connections.fetch_add(1, Ordering::Relaxed);
    let _counted = Counted(stats.clone());
    let Some(start) = feed.subscribe(scope, format, since, state.service.now()) else {
        let _ = send(&mut socket, error_text("unknown_ticket", "no such ticket today"), limit).await;
        close(&mut socket, close_code::POLICY, "unknown ticket").await;
        return;
    };
    let mut rx = start.rx;
    let mut sent = start.seq;
    for text in start.first {
        if send(&mut socket, text, limit).await.is_err() {
            return;
        }
    }
    let mut closing = state.hub.closing();
    let mut ping = tokio::time::interval_at(Instant::now() + beat.ping_every, beat.ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut heard = Instant::now();
    let end = loop {
        tokio::select! {
            r = rx.recv() => {
                let out = match r {
                    Ok(frame) => {
                        if frame.seq <= sent && !frame.reset {
                            continue;
                        }
                        match feed.render(&frame, scope, format, &served) {
                            Render::Skip => {
                                sent = frame.seq;
                                continue;
                            }
                            Render::Send(text) => {
                                sent = frame.seq;
                                Some(text)
                            }
                            Render::Resnapshot => None,
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        stats.resyncs.fetch_add(1, Ordering::Relaxed);
                        None
                    }
                    Err(RecvError::Closed) => break None,
                };
                let text = match out {
                    Some(t) => t,
                    None => match feed.snapshot(scope, format, state.service.now()) {
                        Some((seq, snap)) => {
                            sent = seq;
                            snap
                        }
                        None => break None,
                    },
                };
                if let Err(e) = send(&mut socket, text, limit).await {
                    break Some(e);
                }
            }
            m = socket.recv() => {
                heard = Instant::now();
                match m {
                    Some(Ok(Message::Text(t))) => {
                        let reply = if t.len() > MAX_MESSAGE {
                            error_text("message_too_large", &format!("messages are at most {MAX_MESSAGE} bytes"))
                        } else if t.trim() == r#"{"type":"ping"}"# {
                            Utf8Bytes::from(format!(r#"{{"type":"pong","seq":{sent}}}"#))
                        } else {
                            error_text("bad_message", "clients send only {\"type\":\"ping\"}; the subscription is chosen in the URL")
                        };
                        if let Err(e) = send(&mut socket, reply, limit).await {
                            break Some(e);
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        if let Err(e) = send(&mut socket, error_text("bad_message", "binary messages are not accepted"), limit).await {
                            break Some(e);
                        }
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | None => break Some(End::Gone),
                    Some(Err(e)) => {
                        let _ = send(&mut socket, error_text("bad_frame", &e.to_string()), limit).await;
                        close(&mut socket, close_code::SIZE, "message too large or malformed").await;
                        break Some(End::Gone);
                    }
                }
            }
            _ = ping.tick() => {
                if heard.elapsed() > beat.dead_after {
                    stats.shed.fetch_add(1, Ordering::Relaxed);
                    break Some(End::Gone);
                }
                if socket.send(Message::Ping(axum::body::Bytes::new())).await.is_err() {
                    break Some(End::Gone);
                }
            }
            _ = closing.changed() => {
                close(&mut socket, close_code::AWAY, "server shutting down").await;
                break None;
            }
        }
    };
    if let Some(End::Stalled) = end {
        stats.shed.fetch_add(1, Ordering::Relaxed);
        tracing::info!(?scope, "dropped a subscriber that stopped reading");
    }
}
