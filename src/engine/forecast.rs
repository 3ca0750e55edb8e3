//! When each waiting ticket will be called: the hall played forward from
//! now on a copy, by the engine's own rules (each window's order of
//! preference, the lane ratio, the starvation bound, directed queues),
//! with every service taking its own recent mean (its zone's until it has
//! one), and the priority lane (绿色通道) still arriving at the pace of
//! its last hour: those cut in ahead of the normal lane by its ratio.
//! Normal tickets arriving later go behind everyone waiting now. A window with someone in hand is free again when that
//! service is expected to end; a paused one when staff said it would
//! resume (or, if they did not, [`UNSAID_PAUSE_MS`] after it began); a
//! closed one never. A ticket that no open window can reach today has no
//! forecast: "no window open", not a number.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::command::{Command, Issue, LaneRequest};
use super::event::EventKind;
use super::hall::Hall;
use super::ids::{CategoryId, Millis, TicketNumber};
use super::ticket::{Channel, Lane, TicketState};

/// A pause whose end staff did not give is assumed to last this long.
pub const UNSAID_PAUSE_MS: i64 = 15 * 60_000;
/// From a call to the start of service, as a forecast assumes.
pub const WALK_MS: i64 = 45_000;
/// The priority lane's pace is read over this much of the recent past.
pub const PACE_MS: i64 = 60 * 60_000;

/// Expected call times of the waiting tickets, from one play-forward.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forecast {
    /// The hall's sequence number it was made at.
    pub seq: u64,
    calls: Vec<(TicketNumber, Millis)>,
}

impl Forecast {
    /// When `ticket` is expected to be called; `None` if no open window
    /// will reach it today.
    pub fn call_at(&self, ticket: TicketNumber) -> Option<Millis> {
        self.calls.iter().find(|(t, _)| *t == ticket).map(|&(_, at)| at)
    }

    /// Expected wait from `now` for `ticket`.
    pub fn wait_ms(&self, ticket: TicketNumber, now: Millis) -> Option<i64> {
        self.call_at(ticket).map(|at| at.since(now))
    }
}

impl Hall {
    /// Plays the hall forward from `now` (see the module's comment).
    pub fn forecast(&self, now: Millis) -> Forecast {
        let waiting = self
            .st
            .tickets
            .iter()
            .filter(|t| t.state == TicketState::Waiting)
            .count();
        let mut out = Forecast {
            seq: self.st.seq,
            calls: Vec::with_capacity(waiting),
        };
        if waiting == 0 {
            return out;
        }
        let Some(day_end) = self.st.day.as_ref().map(|d| d.end) else {
            return out;
        };
        let mut sim = self.clone();
        // Time alone changes nothing in a copy: no alerts, no auto-call.
        for w in &mut sim.st.windows {
            w.auto_call = false;
        }
        sim.st.auto_windows.clear();
        let mut free: BinaryHeap<Reverse<(i64, usize)>> = BinaryHeap::new();
        for (w, s) in self.st.windows.iter().enumerate() {
            if !s.open {
                continue;
            }
            let at = match (s.paused, s.current) {
                (Some((_, since)), _) => s.resumes_at.unwrap_or(since.plus_ms(UNSAID_PAUSE_MS)),
                (None, Some(t)) => {
                    let tk = &self.st.tickets[t];
                    let began = tk.started_at.or(tk.called_at).unwrap_or(now);
                    let walk = if tk.started_at.is_some() { 0 } else { WALK_MS };
                    began.plus_ms(walk + self.expected_service_ms(tk.zone, tk.service))
                }
                (None, None) => now,
            };
            free.push(Reverse((at.0.max(now.0), w)));
        }
        let mut arrivals = self.priority_arrivals(now, day_end);
        while let Some(Reverse((at, w))) = free.pop() {
            if out.calls.len() == waiting || at >= day_end.0 {
                break;
            }
            let t = Millis(at);
            // The priority tickets expected by then join first.
            while let Some(&(when, zone, category)) = arrivals.last() {
                if when.0 > at {
                    break;
                }
                arrivals.pop();
                let z = &self.cfg.zones[zone];
                let issue = Issue {
                    lane: LaneRequest::Priority { category },
                    ..Issue::normal(z.id, z.services[0].id, Channel::Kiosk)
                };
                let _ = sim.execute(&Command::Issue(issue), when);
            }
            let number = self.cfg.windows[w].number;
            // Finish what is in hand, end a pause, then call.
            if sim.st.windows[w].paused.is_some() {
                let _ = sim.execute(&Command::Resume { window: number }, t);
            }
            if sim.st.windows[w].current.is_some() {
                let _ = sim.execute(&Command::Start { window: number }, t);
                let _ = sim.execute(&Command::Finish { window: number }, t);
            }
            let Ok(events) = sim.execute(&Command::CallNext { window: number }, t) else {
                continue; // nothing this window can call: it stays idle
            };
            let called = events.iter().find_map(|e| match e.kind {
                EventKind::TicketCalled { ticket, .. } => Some(ticket),
                _ => None,
            });
            let Some(ticket) = called else { continue };
            // The expected arrivals are the forecast's own, not anyone's.
            if self.st.by_number.contains_key(&ticket) {
                out.calls.push((ticket, t));
            }
            let (zone, service) = sim
                .st
                .by_number
                .get(&ticket)
                .map_or((0, 0), |&i| (sim.st.tickets[i].zone, sim.st.tickets[i].service));
            free.push(Reverse((at + WALK_MS + self.expected_service_ms(zone, service), w)));
        }
        out
    }

    /// Priority tickets expected from now to the day's end, latest first:
    /// each zone's at the pace of its last [`PACE_MS`], while it issues.
    fn priority_arrivals(&self, now: Millis, day_end: Millis) -> Vec<(Millis, usize, CategoryId)> {
        let Some(day) = self.st.day.as_ref() else {
            return Vec::new();
        };
        let since = Millis(now.0 - PACE_MS);
        let mut out = Vec::new();
        for (z, zone) in self.cfg.zones.iter().enumerate() {
            let recent: Vec<CategoryId> = self
                .st
                .tickets
                .iter()
                .filter(|t| t.origin.0 == z && t.issued_at >= since)
                .filter_map(|t| match t.lane {
                    Lane::Priority { category } => Some(category),
                    _ => None,
                })
                .collect();
            let (Some(&category), false) = (recent.last(), zone.services.is_empty()) else {
                continue;
            };
            // Over the part of the last hour the zone was issuing.
            let open_ms: i64 = day.zone_open[z]
                .iter()
                .map(|&(a, b)| (b.0.min(now.0) - a.0.max(since.0)).max(0))
                .sum();
            if open_ms <= 0 {
                continue;
            }
            let every = open_ms / recent.len() as i64;
            let mut at = now.plus_ms(every);
            while at < day_end && day.zone_is_open(z, at) {
                out.push((at, z, category));
                at = at.plus_ms(every);
            }
        }
        out.sort_by_key(|&(at, _, _)| Reverse(at));
        out
    }

    /// How long a service is expected to take: that service's own recent
    /// mean once it has one, else its zone's.
    fn expected_service_ms(&self, zone: usize, service: usize) -> i64 {
        match self.st.service_means.get(zone).and_then(|z| z.get(service)) {
            Some(m) if m.measured() => m.mean_ms(),
            _ => self.st.service_times[zone].mean_ms(),
        }
    }
}
