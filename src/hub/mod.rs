//! The hub: durable events fanned out to screens.
//!
//! The store's writer hands every batch it has made durable, in log order,
//! to the hall's [`Feed`] ([`crate::store::Store::attach`]); nothing reaches
//! a screen before it is stored, and per hall the order is the log's. Each
//! feed keeps the hall as of its last durable event (to answer new
//! subscribers with a snapshot; it is also the copy a failed write rolls
//! back to), the recent frames (to resume a client that reconnects with its
//! last sequence number) and a broadcast channel.
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

use crate::engine::{Hall, HallId};

/// Counters for tests, logs and `/metrics`.
#[derive(Debug, Default)]
pub struct HubStats {
    pub connections: AtomicU64,
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

/// A frame to send to its feed's subscribers.
pub type Outgoing = (Arc<Feed>, Arc<Frame>);

/// A handle on every hall's feed. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    feeds: Arc<HashMap<HallId, Arc<Feed>>>,
    /// To the task that sends frames to subscribers.
    outgoing: mpsc::UnboundedSender<Outgoing>,
    pub stats: Arc<HubStats>,
    pub heartbeat: Heartbeat,
    closing: watch::Sender<bool>,
}

impl Hub {
    /// Starts the hub on the halls as recovered from the store; hand it to
    /// the store next (`Store::attach`). Calls and recalls go to
    /// `announce`, in order, when given.
    pub fn start(
        halls: &[Hall],
        heartbeat: Heartbeat,
        announce: Option<mpsc::UnboundedSender<crate::audio::CallMade>>,
        metrics: Option<Arc<crate::metrics::Metrics>>,
    ) -> Hub {
        let feeds: HashMap<HallId, Arc<Feed>> = halls
            .iter()
            .map(|h| {
                (
                    h.spec().id,
                    Arc::new(Feed::new(h.clone(), announce.clone(), metrics.clone())),
                )
            })
            .collect();
        // Unbounded so the writer never waits on screens: it queues at most
        // one frame per hall per flush, and sending one takes milliseconds
        // only with thousands of screens.
        let (outgoing, mut frames) = mpsc::unbounded_channel::<Outgoing>();
        // Sending wakes every subscriber's task: done here, on the
        // runtime, after the writer has answered the batch's callers.
        tokio::spawn(async move {
            while let Some((feed, frame)) = frames.recv().await {
                feed.send(frame);
            }
        });
        Hub {
            feeds: Arc::new(feeds),
            outgoing,
            stats: Arc::new(HubStats::default()),
            heartbeat,
            closing: watch::channel(false).0,
        }
    }

    /// Every hall's feed, for the store's writer.
    pub fn feeds(&self) -> Vec<Arc<Feed>> {
        self.feeds.values().cloned().collect()
    }

    /// Where the writer hands frames to be sent, in log order per hall.
    pub fn outgoing(&self) -> mpsc::UnboundedSender<Outgoing> {
        self.outgoing.clone()
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
