//! When each waiting ticket will be called: the hall played forward from
//! now on a copy, by the engine's own rules (each window's order of
//! preference, the lane ratio, the starvation bound, directed queues).
//! Every service takes its own recent mean (its zone's until it has one),
//! or in the views' forecast a time drawn from those recent ones, played
//! many times ([`Hall::forecast_spread`]); every call costs the walk-up
//! and skips measured per ticket served. A window with someone in hand is
//! free again when that service is expected to end (one already past the
//! mean runs on as the long ones did); a paused one when staff said it would resume (or, if they did
//! not, [`UNSAID_PAUSE_MS`] after it began); a closed one never. Tickets
//! keep arriving in every zone and lane at the pace of the last hour, and
//! today's bookings not yet checked in come as they fall due: a window's
//! first zone takes its arrivals before the window's other zones. A probe
//! per zone says when a normal ticket taken now would be called, without
//! delaying anyone. A ticket that no open window can reach today has no
//! forecast: "no window open", not a number.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::command::{Command, Issue, LaneRequest};
use super::event::EventKind;
use super::hall::Hall;
use super::ids::{Millis, TicketNumber};
use super::stats::ServiceTimes;
use super::ticket::{Channel, Lane, StepKind, TicketState};

/// A pause whose end staff did not give is assumed to last this long.
pub const UNSAID_PAUSE_MS: i64 = 15 * 60_000;
/// From a call to the start of service, as a forecast assumes.
pub const WALK_MS: i64 = 45_000;
/// Arrivals' pace is read over this much of the recent past.
pub const PACE_MS: i64 = 60 * 60_000;

/// Expected call times of the waiting tickets, from one play-forward.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forecast {
    /// The hall's sequence number it was made at.
    pub seq: u64,
    /// When it was made.
    pub at: Millis,
    /// Tickets the hall had issued today by then.
    pub issued: usize,
    calls: Vec<(TicketNumber, Millis)>,
    /// Per zone (by index): when a normal ticket issued at `at` would be
    /// called; `None` if the zone does not issue then or no open window
    /// would reach it today.
    next: Vec<Option<Millis>>,
    /// Per zone: when the play first calls one of its tickets, of any
    /// lane (where a priority ticket issued then would go).
    first: Vec<Option<Millis>>,
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

    /// When a normal ticket of zone `z` issued when the forecast was made
    /// would be called.
    pub fn next_call(&self, z: usize) -> Option<Millis> {
        self.next.get(z).copied().flatten()
    }

    /// When the play first calls a ticket of zone `z`.
    pub fn first_call(&self, z: usize) -> Option<Millis> {
        self.first.get(z).copied().flatten()
    }

    /// Every waiting ticket the forecast reaches, with its expected call.
    pub fn calls(&self) -> &[(TicketNumber, Millis)] {
        &self.calls
    }
}

impl Hall {
    /// Plays the hall forward from `now` (see the module's comment). Each
    /// issuing zone also gets a probe: when a normal ticket taken now,
    /// behind everyone waiting, would be called.
    pub fn forecast(&self, now: Millis) -> Forecast {
        match self.setup(now) {
            Some(setup) => self.play(now, &setup, None),
            None => self.unplayed(now),
        }
    }

    /// As [`Hall::forecast`], but the hall played `plays` times, every
    /// service taking a time drawn from its own recent ones (a service
    /// under way, from those that outlasted it), and each ticket expected
    /// at the median of its calls. Service times are skewed: the median
    /// wait of a few services is shorter than the sum of their means, and
    /// which window comes free first is a race the means alone misjudge.
    /// The draws are seeded from the hall's sequence number: the same
    /// hall, the same forecast.
    pub fn forecast_spread(&self, now: Millis, plays: usize) -> Forecast {
        let Some(setup) = self.setup(now).filter(|_| plays > 0) else {
            return self.forecast(now);
        };
        let mut draws = Draws(self.st.seq ^ (now.0 as u64).rotate_left(32));
        let runs: Vec<Forecast> = (0..plays).map(|_| self.play(now, &setup, Some(&mut draws))).collect();
        let mut out = self.unplayed(now);
        // A ticket reached in most plays is expected at its median call.
        let mut place: std::collections::HashMap<TicketNumber, usize> = Default::default();
        let mut by_ticket: Vec<(TicketNumber, Vec<Millis>)> = Vec::new();
        for run in &runs {
            for &(t, at) in &run.calls {
                let i = *place.entry(t).or_insert_with(|| {
                    by_ticket.push((t, Vec::with_capacity(plays)));
                    by_ticket.len() - 1
                });
                by_ticket[i].1.push(at);
            }
        }
        let median = |mut v: Vec<Millis>| -> Option<Millis> {
            (v.len() * 2 > plays).then(|| {
                v.sort_unstable();
                v[v.len() / 2]
            })
        };
        out.calls = by_ticket
            .into_iter()
            .filter_map(|(t, at)| median(at).map(|m| (t, m)))
            .collect();
        out.calls.sort_by_key(|&(_, at)| at);
        let zones = self.cfg.zones.len();
        out.next = (0..zones)
            .map(|z| median(runs.iter().filter_map(|r| r.next_call(z)).collect()))
            .collect();
        out.first = (0..zones)
            .map(|z| median(runs.iter().filter_map(|r| r.first_call(z)).collect()))
            .collect();
        out
    }

    /// A forecast of nobody: what a hall with no day, or nothing an open
    /// window will reach, has.
    fn unplayed(&self, now: Millis) -> Forecast {
        let zones = self.cfg.zones.len();
        Forecast {
            seq: self.st.seq,
            at: now,
            issued: self.st.tickets.len(),
            calls: Vec::new(),
            next: vec![None; zones],
            first: vec![None; zones],
        }
    }

    /// What every play of a forecast made at `now` starts from, worked
    /// out once; `None` when there is no day or nothing any open window
    /// will reach.
    fn setup(&self, now: Millis) -> Option<Setup> {
        let day_end = self.st.day.as_ref()?.end;
        // A play ends once every ticket some open window can reach is
        // called (the others have no forecast: "no window open").
        let open = |w: usize| self.st.windows[w].open;
        let left = self
            .st
            .tickets
            .iter()
            .filter(|t| t.state == TicketState::Waiting)
            .filter(|t| match t.directed {
                Some(w) => open(w),
                None => (0..self.cfg.windows.len()).any(|w| open(w) && self.takes(w, t.zone, t.service)),
            })
            .count();
        // Zones issuing now, each with the service a probe would take:
        // its first that is not only handing out results.
        let probe_service: Vec<Option<usize>> = self
            .cfg
            .zones
            .iter()
            .enumerate()
            .map(|(z, zone)| {
                let open = self.st.day.as_ref().is_some_and(|d| d.zone_is_open(z, now));
                let service = zone
                    .services
                    .iter()
                    .position(|s| !s.results)
                    .or((!zone.services.is_empty()).then_some(0));
                service.filter(|_| open)
            })
            .collect();
        // Only a zone some open window serves can have its probe called;
        // a play ends once those and the waiting tickets are.
        let probes_left = probe_service
            .iter()
            .enumerate()
            .filter(|&(z, service)| {
                service.is_some_and(|s| (0..self.cfg.windows.len()).any(|w| open(w) && self.takes(w, z, s)))
            })
            .count();
        if left == 0 && probes_left == 0 {
            return None;
        }
        // When the appointments waiting now fall due, soonest last: a
        // window with nothing to call looks again then.
        let early = self.cfg.policy.appointment_early_ms;
        let mut due: Vec<(Millis, usize)> = self
            .st
            .tickets
            .iter()
            .filter(|t| t.state == TicketState::Waiting)
            .filter_map(|t| match t.lane {
                Lane::Appointment { slot_start, .. } => Some((Millis(slot_start.0 - early), t.zone)),
                _ => None,
            })
            .filter(|&(at, _)| at > now)
            .collect();
        due.sort_by_key(|&(at, _)| Reverse(at));
        Some(Setup {
            day_end,
            left,
            probes_left,
            probe_service,
            overhead: self.call_overhead_ms(now),
            arrivals: self.expected_arrivals(now, day_end),
            due,
        })
    }

    /// One play forward (see the module's comment): with `draws`, each
    /// service takes a time drawn from its recent ones, else its mean.
    fn play(&self, now: Millis, setup: &Setup, mut draws: Option<&mut Draws>) -> Forecast {
        let mut out = self.unplayed(now);
        let (day_end, overhead, probe_service) = (setup.day_end, setup.overhead, &setup.probe_service);
        let (mut left, mut probes_left) = (setup.left, setup.probes_left);
        let (mut arrivals, mut due) = (setup.arrivals.clone(), setup.due.clone());
        let mut sim = self.copy_for_forecast();
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
                    let times = self.service_times_of(tk.zone, tk.service);
                    match tk.started_at {
                        Some(began) => {
                            let elapsed = now.since(began);
                            let drawn = draws.as_deref_mut().and_then(|d| times.drawn_past(elapsed, d.next()));
                            now.plus_ms(drawn.map_or_else(|| times.remaining_ms(elapsed), |t| t - elapsed))
                        }
                        None => tk
                            .called_at
                            .unwrap_or(now)
                            .plus_ms(overhead + service_ms(times, draws.as_deref_mut())),
                    }
                }
                (None, None) => now,
            };
            free.push(Reverse((at.0.max(now.0), w)));
        }
        out.calls.reserve(left);
        while let Some(Reverse((at, w))) = free.pop() {
            if (left == 0 && probes_left == 0) || at >= day_end.0 {
                break;
            }
            let t = Millis(at);
            // The tickets expected by then join first.
            while let Some(&(when, zone, service, lane)) = arrivals.last() {
                if when.0 > at {
                    break;
                }
                arrivals.pop();
                let cmd = match lane {
                    Expected::CheckIn(code) => Command::CheckIn {
                        code,
                        channel: Channel::Kiosk,
                        number: None,
                    },
                    Expected::Issue(lane) => {
                        let z = &self.cfg.zones[zone];
                        Command::Issue(Issue {
                            lane,
                            ..Issue::normal(z.id, z.services[service].id, Channel::Kiosk)
                        })
                    }
                };
                let _ = sim.execute(&cmd, when);
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
            let called = sim
                .execute(&Command::CallNext { window: number }, t)
                .ok()
                .and_then(|events| called(&events));
            let real = called.is_some_and(|t| self.st.by_number.contains_key(&t));
            let from = called.and_then(|t| sim.st.by_number.get(&t)).map(|&i| {
                let tk = &sim.st.tickets[i];
                (tk.zone, tk.service, tk.lane == Lane::Normal)
            });
            // The probes: a normal ticket of a zone issued now would have
            // been called here if the window found nothing before that
            // zone in its order of preference, or took one of the zone's
            // expected tickets (which come after it). Only time is read
            // here: the probes are no tickets, so they delay nobody.
            for e in self.serve_order(w).iter() {
                let took_here = from.is_some_and(|(z, s, _)| z == e.zone && e.services.contains(s));
                let expected_normal = took_here && !real && from.is_some_and(|(.., normal)| normal);
                if took_here && !expected_normal {
                    break;
                }
                if let Some(service) = probe_service[e.zone] {
                    if out.next[e.zone].is_none() && e.services.contains(service) {
                        out.next[e.zone] = Some(t);
                        probes_left -= 1;
                    }
                }
                if took_here {
                    break;
                }
            }
            let (Some(ticket), Some((zone, service, _))) = (called, from) else {
                // Nothing it can call now: it looks again when the next
                // expected ticket it serves comes.
                let order = self.serve_order(w);
                let serves = |z: usize| order.iter().any(|e| e.zone == z);
                while due.last().is_some_and(|&(when, _)| when.0 <= at) {
                    due.pop();
                }
                let next_arrival = arrivals.iter().rev().find(|a| serves(a.1)).map(|a| a.0);
                let next_due = due.iter().rev().find(|d| serves(d.1)).map(|d| d.0);
                if let Some(when) = next_arrival.into_iter().chain(next_due).min() {
                    free.push(Reverse((when.0, w)));
                }
                continue;
            };
            out.first[zone].get_or_insert(t);
            if real {
                out.calls.push((ticket, t));
                left -= 1;
            }
            let took = service_ms(self.service_times_of(zone, service), draws.as_deref_mut());
            free.push(Reverse((at + overhead + took, w)));
        }
        out
    }

    /// The state alone, to play forward: not the read models.
    pub fn copy_for_forecast(&self) -> Hall {
        Hall {
            cfg: self.cfg.clone(),
            st: self.st.clone(),
            recent: Default::default(),
            est: Default::default(),
        }
    }

    /// Tickets expected from now to the day's end, latest first: each
    /// zone's and lane's at the pace of its last [`PACE_MS`], while the
    /// zone issues. Normal arrivals matter to the tickets of other zones:
    /// a window that prefers their zone calls them first.
    /// Appointments of today not yet checked in come as they fall due (the
    /// engine calls them from `appointment_early_minutes` before their
    /// slot), all of them: a no-show only shortens other waits.
    fn expected_arrivals(&self, now: Millis, day_end: Millis) -> Vec<(Millis, usize, usize, Expected)> {
        let Some(day) = self.st.day.as_ref() else {
            return Vec::new();
        };
        let since = Millis(now.0 - PACE_MS);
        let mut out = Vec::new();
        let early = self.cfg.policy.appointment_early_ms;
        for b in self.st.bookings.values() {
            if b.day != day.date || b.state != super::booking::BookingState::Booked || b.slot_end <= now {
                continue;
            }
            if let Some(z) = self.cfg.zone_index(b.zone) {
                let when = Millis(b.slot_start.0 - early).max(now);
                out.push((when, z, 0, Expected::CheckIn(b.code)));
            }
        }
        for (z, zone) in self.cfg.zones.iter().enumerate() {
            if zone.services.is_empty() {
                continue;
            }
            // Only a zone that was issuing in the last hour has a pace.
            let open_ms: i64 = day.zone_open[z]
                .iter()
                .map(|&(a, b)| (b.0.min(now.0) - a.0.max(since.0)).max(0))
                .sum();
            if open_ms <= 0 {
                continue;
            }
            let recent = self
                .st
                .tickets
                .iter()
                .filter(|t| t.origin.0 == z && t.issued_at >= since);
            let (mut normal, mut priority, mut service) = (0i64, None, 0);
            for t in recent {
                match t.lane {
                    Lane::Priority { category } => priority = Some((priority.map_or(0, |(n, _)| n) + 1, category)),
                    Lane::Normal => {
                        normal += 1;
                        service = t.service;
                    }
                    _ => {}
                }
            }
            let mut lanes = Vec::with_capacity(2);
            if normal > 0 {
                lanes.push((normal, Expected::Issue(LaneRequest::Normal)));
            }
            if let Some((n, category)) = priority {
                lanes.push((n, Expected::Issue(LaneRequest::Priority { category })));
            }
            for (n, lane) in lanes {
                // Over the whole hour even if the zone opened within it: a
                // few tickets in its first minutes (the crowd at the door) are
                // no pace for the day.
                let every = PACE_MS / n;
                let mut at = now.plus_ms(every);
                while at < day_end && day.zone_is_open(z, at) {
                    out.push((at, z, service, lane));
                    at = at.plus_ms(every);
                }
            }
        }
        out.sort_by_key(|&(at, ..)| Reverse(at));
        out
    }

    /// Window time a call costs beside the service itself, per ticket
    /// served, over the last [`PACE_MS`]: the walk up, and the calls that
    /// end in a skip (a citizen who has left costs a window minutes).
    /// [`WALK_MS`] until a few tickets were started.
    fn call_overhead_ms(&self, now: Millis) -> i64 {
        let since = Millis(now.0 - PACE_MS);
        let (mut spent, mut started) = (0i64, 0i64);
        for t in self
            .st
            .tickets
            .iter()
            .filter(|t| t.called_at.is_some_and(|c| c >= since))
        {
            for pair in t.history.windows(2) {
                if !matches!(pair[0].what, StepKind::Called | StepKind::Recalled) {
                    continue;
                }
                match pair[1].what {
                    StepKind::Started => started += 1,
                    StepKind::Skipped | StepKind::NoShow => {}
                    _ => continue,
                }
                spent += pair[1].at.since(pair[0].at);
            }
        }
        if started < 5 { WALK_MS } else { spent / started }
    }

    /// The recent service times a forecast reads for a service: its own
    /// once it has any, else its zone's.
    fn service_times_of(&self, zone: usize, service: usize) -> &ServiceTimes {
        match self.st.service_means.get(zone).and_then(|z| z.get(service)) {
            Some(m) if m.measured() => m,
            _ => &self.st.service_times[zone],
        }
    }
}

/// How long a service takes in a play: drawn from its recent times, or
/// their mean.
fn service_ms(times: &ServiceTimes, draws: Option<&mut Draws>) -> i64 {
    match draws {
        Some(d) => times.drawn(d.next()),
        None => times.mean_ms(),
    }
}

/// The plays' draws: SplitMix64, small and seeded (the engine reads no
/// clock and no entropy).
struct Draws(u64);

impl Draws {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn called(events: &[super::event::Event]) -> Option<TicketNumber> {
    events.iter().find_map(|e| match e.kind {
        EventKind::TicketCalled { ticket, .. } => Some(ticket),
        _ => None,
    })
}

/// What every play of one forecast starts from.
struct Setup {
    day_end: Millis,
    /// Waiting tickets some open window will reach, and zones whose probe
    /// one will: a play ends once it has called them all.
    left: usize,
    probes_left: usize,
    /// Per zone, the service its probe takes, while the zone issues.
    probe_service: Vec<Option<usize>>,
    /// Window time a call costs beside the service.
    overhead: i64,
    /// Tickets expected, latest first.
    arrivals: Vec<(Millis, usize, usize, Expected)>,
    /// When the waiting appointments fall due (and the zone), latest first.
    due: Vec<(Millis, usize)>,
}

/// A ticket the play expects: one taken at a zone's pace, or an
/// appointment checked in.
#[derive(Debug, Clone, Copy)]
enum Expected {
    Issue(LaneRequest),
    CheckIn(super::ids::Code),
}
