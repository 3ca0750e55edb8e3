//! Durable state: every hall's events and snapshots, in an embedded
//! journal (the default) or in Redis.
//!
//! - `journal`: the embedded backend, an append-only file of checksummed
//!   records plus snapshot files;
//! - `redis_store`: the Redis backend (streams, snapshots, number counters);
//! - `writer`: the one task that talks to a backend. Appends from every
//!   hall queue up to it and are written in batches (group commit), so one
//!   fsync or one Redis round trip covers many operations;
//! - `stream`: the durable event stream: each durable batch, per hall in
//!   log order, for whoever reacts to them, with each hall's durable state
//!   and the log's incarnations;
//! - `log`: reading a hall's log back beside the writer (reports, and
//!   readers of the stream that fell behind).
//!
//! Nothing here knows the engine's rules: it stores events and snapshots,
//! and gives them back in order.

mod epoch;
pub mod journal;
mod log;
pub mod redis_store;
pub mod stream;
mod writer;

/// A redis-server of a test's own, shared by the store's unit tests.
#[cfg(test)]
#[path = "../../tests/support/redis_server.rs"]
pub(crate) mod test_redis;

use std::path::PathBuf;

use crate::engine::{Event, HallId, HallSnapshot, ZoneId};

pub use stream::{Batch, Change, Epoch, Stream, Subscription};
pub use writer::{OpenedStore, Store, StoreConfig, WriteObserver};

/// Runs blocking store I/O on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(StoreError::Unavailable(format!("store thread failed: {e}"))))
}

/// What a store failure looks like to the rest of the server.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached or refused the write; try again later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The stored data cannot be read back as hallcall data.
    #[error("corrupt store data at {place}: {problem}")]
    Corrupt { place: String, problem: String },
    /// An append does not continue the hall's log (an earlier one failed).
    #[error("hall {hall}: append starting at event {got} does not follow event {last}")]
    OutOfOrder { hall: HallId, last: u64, got: u64 },
    /// Another node owns the hall now: this one's epoch (`held`, none if
    /// it holds no lease) is not the hall's `current` one. Nothing was
    /// written.
    #[error("hall {hall} is owned by another node now (this node's epoch {held:?}, the hall's {current:?})")]
    Fenced {
        hall: HallId,
        held: Option<u64>,
        current: Option<u64>,
    },
    #[error("the store is shut down")]
    Closed,
}

impl StoreError {
    pub(crate) fn corrupt(place: impl Into<String>, problem: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            place: place.into(),
            problem: problem.into(),
        }
    }
}

/// One hall's history as read back from a store: the latest snapshot, if
/// any, and every event after it, in order.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    pub snapshot: Option<HallSnapshot>,
    pub events: Vec<Event>,
}

impl Recovered {
    /// Sequence number of the last stored event (0 for an empty hall).
    pub fn last_seq(&self) -> u64 {
        self.events
            .last()
            .map(|e| e.seq)
            .or(self.snapshot.as_ref().map(|s| s.seq))
            .unwrap_or(0)
    }
}

/// Rebuilds a hall from what a store returned: its snapshot, then every
/// event after it.
///
/// # Errors
/// The snapshot does not fit the configuration, or an event does not apply
/// (named by hall and sequence number).
pub fn rebuild(
    cfg: std::sync::Arc<crate::engine::HallSpec>,
    rec: &Recovered,
) -> Result<crate::engine::Hall, StoreError> {
    let place = || format!("hall {}", cfg.id);
    let mut hall = match &rec.snapshot {
        Some(snap) => {
            crate::engine::Hall::restore(cfg.clone(), snap).map_err(|e| StoreError::corrupt(place(), e.to_string()))?
        }
        None => crate::engine::Hall::new(cfg.clone()),
    };
    for e in &rec.events {
        hall.apply(e).map_err(|e| StoreError::corrupt(place(), e.to_string()))?;
    }
    Ok(hall)
}

/// Where the store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Journal(PathBuf),
    Redis(String),
}

/// A ticket number allocation request for a store shared between processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberKey {
    pub hall: HallId,
    pub day: jiff::civil::Date,
    pub zone: ZoneId,
}
