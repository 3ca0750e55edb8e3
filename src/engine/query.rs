//! Read-only views of a hall: queues, a ticket's position, windows and
//! estimated waits. Views name things by id and number, never by index.

use serde::Serialize;

use super::booking::BookingView;
use super::estimates::{Wait, WaitRange};
use super::hall::Hall;
use super::ids::{Code, Millis, PersonKey, ServiceId, TicketNumber, WindowNo, ZoneId};
use super::rating::{FollowUp, FollowUpStep, Rating, RatingRecord};
use super::ticket::{Channel, LANE_APPOINTMENT, LANE_NORMAL, LANE_PRIORITY, Lane, Step, StepKind, Ticket, TicketState};
use super::window::PauseReason;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TicketView {
    pub number: TicketNumber,
    pub zone: ZoneId,
    pub service: ServiceId,
    pub lane: Lane,
    pub channel: Channel,
    #[serde(flatten)]
    pub state: TicketState,
    pub issued_at: Millis,
    /// People the engine expects to be called before this ticket (0 unless waiting).
    pub people_ahead: usize,
    /// Estimated wait in milliseconds until it is called (0 unless waiting,
    /// and when no open window will reach it).
    pub estimated_wait_ms: i64,
    /// The estimate with its range, while waiting and some open window
    /// will reach it.
    pub wait_range: Option<WaitRange>,
    /// Waiting, and no open window will reach it today.
    pub no_window_open: bool,
    pub recalls: u32,
    pub skips: u32,
    pub transfers: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directed_to: Option<WindowNo>,
    pub history: Vec<Step>,
    /// 好差评, once given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<RatingRecord>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub follow_ups: Vec<FollowUp>,
}

/// The day's 好差评 figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RatingSummary {
    /// Services finished today.
    pub finished: usize,
    /// Of those, rated.
    pub rated: usize,
    pub very_satisfied: usize,
    pub satisfied: usize,
    pub basic: usize,
    pub dissatisfied: usize,
    pub very_dissatisfied: usize,
    /// Bad ratings, and how many of them have each follow-up step.
    pub bad: usize,
    pub verified: usize,
    pub rectified: usize,
    pub called_back: usize,
}

/// One zone's waiting lists, front first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ZoneQueue {
    pub zone: ZoneId,
    pub appointment: Vec<TicketNumber>,
    pub priority: Vec<TicketNumber>,
    pub normal: Vec<TicketNumber>,
}

/// The figures a hall screen and the supervisor show per zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ZoneSummary {
    pub zone: ZoneId,
    pub waiting: usize,
    pub longest_wait_ms: i64,
    /// Estimated wait for a ticket issued now (0 when none can be given).
    pub estimated_wait_ms: i64,
    /// The same with its range; `None` while the zone does not issue or no
    /// open window would reach a ticket issued now.
    pub wait_range: Option<WaitRange>,
    /// The zone issues, and no open window would reach a ticket issued now.
    pub no_window_open: bool,
    pub open_windows: usize,
    pub mean_service_ms: i64,
    /// Mean wait of the tickets called in the last hour (0 if none).
    pub mean_wait_last_hour_ms: i64,
    /// Tickets called in the last hour.
    pub called_last_hour: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WindowView {
    pub number: WindowNo,
    pub open: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<PauseReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_since: Option<Millis>,
    /// When the pause is expected to end, if staff said (预计恢复).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumes_at: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<TicketNumber>,
    /// When the ticket in hand was called.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub called_at: Option<Millis>,
    /// When its service started (time in service counts from here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serving_since: Option<Millis>,
    pub auto_call: bool,
    pub served_today: u32,
    /// Tickets transferred to this window alone.
    pub own_queue: Vec<TicketNumber>,
    /// Tickets held here (暂挂), in issue order: the staff may call one back.
    pub held: Vec<TicketNumber>,
    /// 潮汐窗口: the zone it takes first today, if a supervisor gave one.
    pub first_zone: Option<ZoneId>,
}

/// Tickets join a lane at its end, except those put back near its front (a
/// skip, a transfer placed at the front, a reactivated no-show), and every
/// (re)joining sets the time a wait counts from. Those put back have just
/// joined, so the longest waiter is among the first few of each lane:
/// looking at this many is exact unless more than that many re-joined
/// tickets sit ahead of it, and keeps the figure cheap however long the
/// queue grows.
const LONGEST_SCAN: usize = 64;

impl Hall {
    /// Tickets waiting in zone `z` (by index).
    pub(crate) fn waiting_in(&self, z: usize) -> usize {
        self.st.zones[z].lanes.iter().map(|q| q.len()).sum()
    }

    /// The longest current wait in zone `z` (by index).
    pub(crate) fn longest_wait(&self, z: usize, now: Millis) -> i64 {
        self.st.zones[z]
            .lanes
            .iter()
            .flat_map(|q| q.iter().take(LONGEST_SCAN))
            .map(|&t| now.since(self.st.tickets[t].queued_at))
            .max()
            .unwrap_or(0)
    }

    pub(crate) fn open_windows_for(&self, zone: usize) -> usize {
        self.cfg
            .windows
            .iter()
            .zip(&self.st.windows)
            .filter(|(_, s)| s.open && s.paused.is_none())
            .filter(|(c, s)| s.first_zone == Some(zone) || c.serves.iter().any(|e| e.zone == zone))
            .count()
    }

    /// The estimate before the forecast, kept to measure against it (and
    /// for views before the first forecast): the people ahead shared
    /// across the zone's working windows at the recent mean service time.
    /// With no working window it assumes one.
    pub fn naive_wait_ms(&self, number: TicketNumber, now: Millis) -> Option<i64> {
        let &t = self.st.by_number.get(&number)?;
        let tk = &self.st.tickets[t];
        (tk.state == TicketState::Waiting).then(|| self.estimate(tk.zone, self.people_ahead(t, now)))
    }

    fn estimate(&self, zone: usize, ahead: usize) -> i64 {
        let servers = self.open_windows_for(zone).max(1) as i64;
        ahead as i64 * self.st.service_times[zone].mean_ms() / servers
    }

    pub(crate) fn people_ahead(&self, t: usize, now: Millis) -> usize {
        let tk = &self.st.tickets[t];
        if tk.state != TicketState::Waiting {
            return 0;
        }
        if let Some(w) = tk.directed {
            return self.st.directed[w].iter().position(|&x| x == t).unwrap_or(0);
        }
        let zs = &self.st.zones[tk.zone];
        let early = self.cfg.policy.appointment_early_ms;
        let due = zs.lanes[LANE_APPOINTMENT]
            .iter()
            .filter(|&&x| self.st.tickets[x].due(now, early))
            .count();
        let slot = tk.lane.slot();
        let lane = &zs.lanes[slot];
        // A ticket just issued is last: no need to walk a long queue for it.
        let own = if lane.back() == Some(&t) {
            lane.len() - 1
        } else {
            lane.iter().position(|&x| x == t).unwrap_or(0)
        };
        match slot {
            LANE_APPOINTMENT => own,
            LANE_PRIORITY => due + own,
            _ => due + zs.lanes[LANE_PRIORITY].len() + own,
        }
    }

    fn view(&self, t: usize, now: Millis) -> TicketView {
        let tk: &Ticket = &self.st.tickets[t];
        let zone = &self.cfg.zones[tk.zone];
        let ahead = self.people_ahead(t, now);
        let wait = self.wait_of(t, now);
        TicketView {
            number: tk.number,
            zone: zone.id,
            service: zone.services[tk.service].id,
            lane: tk.lane,
            channel: tk.channel,
            state: tk.state,
            issued_at: tk.issued_at,
            people_ahead: ahead,
            estimated_wait_ms: match wait {
                Some(Wait::Expected(r)) => r.expected_ms,
                Some(Wait::NoWindow) => 0,
                None if tk.state == TicketState::Waiting && self.estimates_seq().is_none() => {
                    self.estimate(tk.zone, ahead)
                }
                None => 0,
            },
            wait_range: match wait {
                Some(Wait::Expected(r)) => Some(r),
                _ => None,
            },
            no_window_open: wait == Some(Wait::NoWindow),
            recalls: tk.recalls,
            skips: tk.skips,
            transfers: tk.transfers,
            directed_to: tk.directed.map(|w| self.cfg.windows[w].number),
            history: tk.history.clone(),
            rating: tk.rating.clone(),
            follow_ups: tk.follow_ups.clone(),
        }
    }

    /// A ticket of today, with its position and estimated wait.
    pub fn ticket_view(&self, number: TicketNumber, now: Millis) -> Option<TicketView> {
        self.st.by_number.get(&number).map(|&t| self.view(t, now))
    }

    /// Where a ticket of today is: its zone's index and, while it waits
    /// for one window alone, that window's index. Cheaper than a view.
    pub fn ticket_place(&self, number: TicketNumber) -> Option<(usize, Option<usize>, Lane)> {
        self.st.by_number.get(&number).map(|&t| {
            let tk = &self.st.tickets[t];
            (tk.zone, tk.directed, tk.lane)
        })
    }

    /// The index of the window a ticket of today was last held at (暂挂),
    /// if it ever was: the window whose held list a call-back, cancel or
    /// transfer of it changes.
    pub fn last_held_at(&self, number: TicketNumber) -> Option<usize> {
        let &t = self.st.by_number.get(&number)?;
        let step = self.st.tickets[t]
            .history
            .iter()
            .rev()
            .find(|s| s.what == StepKind::Held)?;
        self.cfg.window_index(step.window?)
    }

    /// When `user` last signed out everywhere, if ever.
    pub fn signed_out_at(&self, user: &str) -> Option<Millis> {
        self.st.signed_out.get(user).copied()
    }

    /// Tickets of today taken by `person` through `channel` (a daily quota's count).
    pub fn issued_to(&self, person: PersonKey, channel: Channel) -> usize {
        self.st
            .tickets
            .iter()
            .filter(|t| t.person == Some(person) && t.channel == channel)
            .count()
    }

    /// Whether `person` has a ticket today or an appointment not yet
    /// over: a hash made under an earlier key that still counts.
    pub fn knows_person(&self, person: PersonKey) -> bool {
        self.st.tickets.iter().any(|t| t.person == Some(person))
            || self.st.bookings.values().any(|b| b.person == Some(person))
    }

    /// Since when a waiting ticket has waited (it last joined a queue).
    pub fn waiting_since(&self, number: TicketNumber) -> Option<Millis> {
        let &t = self.st.by_number.get(&number)?;
        let tk = &self.st.tickets[t];
        (tk.state == TicketState::Waiting).then_some(tk.queued_at)
    }

    /// The day's ratings and the follow-up of the bad ones.
    pub fn rating_summary(&self) -> RatingSummary {
        let mut s = RatingSummary::default();
        for t in &self.st.tickets {
            if matches!(t.state, TicketState::Finished { .. }) {
                s.finished += 1;
            }
            let Some(r) = &t.rating else { continue };
            s.rated += 1;
            *match r.level {
                Rating::VerySatisfied => &mut s.very_satisfied,
                Rating::Satisfied => &mut s.satisfied,
                Rating::Basic => &mut s.basic,
                Rating::Dissatisfied => &mut s.dissatisfied,
                Rating::VeryDissatisfied => &mut s.very_dissatisfied,
            } += 1;
            if r.level.is_bad() {
                s.bad += 1;
                for f in &t.follow_ups {
                    *match f.step {
                        FollowUpStep::Verified => &mut s.verified,
                        FollowUpStep::Rectified => &mut s.rectified,
                        FollowUpStep::CalledBack => &mut s.called_back,
                    } += 1;
                }
            }
        }
        s
    }

    /// The day's latest calls and recalls, newest last (at most
    /// [`super::RECENT_CALLS`]).
    pub fn recent_calls(&self) -> impl Iterator<Item = &super::CallMade> + '_ {
        self.recent.iter()
    }

    /// Every ticket number of today, in issue order (without the work of a
    /// view: no position or wait is computed).
    pub fn ticket_numbers(&self) -> impl Iterator<Item = TicketNumber> + '_ {
        self.st.tickets.iter().map(|t| t.number)
    }

    /// How many tickets were issued today.
    pub fn ticket_count(&self) -> usize {
        self.st.tickets.len()
    }

    /// Every ticket issued today, in issue order.
    pub fn tickets(&self, now: Millis) -> impl Iterator<Item = TicketView> + '_ {
        (0..self.st.tickets.len()).map(move |t| self.view(t, now))
    }

    /// The waiting lists of every zone.
    pub fn queues(&self) -> Vec<ZoneQueue> {
        self.queue_heads(usize::MAX)
    }

    /// The first `limit` tickets of each lane of every zone (what a screen
    /// shows; the whole lists can be long).
    pub fn queue_heads(&self, limit: usize) -> Vec<ZoneQueue> {
        (0..self.cfg.zones.len()).map(|z| self.queue_head(z, limit)).collect()
    }

    /// The first `limit` tickets of each lane of the zone at index `z`.
    ///
    /// # Panics
    /// If `z` is not a zone index of this hall.
    pub fn queue_head(&self, z: usize, limit: usize) -> ZoneQueue {
        let numbers =
            |q: &std::collections::VecDeque<usize>| q.iter().take(limit).map(|&t| self.st.tickets[t].number).collect();
        let lanes = &self.st.zones[z].lanes;
        ZoneQueue {
            zone: self.cfg.zones[z].id,
            appointment: numbers(&lanes[LANE_APPOINTMENT]),
            priority: numbers(&lanes[LANE_PRIORITY]),
            normal: numbers(&lanes[LANE_NORMAL]),
        }
    }

    /// Waiting count, longest wait and estimated wait per zone.
    pub fn zone_summaries(&self, now: Millis) -> Vec<ZoneSummary> {
        (0..self.cfg.zones.len()).map(|z| self.zone_summary(z, now)).collect()
    }

    /// The figures of the zone at index `z` (in configured order).
    ///
    /// # Panics
    /// If `z` is not a zone index of this hall.
    pub fn zone_summary(&self, z: usize, now: Millis) -> ZoneSummary {
        let zs = &self.st.zones[z];
        let waiting = self.waiting_in(z);
        let (mut called, mut total) = (0usize, 0i64);
        for (when, wait) in &zs.recent_waits {
            if now.since(*when) <= super::hall::RECENT_WAITS_MS {
                called += 1;
                total += wait;
            }
        }
        let wait = self.next_wait(z, now);
        ZoneSummary {
            zone: self.cfg.zones[z].id,
            waiting,
            longest_wait_ms: self.longest_wait(z, now),
            estimated_wait_ms: match wait {
                Some(Wait::Expected(r)) => r.expected_ms,
                None if self.estimates_seq().is_none() => self.estimate(z, waiting),
                _ => 0,
            },
            wait_range: match wait {
                Some(Wait::Expected(r)) => Some(r),
                _ => None,
            },
            no_window_open: wait == Some(Wait::NoWindow),
            open_windows: self.open_windows_for(z),
            mean_service_ms: self.st.service_times[z].mean_ms(),
            mean_wait_last_hour_ms: if called == 0 { 0 } else { total / called as i64 },
            called_last_hour: called,
        }
    }

    /// The state of every window, in configured order.
    pub fn windows(&self) -> Vec<WindowView> {
        (0..self.cfg.windows.len()).map(|w| self.window_view(w)).collect()
    }

    /// The state of the window at index `w` (in configured order).
    ///
    /// # Panics
    /// If `w` is not a window index of this hall.
    pub fn window_view(&self, w: usize) -> WindowView {
        let (c, s, own) = (&self.cfg.windows[w], &self.st.windows[w], &self.st.directed[w]);
        WindowView {
            number: c.number,
            open: s.open,
            staff: s.staff.clone(),
            paused: s.paused.map(|p| p.0),
            paused_since: s.paused.map(|p| p.1),
            resumes_at: s.paused.and(s.resumes_at),
            current: s.current.map(|t| self.st.tickets[t].number),
            called_at: s.current.and_then(|t| self.st.tickets[t].called_at),
            serving_since: s.current.and_then(|t| {
                let tk = &self.st.tickets[t];
                matches!(tk.state, TicketState::Serving { .. })
                    .then_some(tk.started_at)
                    .flatten()
            }),
            auto_call: s.auto_call,
            served_today: s.served_today,
            own_queue: own.iter().map(|&t| self.st.tickets[t].number).collect(),
            held: self.st.held[w].iter().map(|&t| self.st.tickets[t].number).collect(),
            first_zone: self.st.windows[w].first_zone.map(|z| self.cfg.zones[z].id),
        }
    }

    /// One appointment.
    pub fn booking(&self, code: Code) -> Option<BookingView> {
        self.st.bookings.get(&code).map(BookingView::from)
    }

    /// The appointments of a business day, by slot.
    pub fn bookings_on(&self, day: jiff::civil::Date) -> Vec<BookingView> {
        let mut out: Vec<BookingView> = self
            .st
            .bookings
            .values()
            .filter(|b| b.day == day)
            .map(BookingView::from)
            .collect();
        out.sort_by_key(|b| (b.slot_start, b.code));
        out
    }
}
