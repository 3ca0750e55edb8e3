//! The store's one writer task. Every hall's appends queue up in a bounded
//! channel, sent while the hall is still locked, so the log keeps each
//! hall's engine order. The task takes whatever has queued, checks that
//! each append continues its hall's log, writes them all in one batch (one
//! fsync, or one Redis round trip), then acknowledges each: group commit.
//! Each durable batch is committed to the durable event stream before its
//! callers are answered and published to the stream's subscribers after.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot};

use super::journal::{Journal, JournalOptions, Position};
use super::log::LogReader;
use super::redis_store::RedisStore;
use super::stream::{Batch, Epoch, Epochs, Opening, Stream};
use super::{Location, NumberKey, Recovered, StoreError, blocking, rebuild};
use crate::engine::HallSpec;
use crate::engine::{Event, Hall, HallId, HallSnapshot};

/// Who is told of every batch the writer writes: how many appends, how
/// long it took, whether it succeeded. The store knows nothing of where
/// the figures go (`/metrics`).
pub trait WriteObserver: Send + Sync + std::fmt::Debug {
    fn wrote(&self, appends: usize, secs: f64, ok: bool);
}

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
    pub halls: Vec<Arc<HallSpec>>,
    /// Business days of events kept for reports behind the snapshots.
    pub retention_days: u32,
    /// Told of every batch written (for `/metrics`).
    pub metrics: Option<Arc<dyn WriteObserver>>,
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
    /// A reading of the hall as of its last durable event.
    Read {
        hall: HallId,
        /// Dropped uncalled for an unknown hall.
        read: Box<dyn FnOnce(&Hall) + Send>,
    },
    Flush(oneshot::Sender<()>),
    /// A new incarnation of the hall's log (a new owner).
    BeginEpoch {
        hall: HallId,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Read what another node appended to a hall this one does not own,
    /// and commit it to the stream.
    CatchUp {
        hall: HallId,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
}

#[derive(Clone)]
enum Backend {
    /// Written inline by the writer, on its own thread; behind a mutex
    /// only so that opening it can hand it over from a blocking thread.
    Journal(Arc<Mutex<Journal>>),
    Redis(RedisStore),
}

impl Backend {
    /// Writes a batch and hands it back (to commit to the stream).
    async fn append(&self, batch: Vec<(HallId, Vec<Event>)>) -> (Vec<(HallId, Vec<Event>)>, Result<(), StoreError>) {
        match self {
            // The writer has a thread of its own with the journal
            // (see `spawn`): writing inline saves two thread hand-offs per
            // batch, which were a third of its round.
            Backend::Journal(j) => {
                let result = {
                    let refs: Vec<(HallId, &[Event])> = batch.iter().map(|(h, e)| (*h, e.as_slice())).collect();
                    lock(j).append(&refs)
                };
                (batch, result)
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

    async fn load(&self, hall: HallId) -> Result<Recovered, StoreError> {
        match self {
            Backend::Journal(j) => lock(j).load(hall),
            Backend::Redis(r) => r.load(hall).await,
        }
    }

    /// The halls' log incarnations as stored.
    async fn epochs(&self, halls: &[Arc<HallSpec>]) -> Result<HashMap<HallId, Epochs>, StoreError> {
        match self {
            Backend::Journal(j) => lock(j).epochs(),
            Backend::Redis(r) => {
                let mut out = HashMap::new();
                for h in halls {
                    out.insert(h.id, r.epochs(h.id).await?);
                }
                Ok(out)
            }
        }
    }

    /// Records a hall's new incarnation (`all`: its whole history). The
    /// journal keeps them in one file, written by [`Backend::flush_epochs`].
    async fn begin_epoch(&self, hall: HallId, epoch: Epoch, first: u64, all: &Epochs) -> Result<(), StoreError> {
        match self {
            Backend::Journal(j) => {
                lock(j).stage_epochs(hall, all.clone());
                Ok(())
            }
            Backend::Redis(r) => r.begin_epoch(hall, epoch, first).await,
        }
    }

    async fn flush_epochs(&self) -> Result<(), StoreError> {
        match self {
            Backend::Journal(j) => lock(j).flush_epochs(),
            Backend::Redis(_) => Ok(()),
        }
    }
}

fn lock(j: &Mutex<Journal>) -> std::sync::MutexGuard<'_, Journal> {
    // The journal undoes a failed write before returning, so a panic
    // elsewhere cannot leave it half-written: a poisoned lock is usable.
    j.lock().unwrap_or_else(|e| e.into_inner())
}

/// A handle on the store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Job>,
    healthy: Arc<AtomicBool>,
    /// Set for a store shared between processes: ticket numbers come from it.
    numbers: Option<RedisStore>,
    /// Reads the log back (reports), beside the writer.
    log: LogReader,
}

/// An opened store: its handle, every configured hall rebuilt from it (in
/// configuration order), and notes for the log.
pub struct OpenedStore {
    pub store: Store,
    pub halls: Vec<Hall>,
    /// Every durable batch from now on, for whoever reacts to them.
    pub stream: Stream,
    /// Halls the store holds that the configuration does not name.
    pub unknown: Vec<HallId>,
    pub repaired: Option<String>,
    /// A warning about the store's own settings (Redis keeping nothing on disk).
    pub warning: Option<String>,
    /// The Redis backend itself, for the cluster's leases and beats.
    pub redis: Option<RedisStore>,
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
                let ids: Vec<HallId> = cfg.halls.iter().map(|h| h.id).collect();
                let renamed = redis.rename_legacy_keys(&ids).await?;
                if renamed > 0 {
                    tracing::warn!(renamed, "Redis keys renamed to carry their hall's hash tag");
                }
                let mut halls = HashMap::new();
                for hall in &cfg.halls {
                    halls.insert(hall.id, redis.load(hall.id).await?);
                }
                (Backend::Redis(redis), halls, None, warning)
            }
        };
        let (numbers, log): (Option<RedisStore>, LogReader) = match &backend {
            Backend::Redis(r) => (Some(r.clone()), LogReader::Redis(r.clone())),
            Backend::Journal(j) => (None, LogReader::Journal(lock(j).reader())),
        };
        let redis_backend = numbers.clone();
        let mut recovered = halls;
        let mut rebuilt = Vec::with_capacity(cfg.halls.len());
        let mut openings = Vec::with_capacity(cfg.halls.len());
        let mut epochs = backend.epochs(&cfg.halls).await?;
        for spec in &cfg.halls {
            let rec = recovered.remove(&spec.id).unwrap_or_default();
            let hall = rebuild(spec.clone(), &rec)?;
            // Every start is a new incarnation of each hall's log: a backup
            // restored under this server cannot pass for the log its
            // screens read before (see `stream::Epoch`).
            let mut hall_epochs = epochs.remove(&spec.id).unwrap_or_default();
            // On Redis, several nodes open one store: a new incarnation
            // comes with each new owner (`Store::begin_epoch`), not with
            // each node that starts, or screens would be reset whenever
            // one did.
            let shared = matches!(backend, Backend::Redis(_)) && hall_epochs.current().is_some();
            if !shared {
                let epoch = Epoch::random()?;
                hall_epochs.begin(epoch, hall.seq() + 1);
                backend
                    .begin_epoch(spec.id, epoch, hall.seq() + 1, &hall_epochs)
                    .await?;
            }
            openings.push(Opening {
                hall: hall.clone(),
                recent: rec.events,
                epochs: hall_epochs,
            });
            rebuilt.push(hall);
        }
        backend.flush_epochs().await?;
        let unknown = recovered.into_keys().collect();
        let stream = Stream::new(openings, log.clone());
        let (tx, rx) = mpsc::channel(QUEUE);
        let healthy = Arc::new(AtomicBool::new(true));
        tokio::spawn(watch(backend.clone(), healthy.clone(), tx.downgrade()));
        let own_thread = matches!(backend, Backend::Journal(_));
        let next = rebuilt.iter().map(|h| (h.spec().id, h.seq() + 1)).collect();
        spawn(
            run(backend, rx, healthy.clone(), stream.clone(), next, cfg.metrics),
            own_thread,
        )?;
        Ok(OpenedStore {
            store: Store {
                tx,
                healthy,
                numbers,
                log,
            },
            halls: rebuilt,
            stream,
            unknown,
            repaired,
            warning,
            redis: redis_backend,
        })
    }

    /// The Redis backend, if that is the store.
    pub fn redis(&self) -> Option<RedisStore> {
        self.numbers.clone()
    }

    /// A ticket number from the shared store, if this store allocates them
    /// (Redis); `None` lets the engine number tickets itself.
    ///
    /// # Errors
    /// The store is unavailable.
    pub async fn allocate_number(&self, key: NumberKey, floor: u32) -> Result<Option<u32>, StoreError> {
        match &self.numbers {
            None => Ok(None),
            Some(r) => match r.allocate_number_after(key, floor).await {
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
        sink: S,
        f: F,
    ) -> Result<S, StoreError>
    where
        S: Send + 'static,
        F: Fn(&mut S, Event) -> Result<(), String> + Send + 'static,
    {
        self.log.scan_days(hall, (from, to), sink, f).await
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

    /// The hall as of its last durable event, from the stream: no
    /// I/O, so it answers while the backend is down. Queued after every
    /// append sent so far, so those have succeeded or failed by then.
    pub async fn durable(&self, hall: HallId) -> Option<Hall> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Job::Durable { hall, reply }).await.ok()?;
        rx.await.ok().flatten()
    }

    /// Reads the hall as of its last durable event, once every append
    /// sent so far has succeeded or failed: what a repeated request checks
    /// before it answers with what the first one did. `None` if the writer
    /// has stopped or the hall is unknown.
    pub async fn read_durable<R: Send + 'static>(
        &self,
        hall: HallId,
        f: impl FnOnce(&Hall) -> R + Send + 'static,
    ) -> Option<R> {
        let (reply, rx) = oneshot::channel();
        let read = Box::new(move |h: &Hall| {
            let _ = reply.send(f(h));
        });
        self.tx.send(Job::Read { hall, read }).await.ok()?;
        rx.await.ok()
    }

    /// Waits until everything queued so far has been written.
    pub async fn flush(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Job::Flush(reply)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Starts a new incarnation of a hall's log from its next event: a node
    /// that has just taken the hall over (its screens can then tell the
    /// log they read from a log that went back meanwhile).
    ///
    /// # Errors
    /// The store cannot record it.
    pub async fn begin_epoch(&self, hall: HallId) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::BeginEpoch { hall, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Brings the stream's copy of a hall another node owns up to what the
    /// store holds: the events after its durable one are read, committed
    /// and published, as if this node had written them. Answers the
    /// hall's durable sequence number after.
    ///
    /// # Errors
    /// The store cannot be read, or its log does not replay.
    pub async fn catch_up(&self, hall: HallId) -> Result<u64, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::CatchUp { hall, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

/// Starts the writer. With the journal it runs on a thread of its own and
/// writes inline: a group commit is then one thread waking, writing and
/// fsyncing, not a task handing each batch to a blocking thread and being
/// woken again by it (two hand-offs, a third of a batch's round under
/// load). With Redis it is a task like any other: its I/O is asynchronous.
fn spawn(writer: impl Future<Output = ()> + Send + 'static, own_thread: bool) -> Result<(), StoreError> {
    if !own_thread {
        tokio::spawn(writer);
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| StoreError::Unavailable(format!("cannot start the store's writer: {e}")))?;
    std::thread::Builder::new()
        .name("hallcall-writer".into())
        .spawn(move || rt.block_on(writer))
        .map_err(|e| StoreError::Unavailable(format!("cannot start the store's writer: {e}")))?;
    Ok(())
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

/// A snapshot to write, with where the journal stood when it was taken.
enum SnapshotJob {
    Write(Box<HallSnapshot>, Option<Position>),
    /// Answered once every snapshot before it is written.
    Flush(oneshot::Sender<()>),
}

/// Writes snapshots, in order, beside the writer. A snapshot holds every
/// ticket of the day, and encoding and syncing it took hundreds of
/// milliseconds on a busy day while the writer held every append back
/// (BENCHMARKS.md): here it holds nothing back.
fn spawn_snapshots(backend: &Backend) -> Result<mpsc::UnboundedSender<SnapshotJob>, StoreError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<SnapshotJob>();
    match backend.clone() {
        // Blocking file I/O: a thread of its own.
        Backend::Journal(j) => {
            let dir = lock(&j).dir().to_path_buf();
            std::thread::Builder::new()
                .name("hallcall-snapshots".into())
                .spawn(move || {
                    while let Some(job) = rx.blocking_recv() {
                        match job {
                            SnapshotJob::Write(snap, at) => {
                                let at = at.unwrap_or_default();
                                let started = std::time::Instant::now();
                                let written = super::journal::write_snapshot_file(&dir, at, &snap);
                                if written.is_ok() {
                                    lock(&j).snapshot_written(snap.hall, at);
                                }
                                logged(&snap, started, written);
                            }
                            SnapshotJob::Flush(reply) => {
                                let _ = reply.send(());
                            }
                        }
                    }
                })
                .map_err(|e| StoreError::Unavailable(format!("cannot start the snapshot writer: {e}")))?;
        }
        Backend::Redis(r) => {
            tokio::spawn(async move {
                while let Some(job) = rx.recv().await {
                    match job {
                        SnapshotJob::Write(snap, _) => {
                            let started = std::time::Instant::now();
                            let written = r.write_snapshot(&snap).await;
                            logged(&snap, started, written);
                        }
                        SnapshotJob::Flush(reply) => {
                            let _ = reply.send(());
                        }
                    }
                }
            });
        }
    }
    Ok(tx)
}

fn logged(snap: &HallSnapshot, started: std::time::Instant, written: Result<(), StoreError>) {
    let (hall, seq, tickets) = (snap.hall, snap.seq, snap.tickets.len());
    match written {
        Ok(()) => tracing::info!(%hall, seq, tickets, ms = started.elapsed().as_secs_f64() * 1e3, "snapshot written"),
        // A snapshot not written only means a longer replay at the next start.
        Err(e) => tracing::warn!(%hall, seq, error = %e, "snapshot not written"),
    }
}

/// Writes in flight at once. The journal has one file and one fsync at a
/// time. Redis runs each append script in order on one connection, so a
/// second batch can be on its way while the first is in Redis's hands
/// (its script, its AOF fsync, the reply): the round trip and this task's
/// own work then overlap with Redis's.
fn depth(backend: &Backend) -> usize {
    match backend {
        Backend::Journal(_) => 1,
        Backend::Redis(_) => 3,
    }
}

type Written = (Vec<(HallId, Vec<Event>)>, Result<(), StoreError>);

type Writing = Pin<Box<dyn Future<Output = Written> + Send>>;

/// A batch handed to the backend and not yet answered.
struct InFlight {
    write: Writing,
    acks: Vec<oneshot::Sender<Result<(), StoreError>>>,
    started: std::time::Instant,
}

impl InFlight {
    fn poll_done(&mut self, cx: &mut Context<'_>) -> Poll<Written> {
        self.write.as_mut().poll(cx)
    }
}

struct Writer {
    backend: Backend,
    depth: usize,
    healthy: Arc<AtomicBool>,
    /// Where durable batches go: each hall's durable state, and the
    /// subscribers.
    stream: Stream,
    /// Each hall's next sequence number as far as is durable.
    next: HashMap<HallId, u64>,
    /// Where snapshots go to be written.
    snapshots: mpsc::UnboundedSender<SnapshotJob>,
    /// Each hall's next sequence number once every batch in flight is
    /// durable: what a new batch must continue.
    launched: HashMap<HallId, u64>,
    flying: VecDeque<InFlight>,
    /// A batch failed: nothing more is sent until those in flight are
    /// answered and `launched` is put back to what is durable.
    failed: bool,
    metrics: Option<Arc<dyn WriteObserver>>,
}

async fn run(
    backend: Backend,
    mut rx: mpsc::Receiver<Job>,
    healthy: Arc<AtomicBool>,
    stream: Stream,
    next: HashMap<HallId, u64>,
    metrics: Option<Arc<dyn WriteObserver>>,
) {
    let snapshots = match spawn_snapshots(&backend) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "no snapshots will be written");
            mpsc::unbounded_channel().0
        }
    };
    let mut w = Writer {
        snapshots,
        depth: depth(&backend),
        backend,
        healthy,
        launched: next.clone(),
        next,
        stream,
        flying: VecDeque::new(),
        failed: false,
        metrics,
    };
    let mut jobs: VecDeque<Job> = VecDeque::with_capacity(BATCH);
    let mut buf = Vec::with_capacity(BATCH);
    loop {
        // Whatever can go now: consecutive appends as one batch while there
        // is room in the pipeline; any other job once nothing is in flight
        // (it must see every earlier append answered).
        while let Some(job) = jobs.pop_front() {
            match job {
                Job::Append { hall, events, ack } if w.flying.len() < w.depth && !w.failed => {
                    let mut group = vec![(hall, events, ack)];
                    while let Some(Job::Append { .. }) = jobs.front() {
                        if let Some(Job::Append { hall, events, ack }) = jobs.pop_front() {
                            group.push((hall, events, ack));
                        }
                    }
                    w.launch(group).await;
                }
                Job::Append { .. } => {
                    jobs.push_front(job);
                    break;
                }
                job if w.flying.is_empty() => w.other(job).await,
                job => {
                    jobs.push_front(job);
                    break;
                }
            }
        }
        let room = w.flying.len() < w.depth && !w.failed;
        if w.flying.is_empty() {
            if rx.recv_many(&mut buf, BATCH).await == 0 {
                return;
            }
            jobs.extend(buf.drain(..));
            continue;
        }
        tokio::select! {
            biased;
            written = std::future::poll_fn(|cx| w.flying.front_mut().map_or(Poll::Pending, |f| f.poll_done(cx))) => {
                if let Some(done) = w.flying.pop_front() {
                    w.complete(done, written);
                }
            }
            n = rx.recv_many(&mut buf, BATCH), if room && jobs.is_empty() => {
                if n == 0 {
                    while let Some(mut f) = w.flying.pop_front() {
                        let written = std::future::poll_fn(|cx| f.poll_done(cx)).await;
                        w.complete(f, written);
                    }
                    return;
                }
                jobs.extend(buf.drain(..));
            }
        }
    }
}

type Pending = (HallId, Vec<Event>, oneshot::Sender<Result<(), StoreError>>);

/// A durable batch's appends joined per hall, halls in order of first
/// appearance: the hub then makes one frame per hall per batch (one zone
/// summary and queue head for twenty issues, not twenty), and screens get
/// fewer, larger deltas. A hall's appends in a batch are consecutive in its
/// log, so joined they are still one run of sequence numbers.
fn per_hall(batch: Vec<(HallId, Vec<Event>)>) -> Vec<(HallId, Vec<Event>)> {
    let mut out: Vec<(HallId, Vec<Event>)> = Vec::new();
    let mut at: HashMap<HallId, usize> = HashMap::new();
    for (hall, events) in batch {
        match at.get(&hall) {
            Some(&i) => out[i].1.extend(events),
            None => {
                at.insert(hall, out.len());
                out.push((hall, events));
            }
        }
    }
    out
}

type Acks = Vec<oneshot::Sender<Result<(), StoreError>>>;
type Appends = Vec<(HallId, Vec<Event>)>;

/// A batch's appends and their answers, a hall to each part, halls in
/// order of first appearance.
fn split_per_hall(batch: Appends, acks: Acks) -> Vec<(Appends, Acks)> {
    let mut out: Vec<(Appends, Acks)> = Vec::new();
    let mut at: HashMap<HallId, usize> = HashMap::new();
    for ((hall, events), ack) in batch.into_iter().zip(acks) {
        let i = *at.entry(hall).or_insert_with(|| {
            out.push((Vec::new(), Vec::new()));
            out.len() - 1
        });
        out[i].0.push((hall, events));
        out[i].1.push(ack);
    }
    out
}

impl Writer {
    /// Checks a group of consecutive appends against what is written or on
    /// its way and sends the rest to the backend as one batch. An append
    /// that does not follow its hall's last event (because an earlier one
    /// failed) is refused on its own.
    async fn launch(&mut self, group: Vec<Pending>) {
        let mut batch = Vec::with_capacity(group.len());
        let mut acks = Vec::with_capacity(group.len());
        for (hall, events, ack) in group {
            let want = *self.launched.get(&hall).unwrap_or(&1);
            let first = events.first().map_or(want, |e| e.seq);
            if first != want {
                let _ = ack.send(Err(StoreError::OutOfOrder {
                    hall,
                    last: want - 1,
                    got: first,
                }));
                continue;
            }
            self.launched.insert(hall, events.last().map_or(want, |e| e.seq + 1));
            batch.push((hall, events));
            acks.push(ack);
        }
        if batch.is_empty() {
            return;
        }
        // A Redis Cluster runs a script in one slot, so each hall's part
        // goes on its own, and succeeds or fails on its own.
        let parts = match &self.backend {
            Backend::Redis(r) if r.is_cluster() => split_per_hall(batch, acks),
            _ => vec![(batch, acks)],
        };
        for (batch, acks) in parts {
            let backend = self.backend.clone();
            let mut write: Writing = Box::pin(async move { backend.append(batch).await });
            // Polled once here, so that it is handed to the backend (queued
            // on the Redis connection) before any later batch.
            if let Poll::Ready(w) = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await {
                write = Box::pin(std::future::ready(w));
            }
            self.flying.push_back(InFlight {
                write,
                acks,
                started: std::time::Instant::now(),
            });
        }
    }

    /// A batch's answer, taken in the order the batches were sent.
    fn complete(&mut self, done: InFlight, (batch, written): Written) {
        if let Some(m) = &self.metrics {
            m.wrote(done.acks.len(), done.started.elapsed().as_secs_f64(), written.is_ok());
        }
        match written {
            Ok(()) => {
                let mut committed = Vec::new();
                for (hall, events) in per_hall(batch) {
                    let (Some(first), Some(last)) = (events.first(), events.last()) else {
                        continue;
                    };
                    // A hall whose earlier batch failed is not where this
                    // one starts: its durable state stays as it was, and
                    // the hall, already broken by that failure, is read
                    // back from the store when its next append is refused.
                    if self.next.get(&hall).is_some_and(|n| *n != first.seq) {
                        tracing::warn!(%hall, seq = first.seq, "durable batch after a failed one: not committed");
                        continue;
                    }
                    self.next.insert(hall, last.seq + 1);
                    // Committed before the answers: whoever is told an
                    // operation is done and then opens a screen sees it
                    // there. Published after them: that wakes every
                    // subscriber.
                    committed.extend(self.stream.commit(hall, events));
                }
                self.healthy.store(true, Ordering::Relaxed);
                for ack in done.acks {
                    let _ = ack.send(Ok(()));
                }
                self.stream.publish(committed);
            }
            Err(e) => {
                tracing::error!(error = %e, appends = done.acks.len(), "store write failed");
                self.healthy.store(false, Ordering::Relaxed);
                for ack in done.acks {
                    let _ = ack.send(Err(e.clone()));
                }
                self.failed = true;
            }
        }
        if self.flying.is_empty() && self.failed {
            self.launched = self.next.clone();
            self.failed = false;
        }
    }

    /// A job other than an append, with nothing in flight.
    async fn other(&mut self, job: Job) {
        match job {
            // Appends go through `launch`.
            Job::Append { .. } => {}
            Job::Snapshot(snap) => {
                let hall = snap.hall;
                // Only a snapshot whose every event is durable: after a
                // failed append the hall's memory is ahead of the log.
                let durable = self.next.get(&hall).map_or(0, |n| n - 1);
                if snap.seq > durable {
                    tracing::warn!(%hall, seq = snap.seq, durable, "snapshot ahead of the log not written");
                    return;
                }
                // Where the journal stands now: every event of the snapshot
                // is before it, which is where a replay resumes.
                let at = match &self.backend {
                    Backend::Journal(j) => Some(lock(j).position()),
                    Backend::Redis(_) => None,
                };
                let _ = self.snapshots.send(SnapshotJob::Write(snap, at));
            }
            Job::Load { hall, reply } => {
                let _ = reply.send(self.load(hall).await);
            }
            Job::Durable { hall, reply } => {
                let _ = reply.send(self.stream.hall(hall));
            }
            Job::Read { hall, read } => {
                let _ = self.stream.with_hall(hall, read);
            }
            Job::CatchUp { hall, reply } => {
                let _ = reply.send(self.catch_up(hall).await);
            }
            Job::BeginEpoch { hall, reply } => {
                let _ = reply.send(self.begin_epoch(hall).await);
            }
            Job::Flush(reply) => {
                let (done, written) = oneshot::channel();
                if self.snapshots.send(SnapshotJob::Flush(done)).is_ok() {
                    let _ = written.await;
                }
                let _ = reply.send(());
            }
        }
    }

    /// Reads a hall back from the store, and brings the stream in line
    /// with it: events that were written although their write reported a
    /// failure are committed and published now; a log that went back
    /// (the store lost or replaced it) starts a new epoch.
    async fn load(&mut self, hall: HallId) -> Result<Hall, StoreError> {
        let Some(durable) = self.stream.hall(hall) else {
            return Err(StoreError::corrupt(format!("hall {hall}"), "not a configured hall"));
        };
        let rec = self.backend.load(hall).await?;
        let loaded = rebuild(durable.spec().clone(), &rec)?;
        let published = durable.seq();
        if loaded.seq() > published {
            let unseen: Vec<Event> = rec.events.iter().filter(|e| e.seq > published).cloned().collect();
            if unseen.first().map(|e| e.seq) == Some(published + 1) {
                tracing::warn!(%hall, from = published + 1, to = loaded.seq(), "events stored by a write that reported a failure: published now");
                let batch: Option<Arc<Batch>> = self.stream.commit(hall, unseen);
                self.stream.publish(batch);
            } else {
                self.replace(loaded.clone()).await?;
            }
        } else if loaded.seq() < published {
            self.replace(loaded.clone()).await?;
        }
        self.next.insert(hall, loaded.seq() + 1);
        self.launched.insert(hall, loaded.seq() + 1);
        Ok(loaded)
    }

    async fn begin_epoch(&mut self, hall: HallId) -> Result<(), StoreError> {
        let (Some(mut epochs), Some(seq)) = (self.stream.epochs(hall), self.stream.durable_seq(hall)) else {
            return Err(StoreError::corrupt(format!("hall {hall}"), "not a configured hall"));
        };
        let epoch = Epoch::random()?;
        epochs.begin(epoch, seq + 1);
        self.backend.begin_epoch(hall, epoch, seq + 1, &epochs).await?;
        self.backend.flush_epochs().await?;
        self.stream.adopt_epochs(hall, epochs);
        Ok(())
    }

    /// See [`Store::catch_up`]. A hall whose missed events the store no
    /// longer holds in order (trimmed behind a snapshot) is read back whole.
    async fn catch_up(&mut self, hall: HallId) -> Result<u64, StoreError> {
        let Some(durable) = self.stream.durable_seq(hall) else {
            return Err(StoreError::corrupt(format!("hall {hall}"), "not a configured hall"));
        };
        let Backend::Redis(r) = &self.backend else {
            return Ok(durable);
        };
        match r.read_since(hall, durable, usize::MAX).await? {
            Some(events) if events.is_empty() => Ok(durable),
            Some(events) => {
                let last = events.last().map_or(durable, |e| e.seq);
                // A new owner may have begun an incarnation: adopted before
                // the events, so a screen resuming on them finds it.
                self.stream.adopt_epochs(hall, r.epochs(hall).await?);
                let batch: Option<Arc<Batch>> = self.stream.commit(hall, events);
                if batch.is_none() {
                    return self.load(hall).await.map(|h| h.seq());
                }
                self.stream.publish(batch);
                self.next.insert(hall, last + 1);
                self.launched.insert(hall, last + 1);
                Ok(last)
            }
            None => self.load(hall).await.map(|h| h.seq()),
        }
    }

    /// The store's log of a hall is not the one published: a new epoch.
    async fn replace(&mut self, hall: Hall) -> Result<(), StoreError> {
        let id = hall.spec().id;
        let epoch = Epoch::random()?;
        let mut epochs = self.stream.epochs(id).unwrap_or_default();
        epochs.begin(epoch, hall.seq() + 1);
        self.backend.begin_epoch(id, epoch, hall.seq() + 1, &epochs).await?;
        self.backend.flush_epochs().await?;
        self.stream.replace(hall, epoch);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
