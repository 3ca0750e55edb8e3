//! A subscriber's starting point: the whole state its scope covers, read
//! from the stream's durable copy of the hall; and a citizen's ticket.

use std::sync::Arc;

use bytes::Bytes;

use super::frame::{QUEUE_HEAD, call, window_line};
use super::scope::{Format, Scope};
use crate::engine::{Hall, Millis, TicketNumber};
use crate::store::Epoch;
use crate::wire::live::{Call, HallInfo, NoExtra, Snapshot, StaffExtra, TicketUpdate};
use crate::wire::view::{self, DisplayWindow, DisplayZone, Queue, Window, Zone};
use crate::wire::{self, Audience};
use crate::ws::text_frame;

/// Snapshots and catch-ups shared by subscribers arriving together (a
/// restart brings every screen back at once). Locked only under the
/// stream's lock on the hall, so both are as of the same sequence number.
#[derive(Default)]
pub(super) struct Caches {
    /// The hall-scope JSON snapshot per audience as of a sequence number
    /// and a second.
    pub(super) hall_snapshot: [Option<((u64, i64), Bytes)>; 2],
    /// The latest calls as of a sequence number.
    pub(super) calls: Option<(u64, Arc<Vec<Call>>)>,
    /// The last catch-up from the log per audience.
    pub(super) catch_up: [Option<CatchUp>; 2],
}

/// Deltas that bring a client from `since` to `seq`.
type CatchUp = (u64, u64, Arc<Vec<Bytes>>);

/// Index of an audience's cache.
pub(super) fn slot(a: Audience) -> usize {
    match a {
        Audience::Staff => 0,
        Audience::Display => 1,
    }
}

pub(super) fn snapshot(
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
        Scope::Hall | Scope::Ticket(_) => spec.live_zones().map(|(z, _)| z).collect(),
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
        .filter(|&i| !spec.windows[i].retired || matches!(scope, Scope::Window(w, _) if w == i))
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
    let info = HallInfo::new(&spec, zone, window).version(hall.config().version);
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

/// The latest calls of today, newest last.
pub(super) fn recent_calls(hall: &Hall) -> Vec<Call> {
    hall.recent_calls()
        .map(|c| call(hall, c.ticket, c.window, c.recall, c.at))
        .collect()
}
