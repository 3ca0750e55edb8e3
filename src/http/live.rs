//! The WebSocket subscriptions (docs/protocol.md): a hall, zone or window
//! for screens, LED strips and consoles, and one ticket for its citizen.
//!
//! Each connection is one task on the raw upgraded socket (`crate::ws`): it
//! writes its hall's shared, pre-encoded frames that concern its scope,
//! pings every 10 s, and drops a peer silent for 30 s or one that stops
//! reading for 10 s. A connection that falls behind the hall's ring is sent
//! a snapshot instead, so its memory stays bounded.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::Instant;

use super::AppState;
use super::error::ApiError;
use super::extract::HallPath;
use super::tickets::citizen_ticket;
use crate::hub::{Feed, Format, Render, Resume, Scope};
use crate::store::Epoch;
use crate::wire::Audience;
use crate::ws::{self, Decoder, Incoming};

/// Frames written together when a subscriber has several waiting.
const COALESCE: usize = 64;
/// Clients send only small control messages: a longer one is answered
/// with an error and the connection stays.
pub const MAX_MESSAGE: usize = 4096;

/// The close code for a connection whose device was signed out (an
/// application code: 4000 and up, as RFC 6455 reserves them; 4401 reads as
/// HTTP's 401).
pub const REVOKED: u16 = 4401;

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
    /// The incarnation of the log `since` is from (docs/protocol.md).
    #[serde(default)]
    pub epoch: Option<String>,
    /// A pass (`POST /api/v1/halls/{hall}/passes`): browsers cannot set
    /// headers on a WebSocket.
    #[serde(default)]
    pub pass: Option<String>,
    /// Refused: a sign-in token does not go in an address.
    #[serde(default)]
    pub token: Option<String>,
}

fn query(q: Result<Query<LiveQuery>, QueryRejection>) -> Result<LiveQuery, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request("bad_query", e.body_text()))
}

impl LiveQuery {
    /// Where the client says it was, if it resumes.
    fn resume(&self) -> Result<Option<Resume>, ApiError> {
        let epoch =
            match &self.epoch {
                None => None,
                Some(e) => Some(e.parse::<Epoch>().map_err(|_| {
                    ApiError::bad_request("bad_epoch", format!("epoch {e:?} is not one this server sent"))
                })?),
            };
        Ok(self.since.map(|since| Resume { since, epoch }))
    }
}

/// Answers the upgrade and runs `serve` on the connection once it is ours.
fn upgrade<F, Fut>(mut req: Request, serve: F) -> Result<Response, ApiError>
where
    F: FnOnce(TokioIo<hyper::upgrade::Upgraded>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let accept = ws::check_upgrade(req.method(), req.headers())
        .map_err(|e| ApiError::bad_request("not_websocket", e.to_string()))?;
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => serve(TokioIo::new(upgraded)).await,
            Err(e) => tracing::debug!(error = %e, "websocket upgrade failed"),
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "upgrade")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(Body::empty())
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))
}

/// A hall, zone or window: any signed-in account of the hall, displays
/// included.
async fn hall_live(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    q: Result<Query<LiveQuery>, QueryRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    if q.token.is_some() {
        return Err(super::extract::token_in_address());
    }
    let who = match (state.principal(&headers, q.pass.as_deref(), hall), &state.cluster) {
        (Ok(who), _) => who,
        // Signed in on the hall's node a moment ago: read that, then ask again.
        (Err(_), Some(cluster)) if !state.service.halls.is_owned(hall) => {
            cluster.catch_up(&state.service, hall).await;
            state.principal(&headers, q.pass.as_deref(), hall)?
        }
        (Err(e), _) => return Err(e),
    };
    let audience = Audience::of(who.role);
    let holder = Holder {
        device: who.device,
        person: who.session_started.map(|_| who.user),
    };
    let cfg = state.service.halls.config(hall)?.clone();
    let scope = Scope::parse(&q.scope, &cfg.spec).map_err(|e| ApiError::bad_request("bad_scope", e.to_string()))?;
    let format = Format::parse(&q.format).map_err(|e| ApiError::bad_request("bad_format", e.to_string()))?;
    let served = match scope {
        Scope::Window(w, _) => cfg.spec.windows[w].serves.iter().map(|s| s.zone).collect(),
        _ => Vec::new(),
    };
    let feed = state
        .hub
        .feed(hall)
        .cloned()
        .ok_or_else(|| ApiError::not_found("unknown_hall", "no such hall"))?;
    let resume = q.resume()?;
    upgrade(req, move |io| {
        serve(io, state, feed, (scope, format, audience), resume, (served, holder))
    })
}

/// One ticket, by the citizen's token: public.
async fn ticket_live(
    State(state): State<AppState>,
    Path(token): Path<String>,
    q: Result<Query<LiveQuery>, QueryRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    // Checked (unknown parameters are refused) though a ticket's page
    // always starts from its current state.
    query(q)?;
    let (hall, number) = citizen_ticket(&state, &token)?;
    let feed = state
        .hub
        .feed(hall)
        .cloned()
        .ok_or_else(|| ApiError::not_found("unknown_ticket", "no such ticket"))?;
    // A citizen's page: their ticket alone (`wire::view::CitizenTicket`).
    let what = (Scope::Ticket(number), Format::Json, Audience::Display);
    upgrade(req, move |io| {
        serve(io, state, feed, what, None, (Vec::new(), Holder::default()))
    })
}

/// Whose sign-in a connection lives on: it ends when that sign-in does.
#[derive(Default)]
struct Holder {
    /// A paired device: until it is revoked.
    device: Option<String>,
    /// A person's account: until it signs out everywhere.
    person: Option<String>,
}

impl Holder {
    fn ended_by(&self, frame: &crate::hub::Frame) -> bool {
        self.device.as_deref().is_some_and(|d| frame.revokes(d))
            || self.person.as_deref().is_some_and(|u| frame.signs_out(u))
    }
}

struct Counted(Arc<crate::hub::HubStats>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why a connection ended.
enum End {
    /// The peer left, broke the protocol, or the server is stopping.
    Gone,
    /// The peer stopped reading.
    Stalled,
}

/// Writes one encoded frame, or gives up on a peer that does not take it.
async fn write<IO: AsyncWrite + Unpin>(io: &mut IO, frame: &[u8], limit: Duration) -> Result<(), End> {
    match tokio::time::timeout(limit, io.write_all(frame)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::Gone),
        Err(_) => Err(End::Stalled),
    }
}

fn error_frame(code: &str, message: &str) -> Bytes {
    ws::text_frame(&crate::hub::wire_error(code, message))
}

/// Answers what the client sent; `Err` ends the connection.
async fn answer<IO: AsyncWrite + Unpin>(io: &mut IO, msg: Incoming, sent: u64, limit: Duration) -> Result<(), End> {
    match msg {
        Incoming::Text(t) if t.trim_ascii() == br#"{"type":"ping"}"# => {
            write(
                io,
                &ws::text_frame(&format!(r#"{{"type":"pong","seq":{sent}}}"#)),
                limit,
            )
            .await
        }
        Incoming::Text(_) | Incoming::Binary => {
            let frame = error_frame(
                "bad_message",
                "clients send only {\"type\":\"ping\"}; the subscription is chosen in the URL",
            );
            write(io, &frame, limit).await
        }
        Incoming::TooLarge(n) => {
            let frame = error_frame(
                "message_too_large",
                &format!("a message of {n} bytes: messages are at most {MAX_MESSAGE} bytes"),
            );
            write(io, &frame, limit).await
        }
        Incoming::Ping(p) => write(io, &ws::pong_frame(&p), limit).await,
        Incoming::Pong => Ok(()),
        Incoming::Close(_) => {
            let _ = write(io, &ws::close_frame(1000, ""), limit).await;
            Err(End::Gone)
        }
    }
}

async fn serve<IO: AsyncRead + AsyncWrite + Unpin>(
    mut io: IO,
    state: AppState,
    feed: Arc<Feed>,
    (scope, format, audience): (Scope, Format, Audience),
    resume: Option<Resume>,
    (mut served, holder): (Vec<usize>, Holder),
) {
    let stats = state.hub.stats.clone();
    let beat = state.hub.heartbeat;
    let limit = beat.send_timeout;
    stats.connections.fetch_add(1, Ordering::Relaxed);
    let _counted = Counted(stats.clone());
    // Boxed: the catch-up it may read from the store is a large future, and
    // unboxed it would sit in every connection's task for its whole life.
    let subscribed = Box::pin(feed.subscribe(scope, format, audience, resume, state.service.now())).await;
    let Some(start) = subscribed else {
        let _ = write(&mut io, &error_frame("unknown_ticket", "no such ticket today"), limit).await;
        let _ = write(&mut io, &ws::close_frame(1008, "unknown ticket"), limit).await;
        return;
    };
    let mut rx = start.rx;
    let mut sent = start.seq;
    // Counted as a reader of its audience until the connection ends.
    let _reader = start.reader;
    for frame in start.first {
        if write(&mut io, &frame, limit).await.is_err() {
            return;
        }
    }
    let mut closing = state.hub.closing();
    let mut ping = tokio::time::interval_at(Instant::now() + first_ping(beat.ping_every), beat.ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut heard = Instant::now();
    let mut decoder = Decoder::new(MAX_MESSAGE);
    let mut incoming = Vec::new();
    // Idle screens send only pongs: a small buffer, kept in the task.
    let mut buf = [0u8; 256];
    let end = loop {
        tokio::select! {
            r = rx.recv() => {
                // Take what else is already waiting too, and write it all at
                // once: a screen that fell a little behind catches up with
                // one write rather than one per frame.
                let mut out: Vec<Bytes> = Vec::new();
                let mut next = Some(r);
                let mut closed = false;
                while let Some(r) = next.take() {
                    let mut resnapshot = false;
                    match r {
                        Ok(frame) if holder.ended_by(&frame) => {
                            // Signed out for good: the page shows its sign-in.
                            let _ = write(&mut io, &error_frame("unauthenticated", "this sign-in has ended: sign in again"), limit).await;
                            let _ = write(&mut io, &ws::close_frame(REVOKED, "signed out"), limit).await;
                            return;
                        }
                        Ok(frame) if frame.seq > sent || frame.reset => {
                            let render = feed.render(&frame, sent, scope, format, audience, &served);
                            match render {
                                Render::Skip => sent = frame.seq,
                                Render::Send(bytes) => {
                                    sent = frame.seq;
                                    out.push(bytes);
                                }
                                Render::Resnapshot => resnapshot = true,
                            }
                        }
                        Ok(_) => {}
                        Err(RecvError::Lagged(_)) => {
                            stats.resyncs.fetch_add(1, Ordering::Relaxed);
                            resnapshot = true;
                        }
                        Err(RecvError::Closed) => {
                            closed = true;
                            break;
                        }
                    }
                    if resnapshot {
                        // A snapshot stands for everything before it. A new
                        // configuration comes this way too: what a window
                        // serves is read again.
                        out.clear();
                        served = feed.served(scope);
                        match feed.snapshot(scope, format, audience, state.service.now()) {
                            Some((seq, snap)) => {
                                sent = seq;
                                out.push(snap);
                            }
                            None => {
                                closed = true;
                                break;
                            }
                        }
                    }
                    if out.len() < COALESCE {
                        next = match rx.try_recv() {
                            Ok(f) => Some(Ok(f)),
                            Err(TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
                            Err(TryRecvError::Closed) => Some(Err(RecvError::Closed)),
                            Err(TryRecvError::Empty) => None,
                        };
                    }
                }
                let written = match out.len() {
                    0 => Ok(()),
                    1 => write(&mut io, &out[0], limit).await,
                    _ => write(&mut io, &out.concat(), limit).await,
                };
                if let Err(e) = written {
                    break e;
                }
                if closed {
                    break End::Gone;
                }
            }
            n = io.read(&mut buf) => {
                let n = match n {
                    Ok(0) | Err(_) => break End::Gone,
                    Ok(n) => n,
                };
                heard = Instant::now();
                if let Err(e) = decoder.feed(&buf[..n], &mut incoming) {
                    let _ = write(&mut io, &error_frame("bad_frame", &e.to_string()), limit).await;
                    let _ = write(&mut io, &ws::close_frame(e.close_code(), &e.to_string()), limit).await;
                    break End::Gone;
                }
                let mut ended = None;
                for msg in incoming.drain(..) {
                    if let Err(e) = answer(&mut io, msg, sent, limit).await {
                        ended = Some(e);
                        break;
                    }
                }
                if let Some(e) = ended {
                    break e;
                }
            }
            _ = ping.tick() => {
                if heard.elapsed() > beat.dead_after {
                    stats.shed.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(?scope, "dropped a subscriber that stopped answering pings");
                    break End::Gone;
                }
                if let Err(e) = write(&mut io, &ws::ping_frame(), limit).await {
                    break e;
                }
            }
            _ = closing.changed() => {
                let _ = write(&mut io, &ws::close_frame(1001, "server shutting down"), limit).await;
                break End::Gone;
            }
        }
    };
    if let End::Stalled = end {
        stats.shed.fetch_add(1, Ordering::Relaxed);
        tracing::info!(?scope, "dropped a subscriber that stopped reading");
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), io.shutdown()).await;
}

/// When a connection's first ping goes: at a random point of the first
/// period, so screens that connected together (a hall's power back, a
/// node's screens moving to another) are pinged spread over the period,
/// not all in the same moment of every period.
fn first_ping(every: Duration) -> Duration {
    let mut b = [0u8; 4];
    let r = getrandom::fill(&mut b).map_or(u32::MAX, |()| u32::from_le_bytes(b));
    every.mul_f64((f64::from(r) + 1.0) / (f64::from(u32::MAX) + 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_pings_spread_over_the_whole_period() {
        let every = Duration::from_secs(10);
        let firsts: Vec<Duration> = (0..1000).map(|_| first_ping(every)).collect();
        assert!(firsts.iter().all(|f| *f > Duration::ZERO && *f <= every));
        let (lo, hi) = (firsts.iter().min().unwrap(), firsts.iter().max().unwrap());
        assert!(*hi - *lo > Duration::from_secs(9), "spread only {:?}..{:?}", lo, hi);
        // No tenth of the period holds more than twice its share.
        let mut tenths = [0usize; 10];
        for f in &firsts {
            tenths[((f.as_secs_f64() / 1.0) as usize).min(9)] += 1;
        }
        assert!(tenths.iter().all(|n| *n < 200), "{tenths:?}");
    }
}
