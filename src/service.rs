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

use crate::engine::{AuditNote, Command, EngineError, Event, HallId, KeptAnswer, Millis};
use crate::shards::{Halls, ShardError};
use crate::store::{NumberKey, Store, StoreError};

/// Take a snapshot after this many events of a hall, or after
/// [`SNAPSHOT_PER_TICKET`] times the day's tickets if more (and at each new
/// business day), so a restart replays at most that many.
pub const SNAPSHOT_EVERY: u64 = 20_000;
/// A snapshot writes every ticket of the day (about 1.5 µs each) and a
/// replay reads an event in about 0.75 µs: snapshotting once per 4 events
/// per ticket costs each event under 0.4 µs, and a restart of a hall with
/// 3,000 tickets replays at most 20,000 events (some 15 ms).
pub const SNAPSHOT_PER_TICKET: u64 = 4;

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
    /// Another node serves the hall, or it is changing nodes; nothing was
    /// changed.
    #[error("hall {0} is moving between servers: try again in a moment")]
    Moving(HallId),
    #[error(transparent)]
    Refused(#[from] EngineError),
    /// Nothing was changed; retrying later may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// A rule of the shell (not the engine) refused it; nothing was changed.
    #[error("{message}")]
    Limit { code: &'static str, message: String },
    /// A rule of the shell refused it in the hall's current state; nothing
    /// was changed.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The store has not confirmed the write in time (a stalled disk, a
    /// paused Redis): it may still land. A retry with the same
    /// idempotency key gets the true answer once it has.
    #[error(
        "the store has not confirmed the operation in time: it may still be saved; retry with the same Idempotency-Key"
    )]
    Unconfirmed,
    /// The idempotency key was first used with a different request.
    #[error("this Idempotency-Key was used today for a different request; use a new key for a new request")]
    KeyReused,
}

/// A request's idempotency key, scoped to whoever sent it, and what
/// identifies the request (route and body): a repeat with the same key must
/// be the same request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    pub key: String,
    pub fingerprint: String,
}

/// What a request was answered, to keep with its operation's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// An operation done now, or the answer to its first request (a repeat).
#[derive(Debug)]
pub enum Outcome<R> {
    Done(Vec<Event>, R),
    Repeated(KeptAnswer),
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

/// Halls and their store, operated together. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    pub halls: Halls,
    pub store: Store,
    pub clock: Clock,
    /// Writes not confirmed within their time (see `SlowWrites`).
    pub slow: Arc<SlowWrites>,
}

/// How long an operation waits for its write, and the writes still
/// outstanding past that: while any is, new operations are refused at
/// once (nothing changes) and the server reports itself not ready.
#[derive(Debug)]
pub struct SlowWrites {
    pub limit: std::time::Duration,
    outstanding: std::sync::atomic::AtomicUsize,
}

impl SlowWrites {
    pub fn new(limit: std::time::Duration) -> SlowWrites {
        SlowWrites {
            limit,
            outstanding: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Writes past their time and still not confirmed.
    pub fn outstanding(&self) -> usize {
        self.outstanding.load(std::sync::atomic::Ordering::Acquire)
    }
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
        self.execute_if(hall, cmd, |_| Ok(())).await
    }

    /// As [`Service::execute`], with `note` in the hall's audit log,
    /// durable with the command's events.
    ///
    /// # Errors
    /// As for [`Service::execute`].
    pub async fn execute_noted(&self, hall: HallId, cmd: Command, note: AuditNote) -> Result<Vec<Event>, ServiceError> {
        match self
            .execute_keyed(hall, cmd, (None, Some(note)), |_| Ok(()), |_, _| ((), None))
            .await?
        {
            Outcome::Done(events, ()) => Ok(events),
            Outcome::Repeated(_) => Err(ServiceError::Unavailable("a repeat without a key".into())),
        }
    }

    /// As [`Service::execute`], after `check` has passed on the hall under
    /// the same lock (a rule the engine does not know, such as a daily
    /// quota, with no window for a concurrent request to slip through).
    ///
    /// # Errors
    /// As for [`Service::execute`], or `check`'s refusal.
    pub async fn execute_if(
        &self,
        hall: HallId,
        cmd: Command,
        check: impl FnOnce(&crate::engine::Hall) -> Result<(), ServiceError>,
    ) -> Result<Vec<Event>, ServiceError> {
        self.execute_with(hall, cmd, check, |_, _| ())
            .await
            .map(|(events, ())| events)
    }

    /// As [`Service::execute_if`], and `then` reads the hall right after the
    /// command, under the same lock (what the caller answers with, such as
    /// the new ticket's place, without a second lock or a race with the
    /// next operation). Its result is returned once the events are durable.
    ///
    /// # Errors
    /// As for [`Service::execute_if`].
    pub async fn execute_with<R>(
        &self,
        hall: HallId,
        cmd: Command,
        check: impl FnOnce(&crate::engine::Hall) -> Result<(), ServiceError>,
        then: impl FnOnce(&crate::engine::Hall, &[Event]) -> R,
    ) -> Result<(Vec<Event>, R), ServiceError> {
        match self
            .execute_keyed(hall, cmd, (None, None), check, |h, e| (then(h, e), None))
            .await?
        {
            Outcome::Done(events, read) => Ok((events, read)),
            Outcome::Repeated(_) => Err(ServiceError::Unavailable("a repeat without a key".into())),
        }
    }

    /// As [`Service::execute_with`], for a request that may carry an
    /// idempotency key. `then` also gives the answer to keep for the key:
    /// it is appended after the operation's events, in the same batch, so
    /// both are durable or neither is. A request whose key already has an
    /// answer today runs nothing and gets that answer back, once it is
    /// durable.
    ///
    /// # Errors
    /// As for [`Service::execute_if`]; [`ServiceError::KeyReused`] when
    /// the key's first request was a different one; unavailable when the
    /// first request with the key was not stored after all.
    pub async fn execute_keyed<R>(
        &self,
        hall: HallId,
        mut cmd: Command,
        (key, note): (Option<&RequestKey>, Option<AuditNote>),
        check: impl FnOnce(&crate::engine::Hall) -> Result<(), ServiceError>,
        then: impl FnOnce(&crate::engine::Hall, &[Event]) -> (R, Option<Answer>),
    ) -> Result<Outcome<R>, ServiceError> {
        if !self.halls.is_owned(hall) {
            return Err(ServiceError::Moving(hall));
        }
        // A repeat is answered before anything else, so that it does not
        // take a ticket number from a shared store.
        if let Some(key) = key {
            if let Some(repeat) = self.repeat(hall, key).await {
                return repeat;
            }
        }
        let now = self.now();
        // A shared store numbers tickets, so that two processes never issue
        // the same number. Asked before locking: never await while holding
        // a hall. A check-in's zone is its booking's.
        let numbered = match &mut cmd {
            Command::Issue(issue) => Some((issue.zone, &mut issue.number)),
            Command::CheckIn { code, number, .. } => {
                let zone = self.halls.lock(hall)?.booking(*code).map(|b| b.zone);
                zone.map(|z| (z, number))
            }
            _ => None,
        };
        if let Some((zone, number)) = numbered {
            let cfg = self.halls.config(hall)?;
            let key = NumberKey {
                hall,
                day: crate::engine::business_date(&cfg.spec, now),
                zone,
            };
            *number = None;
            if cfg.spec.zone_index(zone).is_some() && self.store.is_healthy() {
                // What the log already holds is never handed out again,
                // whatever the counter says.
                let floor = {
                    let h = self.halls.lock(hall)?;
                    if h.business_day() == Some(key.day) {
                        h.last_number(zone)
                    } else {
                        0
                    }
                };
                // Bounded like a write: a stalled store holds nobody up.
                *number = tokio::time::timeout(self.slow.limit, self.store.allocate_number(key, floor))
                    .await
                    .map_err(|_| ServiceError::Unavailable("the store did not hand out a number in time".into()))??;
            }
        }
        let staged = 'locked: {
            let mut guard = self.halls.lock(hall)?;
            if key.is_some_and(|k| guard.kept_answer(&k.key).is_some()) {
                // The same key came in while this request waited.
                break 'locked None;
            }
            if self.halls.is_broken(hall) {
                return Err(ServiceError::Unavailable(format!(
                    "hall {hall} is being reloaded from the store"
                )));
            }
            if !self.store.is_healthy() {
                return Err(ServiceError::Unavailable("the store is unavailable".into()));
            }
            if self.slow.outstanding() > 0 {
                return Err(ServiceError::Unavailable(
                    "the store has not confirmed earlier writes yet".into(),
                ));
            }
            check(&guard)?;
            let mut events = guard.execute(&cmd, now)?;
            self.halls.refresh(&guard);
            // The answer's waits are the forecast's after this change (a
            // tick makes a stale one again).
            guard.refresh_estimates(now, crate::engine::REFRESH_GAP_MS);
            let (read, answer) = then(&guard, &events);
            if events.is_empty() {
                return Ok(Outcome::Done(events, read));
            }
            if let Some(note) = note {
                // Durable with what it records, or neither is.
                events.push(guard.audit(note, now)?);
            }
            if let (Some(key), Some(answer)) = (key, answer) {
                match guard.keep_answer(&key.key, &key.fingerprint, answer.status, &answer.body, now) {
                    Ok(kept) => events.push(kept),
                    // Done, but not kept: a repeat would run again.
                    Err(e) => tracing::warn!(%hall, error = %e, "answer not kept for its idempotency key"),
                }
            }
            let ack = match self.store.append(hall, events.clone()) {
                Ok(ack) => ack,
                Err(e) => {
                    drop(guard);
                    self.break_hall(hall, &e);
                    return Err(e.into());
                }
            };
            let new_day = events
                .iter()
                .any(|e| matches!(e.kind, crate::engine::EventKind::DayStarted { .. }));
            // A snapshot costs time in proportion to the day's tickets, so
            // it is taken at most once per a multiple of that many events:
            // constant cost per event however busy the day, and a bounded
            // replay at start.
            let every = if new_day {
                1
            } else {
                SNAPSHOT_EVERY.max(SNAPSHOT_PER_TICKET * guard.ticket_count() as u64)
            };
            if self.halls.snapshot_due(hall, guard.seq(), every) {
                // A dropped snapshot only means a longer replay next start.
                let _ = self.store.snapshot(guard.snapshot());
            }
            Some((events, ack, read))
        };
        let Some((events, ack, read)) = staged else {
            let repeat = match key {
                Some(key) => Box::pin(self.repeat(hall, key)).await,
                None => None,
            };
            return repeat.unwrap_or_else(|| Err(ServiceError::Unavailable("the key's answer is gone".into())));
        };
        let mut ack = ack;
        let ack = match tokio::time::timeout(self.slow.limit, &mut ack).await {
            Ok(done) => done,
            Err(_) => {
                // Still on its way: the events are applied and are stored
                // once the store answers; until then nothing new is taken
                // and the server is not ready.
                use std::sync::atomic::Ordering;
                self.slow.outstanding.fetch_add(1, Ordering::AcqRel);
                tracing::warn!(%hall, limit_ms = self.slow.limit.as_millis() as u64, "a write is not confirmed in time");
                let svc = self.clone();
                tokio::spawn(async move {
                    match ack.await {
                        Ok(Ok(())) => tracing::info!(%hall, "the late write is confirmed"),
                        Ok(Err(e)) => svc.break_hall(hall, &e),
                        Err(_) => svc.break_hall(hall, &StoreError::Closed),
                    }
                    svc.slow.outstanding.fetch_sub(1, Ordering::AcqRel);
                });
                return Err(ServiceError::Unconfirmed);
            }
        };
        match ack {
            Ok(Ok(())) => Ok(Outcome::Done(events, read)),
            Ok(Err(e)) => {
                self.break_hall(hall, &e);
                Err(e.into())
            }
            Err(_) => {
                self.break_hall(hall, &StoreError::Closed);
                Err(StoreError::Closed.into())
            }
        }
    }

    /// The kept answer for `key`, if it has one: once durable, or an error
    /// if it is another request's or was never stored (its write failed).
    /// `None` when the key has no answer yet.
    async fn repeat<R>(&self, hall: HallId, key: &RequestKey) -> Option<Result<Outcome<R>, ServiceError>> {
        let fingerprint = {
            let guard = match self.halls.lock(hall) {
                Ok(g) => g,
                Err(e) => return Some(Err(e.into())),
            };
            guard.kept_answer(&key.key)?.fingerprint.clone()
        };
        if fingerprint != key.fingerprint {
            return Some(Err(ServiceError::KeyReused));
        }
        let k = key.key.clone();
        let durable = match tokio::time::timeout(
            self.slow.limit,
            self.store.read_durable(hall, move |h| h.kept_answer(&k).cloned()),
        )
        .await
        {
            Ok(d) => d.flatten(),
            // The first request's write is still on its way.
            Err(_) => return Some(Err(ServiceError::Unconfirmed)),
        };
        Some(match durable {
            Some(kept) if kept.fingerprint == key.fingerprint => Ok(Outcome::Repeated(kept)),
            _ => Err(ServiceError::Unavailable(
                "the first request with this key was not stored; try again".into(),
            )),
        })
    }

    /// Marks the hall broken and, in the background, puts it back to its
    /// last durable state: from the durable event stream's copy at once when the write
    /// simply failed, or by reading the store back when the log itself
    /// disagrees (another writer, or a write that landed although it
    /// reported failure).
    fn break_hall(&self, hall: HallId, why: &StoreError) {
        if !self.halls.set_broken(hall) {
            return;
        }
        tracing::warn!(%hall, error = %why, "a store write failed: undoing what was not stored");
        let from_store = matches!(why, StoreError::OutOfOrder { .. } | StoreError::Corrupt { .. });
        let svc = self.clone();
        tokio::spawn(async move {
            if !from_store {
                if let Some(durable) = svc.store.durable(hall).await {
                    tracing::info!(%hall, seq = durable.seq(), "hall rolled back to its last durable event");
                    svc.halls.replace(durable);
                    return;
                }
            }
            svc.reload(hall).await;
        });
    }

    async fn reload(&self, hall: HallId) {
        let mut delay = Duration::from_millis(50);
        loop {
            match self.store.reload(hall).await {
                Ok(rebuilt) => {
                    tracing::info!(%hall, seq = rebuilt.seq(), "hall reloaded from the store");
                    self.halls.replace(rebuilt);
                    return;
                }
                Err(e) => tracing::warn!(%hall, error = %e, "cannot reload the hall yet"),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }

    /// Records the server's file as configuration version 1 of every hall
    /// this node serves that has none yet: from then on the store's version
    /// is the hall's, the same on every node. With `import`, a hall whose
    /// file document differs from the store's version gets it as a new one.
    pub async fn seed_configs(&self, file: Option<&crate::config::ServerConfig>) {
        let ids: Vec<HallId> = self.halls.ids().filter(|h| self.halls.is_owned(*h)).collect();
        for hall in ids {
            let Ok(cfg) = self.halls.config(hall) else { continue };
            let from_file = file.and_then(|f| f.halls.iter().find(|h| h.spec.id == hall));
            let (base, source, reason) = match from_file {
                Some(f) if cfg.version > 0 && !crate::config::same_document(&f.text, &cfg.text) => {
                    (cfg.version, f.clone(), "imported from the server's configuration file")
                }
                _ if cfg.version > 0 => continue,
                _ => (
                    0,
                    (*cfg).clone(),
                    "the server's configuration file, recorded as the first version",
                ),
            };
            let change = crate::engine::ConfigChange {
                base,
                spec: crate::engine::SpecDoc(source.spec.clone()),
                text: source.text.to_string(),
                by: "hallcall".into(),
                reason: reason.into(),
            };
            match self.execute(hall, Command::ChangeConfig(Box::new(change))).await {
                Ok(_) => tracing::info!(%hall, version = base + 1, reason, "configuration recorded"),
                Err(e) if base > 0 => tracing::error!(%hall, error = %e, "the configuration file was not imported"),
                Err(e) => tracing::debug!(%hall, error = %e, "configuration not recorded yet"),
            }
        }
    }

    /// Sends the passing of time to every hall: the day rollover, and
    /// auto-call for appointments that have become due.
    pub async fn tick_all(&self) {
        self.seed_configs(None).await;
        let ids: Vec<HallId> = self.halls.ids().filter(|h| self.halls.is_owned(*h)).collect();
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
            if self.halls.is_broken(hall) || !self.halls.is_owned(hall) {
                continue;
            }
            if let Ok(guard) = self.halls.lock(hall) {
                let _ = self.store.snapshot(guard.snapshot());
            }
        }
        self.store.flush().await;
    }
}
