//! The store's one writer task. Every hall's appends queue up in a bounded
//! channel, sent while the hall is still locked, so the log keeps each
//! hall's engine order. The task takes whatever has queued, checks that
//! each append continues its hall's log, writes them all in one batch (one
//! fsync, or one Redis round trip), then acknowledges each: group commit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use super::journal::{Journal, JournalOptions};
use super::{Location, Recovered, StoreError};
use crate::engine::{Event, HallId, HallSnapshot};

/// Appends waiting beyond this are refused (503) rather than queued: a
/// store that cannot keep up must not grow memory without bound.
const QUEUE: usize = 16_384;
/// Most appends written in one batch.
const BATCH: usize = 4_096;

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub location: Location,
    pub journal: JournalOptions,
}

pub(crate) type Ack = oneshot::Receiver<Result<(), StoreError>>;

enum Job {
    Append {
        hall: HallId,
        events: Vec<Event>,
        ack: oneshot::Sender<Result<(), StoreError>>,
    },
    Snapshot(Box<HallSnapshot>),
    Load {
        hall: HallId,
        reply: oneshot::Sender<Result<Recovered, StoreError>>,
    },
    Flush(oneshot::Sender<()>),
}

enum Backend {
    /// Behind a std mutex: the journal's I/O runs on blocking threads, one
    /// call at a time (only the writer task calls it).
    Journal(Arc<Mutex<Journal>>),
}

impl Backend {
    async fn append(&self, batch: Vec<(HallId, Vec<Event>)>) -> Result<(), StoreError> {
        match self {
            Backend::Journal(j) => {
                let j = j.clone();
                blocking(move || {
                    let refs: Vec<(HallId, &[Event])> = batch.iter().map(|(h, e)| (*h, e.as_slice())).collect();
                    lock(&j).append(&refs)
                })
                .await
            }
        }
    }

    async fn snapshot(&self, snap: Box<HallSnapshot>) -> Result<(), StoreError> {
        match self {
            Backend::Journal(j) => {
                let j = j.clone();
                blocking(move || lock(&j).write_snapshot(&snap)).await
            }
        }
    }

    async fn load(&self, hall: HallId) -> Result<Recovered, StoreError> {
        match self {
            Backend::Journal(j) => {
                let j = j.clone();
                blocking(move || lock(&j).load(hall)).await
            }
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
}

/// An opened store: its handle, every hall read back, and a note of any
/// repair made on the way.
pub struct OpenedStore {
    pub store: Store,
    pub halls: HashMap<HallId, Recovered>,
    pub repaired: Option<String>,
}

impl Store {
    /// Opens the store, reads every hall back and starts the writer.
    ///
    /// # Errors
    /// The backend cannot be opened, or its data does not read back.
    pub async fn open(cfg: StoreConfig) -> Result<OpenedStore, StoreError> {
        let (backend, halls, repaired) = match cfg.location {
            Location::Journal(dir) => {
                let opts = cfg.journal.clone();
                let opened = blocking(move || Journal::open(&dir, opts)).await?;
                (
                    Backend::Journal(Arc::new(Mutex::new(opened.journal))),
                    opened.halls,
                    opened.repaired,
                )
            }
            Location::Redis(url) => {
                return Err(StoreError::Unavailable(format!(
                    "the Redis store ({url}) is not built yet"
                )));
            }
        };
        let next = halls.iter().map(|(h, r)| (*h, r.last_seq() + 1)).collect();
        let (tx, rx) = mpsc::channel(QUEUE);
        let healthy = Arc::new(AtomicBool::new(true));
        tokio::spawn(run(backend, rx, healthy.clone(), next));
        Ok(OpenedStore {
            store: Store { tx, healthy },
            halls,
            repaired,
        })
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

    /// Reads one hall back from what is stored, in order with the writes.
    ///
    /// # Errors
    /// The backend fails or its data does not read back.
    pub async fn load(&self, hall: HallId) -> Result<Recovered, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Load { hall, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Waits until everything queued so far has been written.
    pub async fn flush(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Job::Flush(reply)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn run(backend: Backend, mut rx: mpsc::Receiver<Job>, healthy: Arc<AtomicBool>, mut next: HashMap<HallId, u64>) {
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
                    write_group(&backend, group, &healthy, &mut next).await;
                }
                Job::Snapshot(snap) => {
                    let hall = snap.hall;
                    // Only a snapshot whose every event is durable: after a
                    // failed append the hall's memory is ahead of the log.
                    let durable = next.get(&hall).map_or(0, |n| n - 1);
                    if snap.seq > durable {
                        tracing::warn!(%hall, seq = snap.seq, durable, "snapshot ahead of the log not written");
                        continue;
                    }
                    if let Err(e) = backend.snapshot(snap).await {
                        tracing::warn!(%hall, error = %e, "snapshot not written");
                    }
                }
                Job::Load { hall, reply } => {
                    let loaded = backend.load(hall).await;
                    if let Ok(r) = &loaded {
                        next.insert(hall, r.last_seq() + 1);
                    }
                    let _ = reply.send(loaded);
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
async fn write_group(backend: &Backend, group: Vec<Pending>, healthy: &AtomicBool, next: &mut HashMap<HallId, u64>) {
    let mut expect = next.clone();
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
    match backend.append(batch).await {
        Ok(()) => {
            *next = expect;
            healthy.store(true, Ordering::Relaxed);
            for ack in acks {
                let _ = ack.send(Ok(()));
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
