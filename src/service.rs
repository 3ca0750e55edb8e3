//! The path of one operation: lock the hall, run the engine, queue the
//! events to the store while still holding the lock (so the log keeps the
//! engine's order), release the lock, await durability, answer.
//!
//! If a write fails after the engine has applied its events, the hall's
//! memory is ahead of its store. The hall is then marked broken and
//! refuses work (503) until a background task has rebuilt it from what
//! the store holds: no acknowledged change is lost and no unacknowledged
//! one survives.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::{Command, EngineError, Event, Hall, HallId, Millis, ReplayError, SnapshotError};
use crate::shards::{Halls, ShardError};
use crate::store::{Recovered, Store, StoreError};

/// Take a snapshot after this many events of a hall (and at each new
/// business day), so a restart replays at most this many.
pub const SNAPSHOT_EVERY: u64 = 5_000;

/// The time, as the shell reads it. Tests pass a fixed or stepped clock.
pub type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| Millis(jiff::Timestamp::now().as_millisecond()))
}

/// Why an operation was not done.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("unknown hall {0}")]
    UnknownHall(HallId),
    #[error(transparent)]
    Refused(#[from] EngineError),
    /// Nothing was changed; retrying later may succeed.
    #[error("{0}")]
    Unavailable(String),
}

impl From<ShardError> for ServiceError {
    fn from(e: ShardError) -> Self {
        match e {
            ShardError::UnknownHall(h) => ServiceError::UnknownHall(h),
            ShardError::Engine(e) => ServiceError::Refused(e),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        ServiceError::Unavailable(e.to_string())
    }
}

/// Rebuilds a hall from what a store returned.
///
/// # Errors
/// The snapshot does not fit the configuration, or an event does not apply.
pub fn rebuild(cfg: Arc<crate::config::HallConfig>, rec: &Recovered) -> Result<Hall, RebuildError> {
    let mut hall = match &rec.snapshot {
        Some(snap) => Hall::restore(cfg, snap)?,
        None => Hall::new(cfg),
    };
    for e in &rec.events {
        hall.apply(e)?;
    }
    Ok(hall)
}

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

/// Halls and their store, operated together. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    pub halls: Halls,
    pub store: Store,
    pub clock: Clock,
}

impl Service {
    pub fn now(&self) -> Millis {
        (self.clock)()
    }

    /// Runs `cmd` on `hall` and returns its events once they are durable.
    ///
    /// # Errors
    /// Unknown hall, the engine's refusal, or the store being unavailable
    /// (in which case nothing is changed).
    pub async fn execute(&self, hall: HallId, cmd: Command) -> Result<Vec<Event>, ServiceError> {
        let now = self.now();
        let (events, ack) = {
            let mut guard = self.halls.lock(hall)?;
            if self.halls.is_broken(hall) {
                return Err(ServiceError::Unavailable(format!("hall {hall} is being reloaded from the store")));
            }
            if !self.store.is_healthy() {
                return Err(ServiceError::Unavailable("the store is unavailable".into()));
            }
            let events = guard.execute(&cmd, now)?;
            if events.is_empty() {
                return Ok(events);
            }
            let ack = match self.store.append(hall, events.clone()) {
                Ok(ack) => ack,
                Err(e) => {
                    drop(guard);
                    self.break_hall(hall);
                    return Err(e.into());
                }
            };
            let new_day = events.iter().any(|e| matches!(e.kind, crate::engine::EventKind::DayStarted { .. }));
            let every = if new_day { 1 } else { SNAPSHOT_EVERY };
            if self.halls.snapshot_due(hall, guard.seq(), every) {
                // A dropped snapshot only means a longer replay next start.
                let _ = self.store.snapshot(guard.snapshot());
            }
            (events, ack)
        };
        match ack.await {
            Ok(Ok(())) => Ok(events),
            Ok(Err(e)) => {
                self.break_hall(hall);
                Err(e.into())
            }
            Err(_) => {
                self.break_hall(hall);
                Err(StoreError::Closed.into())
            }
        }
    }

    /// Marks the hall broken and rebuilds it from the store in the background.
    fn break_hall(&self, hall: HallId) {
        if !self.halls.set_broken(hall) {
            return;
        }
        tracing::warn!(%hall, "a store write failed: the hall refuses work until reloaded from the store");
        let svc = self.clone();
        tokio::spawn(async move { svc.reload(hall).await });
    }

    async fn reload(&self, hall: HallId) {
        let Ok(cfg) = self.halls.config(hall).cloned() else { return };
        let mut delay = Duration::from_millis(50);
        loop {
            match self.store.load(hall).await {
                Ok(rec) => match rebuild(cfg.clone(), &rec) {
                    Ok(rebuilt) => {
                        let seq = rebuilt.seq();
                        self.halls.replace(rebuilt);
                        tracing::info!(%hall, seq, "hall reloaded from the store");
                        return;
                    }
                    Err(e) => tracing::error!(%hall, error = %e, "stored events do not rebuild the hall"),
                },
                Err(e) => tracing::debug!(%hall, error = %e, "store not back yet"),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }

    /// Sends the passing of time to every hall: the day rollover, and
    /// auto-call for appointments that have become due.
    pub async fn tick_all(&self) {
        let ids: Vec<HallId> = self.halls.ids().collect();
        for hall in ids {
            if let Err(e) = self.execute(hall, Command::Tick).await {
                tracing::debug!(%hall, error = %e, "tick not applied");
            }
        }
    }

    /// Snapshots every hall and waits for the store to write everything
    /// queued (at shutdown).
    pub async fn checkpoint(&self) {
        for hall in self.halls.ids().collect::<Vec<_>>() {
            if self.halls.is_broken(hall) {
                continue;
            }
            if let Ok(guard) = self.halls.lock(hall) {
                let _ = self.store.snapshot(guard.snapshot());
            }
        }
        self.store.flush().await;
    }
}
