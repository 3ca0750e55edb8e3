//! HTTP routes, one file per resource. Handlers never await while a hall is
//! locked: the service locks, runs the engine and queues the write, and the
//! handler awaits durability after the lock is released.
//!
//! - `halls`: the halls, their figures, queues and windows, and the
//!   administrator's generic command endpoint;
//! - `tickets`: issuing (guide desk, kiosk, phone, appointment check-in),
//!   looking up, cancelling, reactivating and moving tickets, and the
//!   citizen's own ticket;
//! - `appointments`: booking, listing, cancelling and checking in by code;
//! - `windows`: everything a window does;
//! - `session`: signing in;
//! - `live`: the WebSocket subscriptions;
//! - `announcements`: a call's announcement as WAV, for the hall display;
//! - `reports`: day and range reports, as JSON and as CSV;
//! - `pages`: the browser pages of `displays/`, embedded;
//! - `openapi`: the OpenAPI document generated from the handlers;
//! - `keyed`: `Idempotency-Key`, and answering with what is kept for it;
//! - `extract`, `error`: what every route shares.

mod advice;
mod announcements;
mod appointments;
pub mod audit;
mod config;
mod devices;
mod edits;
mod error;
mod evaluator;
mod extract;
pub mod forward;
mod halls;
mod keyed;
mod live;
mod openapi;
mod outbox;
mod pages;
mod printing;
pub mod proxies;
mod ratings;
mod reports;
pub mod serve;
mod session;
mod tickets;
mod windows;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tracing::Instrument;

pub use error::ApiError;
pub use openapi::ApiDoc;

use crate::audio::Announcer;
use crate::auth::{Keys, Lockouts, PasswordChecks, RateLimiter, Rates};
use crate::hub::Hub;
use crate::service::Service;

/// The largest request body accepted: commands are a few hundred bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// Rate limits per client address.
pub struct Limits {
    /// Ticket status and mobile ticket-taking.
    pub public: RateLimiter,
    /// Sign-in attempts (password guessing), per address.
    pub login: RateLimiter,
    /// Wrong passwords per account.
    pub lockouts: Lockouts,
    /// Password checks, a few at once.
    pub passwords: PasswordChecks,
    /// Refused sign-ins, written to the audit log every minute.
    pub refused_sign_ins: audit::RefusedSignIns,
    /// Proof-of-work challenges spent on phone tickets.
    pub challenges: crate::auth::UsedChallenges,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            public: RateLimiter::new(Rates {
                burst: 30.0,
                per_sec: 2.0,
            }),
            login: RateLimiter::new(Rates {
                burst: 10.0,
                per_sec: 0.5,
            }),
            lockouts: Lockouts::default(),
            refused_sign_ins: audit::RefusedSignIns::default(),
            challenges: crate::auth::UsedChallenges::default(),
            passwords: PasswordChecks::for_this_machine(),
        }
    }
}

/// What every handler can reach. Extracted into every request, so one
/// reference count, not a clone of each part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    pub service: Service,
    pub hub: Hub,
    pub keys: Arc<Keys>,
    pub limits: Arc<Limits>,
    pub announcer: Announcer,
    /// Where citizens' phones reach this server (the ticket QR code's
    /// address); when unset, the address the request came to.
    pub public_url: Option<Arc<str>>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub proxies: proxies::TrustedProxies,
    /// Devices waiting for their pairing code to be entered.
    pub pairings: Arc<crate::auth::Pairings<session::Session>>,
    /// The PostgreSQL archive, when `--archive` is given.
    pub archive: Option<crate::archive::Archive>,
    /// Webhooks and the government platform (see `outbox`).
    pub outbox: Option<crate::outbox::Outbox>,
    /// Where citizens' contacts are kept, and their key (see `notices`).
    pub notices: Option<crate::notices::Kit>,
    /// The LDAP or Active Directory staff sign in against, when the
    /// configuration has a `[directory]`.
    pub directory: Option<Arc<crate::auth::directory::Directory>>,
    /// With Redis as the store: where each hall is served, to pass
    /// requests on to its node.
    pub cluster: Option<Cluster>,
}

/// This node among the others on one Redis (see `forward`).
#[derive(Clone)]
pub struct Cluster {
    pub placement: crate::cluster::keeper::Placement,
    /// This node's name, sent with each request it passes on.
    pub node: String,
    /// To the other nodes: connections kept open, answers bounded in time.
    pub client: reqwest::Client,
    pub stream: crate::store::Stream,
}

impl Cluster {
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(
        placement: crate::cluster::keeper::Placement,
        node: String,
        stream: crate::store::Stream,
    ) -> Result<Cluster, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Cluster {
            placement,
            node,
            client,
            stream,
        })
    }

    /// Reads what another node has written to a hall this one does not
    /// own, before a request that must see it (a screen signing in right
    /// after its sign-in was made on the hall's node).
    pub async fn catch_up(&self, service: &Service, hall: crate::engine::HallId) {
        if !service.halls.is_owned(hall) {
            crate::cluster::keeper::follow(&service.store, &self.stream, &service.halls, hall).await;
        }
    }
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(session::router())
        .merge(devices::router())
        .merge(evaluator::router())
        .merge(ratings::router())
        .merge(halls::router())
        .merge(tickets::router())
        .merge(appointments::router())
        .merge(windows::router())
        .merge(live::router())
        .merge(announcements::router())
        .merge(reports::router())
        .merge(audit::router())
        .merge(outbox::router())
        .merge(printing::router())
        .merge(config::router())
        .merge(advice::router())
        .merge(pages::router())
        .merge(openapi::router())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), forward::forward))
        .layer(middleware::from_fn(keyed::fingerprint))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(middleware::from_fn(request_id))
        .layer(middleware::from_fn(harden))
        .with_state(state)
}

/// A handler that panicked (a bug) answers 500 in the API's shape rather
/// than dropping the connection; the panic is logged with its request id.
fn panicked(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("a panic");
    tracing::error!(panic = what, "a request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the server failed on this request (a bug, logged with its x-request-id); a retry with the same Idempotency-Key says whether it was done",
    )
    .into_response()
}

/// Liveness: the process answers and its halls are loaded.
async fn healthz(State(state): State<AppState>) -> Json<Value> {
    let halls: Vec<String> = state.service.halls.ids().map(|h| h.to_string()).collect();
    Json(json!({ "status": "ok", "halls": halls }))
}

/// Readiness: the store answers, so operations can be made durable.
async fn readyz(State(state): State<AppState>) -> Response {
    let late = state.service.slow.outstanding();
    if late > 0 {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_slow",
            format!("{late} write(s) not confirmed by the store in time"),
        )
        .into_response();
    }
    match tokio::time::timeout(Duration::from_secs(1), state.service.store.ping()).await {
        Ok(Ok(())) => Json(json!({ "status": "ready" })).into_response(),
        Ok(Err(e)) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", e.to_string()).into_response()
        }
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the store did not answer within 1 s",
        )
        .into_response(),
    }
}

/// Prometheus text format: the counters, and gauges read from the halls now.
async fn metrics(State(state): State<AppState>) -> Response {
    use std::fmt::Write as _;
    let now = state.service.now();
    let mut g = String::new();
    let gauges: [(&str, &str); 4] = [
        ("hallcall_queue_waiting", "Tickets waiting now."),
        ("hallcall_queue_longest_wait_seconds", "The longest current wait."),
        (
            "hallcall_queue_estimated_wait_seconds",
            "The estimated wait for a ticket issued now.",
        ),
        (
            "hallcall_zone_open_windows",
            "Windows open and not paused that serve the zone.",
        ),
    ];
    let mut rows: Vec<(String, String, [f64; 4])> = Vec::new();
    for id in state.service.halls.ids().collect::<Vec<_>>() {
        if let Ok(hall) = state.service.halls.lock(id) {
            for z in hall.zone_summaries(now) {
                rows.push((
                    id.to_string(),
                    z.zone.to_string(),
                    [
                        z.waiting as f64,
                        z.longest_wait_ms as f64 / 1000.0,
                        z.estimated_wait_ms as f64 / 1000.0,
                        z.open_windows as f64,
                    ],
                ));
            }
        }
    }
    for (i, (name, help)) in gauges.iter().enumerate() {
        let _ = writeln!(g, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (hall, zone, v) in &rows {
            let _ = writeln!(g, "{name}{{hall=\"{hall}\",zone=\"{zone}\"}} {}", v[i]);
        }
    }
    let s = &state.hub.stats;
    for (name, kind, help, v) in [
        (
            "hallcall_websocket_connections",
            "gauge",
            "Live WebSocket connections.",
            s.connections.load(Ordering::Relaxed),
        ),
        (
            "hallcall_websocket_resyncs_total",
            "counter",
            "Subscribers sent a snapshot after falling behind.",
            s.resyncs.load(Ordering::Relaxed),
        ),
        (
            "hallcall_websocket_shed_total",
            "counter",
            "Subscribers dropped for not reading or not answering.",
            s.shed.load(Ordering::Relaxed),
        ),
        (
            "hallcall_store_healthy",
            "gauge",
            "1 while the store's last write succeeded.",
            u64::from(state.service.store.is_healthy()),
        ),
    ] {
        let _ = writeln!(g, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
    }
    if let Some(archive) = &state.archive {
        archive_metrics(&mut g, archive);
    }
    if let Some(directory) = &state.directory {
        directory_metrics(&mut g, &directory.counts);
    }
    outbox_metrics(&mut g, &state);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&g),
    )
        .into_response()
}

/// Sign-ins through the staff directory.
fn directory_metrics(g: &mut String, c: &crate::auth::directory::Counts) {
    use std::fmt::Write as _;
    let _ = writeln!(
        g,
        "# HELP hallcall_directory_up 0 when the latest sign-in through the directory got no answer from it.\n\
         # TYPE hallcall_directory_up gauge\nhallcall_directory_up {}",
        u64::from(!c.down.load(Ordering::Relaxed))
    );
    let _ = writeln!(
        g,
        "# HELP hallcall_directory_sign_ins_total Sign-ins through the directory, since start, by outcome.\n\
         # TYPE hallcall_directory_sign_ins_total counter"
    );
    for (outcome, n) in [
        ("accepted", &c.accepted),
        ("refused", &c.refused),
        ("unavailable", &c.unavailable),
    ] {
        let _ = writeln!(
            g,
            "hallcall_directory_sign_ins_total{{outcome=\"{outcome}\"}} {}",
            n.load(Ordering::Relaxed)
        );
    }
}

/// Messages to webhooks and the platform.
fn outbox_metrics(g: &mut String, state: &AppState) {
    use std::fmt::Write as _;
    let Some(outbox) = &state.outbox else { return };
    let _ = writeln!(
        g,
        "# HELP hallcall_outbox_delivered_total Messages delivered, since start, by hall and receiver.\n\
         # TYPE hallcall_outbox_delivered_total counter"
    );
    let mut pending = Vec::new();
    for hall in state.service.halls.ids() {
        let st = outbox.status.hall(hall);
        for (sink, n) in &st.delivered {
            let _ = writeln!(
                g,
                "hallcall_outbox_delivered_total{{hall=\"{hall}\",sink=\"{sink}\"}} {n}"
            );
        }
        let aside = state
            .service
            .halls
            .lock(hall)
            .map(|h| h.outbox().set_aside.len())
            .unwrap_or(0);
        pending.push((hall, st.pending, aside, st.failing.len()));
    }
    for (name, help, pick) in [
        (
            "hallcall_outbox_pending",
            "Messages made and not yet delivered or set aside.",
            0,
        ),
        (
            "hallcall_outbox_set_aside",
            "Messages that kept failing, waiting for a supervisor to send them again.",
            1,
        ),
        (
            "hallcall_outbox_failing_receivers",
            "Receivers whose last attempt failed.",
            2,
        ),
    ] {
        let _ = writeln!(g, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (hall, p, a, f) in &pending {
            let v = [*p, *a as u64, *f as u64][pick];
            let _ = writeln!(g, "{name}{{hall=\"{hall}\"}} {v}");
        }
    }
}

/// The PostgreSQL archive's figures.
fn archive_metrics(g: &mut String, archive: &crate::archive::Archive) {
    use std::fmt::Write as _;
    let st = &archive.status;
    let _ = writeln!(
        g,
        "# HELP hallcall_archive_connected 1 while the archive is connected to PostgreSQL and writing.\n\
         # TYPE hallcall_archive_connected gauge\nhallcall_archive_connected {}",
        u64::from(st.connected())
    );
    let _ = writeln!(
        g,
        "# HELP hallcall_archive_events_total Events archived, since start.\n\
         # TYPE hallcall_archive_events_total counter\nhallcall_archive_events_total {}",
        st.events()
    );
    let _ = writeln!(
        g,
        "# HELP hallcall_archive_behind_events Durable events not archived yet.\n\
         # TYPE hallcall_archive_behind_events gauge"
    );
    for (hall, _, behind) in archive.halls() {
        let _ = writeln!(g, "hallcall_archive_behind_events{{hall=\"{hall}\"}} {behind}");
    }
}

/// On every answer: no MIME sniffing, no referrer (a ticket's page has its
/// token in the address), no framing, a policy that runs nothing for what
/// is not a page (pages bring their own); and every refusal as the API's
/// JSON error document, also those made below the routes (405, 413, a
/// timeout), which would otherwise be empty or plain text.
async fn harden(req: Request, next: Next) -> Response {
    use axum::http::header;
    let mut resp = next.run(req).await;
    let status = resp.status();
    if (status.is_client_error() || status.is_server_error())
        && !resp
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
    {
        let (parts, body) = resp.into_parts();
        let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let code = match status {
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::REQUEST_TIMEOUT => "timeout",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "content_type",
            s if s.is_server_error() => "internal",
            _ => "bad_request",
        };
        let message = if text.trim().is_empty() {
            status.canonical_reason().unwrap_or("error").to_lowercase()
        } else {
            text.trim().to_owned()
        };
        let mut fixed = ApiError::new(status, code, message).into_response();
        for name in [header::ALLOW, header::RETRY_AFTER] {
            if let Some(v) = parts.headers.get(&name) {
                fixed.headers_mut().insert(name, v.clone());
            }
        }
        if let Some(id) = parts.headers.get("x-request-id") {
            fixed.headers_mut().insert("x-request-id", id.clone());
        }
        resp = fixed;
    }
    let h = resp.headers_mut();
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    resp
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route")
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// Read once: `std::process::id` is a system call each time.
static PID: std::sync::LazyLock<u32> = std::sync::LazyLock::new(std::process::id);

/// Gives every request an id (the caller's `x-request-id` if it sent a
/// sensible one), logs it with the outcome, and returns it in the answer.
async fn request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .filter(|v| v.len() <= 64 && v.to_str().is_ok_and(|s| s.chars().all(|c| c.is_ascii_graphic())))
        .cloned()
        .unwrap_or_else(|| {
            let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            // A formatted integer is always a valid header value.
            HeaderValue::from_str(&format!("{:x}-{n}", *PID)).expect("ascii header")
        });
    // A span per request at debug level, as tower-http's tracing does:
    // at the default level it costs nothing, and a failure's own line
    // below still names the request.
    let span = tracing::debug_span!(
        "request",
        id = %id.to_str().unwrap_or(""),
        method = %req.method(),
        path = %req.uri().path(),
    );
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let start = Instant::now();
    let mut resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status().as_u16();
    let micros = start.elapsed().as_micros() as u64;
    if status >= 500 {
        tracing::warn!(id = %id.to_str().unwrap_or(""), %method, path = uri.path(), status, micros, "answered");
    } else {
        span.in_scope(|| tracing::debug!(status, micros, "answered"));
    }
    resp.headers_mut().insert("x-request-id", id);
    resp
}
