//! The hub: durable events fanned out to screens.
//!
//! The store's writer hands every batch it has made durable, in log order,
//! to the hub's task ([`Publisher`]); nothing reaches a screen before it is
//! stored, and per hall the order is the log's. For each hall a [`Feed`]
//! keeps its own copy of the hall as of its last published event (to answer
//! new subscribers with a snapshot), the recent frames (to resume a client
//! that reconnects with its last sequence number) and a broadcast channel.
//!
//! Each batch is serialized once into a [`Frame`] whose bytes every
//! subscriber shares. The broadcast ring is bounded: a subscriber that falls
//! behind it is sent a fresh snapshot instead of the frames it missed, so a
//! slow screen never grows memory and never holds up the others.

mod feed;
mod scope;
mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

pub use feed::{Feed, Frame, Render, Start, ticket_json};
pub use scope::{Format, Scope, ScopeError};

#[cfg(test)]
mod tests;

/// The error document sent on a socket.
pub fn wire_error(code: &str, message: &str) -> String {
    wire::to_json(&wire::WireError {
        kind: "error",
        error: wire::ErrorBody { code, message },
    })
}

use crate::engine::{Event, Hall, HallId};

/// What the store's writer hands to the hub.
pub enum Published {
    /// Events now durable, in log order.
    Events { hall: HallId, events: Vec<Event> },
    /// The hall was read back from the store (its log held events this
    /// process had not seen): every subscriber is resynchronized.
    Reset(Box<Hall>),
}

/// The writer's end. Unbounded so the writer never waits on screens; the
/// hub's work per batch is a few microseconds, so it does not fall behind.
#[derive(Clone)]
pub struct Publisher(mpsc::UnboundedSender<Published>);

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Publisher")
    }
}

impl Publisher {
    pub fn publish(&self, p: Published) {
        // The hub ends only at shutdown, after the writer's last batch.
        let _ = self.0.send(p);
    }
}

/// Counters for tests, logs and `/metrics`.
#[derive(Debug, Default)]
pub struct HubStats {
    pub connections: AtomicU64,
    pub frames: AtomicU64,
    /// Subscribers sent a snapshot because they fell behind the ring.
    pub resyncs: AtomicU64,
    /// Subscribers disconnected because they stopped reading.
    pub shed: AtomicU64,
}

/// A live connection's timing.
#[derive(Debug, Clone, Copy)]
pub struct Heartbeat {
    /// A WebSocket ping this often.
    pub ping_every: Duration,
    /// A peer heard from neither data nor pong for this long is dead.
    pub dead_after: Duration,
    /// A peer that takes longer than this to accept one frame is dropped.
    pub send_timeout: Duration,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            ping_every: Duration::from_secs(10),
            dead_after: Duration::from_secs(30),
            send_timeout: Duration::from_secs(10),
        }
    }
}

/// A handle on every hall's feed. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    feeds: Arc<HashMap<HallId, Arc<Feed>>>,
    pub stats: Arc<HubStats>,
    pub heartbeat: Heartbeat,
    closing: watch::Sender<bool>,
}

/// The channel between the writer and the hub, made before either.
pub fn channel() -> (Publisher, mpsc::UnboundedReceiver<Published>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Publisher(tx), rx)
}

impl Hub {
    /// Starts the hub on the halls as recovered from the store.
    /// Calls and recalls go to `announce`, in order, when given.
    pub fn start(
        halls: &[Hall],
        mut rx: mpsc::UnboundedReceiver<Published>,
        heartbeat: Heartbeat,
        announce: Option<mpsc::UnboundedSender<crate::audio::CallMade>>,
        metrics: Option<Arc<crate::metrics::Metrics>>,
    ) -> Hub {
        let feeds: HashMap<HallId, Arc<Feed>> = halls
            .iter()
            .map(|h| {
                (
                    h.config().id,
                    Arc::new(Feed::new(h.clone(), announce.clone(), metrics.clone())),
                )
            })
            .collect();
        let hub = Hub {
            feeds: Arc::new(feeds),
            stats: Arc::new(HubStats::default()),
            heartbeat,
            closing: watch::channel(false).0,
        };
        let feeds = hub.feeds.clone();
        let stats = hub.stats.clone();
        tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                match p {
                    Published::Events { hall, events } => {
                        if let Some(f) = feeds.get(&hall) {
                            f.publish(events);
                            stats.frames.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Published::Reset(hall) => {
                        if let Some(f) = feeds.get(&hall.config().id) {
                            f.reset(*hall);
                        }
                    }
                }
            }
        });
        hub
    }

    pub fn feed(&self, hall: HallId) -> Option<&Arc<Feed>> {
        self.feeds.get(&hall)
    }

    /// Tells every connection to close with "going away" (at shutdown).
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }

    /// Waits (at most `limit`) for every connection to have closed after
    /// [`Hub::close_all`], so their "going away" frames leave before exit.
    pub async fn drained(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.stats.connections.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Becomes true when connections should close.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }
}
