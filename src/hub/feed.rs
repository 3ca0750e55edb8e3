//! One hall's feed: its recent frames and its broadcast channel, made from
//! the durable event stream. The hall itself is the stream's durable copy:
//! the feed keeps none, and reads it under the stream's lock to build a
//! frame or a subscriber's starting point.
//!
//! Lock order: the stream's hall, then the feed's caches; the ring is
//! never held while the hall is locked.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::broadcast;

use super::scope::{Format, Scope};
use crate::engine::{Event, EventKind, Hall, HallId, HallSpec, Millis, Target, TicketNumber, WindowNo};
use crate::store::{Batch, Epoch, Stream};
use crate::wire::event::{display_events, staff_events};
use crate::wire::live::{Call, Delta, HallInfo, NoExtra, Resumed, Snapshot, StaffExtra, TicketUpdate};
use crate::wire::view::{self, DisplayWindow, DisplayZone, Queue, Window, Zone};
use crate::wire::vocab::LaneKind;
use crate::wire::{self, Audience};
use crate::ws::text_frame;

/// Frames kept per hall, both for resuming clients and in the broadcast
/// ring. A client further behind than this catches up from the stream.
pub const RING: usize = 1024;
/// Tickets of each lane sent in snapshots and deltas: what a screen shows.
/// Frames stay small however long a queue grows; the whole list is at
/// `GET /api/v1/halls/{hall}/zones/{zone}`.
pub const QUEUE_HEAD: usize = 30;
/// Events per delta when a client catches up from the log: a screen that
/// was away for hours gets several frames of bounded size, not one huge one.
pub const CATCH_UP_EVENTS: usize = 1000;

/// One durable batch, serialized once into WebSocket frames (header and
/// payload, ready to write to any subscriber's socket), plus what it
/// touched so each subscriber can tell whether it concerns them without
/// parsing it.
#[derive(Debug)]
pub struct Frame {
    pub from: u64,
    pub seq: u64,
    /// A new business day, or the hall's log replaced: subscribers take a
    /// fresh snapshot rather than apply this.
    pub reset: bool,
    /// The delta for staff's consoles and boards, and for public screens:
    /// each made only while someone of that audience follows the hall.
    pub staff: Option<Bytes>,
    pub display: Option<Bytes>,
    pub zones: Vec<usize>,
    pub windows: Vec<usize>,
    pub tickets: Vec<TicketNumber>,
    /// Each call's zone index and LED line.
    pub calls: Vec<(usize, String)>,
    /// Every call's LED line, one per line.
    pub led: Option<Bytes>,
    /// The LED line of each touched window.
    pub window_led: Vec<(usize, Bytes)>,
    /// The batch and what the deltas were made of: for a client that holds
    /// the first part of the batch already ([`Feed::partial`]).
    batch: Arc<Batch>,
    parts: Arc<Parts>,
}

/// Where a client resuming says it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// The last sequence number it holds.
    pub since: u64,
    /// The incarnation of the log that number is from, when it knows it.
    pub epoch: Option<Epoch>,
}

/// Snapshots and catch-ups shared by subscribers arriving together (a
/// restart brings every screen back at once). Locked only under the
/// stream's lock on the hall, so both are as of the same sequence number.
#[derive(Default)]
struct Caches {
    /// The hall-scope JSON snapshot per audience as of a sequence number
    /// and a second.
    hall_snapshot: [Option<((u64, i64), Bytes)>; 2],
    /// The latest calls as of a sequence number.
    calls: Option<(u64, Arc<Vec<Call>>)>,
    /// The last catch-up from the log per audience.
    catch_up: [Option<CatchUp>; 2],
}

/// Deltas that bring a client from `since` to `seq`.
type CatchUp = (u64, u64, Arc<Vec<Bytes>>);

/// Index of an audience's cache.
fn slot(a: Audience) -> usize {
    match a {
        Audience::Staff => 0,
        Audience::Display => 1,
    }
}

/// The frames kept for resuming clients.
struct Ring {
    frames: VecDeque<Arc<Frame>>,
    /// The last sequence number the feed has made a frame of (or started
    /// from): frames after it are still to come, on the channel.
    published: u64,
}

pub struct Feed {
    id: HallId,
    spec: Arc<HallSpec>,
    stream: Stream,
    /// JSON subscribers per audience (see [`slot`]): a frame is serialized
    /// only for an audience someone is following.
    readers: Arc<[AtomicUsize; 2]>,
    ring: Mutex<Ring>,
    caches: Mutex<Caches>,
    tx: broadcast::Sender<Arc<Frame>>,
}

/// Where a new subscriber starts: what to send first, and the receiver
/// positioned just after it.
pub struct Start {
    pub first: Vec<Bytes>,
    /// The sequence number the first messages bring the client to.
    pub seq: u64,
    pub rx: broadcast::Receiver<Arc<Frame>>,
    /// Keep while subscribed: frames are made for this audience until it
    /// is dropped.
    pub reader: Reader,
}

/// A JSON subscriber of one audience, counted while it lives.
pub struct Reader(Option<(Arc<[AtomicUsize; 2]>, usize)>);

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some((readers, i)) = &self.0 {
            readers[*i].fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// What a subscriber does with one frame.
pub enum Render {
    Skip,
    Send(Bytes),
    /// Send a fresh snapshot instead.
    Resnapshot,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Frames and caches are replaced whole: a panic elsewhere cannot leave
    // them half-written.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Feed {
    /// The feed of one of the stream's halls.
    pub fn new(stream: Stream, spec: Arc<HallSpec>) -> Feed {
        let published = stream.durable_seq(spec.id).unwrap_or(0);
        Feed {
            id: spec.id,
            spec,
            stream,
            readers: Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]),
            ring: Mutex::new(Ring {
                frames: VecDeque::with_capacity(RING),
                published,
            }),
            caches: Mutex::new(Caches::default()),
            tx: broadcast::channel(RING).0,
        }
    }

    pub fn spec(&self) -> &Arc<HallSpec> {
        &self.spec
    }

    /// Makes a durable batch's frame, keeps it for resuming clients and
    /// sends it to every subscriber.
    pub fn publish(&self, batch: &Arc<Batch>) {
        // Read under the stream's lock on the hall, serialized after it:
        // the writer waits on that lock to commit the next batch.
        let Some(parts) = self.stream.with_hall(self.id, |hall| parts(hall, batch)) else {
            return;
        };
        let wanted = [
            self.readers[0].load(Ordering::SeqCst) > 0,
            self.readers[1].load(Ordering::SeqCst) > 0,
        ];
        let frame = Arc::new(parts.frame(batch, wanted));
        {
            let mut ring = lock(&self.ring);
            if ring.frames.len() == RING {
                ring.frames.pop_front();
            }
            ring.frames.push_back(frame.clone());
            ring.published = frame.seq;
        }
        // No subscribers is not an error.
        let _ = self.tx.send(frame);
    }

    /// The hall's log was replaced (or the feed fell too far behind to
    /// know what it missed): every subscriber takes a fresh snapshot, and
    /// no one resumes from the frames kept before.
    pub fn reset(&self) {
        let seq = self.stream.durable_seq(self.id).unwrap_or(0);
        {
            let mut ring = lock(&self.ring);
            ring.frames.clear();
            ring.published = seq;
        }
        let _ = self.tx.send(Arc::new(Frame {
            from: seq,
            seq,
            reset: true,
            staff: None,
            display: None,
            zones: Vec::new(),
            windows: Vec::new(),
            tickets: Vec::new(),
            calls: Vec::new(),
            led: None,
            window_led: Vec::new(),
            batch: Arc::new(Batch {
                hall: self.id,
                events: Vec::new(),
            }),
            parts: Arc::new(Parts::default()),
        }));
    }

    /// A new subscriber's starting point. A JSON client that resumes from
    /// a point this log still holds (the same incarnation, or one it
    /// continues) gets `resumed` and every delta it missed: from the ring,
    /// or else read from the stream; anyone else a snapshot. `None` for a
    /// ticket that does not exist (today).
    pub async fn subscribe(
        &self,
        scope: Scope,
        format: Format,
        audience: Audience,
        resume: Option<Resume>,
        now: Millis,
    ) -> Option<Start> {
        // Counted before anything is read: every frame made from now on
        // carries this audience's delta, and one made before is at or
        // before the point this subscriber starts from.
        let reader = self.reader(scope, format, audience);
        if let (Some(r), Format::Json, false) = (resume, format, matches!(scope, Scope::Ticket(_)))
            && self.continues(r)
        {
            if let Some((first, seq, rx)) = self.resume_from_ring(scope, format, audience, r, now) {
                return Some(Start { first, seq, rx, reader });
            }
            let rx = self.tx.subscribe();
            let read = self
                .stream
                .read_since(self.id, r.since, |hall, epoch, events| {
                    (self.catch_up(hall, audience, r.since, events), epoch)
                })
                .await;
            match read {
                Ok(Some(((seq, deltas), epoch))) => {
                    let mut first = vec![resumed(r.since, seq, epoch, now)];
                    first.extend(deltas.iter().cloned());
                    return Some(Start { first, seq, rx, reader });
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(hall = %self.id, error = %e, "cannot read the log to resume a client: a snapshot instead")
                }
            }
        }
        let rx = self.tx.subscribe();
        let (seq, snap) = self.snapshot(scope, format, audience, now)?;
        Some(Start {
            first: vec![snap],
            seq,
            rx,
            reader,
        })
    }

    /// Counts a JSON subscriber of a hall, zone or window (the others take
    /// no delta from a frame).
    fn reader(&self, scope: Scope, format: Format, audience: Audience) -> Reader {
        if format != Format::Json || matches!(scope, Scope::Ticket(_)) {
            return Reader(None);
        }
        let i = slot(audience);
        self.readers[i].fetch_add(1, Ordering::SeqCst);
        Reader(Some((self.readers.clone(), i)))
    }

    /// Whether a client at `r` saw only history this log still holds.
    /// Without an epoch (an older client), only the current incarnation
    /// counts.
    fn continues(&self, r: Resume) -> bool {
        match r.epoch {
            Some(epoch) => self.stream.continues(self.id, epoch, r.since),
            None => self.stream.epochs(self.id).is_some_and(|e| {
                let first = e.0.last().map_or(1, |(_, first)| *first);
                let last = self.stream.durable_seq(self.id).unwrap_or(0);
                r.since + 1 >= first && r.since <= last
            }),
        }
    }

    /// The frames after `r.since`, if the ring holds every one of them
    /// (those the feed has not made yet come on the channel).
    fn resume_from_ring(
        &self,
        scope: Scope,
        format: Format,
        audience: Audience,
        r: Resume,
        now: Millis,
    ) -> Option<(Vec<Bytes>, u64, broadcast::Receiver<Arc<Frame>>)> {
        let ring = lock(&self.ring);
        let rx = self.tx.subscribe();
        let missed: Vec<&Arc<Frame>> = ring.frames.iter().filter(|f| f.seq > r.since).collect();
        if r.since < ring.published {
            // The ring must hold the frame with the very next event (the
            // client may hold the first part of it: it caught up to the
            // middle of a batch), and none after it may be a reset or lack
            // this audience's delta (made while nobody of it followed).
            let next = missed.first()?;
            let unmade = |f: &Arc<Frame>| match audience {
                Audience::Staff => f.staff.is_none(),
                Audience::Display => f.display.is_none(),
            };
            if next.from > r.since + 1 || next.reset || missed[1..].iter().any(|f| f.reset || unmade(f)) {
                return None;
            }
        }
        let seq = ring.published.max(r.since);
        let served = self.served(scope);
        let mut first = vec![resumed(r.since, seq, self.stream.epoch(self.id), now)];
        for f in missed {
            let rendered = match render_frame(f, scope, format, audience, &served) {
                Render::Send(_) | Render::Resnapshot if f.from <= r.since => Some(self.partial(f, r.since, audience)),
                Render::Send(b) => Some(b),
                _ => None,
            };
            first.extend(rendered);
        }
        Some((first, seq, rx))
    }

    /// The deltas that bring a client from `since` to the hall as it
    /// stands, shared by clients asking for the same; with the sequence
    /// number they bring it to. Runs under the stream's lock on the hall.
    fn catch_up(&self, hall: &Hall, audience: Audience, since: u64, events: Vec<Event>) -> (u64, Arc<Vec<Bytes>>) {
        let seq = hall.seq();
        let mut caches = lock(&self.caches);
        if let Some((s, q, deltas)) = &caches.catch_up[slot(audience)]
            && (*s, *q) == (since, seq)
        {
            return (seq, deltas.clone());
        }
        let deltas = Arc::new(catch_up(hall, audience, &events));
        caches.catch_up[slot(audience)] = Some((since, seq, deltas.clone()));
        (seq, deltas)
    }

    /// A fresh snapshot for `scope` and the sequence number it is as of.
    pub fn snapshot(&self, scope: Scope, format: Format, audience: Audience, now: Millis) -> Option<(u64, Bytes)> {
        self.stream
            .with_hall_epoch(self.id, |hall, epoch| {
                let mut caches = lock(&self.caches);
                snapshot(hall, &mut caches, scope, format, audience, now, epoch).map(|s| (hall.seq(), s))
            })
            .flatten()
    }

    /// The zones of a window scope's window (its waiting lists are shown too).
    pub fn served(&self, scope: Scope) -> Vec<usize> {
        match scope {
            Scope::Window(w, _) => self.spec.windows[w].serves.iter().map(|s| s.zone).collect(),
            _ => Vec::new(),
        }
    }

    /// The delta of `frame`'s events after `after` alone, for a client that
    /// has the rest of them (it caught up to the middle of the batch the
    /// frame carries, or took its snapshot there).
    pub fn partial(&self, frame: &Frame, after: u64, audience: Audience) -> Bytes {
        let events: Vec<Event> = frame.batch.events.iter().filter(|e| e.seq > after).cloned().collect();
        let calls: Vec<Call> = frame
            .parts
            .calls
            .iter()
            .zip(&frame.parts.call_seqs)
            .filter(|(_, s)| **s > after)
            .map(|(c, _)| c.clone())
            .collect();
        frame.parts.delta(&events, &calls, audience)
    }

    /// What a subscriber with `scope` sends for `frame`; `served` lists the
    /// zones of a window scope's window.
    ///
    /// `sent` is where the subscriber is: a frame it holds the first part
    /// of (it started from the middle of the batches the frame joins) is
    /// sent as the rest only ([`Feed::partial`]).
    pub fn render(
        &self,
        frame: &Frame,
        sent: u64,
        scope: Scope,
        format: Format,
        audience: Audience,
        served: &[usize],
    ) -> Render {
        if frame.reset {
            return Render::Resnapshot;
        }
        if let Scope::Ticket(number) = scope {
            let concerned = frame.tickets.contains(&number)
                || self
                    .stream
                    .with_hall(self.id, |hall| hall.ticket_place(number))
                    .flatten()
                    .is_some_and(|(z, _, _)| frame.zones.contains(&z));
            return if concerned { Render::Resnapshot } else { Render::Skip };
        }
        // Shared frames need no state: no lock on the hot path.
        match render_frame(frame, scope, format, audience, served) {
            Render::Send(_) if frame.from <= sent && format == Format::Json => {
                Render::Send(self.partial(frame, sent, audience))
            }
            r => r,
        }
    }
}

fn resumed(since: u64, seq: u64, epoch: Option<Epoch>, now: Millis) -> Bytes {
    text_frame(&wire::to_json(&Resumed {
        kind: "resumed",
        since,
        seq,
        epoch: epoch.map(|e| e.to_string()),
        at: now,
    }))
}

fn render_frame(frame: &Frame, scope: Scope, format: Format, audience: Audience, served: &[usize]) -> Render {
    // A frame made before this subscriber was counted lacks its delta; it
    // is behind the subscriber's start, so this is only a safety net.
    let json = || {
        match audience {
            Audience::Staff => frame.staff.clone(),
            Audience::Display => frame.display.clone(),
        }
        .map_or(Render::Resnapshot, Render::Send)
    };
    match (format, scope) {
        (Format::Json, Scope::Hall) => json(),
        (Format::Json, Scope::Zone(z)) if frame.zones.contains(&z) => json(),
        (Format::Json, Scope::Window(w, _))
            if frame.windows.contains(&w) || frame.zones.iter().any(|z| served.contains(z)) =>
        {
            json()
        }
        (Format::Led, Scope::Hall) => frame.led.clone().map_or(Render::Skip, Render::Send),
        (Format::Led, Scope::Zone(z)) => {
            let lines: Vec<&str> = frame
                .calls
                .iter()
                .filter(|(cz, _)| *cz == z)
                .map(|(_, l)| l.as_str())
                .collect();
            if lines.is_empty() {
                Render::Skip
            } else {
                Render::Send(text_frame(&lines.join("\n")))
            }
        }
        (Format::Led, Scope::Window(w, _)) => frame
            .window_led
            .iter()
            .find(|(x, _)| *x == w)
            .map_or(Render::Skip, |(_, l)| Render::Send(l.clone())),
        _ => Render::Skip,
    }
}

/// What a durable batch's frame is made of, read from the stream's durable
/// hall: as of this batch or later (the writer may have committed more
/// since), so the zones, queues and windows a frame carries are as of at
/// least its batch; its events and calls are exactly the batch's.
#[derive(Debug, Default)]
struct Parts {
    reset: bool,
    zones: Vec<usize>,
    windows: Vec<usize>,
    tickets: Vec<TicketNumber>,
    calls: Vec<Call>,
    /// Each call's zone index, and the sequence number of its event.
    call_zones: Vec<usize>,
    call_seqs: Vec<u64>,
    summaries: Vec<crate::engine::ZoneSummary>,
    queues: Vec<Queue>,
    views: Vec<crate::engine::WindowView>,
    alerts: Option<Vec<view::Alert>>,
    ratings: Option<view::Ratings>,
}

fn parts(hall: &Hall, batch: &Batch) -> Parts {
    let events = &batch.events;
    let at = events.last().map_or(Millis(0), |e| e.at);
    let spec = hall.spec();
    let mut zones = BTreeSet::new();
    let mut windows = BTreeSet::new();
    let mut tickets = Vec::new();
    touched(hall, events, &mut zones, &mut windows, &mut tickets);
    let reset = events.iter().any(|e| matches!(e.kind, EventKind::DayStarted { .. }));
    if reset {
        zones.extend(0..spec.zones.len());
        windows.extend(0..spec.windows.len());
    }
    let zones: Vec<usize> = zones.into_iter().collect();
    let windows: Vec<usize> = windows.into_iter().collect();
    let calls = calls_of(hall, events);
    let call_zones = calls.iter().map(|c| spec.zone_index(c.zone).unwrap_or(0)).collect();
    let call_seqs = events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::TicketCalled { .. } | EventKind::TicketRecalled { .. }
            )
        })
        .map(|e| e.seq)
        .collect();
    // Only what the batch touched is computed: most batches are one issue,
    // which changes one zone and no window.
    Parts {
        reset,
        summaries: zones.iter().map(|&z| hall.zone_summary(z, at)).collect(),
        queues: zones.iter().map(|&z| hall.queue_head(z, QUEUE_HEAD).into()).collect(),
        views: windows.iter().map(|&w| hall.window_view(w)).collect(),
        alerts: alerts_changed(events).then(|| view::alerts(hall.alerts())),
        ratings: ratings_changed(events).then(|| hall.rating_summary().into()),
        zones,
        windows,
        tickets,
        calls,
        call_zones,
        call_seqs,
    }
}

impl Parts {
    /// Every zone, queue and window of the hall, with its alerts and
    /// ratings: the state that ends a catch-up.
    fn whole(hall: &Hall, now: Millis) -> Parts {
        let spec = hall.spec();
        Parts {
            summaries: (0..spec.zones.len()).map(|z| hall.zone_summary(z, now)).collect(),
            queues: hall.queue_heads(QUEUE_HEAD).into_iter().map(Into::into).collect(),
            views: hall.windows(),
            alerts: Some(view::alerts(hall.alerts())),
            ratings: Some(hall.rating_summary().into()),
            ..Parts::default()
        }
    }

    /// One audience's delta carrying `events` (consecutive, not empty) and
    /// `calls` among them, with these parts' zones, queues and windows.
    fn delta(&self, events: &[Event], calls: &[Call], audience: Audience) -> Bytes {
        let from = events.first().map_or(0, |e| e.seq);
        let seq = events.last().map_or(0, |e| e.seq);
        let json = match audience {
            Audience::Staff => wire::to_json(&Delta {
                kind: "delta",
                from,
                seq,
                events: staff_events(events),
                calls,
                zones: self.summaries.iter().cloned().map(Zone::from).collect(),
                queues: self.queues.clone(),
                windows: self.views.iter().cloned().map(Window::from).collect(),
                extra: StaffExtra {
                    alerts: self.alerts.clone(),
                    ratings: self.ratings.clone(),
                },
            }),
            Audience::Display => wire::to_json(&Delta {
                kind: "delta",
                from,
                seq,
                events: display_events(events),
                calls,
                zones: self.summaries.iter().cloned().map(DisplayZone::from).collect(),
                queues: self.queues.clone(),
                windows: self.views.iter().cloned().map(DisplayWindow::from).collect(),
                extra: NoExtra {},
            }),
        };
        text_frame(&json)
    }

    /// The frame, with the deltas of the audiences `wanted` (staff,
    /// display).
    fn frame(self, batch: &Arc<Batch>, wanted: [bool; 2]) -> Frame {
        let staff = wanted[0].then(|| self.delta(&batch.events, &self.calls, Audience::Staff));
        let display = wanted[1].then(|| self.delta(&batch.events, &self.calls, Audience::Display));
        let window_led = self
            .windows
            .iter()
            .zip(&self.views)
            .map(|(&w, view)| (w, text_frame(&window_line(view))))
            .collect();
        let calls: Vec<(usize, String)> = self
            .calls
            .iter()
            .zip(&self.call_zones)
            .map(|(c, &z)| (z, c.led()))
            .collect();
        let led = (!calls.is_empty()).then(|| {
            let lines: Vec<&str> = calls.iter().map(|(_, l)| l.as_str()).collect();
            text_frame(&lines.join("\n"))
        });
        Frame {
            from: batch.from(),
            seq: batch.seq(),
            reset: self.reset,
            staff,
            display,
            zones: self.zones.clone(),
            windows: self.windows.clone(),
            tickets: self.tickets.clone(),
            calls,
            led,
            window_led,
            batch: batch.clone(),
            parts: Arc::new(self),
        }
    }
}

/// Deltas carrying `events` (consecutive, after the client's `since`) in
/// chunks of [`CATCH_UP_EVENTS`]; the last also carries every zone, queue
/// and window of `hall`, which is as of the last event.
fn catch_up(hall: &Hall, audience: Audience, events: &[Event]) -> Vec<Bytes> {
    let now = events.last().map_or(Millis(0), |e| e.at);
    let chunks: Vec<&[Event]> = events.chunks(CATCH_UP_EVENTS).collect();
    let (none, whole) = (Parts::default(), Parts::whole(hall, now));
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let parts = if i + 1 == chunks.len() { &whole } else { &none };
            parts.delta(chunk, &calls_of(hall, chunk), audience)
        })
        .collect()
}

fn alerts_changed(events: &[Event]) -> bool {
    events.iter().any(|e| {
        matches!(
            e.kind,
            EventKind::AlertRaised { .. } | EventKind::AlertAcknowledged { .. } | EventKind::AlertCleared { .. }
        )
    })
}

fn ratings_changed(events: &[Event]) -> bool {
    events.iter().any(|e| {
        matches!(
            e.kind,
            EventKind::ServiceFinished { .. } | EventKind::TicketRated { .. } | EventKind::FollowUpRecorded { .. }
        )
    })
}

/// Every call and recall among `events`, in order.
fn calls_of(hall: &Hall, events: &[Event]) -> Vec<Call> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TicketCalled { ticket, window, .. } => Some(call(hall, *ticket, *window, 0, e.at)),
            EventKind::TicketRecalled { ticket, window, count } => Some(call(hall, *ticket, *window, *count, e.at)),
            _ => None,
        })
        .collect()
}

fn snapshot(
    hall: &Hall,
    caches: &mut Caches,
    scope: Scope,
    format: Format,
    audience: Audience,
    now: Millis,
    epoch: Option<Epoch>,
) -> Option<Bytes> {
    let seq = hall.seq();
    let spec = hall.spec().clone();
    let calls = match &caches.calls {
        Some((at, calls)) if *at == seq => calls.clone(),
        _ => {
            let calls = Arc::new(recent_calls(hall));
            caches.calls = Some((seq, calls.clone()));
            calls
        }
    };
    if format == Format::Led {
        let line = match scope {
            Scope::Window(w, _) => window_line(&hall.window_view(w)),
            Scope::Zone(z) => calls
                .iter()
                .rev()
                .find(|c| spec.zone_index(c.zone) == Some(z))
                .map(Call::led)
                .unwrap_or_default(),
            _ => calls.last().map(Call::led).unwrap_or_default(),
        };
        return Some(text_frame(&line));
    }
    if let Scope::Ticket(number) = scope {
        return ticket_json(hall, number, now).map(|j| text_frame(&j));
    }
    // Shared by screens asking within the same second at the same point
    // of the log: its `at` and figures are then at most a second old.
    let key = (seq, now.0.div_euclid(1000));
    if scope == Scope::Hall
        && let Some((at, bytes)) = &caches.hall_snapshot[slot(audience)]
        && *at == key
    {
        return Some(bytes.clone());
    }
    let (zone, window) = match scope {
        Scope::Zone(z) => (Some(z), None),
        Scope::Window(w, _) => (None, Some(w)),
        _ => (None, None),
    };
    let zones: Vec<usize> = match scope {
        Scope::Hall | Scope::Ticket(_) => (0..spec.zones.len()).collect(),
        Scope::Zone(z) => vec![z],
        Scope::Window(w, _) => {
            // In configured order, as for the hall.
            let mut z: Vec<usize> = spec.windows[w].serves.iter().map(|s| s.zone).collect();
            z.sort_unstable();
            z.dedup();
            z
        }
    };
    let windows: Vec<usize> = (0..spec.windows.len())
        .filter(|&i| match scope {
            Scope::Zone(z) => spec.windows[i].serves.iter().any(|s| s.zone == z),
            Scope::Window(w, _) => i == w,
            _ => true,
        })
        .collect();
    let calls: Vec<&Call> = calls
        .iter()
        .filter(|c| match scope {
            Scope::Zone(z) => spec.zone_index(c.zone) == Some(z),
            Scope::Window(_, n) => c.window == n,
            _ => true,
        })
        .collect();
    let summaries = zones.iter().map(|&z| hall.zone_summary(z, now));
    let queues: Vec<Queue> = zones.iter().map(|&z| hall.queue_head(z, QUEUE_HEAD).into()).collect();
    let views = windows.iter().map(|&w| hall.window_view(w));
    let epoch = epoch.map(|e| e.to_string());
    let info = HallInfo::new(&spec, zone, window);
    let business_day = hall.business_day();
    let json = match audience {
        Audience::Staff => wire::to_json(&Snapshot {
            kind: "snapshot",
            seq,
            epoch,
            at: now,
            business_day,
            hall: info,
            zones: summaries.map(Zone::from).collect(),
            queues,
            windows: views.map(Window::from).collect(),
            calls,
            extra: StaffExtra {
                alerts: Some(view::alerts(hall.alerts())),
                ratings: Some(hall.rating_summary().into()),
            },
        }),
        Audience::Display => wire::to_json(&Snapshot {
            kind: "snapshot",
            seq,
            epoch,
            at: now,
            business_day,
            hall: info,
            zones: summaries.map(DisplayZone::from).collect(),
            queues,
            windows: views.map(DisplayWindow::from).collect(),
            calls,
            extra: NoExtra {},
        }),
    };
    let bytes = text_frame(&json);
    if scope == Scope::Hall {
        caches.hall_snapshot[slot(audience)] = Some((key, bytes.clone()));
    }
    Some(bytes)
}

/// The citizen's view of one ticket of today.
pub fn ticket_json(hall: &Hall, number: TicketNumber, now: Millis) -> Option<String> {
    let spec = hall.spec();
    let ticket = hall.ticket_view(number, now)?;
    let zone = spec.zone_index(ticket.zone).map(|z| &spec.zones[z]);
    let service = zone.and_then(|z| z.service_index(ticket.service).map(|s| &z.services[s]));
    Some(wire::to_json(&TicketUpdate {
        kind: "ticket",
        seq: hall.seq(),
        hall: spec.id.as_str(),
        hall_name: &spec.name,
        zone_name: zone.map_or("", |z| z.name.as_str()),
        service_name: service.map_or("", |s| s.name.as_str()),
        ticket: ticket.into(),
    }))
}

/// Zones, windows and tickets a batch concerns, from its events and the
/// hall as it stands after them: a transfer names where the ticket went,
/// and the window it left.
fn touched(
    hall: &Hall,
    events: &[Event],
    zones: &mut BTreeSet<usize>,
    windows: &mut BTreeSet<usize>,
    tickets: &mut Vec<TicketNumber>,
) {
    let spec = hall.spec();
    let window = |n: WindowNo, zones: &mut BTreeSet<usize>, windows: &mut BTreeSet<usize>, state_change: bool| {
        if let Some(w) = spec.window_index(n) {
            windows.insert(w);
            if state_change {
                // Open windows count towards the zones' estimated waits.
                zones.extend(spec.windows[w].serves.iter().map(|s| s.zone));
            }
        }
    };
    for e in events {
        let (ticket, win, state_change, target) = match &e.kind {
            // Bookings change no queue until they are checked in.
            EventKind::DayStarted { .. } | EventKind::AppointmentBooked { .. } | EventKind::BookingCancelled { .. } => {
                (None, None, false, None)
            }
            EventKind::TicketIssued { ticket, zone, .. } => {
                zones.extend(spec.zone_index(*zone));
                (Some(*ticket), None, false, None)
            }
            EventKind::TicketCancelled { ticket } | EventKind::TicketReactivated { ticket } => {
                (Some(*ticket), None, false, None)
            }
            EventKind::TicketCalled { ticket, window, .. }
            | EventKind::TicketRecalled { ticket, window, .. }
            | EventKind::TicketSkipped { ticket, window, .. }
            | EventKind::ServiceStarted { ticket, window }
            | EventKind::ServiceFinished { ticket, window }
            | EventKind::TicketHeld { ticket, window } => (Some(*ticket), Some(*window), false, None),
            EventKind::TicketTransferred {
                ticket,
                from_window,
                to,
                ..
            } => (Some(*ticket), *from_window, false, Some(to)),
            EventKind::WindowOpened { window, .. }
            | EventKind::WindowClosed { window }
            | EventKind::WindowPaused { window, .. }
            | EventKind::WindowResumed { window } => (None, Some(*window), true, None),
            EventKind::AutoCallChanged { window, .. } => (None, Some(*window), false, None),
            EventKind::AlertRaised { target, .. }
            | EventKind::AlertAcknowledged { target, .. }
            | EventKind::AlertCleared { target, .. } => match target {
                crate::engine::AlertTarget::Zone { zone } => {
                    zones.extend(spec.zone_index(*zone));
                    (None, None, false, None)
                }
                crate::engine::AlertTarget::Window { window } => (None, Some(*window), false, None),
            },
            // Ratings change no queue or window: only the ticket's page.
            EventKind::TicketRated { ticket, .. } | EventKind::FollowUpRecorded { ticket, .. } => {
                (Some(*ticket), None, false, None)
            }
        };
        if let Some(n) = win {
            window(n, zones, windows, state_change);
        }
        match target {
            Some(Target::Window { window: n }) => window(*n, zones, windows, false),
            Some(Target::Zone { zone, .. }) => zones.extend(spec.zone_index(*zone)),
            None => {}
        }
        if let Some(t) = ticket {
            if !tickets.contains(&t) {
                tickets.push(t);
            }
            if let Some((z, directed, _)) = hall.ticket_place(t) {
                zones.insert(z);
                if let Some(w) = directed {
                    windows.insert(w);
                }
            }
        }
    }
}

fn call(hall: &Hall, ticket: TicketNumber, window: WindowNo, recall: u32, at: Millis) -> Call {
    let spec = hall.spec();
    let (zone, lane) = hall
        .ticket_place(ticket)
        .map_or((spec.zones[0].id, LaneKind::Normal), |(z, _, lane)| {
            (spec.zones[z].id, lane.into())
        });
    Call {
        ticket,
        window,
        window_name: spec
            .window_index(window)
            .map_or_else(String::new, |w| spec.windows[w].name.clone()),
        zone,
        lane,
        recall,
        at,
    }
}

/// The latest calls of today, newest last.
fn recent_calls(hall: &Hall) -> Vec<Call> {
    hall.recent_calls()
        .map(|c| call(hall, c.ticket, c.window, c.recall, c.at))
        .collect()
}

/// A window's LED line: the ticket it has called or serves, or its state.
fn window_line(v: &crate::engine::WindowView) -> String {
    match (v.open, v.paused.is_some(), v.current) {
        (true, false, Some(t)) => format!("{t} {}号窗口", v.number),
        (true, false, None) => format!("{}号窗口 空闲", v.number),
        _ => format!("{}号窗口 暂停服务", v.number),
    }
}
