//! The outbox: messages to the outside world (webhooks, the government
//! platform), made from the durable event stream and delivered with
//! retries, never on an operation's path.
//!
//! - `message`: what an event makes (pure, with stable idempotency keys);
//! - `deliver`: one sink of one hall, in order, with backoff;
//! - `sign`: the Standard Webhooks signature every request carries.
//!
//! Nothing is kept apart from the hall's log: the messages are made again
//! from the events, and how far they were delivered (`through`) and what
//! was set aside are events of the hall (see `engine::outbox`). After a
//! restart or SIGKILL the outbox starts after `through`, so a message is
//! sent at least once; one sent again has the same `webhook-id`, for the
//! receiver to drop. A hall is served by one node at a time, and so is its
//! outbox: only the owner's progress is recorded.

mod deliver;
pub mod message;
mod notify;
pub mod sign;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::archive::{Day, Rows};
use crate::engine::{Command, Event, EventKind, HallId, Millis, SetAside};
use crate::service::Service;
use crate::shards::Halls;
use crate::store::{Change, Stream};
use message::{Message, Sink};

/// How often progress and set-aside messages are recorded.
const RECORD_EVERY: Duration = Duration::from_millis(500);
/// Changes taken from the stream at once.
const TAKE: usize = 256;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How each hall's outbox is doing, for the supervisor board and
/// `/metrics`.
#[derive(Debug, Default)]
pub struct Status {
    halls: Mutex<HashMap<HallId, HallStatus>>,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct HallStatus {
    /// Messages made and not yet delivered or set aside.
    pub pending: u64,
    /// Messages delivered since start, per sink.
    pub delivered: BTreeMap<String, u64>,
    /// Sinks whose last attempt failed: the error and when.
    pub failing: BTreeMap<String, SinkFailure>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SinkFailure {
    pub error: String,
    pub at: Millis,
}

impl Status {
    fn with<R>(&self, hall: HallId, f: impl FnOnce(&mut HallStatus) -> R) -> R {
        let mut halls = self.halls.lock().unwrap_or_else(|e| e.into_inner());
        f(halls.entry(hall).or_default())
    }

    pub fn hall(&self, hall: HallId) -> HallStatus {
        self.with(hall, |h| h.clone())
    }

    fn delivered(&self, hall: HallId, sink: &str) {
        self.with(hall, |h| {
            *h.delivered.entry(sink.to_owned()).or_default() += 1;
            h.failing.remove(sink);
        });
    }

    fn failing(&self, hall: HallId, sink: &str, error: &str, at: Millis) {
        self.with(hall, |h| {
            h.failing.insert(
                sink.to_owned(),
                SinkFailure {
                    error: crate::engine::short_error(error),
                    at,
                },
            );
        });
    }

    fn pending(&self, hall: HallId, n: u64) {
        self.with(hall, |h| h.pending = n);
    }
}

/// What the delivery tasks share.
struct Shared {
    client: reqwest::Client,
    halls: Halls,
    clock: crate::service::Clock,
    status: Arc<Status>,
    notices: Option<crate::notices::Kit>,
    keys: Arc<crate::auth::Keys>,
    public_url: Option<Arc<str>>,
    wechat_tokens: crate::notices::wechat::Tokens,
}

/// What the outbox needs beside the halls: for citizens' notices, where
/// their contacts are kept, and how their ticket page's link is made.
pub struct Extras {
    pub notices: Option<crate::notices::Kit>,
    pub keys: Arc<crate::auth::Keys>,
    pub public_url: Option<Arc<str>>,
}

/// How often days that are over lose their citizens' contacts.
const ERASE_EVERY: Duration = Duration::from_secs(60);

enum Outcome {
    Delivered,
    SetAside(SetAside),
}

/// A delivery task's word on one message.
struct Done {
    hall: HallId,
    seq: u64,
    outcome: Outcome,
}

/// The outbox of a running server.
#[derive(Clone)]
pub struct Outbox {
    pub status: Arc<Status>,
    flush: mpsc::UnboundedSender<oneshot::Sender<()>>,
    again: mpsc::UnboundedSender<(HallId, Vec<Message>)>,
}

impl Outbox {
    /// Starts delivering every hall's messages.
    ///
    /// # Errors
    /// The HTTP client cannot be built (no TLS roots).
    pub fn start(service: &Service, stream: &Stream, extras: Extras) -> anyhow::Result<Outbox> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hallcall/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let status = Arc::new(Status::default());
        let shared = Arc::new(Shared {
            client,
            halls: service.halls.clone(),
            clock: service.clock.clone(),
            status: status.clone(),
            notices: extras.notices,
            keys: extras.keys,
            public_url: extras.public_url,
            wechat_tokens: crate::notices::wechat::Tokens::default(),
        });

        let (flush, flushes) = mpsc::unbounded_channel();
        let (again, agains) = mpsc::unbounded_channel();
        tokio::spawn(run(shared, service.clone(), stream.clone(), (flushes, agains)));
        Ok(Outbox { status, flush, again })
    }

    /// Sends a past day's platform records again (made from the store's
    /// log, with their first keys); the number queued.
    ///
    /// # Errors
    /// The store cannot read the day back.
    pub async fn send_day_again(
        &self,
        service: &Service,
        cfg: Arc<crate::config::HallConfig>,
        day: jiff::civil::Date,
    ) -> Result<usize, crate::store::StoreError> {
        let hall = cfg.spec.id;
        let replay = (Day::new(cfg.spec.clone()), message::Calls::default(), Vec::new());
        type Replay = (Day, message::Calls, Vec<Message>);
        let (_, _, mut messages) = service
            .store
            .scan_days(hall, (day, day), replay, move |(d, calls, out): &mut Replay, ev| {
                let mut rows = Rows::default();
                d.feed(&ev, &mut rows)?;
                calls.note(&ev);
                out.extend(message::platform(hall, &cfg, &ev, &rows, calls));
                Ok(())
            })
            .await?;
        // Outside the progress: a record sent again holds nothing back.
        for m in &mut messages {
            m.seq = 0;
        }
        let n = messages.len();
        let _ = self.again.send((hall, messages));
        Ok(n)
    }

    /// Records how far delivery got and stops, waiting at most `limit` (at
    /// shutdown, so that a restart sends less again). Messages not
    /// delivered yet are sent after the next start.
    pub async fn stop(&self, limit: Duration) {
        let (tx, rx) = oneshot::channel();
        if self.flush.send(tx).is_ok() {
            let _ = tokio::time::timeout(limit, rx).await;
        }
    }
}

/// Ends a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One hall's outbox while this node serves it.
struct HallRun {
    /// Events up to here were handled before this start: replayed for the
    /// day's records only.
    replay_to: u64,
    day: Day,
    calls: message::Calls,
    /// Per event: its messages not yet delivered or set aside.
    pending: BTreeMap<u64, u32>,
    /// The last event read.
    seen: u64,
    /// `through` as the hall's log has it.
    recorded: u64,
    /// The last event that made a message: progress past `recorded` is
    /// worth recording only up to one that did.
    made: u64,
    /// The `DayStarted` events read, for each progress's `day_from`.
    day_starts: Vec<u64>,
    /// Set aside, waiting to be recorded (then counted done).
    set_aside: Vec<SetAside>,
    queues: HashMap<Sink, mpsc::UnboundedSender<Message>>,
}

impl HallRun {
    fn cursor(&self) -> u64 {
        match self.pending.keys().next() {
            Some(first) => first - 1,
            None => self.seen,
        }
    }

    fn day_from(&self, through: u64) -> u64 {
        self.day_starts
            .iter()
            .rev()
            .find(|s| **s <= through)
            .copied()
            .unwrap_or(0)
    }

    fn done(&mut self, seq: u64) {
        // A record sent again (seq 0) was never counted.
        if let Some(n) = self.pending.get_mut(&seq) {
            *n -= 1;
            if *n == 0 {
                self.pending.remove(&seq);
            }
        }
    }

    fn pending_count(&self) -> u64 {
        self.pending.values().map(|n| u64::from(*n)).sum::<u64>() + self.set_aside.len() as u64
    }
}

type Requests = (
    mpsc::UnboundedReceiver<oneshot::Sender<()>>,
    mpsc::UnboundedReceiver<(HallId, Vec<Message>)>,
);

async fn run(shared: Arc<Shared>, service: Service, stream: Stream, mut requests: Requests) {
    loop {
        match run_once(&shared, &service, &stream, &mut requests).await {
            Ok(()) => return,
            Err(e) => {
                tracing::info!(reason = %e, "outbox: starting over from the halls' records");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Follows the stream for the halls this node owns; `Ok` when the stream
/// ends, `Err` when it must start over (ownership changed, a log was
/// replaced).
async fn run_once(
    shared: &Arc<Shared>,
    service: &Service,
    stream: &Stream,
    (flushes, agains): &mut Requests,
) -> Result<(), String> {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut halls: HashMap<HallId, HallRun> = HashMap::new();
    let mut after = HashMap::new();
    let owned: Vec<HallId> = shared.halls.ids().filter(|h| shared.halls.is_owned(*h)).collect();
    for &id in &owned {
        let Some((through, day_from, durable, today)) = stream.with_hall(id, |h| {
            (h.outbox().through, h.outbox().day_from, h.seq(), h.day_started_seq())
        }) else {
            continue;
        };
        let Ok(cfg) = shared.halls.config(id) else { continue };
        // Never run before: nothing older than now is sent.
        let (replay_to, from_day, made) = if through == 0 {
            (durable, today.unwrap_or(0), durable)
        } else {
            (through, day_from, 0)
        };
        let start = if from_day > 0 { from_day - 1 } else { replay_to };
        after.insert(id, start);
        halls.insert(
            id,
            HallRun {
                replay_to,
                day: Day::new(cfg.spec.clone()),
                calls: message::Calls::default(),
                pending: BTreeMap::new(),
                seen: start,
                recorded: through,
                made,
                day_starts: Vec::new(),
                set_aside: Vec::new(),
                queues: HashMap::new(),
            },
        );
    }
    let mut sub = stream.subscribe_after(&after).await;
    // Read in a task of its own: a subscription's receive is not
    // cancellation-safe while it reads back what it missed from the log,
    // and the loop below is woken by every delivery. A dropped receive
    // there would start that read again, and again.
    let (changes_tx, mut changes_rx) = mpsc::channel::<Vec<Change>>(2);
    let _reader = AbortOnDrop(tokio::spawn(async move {
        loop {
            let changes = sub.recv_many(TAKE).await;
            let end = changes.is_empty();
            if changes_tx.send(changes).await.is_err() || end {
                return;
            }
        }
    }));
    let mut every = tokio::time::interval(RECORD_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut erase_every = tokio::time::interval(ERASE_EVERY);
    erase_every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = erase_every.tick() => erase(shared).await,
            changes = changes_rx.recv() => {
                let Some(changes) = changes.filter(|c| !c.is_empty()) else {
                    return Ok(());
                };
                let mut new_day = false;
                for change in changes {
                    let Some(run) = halls.get_mut(&change.hall()) else { continue };
                    match change {
                        Change::Batch(b) => {
                            for (i, ev) in b.events.iter().enumerate() {
                                new_day |= matches!(ev.kind, EventKind::DayStarted { .. });
                                read(shared, b.hall, run, ev, &done_tx);
                                // A catch-up batch can be a day long: let
                                // the deliveries it wakes run meanwhile.
                                if i % 256 == 255 {
                                    tokio::task::yield_now().await;
                                }
                            }
                        }
                        Change::Reset(h) => return Err(format!("hall {h}'s log was replaced or is no longer kept")),
                    }
                }
                if new_day {
                    // Yesterday's contacts go as soon as today begins.
                    erase(shared).await;
                }
            }
            Some(d) = done_rx.recv() => {
                if let Some(run) = halls.get_mut(&d.hall) {
                    match d.outcome {
                        Outcome::Delivered => run.done(d.seq),
                        Outcome::SetAside(item) => run.set_aside.push(item),
                    }
                }
            }
            _ = every.tick() => {
                let now_owned: Vec<HallId> = shared.halls.ids().filter(|h| shared.halls.is_owned(*h)).collect();
                if now_owned != owned {
                    return Err("the halls this node serves changed".into());
                }
                record(shared, service, &mut halls).await;
            }
            Some(ack) = flushes.recv() => {
                record(shared, service, &mut halls).await;
                let _ = ack.send(());
                return Ok(());
            }
            Some((hall, messages)) = agains.recv() => {
                if let Some(run) = halls.get_mut(&hall) {
                    queue(shared, hall, run, messages, &done_tx);
                }
            }
        }
    }
}

/// Reads one event of a hall: replays it into the day and, past what was
/// handled before, queues its messages.
fn read(shared: &Arc<Shared>, hall: HallId, run: &mut HallRun, ev: &Event, done: &mpsc::UnboundedSender<Done>) {
    if ev.seq <= run.seen {
        return; // already read (a catch-up that overlaps)
    }
    run.seen = ev.seq;
    if matches!(ev.kind, EventKind::DayStarted { .. }) {
        run.day_starts.push(ev.seq);
    }
    let Ok(cfg) = shared.halls.config(hall) else { return };
    // Only the platform's records need the day's replay: a hall without
    // one costs a lookup per event.
    let mut rows = Rows::default();
    if cfg.outbound.platform.is_some() {
        if let Err(e) = run.day.feed(ev, &mut rows) {
            tracing::warn!(%hall, seq = ev.seq, error = %e, "outbox: the day's replay failed; records wait for the next day");
            run.day.lose();
        }
    } else if run.day.started().is_some() {
        run.day.lose();
    }
    run.calls.note(ev);
    if ev.seq <= run.replay_to {
        return;
    }
    let messages = match &ev.kind {
        EventKind::OutboxResent { items, .. } => items
            .iter()
            .filter_map(|i| {
                Some(Message {
                    key: i.key.clone(),
                    sink: Sink::parse(&i.sink)?,
                    seq: ev.seq,
                    kind: i.kind.clone(),
                    body: i.body.clone(),
                })
            })
            .collect(),
        _ => {
            let mut m = message::make(hall, &cfg, ev, &rows, &run.calls);
            m.extend(notify::make(shared, hall, &cfg, ev));
            m
        }
    };
    if messages.is_empty() {
        return;
    }
    run.made = ev.seq;
    *run.pending.entry(ev.seq).or_default() += messages.len() as u32;
    queue(shared, hall, run, messages, done);
}

/// Hands messages to their sinks' delivery tasks (started on first use).
fn queue(
    shared: &Arc<Shared>,
    hall: HallId,
    run: &mut HallRun,
    messages: Vec<Message>,
    done: &mpsc::UnboundedSender<Done>,
) {
    for m in messages {
        let queue = run.queues.entry(m.sink.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(deliver::run(shared.clone(), hall, m.sink.clone(), rx, done.clone()));
            tx
        });
        let _ = queue.send(m);
    }
    shared.status.pending(hall, run.pending_count());
}

/// Records, per hall, the messages set aside and then how far delivery
/// got. A refusal (the hall moved) leaves both for the next attempt.
async fn record(shared: &Arc<Shared>, service: &Service, halls: &mut HashMap<HallId, HallRun>) {
    for (&hall, run) in halls.iter_mut() {
        if !run.set_aside.is_empty() {
            let items = std::mem::take(&mut run.set_aside);
            match service
                .execute(hall, Command::OutboxSetAside { items: items.clone() })
                .await
            {
                Ok(_) => {
                    for i in &items {
                        run.done(i.seq);
                    }
                }
                Err(e) => {
                    tracing::warn!(%hall, error = %e, "outbox: cannot record set-aside messages yet");
                    run.set_aside = items;
                    continue;
                }
            }
        }
        let through = run.cursor();
        if through > run.recorded && run.made > run.recorded {
            let day_from = run.day_from(through);
            match service
                .execute(hall, Command::OutboxProgress { through, day_from })
                .await
            {
                Ok(_) => {
                    run.recorded = through;
                    run.day_starts.retain(|s| *s >= day_from);
                }
                Err(e) => tracing::debug!(%hall, error = %e, "outbox: progress not recorded yet"),
            }
        }
        shared.status.pending(hall, run.pending_count());
    }
}

/// Erases the contacts of days that are over, for every hall.
async fn erase(shared: &Shared) {
    let Some(kit) = &shared.notices else { return };
    {
        for hall in shared.halls.ids().collect::<Vec<_>>() {
            let Ok(cfg) = shared.halls.config(hall) else { continue };
            let today = crate::engine::business_date(&cfg.spec, (shared.clock)());
            match kit.contacts.erase_before(hall, today).await {
                Ok(days) if !days.is_empty() => {
                    tracing::info!(%hall, ?days, "citizens' contacts of days that are over erased");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(%hall, error = %e, "contacts not erased yet"),
            }
        }
    }
}

/// An error with its causes, as one line.
fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}
