//! One hall's feed: its published state, its recent frames and its
//! broadcast channel. The state's lock is held only to publish a batch or
//! to take a subscriber's starting point, so a subscriber never misses or
//! repeats a frame between its snapshot and its first delta.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};

use super::scope::{Format, Scope};
use super::wire::{self, Call, Delta, HallInfo, Resumed, Snapshot, TicketUpdate};
use crate::audio::CallMade;
use crate::engine::{Event, EventKind, Hall, Millis, StepKind, Target, TicketNumber, WindowNo};
use crate::metrics::{Counted, Metrics};
use crate::ws::text_frame;

/// Frames kept per hall, both for resuming clients and in the broadcast
/// ring. A client further behind than this gets a snapshot instead.
pub const RING: usize = 1024;
/// Calls kept for screens' "recent calls" lists.
pub const RECENT_CALLS: usize = 20;
/// Tickets of each lane sent in snapshots and deltas: what a screen shows.
/// Frames stay small however long a queue grows; the whole list is at
/// `GET /api/v1/halls/{hall}/zones/{zone}`.
pub const QUEUE_HEAD: usize = 30;

/// One durable batch, serialized once into WebSocket frames (header and
/// payload, ready to write to any subscriber's socket), plus what it
/// touched so each subscriber can tell whether it concerns them without
/// parsing it.
#[derive(Debug)]
pub struct Frame {
    pub from: u64,
    pub seq: u64,
    /// A new business day or a hall read back from the store: subscribers
    /// take a fresh snapshot rather than apply this.
    pub reset: bool,
    pub json: Bytes,
    pub zones: Vec<usize>,
    pub windows: Vec<usize>,
    pub tickets: Vec<TicketNumber>,
    /// Each call's zone index and LED line.
    pub calls: Vec<(usize, String)>,
    /// Every call's LED line, one per line.
    pub led: Option<Bytes>,
    /// The LED line of each touched window.
    pub window_led: Vec<(usize, Bytes)>,
}

struct State {
    hall: Hall,
    recent: VecDeque<Arc<Frame>>,
    calls: VecDeque<Call>,
    /// The hall-scope JSON snapshot as of a sequence number: thousands of
    /// screens connecting at once share one serialization.
    cached: Option<(u64, Bytes)>,
}

pub struct Feed {
    state: Mutex<State>,
    tx: broadcast::Sender<Arc<Frame>>,
    /// Every call and recall, in order, for the announcer.
    announce: Option<mpsc::UnboundedSender<CallMade>>,
    metrics: Option<Arc<Metrics>>,
}

/// Where a new subscriber starts: what to send first, and the receiver
/// positioned just after it.
pub struct Start {
    pub first: Vec<Bytes>,
    /// The sequence number the first messages bring the client to.
    pub seq: u64,
    pub rx: broadcast::Receiver<Arc<Frame>>,
}

/// What a subscriber does with one frame.
pub enum Render {
    Skip,
    Send(Bytes),
    /// Send a fresh snapshot instead.
    Resnapshot,
}

impl Feed {
    pub fn new(hall: Hall, announce: Option<mpsc::UnboundedSender<CallMade>>, metrics: Option<Arc<Metrics>>) -> Feed {
        let calls = recent_calls(&hall);
        Feed {
            state: Mutex::new(State {
                hall,
                recent: VecDeque::with_capacity(RING),
                calls,
                cached: None,
            }),
            tx: broadcast::channel(RING).0,
            announce,
            metrics,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Publishing applies events the store has already accepted; a panic
        // there would be a bug, and the state is still the best we have.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The sequence number of the last published event.
    pub fn seq(&self) -> u64 {
        self.lock().hall.seq()
    }

    /// A copy of the hall as of the last published (durable) event.
    pub fn hall(&self) -> Hall {
        self.lock().hall.clone()
    }

    pub fn spec(&self) -> Arc<crate::engine::HallSpec> {
        self.lock().hall.spec().clone()
    }

    /// Applies a durable batch and sends its frame to every subscriber.
    pub fn publish(&self, events: Vec<Event>) {
        if let Some(frame) = self.apply(events) {
            self.send(frame);
        }
    }

    /// Sends a frame made by [`Feed::apply`] to every subscriber. Separate
    /// because waking thousands of screens' tasks takes milliseconds: the
    /// store's writer applies a batch before answering its callers and has
    /// the hub's task send it after. A subscriber that joined in between
    /// already has the frame's events in its snapshot and skips it by its
    /// sequence number.
    pub fn send(&self, frame: Arc<Frame>) {
        // No subscribers is not an error.
        let _ = self.tx.send(frame);
    }

    /// Applies a durable batch to the hall and makes its frame (kept for
    /// resuming clients), without sending it.
    pub fn apply(&self, events: Vec<Event>) -> Option<Arc<Frame>> {
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return None;
        };
        let (from, seq, at) = (first.seq, last.seq, last.at);
        let mut st = self.lock();
        let cfg = st.hall.spec().clone();
        let mut zones = BTreeSet::new();
        let mut windows = BTreeSet::new();
        let mut tickets = Vec::new();
        let mut reset = false;
        // Collected here, not read back from the recent-calls ring, which
        // keeps only the last few: a batch may hold more calls than that.
        let mut new_calls: Vec<Call> = Vec::new();
        touched(&st.hall, &events, &mut zones, &mut windows, &mut tickets);
        for e in &events {
            if let Some(m) = &self.metrics {
                count(m, &st.hall, e);
            }
            if let Err(err) = st.hall.apply(e) {
                tracing::error!(hall = %cfg.id, seq = e.seq, error = %err, "hub copy diverged from the log");
                reset = true;
            }
            match &e.kind {
                EventKind::DayStarted { .. } => {
                    reset = true;
                    st.calls.clear();
                }
                EventKind::TicketCalled { ticket, window, .. } => {
                    let call = call(&st.hall, *ticket, *window, 0, e.at);
                    new_calls.push(call.clone());
                    push_call(&mut st.calls, call);
                    self.announce(cfg.id, *ticket, *window, 0);
                }
                EventKind::TicketRecalled { ticket, window, count } => {
                    let call = call(&st.hall, *ticket, *window, *count, e.at);
                    new_calls.push(call.clone());
                    push_call(&mut st.calls, call);
                    self.announce(cfg.id, *ticket, *window, *count);
                }
                _ => {}
            }
        }
        touched(&st.hall, &events, &mut zones, &mut windows, &mut tickets);
        if reset {
            zones.extend(0..cfg.zones.len());
            windows.extend(0..cfg.windows.len());
        }
        let zones: Vec<usize> = zones.into_iter().collect();
        let windows: Vec<usize> = windows.into_iter().collect();
        // Only what the batch touched is computed: most batches are one
        // issue, which changes one zone and no window.
        let views: Vec<crate::engine::WindowView> = windows.iter().map(|&w| st.hall.window_view(w)).collect();
        let window_led = windows
            .iter()
            .zip(&views)
            .map(|(&w, view)| (w, text_frame(&window_line(view))))
            .collect();
        let alerts_changed = events.iter().any(|e| {
            matches!(
                e.kind,
                EventKind::AlertRaised { .. } | EventKind::AlertAcknowledged { .. } | EventKind::AlertCleared { .. }
            )
        });
        let ratings_changed = events.iter().any(|e| {
            matches!(
                e.kind,
                EventKind::ServiceFinished { .. } | EventKind::TicketRated { .. } | EventKind::FollowUpRecorded { .. }
            )
        });
        let public: Vec<Event> = events.into_iter().filter_map(wire::public).collect();
        let json = wire::to_json(&Delta {
            kind: "delta",
            from,
            seq,
            events: &public,
            calls: &new_calls,
            zones: zones.iter().map(|&z| st.hall.zone_summary(z, at)).collect(),
            queues: zones.iter().map(|&z| st.hall.queue_head(z, QUEUE_HEAD)).collect(),
            windows: views,
            alerts: alerts_changed.then(|| st.hall.alerts()),
            ratings: ratings_changed.then(|| st.hall.rating_summary()),
        });
        let calls: Vec<(usize, String)> = new_calls
            .iter()
            .map(|c| (cfg.zone_index(c.zone).unwrap_or(0), c.led()))
            .collect();
        let led = (!calls.is_empty()).then(|| {
            let lines: Vec<&str> = calls.iter().map(|(_, l)| l.as_str()).collect();
            text_frame(&lines.join("\n"))
        });
        let frame = Arc::new(Frame {
            from,
            seq,
            reset,
            json: text_frame(&json),
            zones,
            windows,
            tickets,
            calls,
            led,
            window_led,
        });
        if st.recent.len() == RING {
            st.recent.pop_front();
        }
        st.recent.push_back(frame.clone());
        Some(frame)
    }

    fn announce(&self, hall: crate::engine::HallId, ticket: TicketNumber, window: WindowNo, recall: u32) {
        if let Some(tx) = &self.announce {
            // The announcer ends only at shutdown.
            let _ = tx.send(CallMade {
                hall,
                ticket,
                window,
                recall,
            });
        }
    }

    /// Replaces the state with a hall read back from the store and tells
    /// every subscriber to take a snapshot.
    pub fn reset(&self, hall: Hall) {
        let mut st = self.lock();
        let seq = hall.seq();
        st.calls = recent_calls(&hall);
        st.hall = hall;
        st.recent.clear();
        st.cached = None;
        let frame = Arc::new(Frame {
            from: seq,
            seq,
            reset: true,
            json: Bytes::new(),
            zones: Vec::new(),
            windows: Vec::new(),
            tickets: Vec::new(),
            calls: Vec::new(),
            led: None,
            window_led: Vec::new(),
        });
        st.recent.push_back(frame.clone());
        let _ = self.tx.send(frame);
    }

    /// Subscribes: a snapshot (or, for a client resuming after `since`, the
    /// frames it missed) and the receiver for what follows. `None` if a
    /// ticket scope names no ticket of today.
    pub fn subscribe(&self, scope: Scope, format: Format, since: Option<u64>, now: Millis) -> Option<Start> {
        let mut st = self.lock();
        let rx = self.tx.subscribe();
        let seq = st.hall.seq();
        if let (Some(since), Format::Json, false) = (since, format, matches!(scope, Scope::Ticket(_))) {
            if let Some(missed) = missed_since(&st, since, seq) {
                let mut first = vec![text_frame(&wire::to_json(&Resumed {
                    kind: "resumed",
                    since,
                    seq,
                }))];
                first.extend(
                    missed
                        .iter()
                        .filter_map(|f| match render_shared(f, scope, format, &st) {
                            Render::Send(b) => Some(b),
                            _ => None,
                        }),
                );
                return Some(Start { first, seq, rx });
            }
        }
        let snap = snapshot(&mut st, scope, format, now)?;
        Some(Start {
            first: vec![snap],
            seq,
            rx,
        })
    }

    /// A fresh snapshot for `scope` and the sequence number it is as of.
    pub fn snapshot(&self, scope: Scope, format: Format, now: Millis) -> Option<(u64, Bytes)> {
        let mut st = self.lock();
        let seq = st.hall.seq();
        snapshot(&mut st, scope, format, now).map(|s| (seq, s))
    }

    /// What a subscriber with `scope` sends for `frame`; `served` lists the
    /// zones of a window scope's window (its waiting lists are shown too).
    pub fn render(&self, frame: &Frame, scope: Scope, format: Format, served: &[usize]) -> Render {
        if frame.reset {
            return Render::Resnapshot;
        }
        if let Scope::Ticket(number) = scope {
            let concerned = frame.tickets.contains(&number) || {
                let st = self.lock();
                st.hall
                    .ticket_place(number)
                    .is_some_and(|(z, _, _)| frame.zones.contains(&z))
            };
            return if concerned { Render::Resnapshot } else { Render::Skip };
        }
        // Shared frames need no state: no lock on the hot path.
        render_frame(frame, scope, format, served)
    }
}

/// The frames after `since` if the ring still holds them all and none is a
/// reset; `Some(empty)` when the client is up to date.
fn missed_since(st: &State, since: u64, seq: u64) -> Option<Vec<Arc<Frame>>> {
    if since == seq {
        return Some(Vec::new());
    }
    if since > seq {
        return None;
    }
    let oldest = st.recent.front()?;
    if oldest.from > since + 1 {
        return None;
    }
    let missed: Vec<Arc<Frame>> = st.recent.iter().filter(|f| f.seq > since).cloned().collect();
    if missed.iter().any(|f| f.reset) {
        return None;
    }
    Some(missed)
}

fn render_shared(frame: &Frame, scope: Scope, format: Format, st: &State) -> Render {
    let served: Vec<usize> = match scope {
        Scope::Window(w, _) => st.hall.spec().windows[w].serves.iter().map(|s| s.zone).collect(),
        _ => Vec::new(),
    };
    render_frame(frame, scope, format, &served)
}

fn render_frame(frame: &Frame, scope: Scope, format: Format, served: &[usize]) -> Render {
    match (format, scope) {
        (Format::Json, Scope::Hall) => Render::Send(frame.json.clone()),
        (Format::Json, Scope::Zone(z)) if frame.zones.contains(&z) => Render::Send(frame.json.clone()),
        (Format::Json, Scope::Window(w, _))
            if frame.windows.contains(&w) || frame.zones.iter().any(|z| served.contains(z)) =>
        {
            Render::Send(frame.json.clone())
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

fn snapshot(st: &mut State, scope: Scope, format: Format, now: Millis) -> Option<Bytes> {
    let seq = st.hall.seq();
    let cfg = st.hall.spec().clone();
    if format == Format::Led {
        let line = match scope {
            Scope::Window(w, _) => window_line(&st.hall.window_view(w)),
            Scope::Zone(z) => st
                .calls
                .iter()
                .rev()
                .find(|c| cfg.zone_index(c.zone) == Some(z))
                .map(Call::led)
                .unwrap_or_default(),
            _ => st.calls.back().map(Call::led).unwrap_or_default(),
        };
        return Some(text_frame(&line));
    }
    if let Scope::Ticket(number) = scope {
        return ticket_json(&st.hall, number, now).map(|j| text_frame(&j));
    }
    if scope == Scope::Hall {
        if let Some((at, bytes)) = &st.cached {
            if *at == seq {
                return Some(bytes.clone());
            }
        }
    }
    let (zone, window) = match scope {
        Scope::Zone(z) => (Some(z), None),
        Scope::Window(w, _) => (None, Some(w)),
        _ => (None, None),
    };
    let zones: Vec<usize> = match scope {
        Scope::Hall | Scope::Ticket(_) => (0..cfg.zones.len()).collect(),
        Scope::Zone(z) => vec![z],
        Scope::Window(w, _) => {
            // In configured order, as for the hall.
            let mut z: Vec<usize> = cfg.windows[w].serves.iter().map(|s| s.zone).collect();
            z.sort_unstable();
            z.dedup();
            z
        }
    };
    let windows: Vec<usize> = (0..cfg.windows.len())
        .filter(|&i| match scope {
            Scope::Zone(z) => cfg.windows[i].serves.iter().any(|s| s.zone == z),
            Scope::Window(w, _) => i == w,
            _ => true,
        })
        .collect();
    let calls: Vec<&Call> = st
        .calls
        .iter()
        .filter(|c| match scope {
            Scope::Zone(z) => cfg.zone_index(c.zone) == Some(z),
            Scope::Window(_, n) => c.window == n,
            _ => true,
        })
        .collect();
    let json = wire::to_json(&Snapshot {
        kind: "snapshot",
        seq,
        at: now,
        business_day: st.hall.business_day(),
        hall: HallInfo::new(&cfg, zone, window),
        zones: zones.iter().map(|&z| st.hall.zone_summary(z, now)).collect(),
        queues: zones.iter().map(|&z| st.hall.queue_head(z, QUEUE_HEAD)).collect(),
        windows: windows.iter().map(|&w| st.hall.window_view(w)).collect(),
        calls,
        alerts: st.hall.alerts(),
        ratings: st.hall.rating_summary(),
    });
    let bytes = text_frame(&json);
    if scope == Scope::Hall {
        // Cached per sequence number only: the figures in it are as of the
        // first request, close enough for screens that tick locally.
        st.cached = Some((seq, bytes.clone()));
    }
    Some(bytes)
}

/// The citizen's view of one ticket of today.
pub fn ticket_json(hall: &Hall, number: TicketNumber, now: Millis) -> Option<String> {
    let cfg = hall.spec();
    let ticket = hall.ticket_view(number, now)?;
    let zone = cfg.zone_index(ticket.zone).map(|z| &cfg.zones[z]);
    let service = zone.and_then(|z| z.service_index(ticket.service).map(|s| &z.services[s]));
    Some(wire::to_json(&TicketUpdate {
        kind: "ticket",
        seq: hall.seq(),
        hall: cfg.id.as_str(),
        hall_name: &cfg.name,
        zone_name: zone.map_or("", |z| z.name.as_str()),
        service_name: service.map_or("", |s| s.name.as_str()),
        ticket,
    }))
}

/// Zones, windows and tickets a batch concerns, as the hall stands (called
/// before and after applying, to catch both ends of a transfer).
fn touched(
    hall: &Hall,
    events: &[Event],
    zones: &mut BTreeSet<usize>,
    windows: &mut BTreeSet<usize>,
    tickets: &mut Vec<TicketNumber>,
) {
    let cfg = hall.spec();
    let window = |n: WindowNo, zones: &mut BTreeSet<usize>, windows: &mut BTreeSet<usize>, state_change: bool| {
        if let Some(w) = cfg.window_index(n) {
            windows.insert(w);
            if state_change {
                // Open windows count towards the zones' estimated waits.
                zones.extend(cfg.windows[w].serves.iter().map(|s| s.zone));
            }
        }
    };
    for e in events {
        let (ticket, win, state_change, target) = match &e.kind {
            // Bookings change no queue until they are checked in.
            EventKind::DayStarted { .. } | EventKind::AppointmentBooked { .. } | EventKind::BookingCancelled { .. } => {
                (None, None, false, None)
            }
            EventKind::TicketIssued { ticket, .. }
            | EventKind::TicketCancelled { ticket }
            | EventKind::TicketReactivated { ticket } => (Some(*ticket), None, false, None),
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
                    zones.extend(cfg.zone_index(*zone));
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
            Some(Target::Zone { zone, .. }) => zones.extend(cfg.zone_index(*zone)),
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

/// Counts an event for `/metrics`, from the hall as it stands before it.
fn count(m: &Metrics, hall: &Hall, e: &Event) {
    let cfg = hall.spec();
    let zone_of = |t: TicketNumber| hall.ticket_place(t).map(|(z, _, _)| cfg.zones[z].id);
    let hall_id = cfg.id.as_str();
    match &e.kind {
        EventKind::TicketIssued { zone, .. } => m.count(hall_id, zone.as_str(), Counted::Issued),
        EventKind::TicketCalled { ticket, .. } => {
            if let Some(zone) = zone_of(*ticket) {
                m.count(hall_id, zone.as_str(), Counted::Called);
                if let Some(since) = hall.waiting_since(*ticket) {
                    m.waited(hall_id, zone.as_str(), e.at.since(since) as f64 / 1000.0);
                }
            }
        }
        EventKind::ServiceFinished { ticket, .. } => {
            if let Some(zone) = zone_of(*ticket) {
                m.count(hall_id, zone.as_str(), Counted::Served);
            }
        }
        EventKind::TicketSkipped {
            ticket, no_show: true, ..
        } => {
            if let Some(zone) = zone_of(*ticket) {
                m.count(hall_id, zone.as_str(), Counted::NoShow);
            }
        }
        EventKind::TicketTransferred { ticket, .. } => {
            if let Some(zone) = zone_of(*ticket) {
                m.count(hall_id, zone.as_str(), Counted::Transferred);
            }
        }
        _ => {}
    }
}

fn call(hall: &Hall, ticket: TicketNumber, window: WindowNo, recall: u32, at: Millis) -> Call {
    let cfg = hall.spec();
    let (zone, lane) = hall
        .ticket_place(ticket)
        .map_or((cfg.zones[0].id, "normal"), |(z, _, lane)| {
            (cfg.zones[z].id, wire::lane_name(&lane))
        });
    Call {
        ticket,
        window,
        window_name: cfg
            .window_index(window)
            .map_or_else(String::new, |w| cfg.windows[w].name.clone()),
        zone,
        lane,
        recall,
        at,
    }
}

fn push_call(calls: &mut VecDeque<Call>, c: Call) {
    if calls.len() == RECENT_CALLS {
        calls.pop_front();
    }
    calls.push_back(c);
}

/// The latest calls of today, rebuilt from the tickets' histories (at start
/// and after a reload).
fn recent_calls(hall: &Hall) -> VecDeque<Call> {
    let mut all: Vec<(Millis, TicketNumber, WindowNo, u32)> = Vec::new();
    for t in hall.tickets(Millis(0)) {
        let mut recalls = 0;
        for step in &t.history {
            match (step.what, step.window) {
                (StepKind::Called, Some(w)) => {
                    recalls = 0;
                    all.push((step.at, t.number, w, 0));
                }
                (StepKind::Recalled, Some(w)) => {
                    recalls += 1;
                    all.push((step.at, t.number, w, recalls));
                }
                _ => {}
            }
        }
    }
    all.sort_by_key(|c| c.0);
    let skip = all.len().saturating_sub(RECENT_CALLS);
    all.into_iter()
        .skip(skip)
        .map(|(at, t, w, r)| call(hall, t, w, r, at))
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
