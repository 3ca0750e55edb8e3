//! The hub: durable events fanned out to screens.
//!
//! The hub is a subscriber of the durable event stream
//! ([`crate::store::Stream`]): its task turns every durable batch, in log
//! order, into its hall's frame. Nothing reaches a screen before it is
//! stored, and per hall the order is the log's. Each hall's [`Feed`]
//! keeps the recent frames (to resume a client that reconnects with its
//! last sequence number; further back, the client catches up from the
//! stream, which reads the store's log) and a broadcast channel. New
//! subscribers start from the stream's durable copy of the hall, which the
//! store updates before it answers an operation: whoever is told an
//! operation is done sees it on the next screen they open.
//!
//! Each batch is serialized once into a [`Frame`] whose bytes every
//! subscriber shares (`frame`); a new subscriber starts from a snapshot
//! (`snapshot`); `feed` keeps each hall's frames and subscribers, and
//! `scope` says what a subscriber follows. The broadcast ring is bounded: a subscriber that falls
//! behind it is sent a fresh snapshot instead of the frames it missed, so a
//! slow screen never grows memory and never holds up the others.

mod feed;
mod frame;
mod scope;
mod snapshot;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

pub use feed::{Feed, Render, Resume, Start};
pub use frame::{CATCH_UP_EVENTS, Frame, QUEUE_HEAD};
pub use scope::{Format, Scope, ScopeError};
pub use snapshot::ticket_json;

#[cfg(test)]
mod tests;

/// The error document sent on a socket.
pub fn wire_error(code: &str, message: &str) -> String {
    use crate::wire::live::{ErrorBody, WireError};
    crate::wire::to_json(&WireError {
        kind: "error",
        error: ErrorBody { code, message },
    })
}

use crate::engine::HallId;
use crate::store::{Change, Stream};

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

/// Changes taken at once when the hub is behind: a hall's consecutive
/// batches among them become one frame.
const GROUP: usize = 256;

/// Makes the frames on a thread of its own: they are the realtime path,
/// and as a task among the HTTP requests' they were starved under load
/// until the hub fell behind the store (BENCHMARKS.md).
fn spawn_frames(
    feeds: Arc<HashMap<HallId, Arc<Feed>>>,
    mut changes: crate::store::Subscription,
) -> std::io::Result<()> {
    let run = async move {
        loop {
            let got = changes.recv_many(GROUP).await;
            if got.is_empty() {
                return;
            }
            for change in joined(got) {
                let Some(feed) = feeds.get(&change.hall()) else {
                    continue;
                };
                match change {
                    Change::Batch(b) => feed.publish(&b),
                    Change::Reset(_) => feed.reset(),
                }
            }
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    std::thread::Builder::new()
        .name("hallcall-hub".into())
        .spawn(move || rt.block_on(run))?;
    Ok(())
}

/// Each hall's batches among `changes` joined into one where they follow
/// each other (in log order, so still one run of sequence numbers); a
/// reset keeps its place among its hall's changes. Halls are independent,
/// so their relative order does not matter.
fn joined(changes: Vec<Change>) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::with_capacity(changes.len());
    // Per hall, the index in `out` of its last batch, while it may grow.
    let mut open: HashMap<HallId, usize> = HashMap::new();
    for c in changes {
        match &c {
            Change::Batch(b) => {
                if let Some(&i) = open.get(&b.hall)
                    && let Change::Batch(last) = &out[i]
                    && last.seq() + 1 == b.from()
                {
                    let mut events = last.events.clone();
                    events.extend(b.events.iter().cloned());
                    out[i] = Change::Batch(Arc::new(crate::store::Batch { hall: b.hall, events }));
                    continue;
                }
                open.insert(b.hall, out.len());
            }
            Change::Reset(h) => {
                open.remove(h);
            }
        }
        out.push(c);
    }
    out
}

/// A handle on every hall's feed. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    feeds: Arc<HashMap<HallId, Arc<Feed>>>,
    pub stats: Arc<HubStats>,
    pub heartbeat: Heartbeat,
    closing: watch::Sender<bool>,
}

impl Hub {
    /// Starts the hub on the stream's halls: from now on its thread makes a
    /// frame of every durable batch. Call before the first operation.
    ///
    /// # Errors
    /// The hub's thread cannot be started.
    pub fn start(stream: &Stream, heartbeat: Heartbeat) -> std::io::Result<Hub> {
        let feeds: HashMap<HallId, Arc<Feed>> = stream
            .halls()
            .map(|h| (h, Arc::new(Feed::new(stream.clone(), h))))
            .collect();
        let feeds = Arc::new(feeds);
        // Subscribed here, not in the thread, so that nothing committed
        // after `start` returns is missed. Screens that missed more than
        // the stream keeps in memory take a snapshot rather than the hub
        // reading a day's log while behind.
        let changes = stream.subscribe().without_log();
        spawn_frames(feeds.clone(), changes)?;
        Ok(Hub {
            feeds,
            stats: Arc::new(HubStats::default()),
            heartbeat,
            closing: watch::channel(false).0,
        })
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
