//! A durable batch made into a frame: what it touched, its calls, and its
//! deltas per audience, serialized once and shared by every subscriber.
//! Catch-ups from the stream and the rest of a partly known frame are
//! made the same way ([`Parts::delta`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;

use crate::engine::{Event, EventKind, Hall, Millis, Target, TicketNumber, WindowNo};
use crate::store::Batch;
use crate::wire::event::{display_events, staff_events};
use crate::wire::live::{Call, Delta, NoExtra, StaffExtra};
use crate::wire::view::{self, DisplayWindow, DisplayZone, Queue, Window, Zone};
use crate::wire::vocab::LaneKind;
use crate::wire::{self, Audience};
use crate::ws::text_frame;

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
    pub(super) batch: Arc<Batch>,
    pub(super) parts: Arc<Parts>,
}

impl Frame {
    /// Whether this batch revokes `device`'s sign-in: its connections end.
    pub fn revokes(&self, device: &str) -> bool {
        self.batch
            .events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::DeviceRevoked { device: d } if d == device))
    }

    /// Whether this batch signs `user` out everywhere: the connections of
    /// their sessions end.
    pub fn signs_out(&self, user: &str) -> bool {
        self.batch
            .events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::SignedOut { user: u } if u == user))
    }

    /// The delta of this frame's events after `after` alone (see
    /// [`super::Feed::partial`]).
    pub(super) fn rest(&self, after: u64, audience: Audience) -> Bytes {
        let events: Vec<Event> = self.batch.events.iter().filter(|e| e.seq > after).cloned().collect();
        let calls: Vec<Call> = self
            .parts
            .calls
            .iter()
            .zip(&self.parts.call_seqs)
            .filter(|(_, s)| **s > after)
            .map(|(c, _)| c.clone())
            .collect();
        self.parts.delta(&events, &calls, audience)
    }
}

/// What a durable batch's frame is made of, read from the stream's durable
/// hall: as of this batch or later (the writer may have committed more
/// since), so the zones, queues and windows a frame carries are as of at
/// least its batch; its events and calls are exactly the batch's.
#[derive(Debug, Default)]
pub(super) struct Parts {
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

pub(super) fn parts(hall: &Hall, batch: &Batch) -> Parts {
    let events = &batch.events;
    let at = events.last().map_or(Millis(0), |e| e.at);
    let spec = hall.spec();
    let mut zones = BTreeSet::new();
    let mut windows = BTreeSet::new();
    let mut tickets = Vec::new();
    touched(hall, events, &mut zones, &mut windows, &mut tickets);
    // A new configuration is a reset too: every subscriber starts again
    // from a snapshot with the hall's new names, zones and windows (and a
    // window's connection reads what the window serves anew).
    let reset = events
        .iter()
        .any(|e| matches!(e.kind, EventKind::DayStarted { .. } | EventKind::ConfigChanged { .. }));
    if reset {
        zones.extend(spec.live_zones().map(|(z, _)| z));
        windows.extend(spec.live_windows().map(|(w, _)| w));
    }
    // A forecast made after this batch may move other zones' waits too
    // (windows serve several zones): the frame carries those.
    let seqs = events.first().map_or(0, |e| e.seq)..=events.last().map_or(0, |e| e.seq);
    if hall.estimates_seq().is_some_and(|s| seqs.contains(&s)) {
        zones.extend(hall.estimates_moved());
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
    pub(super) fn whole(hall: &Hall, now: Millis) -> Parts {
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
    pub(super) fn delta(&self, events: &[Event], calls: &[Call], audience: Audience) -> Bytes {
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
    pub(super) fn frame(self, batch: &Arc<Batch>, wanted: [bool; 2]) -> Frame {
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
pub(super) fn catch_up(hall: &Hall, audience: Audience, events: &[Event]) -> Vec<Bytes> {
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
            EventKind::DayStarted { .. }
            | EventKind::ConfigChanged { .. }
            | EventKind::AppointmentBooked { .. }
            | EventKind::BookingCancelled { .. }
            | EventKind::AnswerKept { .. }
            | EventKind::DevicePaired { .. }
            | EventKind::DeviceRevoked { .. }
            | EventKind::SignedOut { .. }
            | EventKind::TicketNearing { .. }
            | EventKind::OutboxProgressed { .. }
            | EventKind::OutboxSetAside { .. }
            | EventKind::OutboxResent { .. }
            | EventKind::Audited(_) => (None, None, false, None),
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
            EventKind::AutoCallChanged { window, .. } | EventKind::WindowServesFirst { window, .. } => {
                (None, Some(*window), false, None)
            }
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
            // A held ticket called back, cancelled or transferred leaves
            // the held list of the window that held it.
            if matches!(
                e.kind,
                EventKind::TicketCalled { .. }
                    | EventKind::TicketCancelled { .. }
                    | EventKind::TicketTransferred { .. }
            ) && let Some(w) = hall.last_held_at(t)
            {
                windows.insert(w);
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

pub(super) fn call(hall: &Hall, ticket: TicketNumber, window: WindowNo, recall: u32, at: Millis) -> Call {
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

/// A window's LED line: the ticket it has called or serves, or its state.
pub(super) fn window_line(v: &crate::engine::WindowView) -> String {
    match (v.open, v.paused.is_some(), v.current) {
        (true, false, Some(t)) => format!("{t} {}号窗口", v.number),
        (true, false, None) => format!("{}号窗口 空闲", v.number),
        _ => format!("{}号窗口 暂停服务", v.number),
    }
}
