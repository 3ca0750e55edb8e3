//! The durable event stream: every batch of events the store has made
//! durable, per hall in log order, for whoever reacts to them (screens,
//! voice, metrics; later notices, other nodes, an archive). It knows
//! nothing of its consumers: each subscribes and reads at its own pace.
//!
//! Per hall it keeps:
//!
//! - the hall as of its last durable event (what new subscribers start
//!   from, and what a failed write rolls the live hall back to), applied
//!   by the writer *before* it answers, so whoever is told an operation is
//!   done finds it in the next snapshot taken here;
//! - the latest batches (a cache in front of the log: a subscriber that
//!   fell behind, or a screen resuming, reads them from memory, and only
//!   further back from the store);
//! - the log's incarnations ([`Epoch`], `epoch`), so a reader can tell a
//!   log that continues the one it read from a log that replaced it.
//!
//! Halls are fixed when the store opens.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::broadcast;

use super::StoreError;
pub use super::epoch::{EPOCHS_KEPT, Epoch, Epochs};
use super::log::LogReader;
use crate::engine::{Event, EventKind, Hall, HallId};

/// Changes kept for subscribers that have not read them yet; one further
/// behind reads what it missed from the hall's tail or the log.
const CHANNEL: usize = 8192;
/// Events of each hall kept in memory behind its durable state.
pub const TAIL_EVENTS: usize = 16_384;
/// A subscriber far behind reads its backlog from the store in parts of
/// about this many events (to the journal's next read mark): held in
/// memory one part at a time, however far behind it is.
pub(crate) const CATCH_UP_PART: usize = 32_768;

/// One durable batch of one hall's events: consecutive sequence numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub hall: HallId,
    pub events: Vec<Event>,
}

impl Batch {
    /// Sequence number of its first event.
    pub fn from(&self) -> u64 {
        self.events.first().map_or(0, |e| e.seq)
    }

    /// Sequence number of its last event.
    pub fn seq(&self) -> u64 {
        self.events.last().map_or(0, |e| e.seq)
    }
}

/// What a subscriber receives.
#[derive(Debug, Clone)]
pub enum Change {
    /// Events made durable, continuing the hall's log.
    Batch(Arc<Batch>),
    /// Start this hall over from its durable state: its log was replaced
    /// (the store went back, or lost data), or this subscriber fell so far
    /// behind that what it missed is no longer kept.
    Reset(HallId),
}

impl Change {
    pub fn hall(&self) -> HallId {
        match self {
            Change::Batch(b) => b.hall,
            Change::Reset(h) => *h,
        }
    }
}

/// A hall's durable state and its recent past.
struct Durable {
    hall: Hall,
    tail: VecDeque<Arc<Batch>>,
    tail_events: usize,
    epochs: Epochs,
}

impl Durable {
    fn remember(&mut self, batch: Arc<Batch>) {
        self.tail_events += batch.events.len();
        self.tail.push_back(batch);
        while self.tail_events > TAIL_EVENTS && self.tail.len() > 1 {
            if let Some(old) = self.tail.pop_front() {
                self.tail_events -= old.events.len();
            }
        }
    }

    /// Extends `events` (read after `since`, perhaps from the store) with
    /// what has been made durable since they were read; false when the
    /// tail no longer reaches back to them.
    fn complete(&self, since: u64, events: &mut Vec<Event>) -> bool {
        let read_to = events.last().map_or(since, |e| e.seq);
        if read_to >= self.hall.seq() {
            return true;
        }
        match self.tail_since(read_to) {
            Some(more) => {
                events.extend(more);
                true
            }
            None => false,
        }
    }

    /// The events after `since` if the tail still holds every one of them.
    fn tail_since(&self, since: u64) -> Option<Vec<Event>> {
        let last = self.hall.seq();
        if since >= last {
            return Some(Vec::new());
        }
        let first = self.tail.front()?.from();
        if first > since + 1 {
            return None;
        }
        Some(
            self.tail
                .iter()
                .filter(|b| b.seq() > since)
                .flat_map(|b| b.events.iter().filter(|e| e.seq > since).cloned())
                .collect(),
        )
    }
}

struct HallLog {
    durable: Mutex<Durable>,
    /// The last durable sequence number, readable without the lock.
    seq: AtomicU64,
}

impl HallLog {
    fn lock(&self) -> MutexGuard<'_, Durable> {
        // The engine checks an event fully before applying it, so a panic
        // elsewhere cannot leave the hall half-changed.
        self.durable.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A hall as the stream starts with it: rebuilt from the store, with the
/// events read back after its snapshot (the start of its tail) and its
/// incarnations, the current one last.
pub struct Opening {
    pub hall: Hall,
    pub recent: Vec<Event>,
    pub epochs: Epochs,
}

/// The durable event stream. Cheap to clone.
#[derive(Clone)]
pub struct Stream {
    inner: Arc<Inner>,
}

struct Inner {
    halls: HashMap<HallId, HallLog>,
    tx: broadcast::Sender<Change>,
    log: LogReader,
}

impl Stream {
    pub(crate) fn new(halls: Vec<Opening>, log: LogReader) -> Stream {
        let halls = halls
            .into_iter()
            .map(|o| {
                let id = o.hall.spec().id;
                let seq = o.hall.seq();
                let mut d = Durable {
                    hall: o.hall,
                    tail: VecDeque::new(),
                    tail_events: 0,
                    epochs: o.epochs,
                };
                // The events read back after the snapshot, as far as the
                // tail keeps them: a restart does not start with an empty
                // cache, so screens resuming after it read from memory.
                let keep = o.recent.len().saturating_sub(TAIL_EVENTS);
                let recent: Vec<Event> = o.recent.into_iter().skip(keep).collect();
                if !recent.is_empty() {
                    d.remember(Arc::new(Batch {
                        hall: id,
                        events: recent,
                    }));
                }
                let log = HallLog {
                    durable: Mutex::new(d),
                    seq: AtomicU64::new(seq),
                };
                (id, log)
            })
            .collect();
        Stream {
            inner: Arc::new(Inner {
                halls,
                tx: broadcast::channel(CHANNEL).0,
                log,
            }),
        }
    }

    /// A stream over `halls` with nothing behind its tails (tests).
    #[cfg(test)]
    pub(crate) fn for_tests(halls: Vec<Hall>) -> Stream {
        let openings = halls
            .into_iter()
            .map(|hall| {
                let first = hall.seq() + 1;
                Opening {
                    hall,
                    recent: Vec::new(),
                    epochs: Epochs(vec![(Epoch(1), first)]),
                }
            })
            .collect();
        Stream::new(openings, LogReader::nothing())
    }

    fn log(&self, hall: HallId) -> Option<&HallLog> {
        self.inner.halls.get(&hall)
    }

    /// The halls of this stream.
    pub fn halls(&self) -> impl Iterator<Item = HallId> + '_ {
        self.inner.halls.keys().copied()
    }

    /// Every change from now on, for every hall, in log order per hall.
    pub fn subscribe(&self) -> Subscription {
        // Receiver first: whatever is committed after the positions are
        // read is then on the channel too (and skipped if already known).
        let rx = self.inner.tx.subscribe();
        let next = self
            .inner
            .halls
            .iter()
            .map(|(h, l)| (*h, l.seq.load(Ordering::Acquire) + 1))
            .collect();
        Subscription {
            stream: Arc::downgrade(&self.inner),
            rx,
            next,
            ready: VecDeque::new(),
            unfinished: VecDeque::new(),
            ahead: None,
            memory_only: false,
        }
    }

    /// As [`Stream::subscribe`], but for the halls in `after` starting
    /// right after the sequence number given (read back from the store as
    /// far as needed; a hall whose events are no longer kept starts with a
    /// [`Change::Reset`]). A hall given a number at or past its durable one
    /// starts from now.
    pub async fn subscribe_after(&self, after: &HashMap<HallId, u64>) -> Subscription {
        let mut sub = self.subscribe();
        for (hall, since) in after {
            let Some(next) = sub.next.get(hall).copied() else {
                continue;
            };
            if since + 1 < next {
                // Read as the subscriber asks, one hall's part ahead of it:
                // a subscriber of many halls far behind starts at once.
                sub.next.insert(*hall, since + 1);
                sub.unfinished.push_back(*hall);
            }
        }
        sub.read_ahead(self);
        sub
    }

    /// The hall's last durable sequence number.
    pub fn durable_seq(&self, hall: HallId) -> Option<u64> {
        self.log(hall).map(|l| l.seq.load(Ordering::Acquire))
    }

    /// Reads the hall as of its last durable event, under its lock: keep
    /// `f` short, the writer waits for it.
    pub fn with_hall<R>(&self, hall: HallId, f: impl FnOnce(&Hall) -> R) -> Option<R> {
        self.log(hall).map(|l| f(&l.lock().hall))
    }

    /// As [`Stream::with_hall`], with the incarnation the hall is of.
    pub fn with_hall_epoch<R>(&self, hall: HallId, f: impl FnOnce(&Hall, Option<Epoch>) -> R) -> Option<R> {
        self.log(hall).map(|l| {
            let d = l.lock();
            f(&d.hall, d.epochs.current())
        })
    }

    /// A copy of the hall as of its last durable event.
    pub fn hall(&self, hall: HallId) -> Option<Hall> {
        self.with_hall(hall, Hall::clone)
    }

    /// The hall's current incarnation.
    pub fn epoch(&self, hall: HallId) -> Option<Epoch> {
        self.log(hall).and_then(|l| l.lock().epochs.current())
    }

    /// Whether a reader that saw events up to `seen` under `epoch` may
    /// resume after `seen` in this log (see [`Epochs::contains`]).
    pub fn continues(&self, hall: HallId, epoch: Epoch, seen: u64) -> bool {
        self.log(hall).is_some_and(|l| {
            let d = l.lock();
            d.epochs.contains(epoch, seen, d.hall.seq())
        })
    }

    /// The hall's durable events after `since`, from memory or else from
    /// the store; `None` when the store no longer holds them all (or they
    /// cross the start of the current business day, which readers take as
    /// a fresh start anyway). Then `f` runs under the hall's lock with the
    /// hall as of the last of them, its incarnation, and those events: what
    /// a reader needs to catch up and carry on from a consistent point.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn read_since<R>(
        &self,
        hall: HallId,
        since: u64,
        f: impl FnOnce(&Hall, Option<Epoch>, Vec<Event>) -> R,
    ) -> Result<Option<R>, StoreError> {
        let Some(log) = self.log(hall) else {
            return Ok(None);
        };
        let Some(mut events) = self.read(log, hall, since).await? else {
            return Ok(None);
        };
        let d = log.lock();
        if !d.complete(since, &mut events) {
            return Ok(None);
        }
        if events.iter().any(|e| matches!(e.kind, EventKind::DayStarted { .. })) {
            return Ok(None);
        }
        Ok(Some(f(&d.hall, d.epochs.current(), events)))
    }

    /// The durable events of the hall after `since`, across business days
    /// (what a subscriber that fell behind missed): all of them, or, from
    /// the store, a part of at least [`CATCH_UP_PART`] when there are more,
    /// so that a subscriber a year behind holds a few days at a time.
    /// `None` when no longer kept.
    async fn read_some_since(&self, hall: HallId, since: u64) -> Result<Option<Vec<Event>>, StoreError> {
        let Some(log) = self.log(hall) else {
            return Ok(None);
        };
        let from_memory = log.lock().tail_since(since);
        let mut events = match from_memory {
            Some(events) => return Ok(Some(events)),
            None => match self.inner.log.read_since(hall, since, CATCH_UP_PART).await? {
                Some(events) => events,
                None => return Ok(None),
            },
        };
        // A part is enough; nothing read while more is durable is not.
        let complete = log.lock().complete(since, &mut events);
        Ok((complete || !events.is_empty()).then_some(events))
    }

    /// Every durable event of the hall after `since` if the tail still holds
    /// them all.
    fn tail_since(&self, hall: HallId, since: u64) -> Result<Option<Vec<Event>>, StoreError> {
        Ok(self.log(hall).and_then(|l| l.lock().tail_since(since)))
    }

    /// The events after `since` from the tail, or else from the store.
    async fn read(&self, log: &HallLog, hall: HallId, since: u64) -> Result<Option<Vec<Event>>, StoreError> {
        let from_memory = log.lock().tail_since(since);
        match from_memory {
            Some(events) => Ok(Some(events)),
            None => self.inner.log.read_since(hall, since, usize::MAX).await,
        }
    }

    /// Applies a durable batch to its hall and keeps it, before its callers
    /// are answered; [`Stream::publish`] sends it after. `None` for a hall
    /// the stream does not have, or a batch that does not continue its log
    /// (the writer checks that beforehand).
    pub(crate) fn commit(&self, hall: HallId, events: Vec<Event>) -> Option<Arc<Batch>> {
        let log = self.log(hall)?;
        let mut d = log.lock();
        if events.first().map(|e| e.seq) != Some(d.hall.seq() + 1) {
            tracing::error!(%hall, durable = d.hall.seq(), "a batch that does not continue the log was not committed");
            return None;
        }
        for e in &events {
            if let Err(err) = d.hall.apply(e) {
                // The live hall applied the same events: this is a bug,
                // and the durable copy is still the best there is.
                tracing::error!(%hall, seq = e.seq, error = %err, "the durable hall diverged from the log");
            }
        }
        if let Some(at) = events.last().map(|e| e.at) {
            // The screens' waits: a frame carries every zone's after this.
            d.hall.refresh_estimates(at, crate::engine::REFRESH_GAP_MS);
        }
        let batch = Arc::new(Batch { hall, events });
        d.remember(batch.clone());
        log.seq.store(d.hall.seq(), Ordering::Release);
        Some(batch)
    }

    /// Sends committed batches to the subscribers.
    pub(crate) fn publish(&self, batches: impl IntoIterator<Item = Arc<Batch>>) {
        for b in batches {
            // No subscriber is not an error.
            let _ = self.inner.tx.send(Change::Batch(b));
        }
    }

    /// The store's log for `hall` is not what was published: it went back
    /// to `hall` (read from the store). A new incarnation starts there and
    /// subscribers are told to start over.
    pub(crate) fn replace(&self, hall: Hall, epoch: Epoch) {
        let id = hall.spec().id;
        let Some(log) = self.log(id) else { return };
        {
            let mut d = log.lock();
            tracing::warn!(hall = %id, published = d.hall.seq(), stored = hall.seq(), %epoch, "the store's log was replaced: a new epoch");
            d.epochs.begin(epoch, hall.seq() + 1);
            d.tail.clear();
            d.tail_events = 0;
            d.hall = hall;
            log.seq.store(d.hall.seq(), Ordering::Release);
        }
        let _ = self.inner.tx.send(Change::Reset(id));
    }

    /// The hall's incarnations.
    pub fn epochs(&self, hall: HallId) -> Option<Epochs> {
        self.log(hall).map(|l| l.lock().epochs.clone())
    }

    /// Takes the log's incarnations as the store holds them, when another
    /// node (the hall's new owner) began one: the same log, so nothing is
    /// reset, and a screen resumes here as it would on the owner.
    pub(crate) fn adopt_epochs(&self, hall: HallId, epochs: Epochs) {
        if let Some(log) = self.log(hall) {
            let mut d = log.lock();
            if d.epochs != epochs && !epochs.0.is_empty() {
                d.epochs = epochs;
            }
        }
    }
}

/// One subscriber's place in the stream: every change of every hall, in
/// log order per hall, none skipped. One that falls behind the channel
/// reads what it missed from the halls' tails or the store.
pub struct Subscription {
    /// Not kept alive by its subscribers: the stream ends when the store
    /// drops it.
    stream: Weak<Inner>,
    rx: broadcast::Receiver<Change>,
    /// Per hall, the next sequence number this subscriber expects.
    next: HashMap<HallId, u64>,
    /// Changes recovered after a lag, handed out before the channel's.
    ready: VecDeque<Change>,
    /// Halls whose backlog was read in part: the next part is read once
    /// `ready` is handed out.
    unfinished: VecDeque<HallId>,
    /// The next part of an unfinished hall, being read already while the
    /// subscriber handles the last one (decoding the store's log and the
    /// subscriber's own work then share the cores).
    ahead: Option<ReadAhead>,
    /// Catch up from memory only (see [`Subscription::without_log`]).
    memory_only: bool,
}

/// A part of a hall's backlog being read: the hall, where it starts, and
/// the read.
type ReadAhead = (
    HallId,
    u64,
    tokio::task::JoinHandle<Result<Option<Vec<Event>>, StoreError>>,
);

/// See [`Subscription::take`].
enum Taken {
    Change(Change),
    Known,
    /// Missed events: per hall, the last one it has.
    Missed(Vec<(HallId, u64)>),
    Closed,
}

impl Subscription {
    /// The next change; `None` once the stream has ended (the store shut
    /// down).
    pub async fn recv(&mut self) -> Option<Change> {
        loop {
            if let Some(c) = self.ready.pop_front() {
                return Some(c);
            }
            if let Some(hall) = self.unfinished.pop_front() {
                let since = self.next.get(&hall).map_or(0, |n| n - 1);
                self.catch_up(hall, since).await;
                continue;
            }
            let got = self.rx.recv().await;
            match self.take(got) {
                Taken::Change(c) => return Some(c),
                Taken::Known => {}
                Taken::Missed(gaps) => {
                    for (hall, since) in gaps {
                        self.catch_up(hall, since).await;
                    }
                }
                Taken::Closed => return None,
            }
        }
    }

    /// The next change and whatever else is waiting now, up to `max` in
    /// all: a subscriber that handles changes in groups (the hub joins a
    /// hall's consecutive batches into one frame) catches up faster when
    /// it has fallen behind.
    pub async fn recv_many(&mut self, max: usize) -> Vec<Change> {
        let Some(first) = self.recv().await else {
            return Vec::new();
        };
        let mut out = vec![first];
        while out.len() < max {
            if let Some(c) = self.ready.pop_front() {
                out.push(c);
                continue;
            }
            if !self.unfinished.is_empty() {
                break; // the next part on the next call
            }
            let got = match self.rx.try_recv() {
                Ok(c) => Ok(c),
                Err(broadcast::error::TryRecvError::Empty) => break,
                Err(broadcast::error::TryRecvError::Lagged(n)) => Err(broadcast::error::RecvError::Lagged(n)),
                Err(broadcast::error::TryRecvError::Closed) => Err(broadcast::error::RecvError::Closed),
            };
            match self.take(got) {
                Taken::Change(c) => out.push(c),
                Taken::Known => {}
                Taken::Missed(gaps) => {
                    for (hall, since) in gaps {
                        self.catch_up(hall, since).await;
                    }
                }
                Taken::Closed => break,
            }
        }
        out
    }

    /// What one message of the channel means for this subscriber.
    fn take(&mut self, got: Result<Change, broadcast::error::RecvError>) -> Taken {
        match got {
            Ok(Change::Batch(b)) => {
                let want = self.next.get(&b.hall).copied().unwrap_or(1);
                if b.seq() < want {
                    return Taken::Known; // from a catch-up
                }
                if b.from() > want {
                    return Taken::Missed(vec![(b.hall, want - 1)]);
                }
                self.next.insert(b.hall, b.seq() + 1);
                if b.from() < want {
                    // Partly known: only the rest.
                    let rest = b.events.iter().filter(|e| e.seq >= want).cloned().collect();
                    return Taken::Change(Change::Batch(Arc::new(Batch {
                        hall: b.hall,
                        events: rest,
                    })));
                }
                Taken::Change(Change::Batch(b))
            }
            Ok(Change::Reset(hall)) => {
                let seq = self.stream().and_then(|s| s.durable_seq(hall)).unwrap_or(0);
                self.next.insert(hall, seq + 1);
                Taken::Change(Change::Reset(hall))
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "a stream subscriber fell behind: reading what it missed");
                Taken::Missed(self.next.iter().map(|(h, n)| (*h, *n - 1)).collect())
            }
            Err(broadcast::error::RecvError::Closed) => Taken::Closed,
        }
    }

    /// From now on, a hall this subscriber missed more of than the stream
    /// keeps in memory starts over ([`Change::Reset`]) instead of being read
    /// back from the store: for a consumer that can start from the hall as
    /// it stands (screens), reading a day's log while behind would only put
    /// it further behind.
    pub fn without_log(mut self) -> Subscription {
        self.memory_only = true;
        self
    }

    fn stream(&self) -> Option<Stream> {
        self.stream.upgrade().map(|inner| Stream { inner })
    }

    /// Queues the hall's events after `since` up to what is durable now,
    /// or a reset when they are no longer kept.
    async fn catch_up(&mut self, hall: HallId, since: u64) {
        let Some(stream) = self.stream() else {
            return;
        };
        if stream.durable_seq(hall).is_some_and(|s| s <= since) {
            if self.ahead.as_ref().is_some_and(|(h, s, _)| (*h, *s) == (hall, since))
                && let Some((_, _, read)) = self.ahead.take()
            {
                read.abort();
            }
            self.read_ahead(&stream);
            return;
        }
        let read = match self.ahead.take() {
            Some((h, s, read)) if (h, s) == (hall, since) => read
                .await
                .unwrap_or_else(|e| Err(StoreError::Unavailable(format!("reading ahead stopped: {e}")))),
            other => {
                if let Some((_, _, read)) = other {
                    read.abort();
                }
                if self.memory_only {
                    stream.tail_since(hall, since)
                } else {
                    stream.read_some_since(hall, since).await
                }
            }
        };
        let read = read.unwrap_or_else(|e| {
            tracing::warn!(%hall, error = %e, "cannot read what a subscriber missed: it starts over");
            None
        });
        match read {
            Some(events) if !events.is_empty() => {
                let batch = Arc::new(Batch { hall, events });
                self.next.insert(hall, batch.seq() + 1);
                if stream.durable_seq(hall).is_some_and(|s| s > batch.seq()) && !self.unfinished.contains(&hall) {
                    self.unfinished.push_back(hall);
                }
                self.ready.push_back(Change::Batch(batch));
            }
            Some(_) => {}
            None => {
                let seq = stream.durable_seq(hall).unwrap_or(0);
                self.next.insert(hall, seq + 1);
                self.ready.push_back(Change::Reset(hall));
            }
        }
        self.read_ahead(&stream);
    }

    /// Starts reading the part of the backlog wanted next, unless a read
    /// is under way.
    fn read_ahead(&mut self, stream: &Stream) {
        if self.ahead.is_some() || self.memory_only {
            return;
        }
        let Some(&hall) = self.unfinished.front() else { return };
        let from = self.next.get(&hall).map_or(0, |n| n - 1);
        let stream = stream.clone();
        let read = tokio::spawn(async move { stream.read_some_since(hall, from).await });
        self.ahead = Some((hall, from, read));
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some((_, _, read)) = self.ahead.take() {
            read.abort();
        }
    }
}

#[cfg(test)]
mod tests;
