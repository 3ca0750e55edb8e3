//! The accept loop: hyper's own connection handling with the timeouts and
//! caps a server on a public network needs, which `axum::serve` leaves
//! out (a silent socket, a half-sent head or body, or an idle keep-alive
//! connection would otherwise stay open for good, and a thousand of them
//! exhaust the open files).
//!
//! - A request's head must arrive within `head_timeout` of the connection
//!   opening or of the previous response (so this is also the idle
//!   keep-alive timeout); its body within `body_timeout`.
//! - Anonymous connections (none of their requests has yet shown a valid
//!   token) are capped in all and per address; past a cap a new one is
//!   closed at once. A connection leaves the count once a request on it
//!   is signed in (`signed_in`): screens, staff and citizens following
//!   their ticket are never turned away by a flood of idle sockets.
//! - `accept` errors (out of file descriptors) back off instead of
//!   spinning.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// How long and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// For a request's head, from the connection's start or the previous
    /// response (the idle keep-alive timeout too).
    pub head_timeout: Duration,
    /// For a request's body, once its head is read.
    pub body_timeout: Duration,
    /// Anonymous connections in all.
    pub max_anonymous: usize,
    /// Anonymous connections from one address. A hall's PCs behind one
    /// NAT address sign in, so they leave this count at their first call.
    pub max_anonymous_per_address: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_anonymous: 4096,
            max_anonymous_per_address: 128,
        }
    }
}

/// The anonymous connections, counted in all and per address.
#[derive(Debug, Default)]
struct Anonymous {
    total: AtomicUsize,
    per_address: DashMap<IpAddr, usize>,
}

impl Anonymous {
    /// Counts a new connection from `ip`, unless a cap is reached.
    /// A trusted proxy (`proxy`) carries many clients: only the total
    /// holds it.
    fn admit(self: &Arc<Self>, ip: IpAddr, limits: &ConnLimits, proxy: bool) -> Option<Admission> {
        let per_address = if proxy {
            usize::MAX
        } else {
            limits.max_anonymous_per_address
        };
        let mut here = self.per_address.entry(ip).or_insert(0);
        if *here >= per_address || self.total.load(Ordering::Relaxed) >= limits.max_anonymous {
            let empty = *here == 0;
            drop(here);
            if empty {
                self.per_address.remove_if(&ip, |_, n| *n == 0);
            }
            return None;
        }
        *here += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        Some(Admission {
            ip,
            counted: AtomicBool::new(true),
            table: self.clone(),
        })
    }

    fn release(&self, ip: IpAddr) {
        if let Entry::Occupied(mut e) = self.per_address.entry(ip) {
            *e.get_mut() -= 1;
            if *e.get() == 0 {
                e.remove();
            }
        }
        self.total.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection's place in the anonymous count, given up when it signs in
/// or closes.
#[derive(Debug)]
struct Admission {
    ip: IpAddr,
    counted: AtomicBool,
    table: Arc<Anonymous>,
}

impl Admission {
    fn leave(&self) {
        if self.counted.swap(false, Ordering::AcqRel) {
            self.table.release(self.ip);
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.leave();
    }
}

tokio::task_local! {
    /// The connection whose request is being handled: hyper runs a
    /// connection's requests in the connection's own task.
    static CONNECTION: Arc<Admission>;
}

/// Takes the current request's connection out of the anonymous count: it
/// showed a valid token (staff, a device, a citizen's ticket).
pub fn signed_in() {
    let _ = CONNECTION.try_with(|c| c.leave());
}

/// Anonymous connections open now, for tests and metrics.
#[derive(Clone, Debug, Default)]
pub struct ConnCounts(Arc<Anonymous>);

impl ConnCounts {
    pub fn anonymous(&self) -> usize {
        self.0.total.load(Ordering::Relaxed)
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then stops
/// accepting, lets `on_shutdown` close what hyper does not track
/// (upgraded WebSockets) and waits up to `drain` for requests in flight.
///
/// # Errors
/// None today: accept errors are logged and retried.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    (counts, proxies): (ConnCounts, super::proxies::TrustedProxies),
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    // HTTP/1.1 only: browsers speak HTTP/2 over TLS alone, which a proxy
    // in front ends. (hyper-util's auto-detecting builder first waits for
    // the client's opening bytes with no timeout at all.)
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.head_timeout);
    // Each connection holds a receiver: changed means shut down; the
    // sender's `closed` means every connection has ended.
    let (stop, stopping) = watch::channel(());
    let table = counts.0;
    let mut backoff = Backoff::default();
    let mut refused = Refusals::default();
    tokio::pin!(shutdown);
    loop {
        let (tcp, addr) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => {
                    backoff.reset();
                    a
                }
                Err(e) => {
                    let wait = backoff.next();
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "cannot accept a connection");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            },
        };
        let Some(admission) = table.admit(addr.ip(), &limits, proxies.contains(addr.ip())) else {
            refused.note(addr.ip());
            drop(tcp);
            continue;
        };
        // Screens get small frames that must leave at once (Nagle).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let service = tower::ServiceBuilder::new()
            .layer(RequestBodyTimeoutLayer::new(limits.body_timeout))
            .service(app.clone().map_request(move |mut req: axum::http::Request<_>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(addr));
                req.map(axum::body::Body::new)
            }));
        let conn = builder
            .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service))
            .with_upgrades();
        let mut stopping = stopping.clone();
        tokio::spawn(CONNECTION.scope(Arc::new(admission), async move {
            tokio::pin!(conn);
            let ended = tokio::select! {
                ended = conn.as_mut() => ended,
                _ = stopping.changed() => {
                    // Finish the request in flight, take no more.
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, %addr, "connection ended with an error");
            }
        }));
    }
    drop(listener);
    drop(stopping);
    let _ = stop.send(());
    if tokio::time::timeout(drain, stop.closed()).await.is_err() {
        tracing::warn!(
            after_ms = drain.as_millis() as u64,
            "requests still in flight at shutdown"
        );
    }
    Ok(())
}

/// Waits between failed `accept`s: from 5 ms, doubling to 1 s.
#[derive(Default)]
struct Backoff(Option<Duration>);

impl Backoff {
    fn next(&mut self) -> Duration {
        let d = self
            .0
            .map_or(Duration::from_millis(5), |d| (d * 2).min(Duration::from_secs(1)));
        self.0 = Some(d);
        d
    }

    fn reset(&mut self) {
        self.0 = None;
    }
}

/// Connections closed at a cap, logged at most once a minute.
#[derive(Default)]
struct Refusals {
    since_log: u64,
    logged: Option<std::time::Instant>,
}

impl Refusals {
    fn note(&mut self, ip: IpAddr) {
        self.since_log += 1;
        let now = std::time::Instant::now();
        if self
            .logged
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(60))
        {
            tracing::warn!(%ip, refused = self.since_log, "too many anonymous connections: closing new ones at once");
            self.since_log = 0;
            self.logged = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caps_hold_in_all_and_per_address_and_a_signed_in_connection_leaves_them() {
        let limits = ConnLimits {
            max_anonymous: 3,
            max_anonymous_per_address: 2,
            ..ConnLimits::default()
        };
        let table = Arc::new(Anonymous::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = table.admit(a, &limits, false).unwrap();
        let a2 = table.admit(a, &limits, false).unwrap();
        assert!(table.admit(a, &limits, false).is_none(), "per address");
        let b1 = table.admit(b, &limits, false).unwrap();
        assert!(table.admit(b, &limits, false).is_none(), "in all");
        a1.leave();
        a1.leave();
        assert_eq!(table.total.load(Ordering::Relaxed), 2, "leaving twice counts once");
        let a3 = table.admit(a, &limits, false).unwrap();
        drop(a1);
        assert_eq!(
            table.total.load(Ordering::Relaxed),
            3,
            "dropping after leaving counts nothing"
        );
        drop((a2, a3, b1));
        assert_eq!(table.total.load(Ordering::Relaxed), 0);
        assert!(table.per_address.is_empty(), "no entry is left behind");
        let none = ConnLimits {
            max_anonymous_per_address: 0,
            ..limits
        };
        assert!(table.admit(a, &none, false).is_none());
        assert!(table.per_address.is_empty(), "a refusal leaves no entry");
        // A trusted proxy carries many clients: only the total holds it.
        let proxied: Vec<_> = (0..3).map(|_| table.admit(a, &limits, true).unwrap()).collect();
        assert!(table.admit(a, &limits, true).is_none(), "in all");
        drop(proxied);
    }

    #[test]
    fn accept_errors_back_off_to_a_second() {
        let mut b = Backoff::default();
        let waits: Vec<u128> = (0..10).map(|_| b.next().as_millis()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.reset();
        assert_eq!(b.next().as_millis(), 5);
    }
}
