//! The store's one writer task. Every hall's appends queue up in a bounded
//! channel, sent while the hall is still locked, so the log keeps each
//! hall's engine order. The task takes whatever has queued, checks that
//! each append continues its hall's log, writes them all in one batch (one
//! fsync, or one Redis round trip), then acknowledges each: group commit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use super::journal::{Journal, JournalOptions, JournalReader};
use super::redis_store::RedisStore;
use super::{Location, NumberKey, Recovered, StoreError, rebuild};
use crate::config::HallConfig;
use crate::engine::{Event, Hall, HallId, HallSnapshot};
use crate::hub::{Published, Publisher};

/// Appends waiting beyond this are refused (503) rather than queued: a
/// store that cannot keep up must not grow memory without bound.
const QUEUE: usize = 16_384;
/// Most appends written in one batch.
const BATCH: usize = 4_096;

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub location: Location,
    pub journal: JournalOptions,
    /// The halls to read back and rebuild.
    pub halls: Vec<Arc<HallConfig>>,
    /// Business days of events kept for reports behind the snapshots.
    pub retention_days: u32,
    /// Where durable batches go next, in log order (the hub).
    pub publisher: Option<Publisher>,
    /// Where write latencies are counted.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

/// While the store is down, it is pinged this often, so service resumes
/// within a fraction of a second of it coming back.
const PING_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

pub(crate) type Ack = oneshot::Receiver<Result<(), StoreError>>;

enum Job {
    Append {
        hall: HallId,
        events: Vec<Event>,
        ack: oneshot::Sender<Result<(), StoreError>>,
    },
    Snapshot(Box<HallSnapshot>),
    /// Rebuild a hall from what the backend holds.
    Load {
        hall: HallId,
        reply: oneshot::Sender<Result<Hall, StoreError>>,
    },
    /// A copy of the hall as of its last durable event.
    Durable {
        hall: HallId,
        reply: oneshot::Sender<Option<Hall>>,
    },
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
enum Backend {
    /// Behind a std mutex: the journal's I/O runs on blocking threads, one
    /// call at a time (only the writer task calls it).
    Journal(Arc<Mutex<Journal>>),
    Redis(RedisStore),
}

impl Backend {
    /// Writes a batch and hands it back (for the durable mirror).
    async fn append(&self, batch: Vec<(HallId, Vec<Event>)>) -> (Vec<(HallId, Vec<Event>)>, Result<(), StoreError>) {
        match self {
            Backend::Journal(j) => {
                let j = j.clone();
                let joined = tokio::task::spawn_blocking(move || {
                    let result = {
                        let refs: Vec<(HallId, &[Event])> = batch.iter().map(|(h, e)| (*h, e.as_slice())).collect();
                        lock(&j).append(&refs)
                    };
                    (batch, result)
                })
                .await;
                joined.unwrap_or_else(|e| {
                    (
                        Vec::new(),
                        Err(StoreError::Unavailable(format!("store thread failed: {e}"))),
                    )
                })
            }
            Backend::Redis(r) => {
                let result = {
                    let refs: Vec<(HallId, &[Event])> = batch.iter().map(|(h, e)| (*h, e.as_slice())).collect();
                    r.append(&refs).await
                };
                (batch, result)
            }
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        match self {
            // The journal has nothing to reconnect to: a failed write is
            // retried by the next one.
            Backend::Journal(_) => Ok(()),
            Backend::Redis(r) => r.ping().await,
        }
    }

    async fn snapshot(&self, snap: Box<HallSnapshot>) -> Result<(), StoreError> {
        match self {
            Backend::Journal(j) => {
                let j = j.clone();
                blocking(move || lock(&j).write_snapshot(&snap)).await
            }
            Backend::Redis(r) => r.write_snapshot(&snap).await,
        }
    }

    async fn load(&self, hall: HallId) -> Result<Recovered, StoreError> {
        match self {
            Backend::Journal(j) => {
                let j = j.clone();
                blocking(move || lock(&j).load(hall)).await
            }
            Backend::Redis(r) => r.load(hall).await,
        }
    }
}

fn lock(j: &Mutex<Journal>) -> std::sync::MutexGuard<'_, Journal> {
    // The journal undoes a failed write before returning, so a panic
    // elsewhere cannot leave it half-written: a poisoned lock is usable.
    j.lock().unwrap_or_else(|e| e.into_inner())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(StoreError::Unavailable(format!("store thread failed: {e}"))))
}

/// A handle on the store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Job>,
    healthy: Arc<AtomicBool>,
    /// Set for a store shared between processes: ticket numbers come from it.
    numbers: Option<RedisStore>,
    /// Reads past days for reports, beside the writer.
    history: History,
}

#[derive(Clone)]
enum History {
    Journal(JournalReader),
    Redis(RedisStore),
}

/// An opened store: its handle, every configured hall rebuilt from it (in
/// configuration order), and notes for the log.
pub struct OpenedStore {
    pub store: Store,
    pub halls: Vec<Hall>,
    /// Halls the store holds that the configuration does not name.
    pub unknown: Vec<HallId>,
    pub repaired: Option<String>,
    /// A warning about the store's own settings (Redis keeping nothing on disk).
    pub warning: Option<String>,
}

impl Store {
    /// Opens the store, reads every hall back and starts the writer.
    ///
    /// # Errors
    /// The backend cannot be opened, or its data does not read back.
    pub async fn open(cfg: StoreConfig) -> Result<OpenedStore, StoreError> {
        let (backend, halls, repaired, warning) = match cfg.location {
            Location::Journal(dir) => {
                let opts = JournalOptions {
                    retention: std::time::Duration::from_secs(u64::from(cfg.retention_days.max(1)) * 86_400),
                    ..cfg.journal.clone()
                };
                let opened = blocking(move || Journal::open(&dir, opts)).await?;
                (
                    Backend::Journal(Arc::new(Mutex::new(opened.journal))),
                    opened.halls,
                    opened.repaired,
                    None,
                )
            }
            Location::Redis(url) => {
                let redis = RedisStore::connect(&url, super::redis_store::DEFAULT_PREFIX)
                    .await?
                    .with_retention_days(cfg.retention_days);
                let warning = match redis.persistence_warning().await {
                    Ok(w) => w,
                    Err(e) => Some(format!("cannot check Redis persistence: {e}")),
                };
                let mut halls = HashMap::new();
                for hall in &cfg.halls {
                    halls.insert(hall.id, redis.load(hall.id).await?);
                }
                (Backend::Redis(redis), halls, None, warning)
            }
        };
        let (numbers, history) = match &backend {
            Backend::Redis(r) => (Some(r.clone()), History::Redis(r.clone())),
            Backend::Journal(j) => (None, History::Journal(lock(j).reader())),
        };
        let mut recovered = halls;
        let mut rebuilt = Vec::with_capacity(cfg.halls.len());
        for hall_cfg in &cfg.halls {
            let rec = recovered.remove(&hall_cfg.id).unwrap_or_default();
            rebuilt.push(rebuild(hall_cfg.clone(), &rec)?);
        }
        let unknown = recovered.into_keys().collect();
        let mirror = Mirror {
            next: rebuilt.iter().map(|h| (h.config().id, h.seq() + 1)).collect(),
            durable: rebuilt.iter().map(|h| (h.config().id, h.clone())).collect(),
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        let healthy = Arc::new(AtomicBool::new(true));
        tokio::spawn(watch(backend.clone(), healthy.clone(), tx.downgrade()));
        tokio::spawn(run(backend, rx, healthy.clone(), mirror, cfg.publisher, cfg.metrics));
        Ok(OpenedStore {
            store: Store {
                tx,
                healthy,
                numbers,
                history,
            },
            halls: rebuilt,
            unknown,
            repaired,
            warning,
        })
    }

    /// A ticket number from the shared store, if this store allocates them
    /// (Redis); `None` lets the engine number tickets itself.
    ///
    /// # Errors
    /// The store is unavailable.
    pub async fn allocate_number(&self, key: NumberKey) -> Result<Option<u32>, StoreError> {
        match &self.numbers {
            None => Ok(None),
            Some(r) => match r.allocate_number(key).await {
                Ok(n) => Ok(Some(n)),
                Err(e) => {
                    self.healthy.store(false, Ordering::Relaxed);
                    Err(e)
                }
            },
        }
    }

    /// Whether the store answers now: a Redis PING, or for the journal
    /// whether its last write succeeded.
    ///
    /// # Errors
    /// The store does not answer.
    pub async fn ping(&self) -> Result<(), StoreError> {
        if let Some(r) = &self.numbers {
            return r.ping().await;
        }
        if self.is_healthy() {
            Ok(())
        } else {
            Err(StoreError::Unavailable("the last write failed".into()))
        }
    }

    /// Hands a hall's durable events of the business days `from..=to` (as
    /// far as retention keeps them) to `f` with `sink`, in order, without
    /// holding them all: what reports are folded from. `sink` is handed
    /// back.
    ///
    /// # Errors
    /// The backend cannot be read, holds data that does not read back, or
    /// `f` refuses an event.
    pub async fn scan_days<S, F>(
        &self,
        hall: HallId,
        (from, to): (jiff::civil::Date, jiff::civil::Date),
        mut sink: S,
        f: F,
    ) -> Result<S, StoreError>
    where
        S: Send + 'static,
        F: Fn(&mut S, Event) -> Result<(), String> + Send + 'static,
    {
        match &self.history {
            History::Journal(r) => {
                let r = r.clone();
                blocking(move || {
                    r.scan_days(hall, from, to, |e| f(&mut sink, e))?;
                    Ok(sink)
                })
                .await
            }
            History::Redis(r) => {
                r.scan_days(hall, from, to, |e| f(&mut sink, e)).await?;
                Ok(sink)
            }
        }
    }

    /// Whether the last write succeeded. Operations are refused at once
    /// while it is false, rather than waiting for a store that is down.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Queues a hall's events. Call while holding the hall's lock, so that
    /// the log keeps the engine's order; await the returned ack after
    /// releasing it.
    ///
    /// # Errors
    /// The queue is full or the writer has stopped.
    pub(crate) fn append(&self, hall: HallId, events: Vec<Event>) -> Result<Ack, StoreError> {
        let (ack, rx) = oneshot::channel();
        self.tx
            .try_send(Job::Append { hall, events, ack })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => StoreError::Unavailable("the store is not keeping up".into()),
                mpsc::error::TrySendError::Closed(_) => StoreError::Closed,
            })?;
        Ok(rx)
    }

    /// Queues a snapshot, taken under the hall's lock after its events.
    ///
    /// # Errors
    /// The queue is full or the writer has stopped.
    pub(crate) fn snapshot(&self, snap: HallSnapshot) -> Result<(), StoreError> {
        self.tx
            .try_send(Job::Snapshot(Box::new(snap)))
            .map_err(|_| StoreError::Unavailable("the store is not keeping up".into()))
    }

    /// Rebuilds one hall from what is stored, in order with the writes.
    ///
    /// # Errors
    /// The backend fails or its data does not rebuild the hall.
    pub async fn reload(&self, hall: HallId) -> Result<Hall, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Load { hall, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// The hall as of its last durable event, from the writer's mirror: no
    /// I/O, so it answers while the backend is down. Queued after every
    /// append sent so far, so those have succeeded or failed by then.
    pub async fn durable(&self, hall: HallId) -> Option<Hall> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Job::Durable { hall, reply }).await.ok()?;
        rx.await.ok().flatten()
    }

    /// Waits until everything queued so far has been written.
    pub async fn flush(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Job::Flush(reply)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Pings the store while it is marked down, and marks it up again once it
/// answers. Ends with the writer.
async fn watch(backend: Backend, healthy: Arc<AtomicBool>, alive: mpsc::WeakSender<Job>) {
    let mut every = tokio::time::interval(PING_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while alive.upgrade().is_some() {
        every.tick().await;
        if !healthy.load(Ordering::Relaxed) && backend.ping().await.is_ok() {
            tracing::info!("the store answers again");
            healthy.store(true, Ordering::Relaxed);
        }
    }
}

/// What the writer knows of each hall: the next sequence number the log
/// expects, and the hall as of its last durable event (so that a failed
/// write can be undone in memory without reading the store).
struct Mirror {
    next: HashMap<HallId, u64>,
    durable: HashMap<HallId, Hall>,
}

async fn run(
    backend: Backend,
    mut rx: mpsc::Receiver<Job>,
    healthy: Arc<AtomicBool>,
    mut mirror: Mirror,
    publisher: Option<Publisher>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
) {
    let mut jobs = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut jobs, BATCH).await > 0 {
        let mut queued = jobs.drain(..).peekable();
        while let Some(job) = queued.next() {
            match job {
                Job::Append { hall, events, ack } => {
                    let mut group = vec![(hall, events, ack)];
                    while let Some(Job::Append { .. }) = queued.peek() {
                        if let Some(Job::Append { hall, events, ack }) = queued.next() {
                            group.push((hall, events, ack));
                        }
                    }
                    write_group(
                        &backend,
                        group,
                        &healthy,
                        &mut mirror,
                        publisher.as_ref(),
                        metrics.as_deref(),
                    )
                    .await;
                }
                Job::Snapshot(snap) => {
                    let hall = snap.hall;
                    // Only a snapshot whose every event is durable: after a
                    // failed append the hall's memory is ahead of the log.
                    let durable = mirror.next.get(&hall).map_or(0, |n| n - 1);
                    if snap.seq > durable {
                        tracing::warn!(%hall, seq = snap.seq, durable, "snapshot ahead of the log not written");
                        continue;
                    }
                    if let Err(e) = backend.snapshot(snap).await {
                        tracing::warn!(%hall, error = %e, "snapshot not written");
                    }
                }
                Job::Load { hall, reply } => {
                    let Some(cfg) = mirror.durable.get(&hall).map(|h| h.config().clone()) else {
                        let _ = reply.send(Err(StoreError::corrupt(
                            format!("hall {hall}"),
                            "not a configured hall",
                        )));
                        continue;
                    };
                    let loaded = match backend.load(hall).await {
                        Ok(rec) => rebuild(cfg, &rec),
                        Err(e) => Err(e),
                    };
                    if let Ok(h) = &loaded {
                        mirror.next.insert(hall, h.seq() + 1);
                        mirror.durable.insert(hall, h.clone());
                        if let Some(p) = &publisher {
                            p.publish(Published::Reset(Box::new(h.clone())));
                        }
                    }
                    let _ = reply.send(loaded);
                }
                Job::Durable { hall, reply } => {
                    let _ = reply.send(mirror.durable.get(&hall).cloned());
                }
                Job::Flush(reply) => {
                    let _ = reply.send(());
                }
            }
        }
    }
}

type Pending = (HallId, Vec<Event>, oneshot::Sender<Result<(), StoreError>>);

/// Writes consecutive appends as one batch. An append that does not follow
/// its hall's last written event (because an earlier one failed) is
/// refused on its own; the rest go to the backend together.
async fn write_group(
    backend: &Backend,
    group: Vec<Pending>,
    healthy: &AtomicBool,
    mirror: &mut Mirror,
    publisher: Option<&Publisher>,
    metrics: Option<&crate::metrics::Metrics>,
) {
    let mut expect = mirror.next.clone();
    let mut batch = Vec::with_capacity(group.len());
    let mut acks = Vec::with_capacity(group.len());
    for (hall, events, ack) in group {
        let want = *expect.get(&hall).unwrap_or(&1);
        let first = events.first().map_or(want, |e| e.seq);
        if first != want {
            let _ = ack.send(Err(StoreError::OutOfOrder {
                hall,
                last: want - 1,
                got: first,
            }));
            continue;
        }
        expect.insert(hall, events.last().map_or(want, |e| e.seq + 1));
        batch.push((hall, events));
        acks.push(ack);
    }
    if batch.is_empty() {
        return;
    }
    let started = std::time::Instant::now();
    let appends = acks.len();
    let (batch, written) = backend.append(batch).await;
    if let Some(m) = metrics {
        m.wrote(appends, started.elapsed().as_secs_f64(), written.is_ok());
    }
    match written {
        Ok(()) => {
            mirror.next = expect;
            for (hall, events) in &batch {
                if let Some(h) = mirror.durable.get_mut(hall) {
                    for e in events {
                        if let Err(err) = h.apply(e) {
                            tracing::error!(%hall, error = %err, "durable mirror diverged");
                        }
                    }
                }
            }
            healthy.store(true, Ordering::Relaxed);
            for ack in acks {
                let _ = ack.send(Ok(()));
            }
            if let Some(p) = publisher {
                for (hall, events) in batch {
                    p.publish(Published::Events { hall, events });
                }
            }
        }
        Err(e) => {
            tracing::error!(error = %e, appends = acks.len(), "store write failed");
            healthy.store(false, Ordering::Relaxed);
            for ack in acks {
                let _ = ack.send(Err(e.clone()));
            }
        }
    }
}
