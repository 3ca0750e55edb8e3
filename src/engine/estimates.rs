//! The waits the views show: the hall's latest [`Forecast`], made again
//! when the shell asks (after a change, at most once per `min_gap_ms`),
//! and a range around each wait from the hall's own past errors.
//!
//! This is a read model like `calls`: never stored, rebuilt by use. The
//! errors are kept across business days but not across restarts; until
//! [`MIN_ERRORS`] calls have been measured the range is [`DEFAULT_BAND`].

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use super::forecast::Forecast;
use super::hall::Hall;
use super::ids::{Millis, TicketNumber};
use super::ticket::{Lane, TicketState};

/// Plays per forecast (see [`Hall::forecast_spread`]), for a hall within
/// [`PLAY_BUDGET`].
pub const PLAYS: usize = 15;
/// Tickets today plus tickets waiting, times plays, that one forecast may
/// cost (a play costs about 3 µs per ticket here: some 45 ms at most). A
/// bigger hall gets fewer plays, down to one at the means: its waits are
/// long sums of many services, where the median and the mean agree.
pub const PLAY_BUDGET: usize = 15_000;
/// Ticket-plays per millisecond of gap between a big hall's forecasts:
/// one forecast's work spread over twenty times what it costs.
pub const WORK_PER_MS: usize = 16;
/// A ticket issued since the forecast (its slip prints the wait) makes it
/// again once the forecast is this old, even in a big hall (within
/// [`PLAY_BUDGET`] tickets today plus waiting).
pub const ISSUE_GAP_MS: i64 = 500;
/// How often the shell makes a big hall's forecast again (see
/// [`SMALL_HALL`]).
pub const REFRESH_GAP_MS: i64 = 2000;
/// A hall whose tickets today plus tickets waiting, times its plays, are
/// fewer than this gets a forecast after every change (about 3 ms at
/// most); a bigger one at most once per gap, or per [`ISSUE_GAP_MS`] when
/// tickets were issued. Without a clock in the engine, work is counted
/// rather than timed.
pub const SMALL_HALL: usize = 1000;
/// Waits shorter than this count as this long for relative errors, so a
/// one-minute miss on a two-minute wait is not a 50% error.
pub const ERROR_FLOOR_MS: i64 = 5 * 60_000;
/// Relative errors kept (the newest), in thousandths.
pub const KEEP_ERRORS: usize = 400;
/// Below this many measured errors the range is [`DEFAULT_BAND`].
pub const MIN_ERRORS: usize = 30;
/// The range before the hall has errors of its own, in thousandths of
/// the wait: about the quartiles of the forecast's errors at issue over the
/// simulated days of the sample halls (city −19%/+20%, township
/// −23%/+27%; BENCHMARKS.md).
pub const DEFAULT_BAND: (i32, i32) = (-200, 230);

/// A wait as the pages show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WaitRange {
    /// The forecast's own figure.
    pub expected_ms: i64,
    /// The quartiles of the hall's recent errors applied to it: half of
    /// the waits fell inside such a range.
    pub low_ms: i64,
    pub high_ms: i64,
}

/// What a view says of a wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    Expected(WaitRange),
    /// No open window will reach it today (or none is open).
    NoWindow,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Estimates {
    forecast: Option<Forecast>,
    /// Each ticket's wait as first forecast, from its issue.
    predicted: HashMap<TicketNumber, i64>,
    /// (wait − predicted) / max(predicted, floor), in thousandths.
    errors: VecDeque<i32>,
    /// Their quartiles as of the last forecast (see `band`).
    quartiles: Option<(i32, i32)>,
    /// The zones whose next call the last forecast moved.
    moved: Vec<usize>,
}

impl Estimates {
    /// Drops the cached forecast: the hall it played forward has changed
    /// shape (a new configuration).
    pub(crate) fn forget_forecast(&mut self) {
        self.forecast = None;
        self.moved.clear();
    }

    /// Keeps `other`'s errors (a new business day starts from them).
    pub(crate) fn errors_from(&mut self, other: &Estimates) {
        self.errors = other.errors.clone();
    }

    /// A ticket's first call: how far its first forecast was off.
    pub(crate) fn called(&mut self, ticket: TicketNumber, waited_ms: i64) {
        if let Some(predicted) = self.predicted.remove(&ticket) {
            let e = (waited_ms - predicted) * 1000 / predicted.max(ERROR_FLOOR_MS);
            if self.errors.len() == KEEP_ERRORS {
                self.errors.pop_front();
            }
            self.errors.push_back(e.clamp(-1000, 10_000) as i32);
        }
    }

    /// The quartiles of the recent errors, in thousandths: sorted once
    /// per forecast, not once per view.
    fn band(&self) -> (i32, i32) {
        if self.errors.len() < MIN_ERRORS {
            return DEFAULT_BAND;
        }
        let mut sorted: Vec<i32> = self.errors.iter().copied().collect();
        sorted.sort_unstable();
        let at = |q: usize| sorted[(sorted.len() - 1) * q / 4];
        (at(1), at(3))
    }

    fn range(&self, expected_ms: i64) -> WaitRange {
        let (lo, hi) = self.quartiles.unwrap_or(DEFAULT_BAND);
        let scale = expected_ms.max(ERROR_FLOOR_MS);
        WaitRange {
            expected_ms,
            low_ms: (expected_ms + scale * i64::from(lo) / 1000).max(0),
            high_ms: (expected_ms + scale * i64::from(hi) / 1000).max(0),
        }
    }
}

impl Hall {
    /// Makes the forecast again if the hall changed since the last one,
    /// and, for a big hall (see [`SMALL_HALL`]), that one is at least
    /// `min_gap_ms` old, or [`ISSUE_GAP_MS`] if a ticket was issued since
    /// (its slip says the wait), and never sooner than its cost allows
    /// ([`WORK_PER_MS`]). Returns whether it did.
    pub fn refresh_estimates(&mut self, now: Millis, min_gap_ms: i64) -> bool {
        let size = self.st.tickets.len() + self.est.forecast.as_ref().map_or(0, |f| f.calls().len());
        let plays = (PLAY_BUDGET / size.max(1)).clamp(1, PLAYS);
        if let Some(f) = &self.est.forecast {
            let age = now.since(f.at);
            // Sooner for a new ticket only while a forecast stays within
            // the budget: past it even one play at the means costs more.
            let gap = if f.issued == self.st.tickets.len() || size > PLAY_BUDGET {
                min_gap_ms
            } else {
                ISSUE_GAP_MS.min(min_gap_ms)
            };
            // And never so often that forecasts take more than about a
            // twentieth of the hall's time (a ticket-play costs ~3 µs).
            let gap = gap.max((size * plays / WORK_PER_MS) as i64);
            if f.seq == self.st.seq || (size * plays >= SMALL_HALL && age < gap) {
                return false;
            }
        }
        let forecast = self.forecast_spread(now, plays);
        self.est.moved = (0..self.cfg.zones.len())
            .filter(|&z| {
                self.est
                    .forecast
                    .as_ref()
                    .is_none_or(|f| f.next_call(z) != forecast.next_call(z))
            })
            .collect();
        for &(ticket, at) in forecast.calls() {
            if let Some(&i) = self.st.by_number.get(&ticket) {
                let issued = self.st.tickets[i].issued_at;
                self.est.predicted.entry(ticket).or_insert(at.since(issued));
            }
        }
        self.est.forecast = Some(forecast);
        self.est.quartiles = Some(self.est.band());
        true
    }

    /// The zones (by index) whose wait for a ticket taken now the last
    /// forecast changed.
    pub fn estimates_moved(&self) -> &[usize] {
        &self.est.moved
    }

    /// The sequence number the views' forecast was made at.
    pub fn estimates_seq(&self) -> Option<u64> {
        self.est.forecast.as_ref().map(|f| f.seq)
    }

    /// The wait of a waiting ticket (by index) at `now`: its own forecast,
    /// or, if it came after the last one, its zone's next call then.
    pub(crate) fn wait_of(&self, t: usize, now: Millis) -> Option<Wait> {
        let tk = &self.st.tickets[t];
        if tk.state != TicketState::Waiting {
            return None;
        }
        let f = self.est.forecast.as_ref()?;
        let at = match f.call_at(tk.number) {
            Some(at) => Some(at),
            // Issued since: a normal ticket at its zone's next call then,
            // another at the zone's first call; one service share later
            // for each of its lane issued since ahead of it.
            None if tk.issued_at >= f.at => {
                let base = match tk.lane {
                    Lane::Normal => f.next_call(tk.zone),
                    _ => f.first_call(tk.zone).or(f.next_call(tk.zone)),
                };
                base.map(|next| {
                    let lane = &self.st.zones[tk.zone].lanes[tk.lane.slot()];
                    let ahead = lane
                        .iter()
                        .rev()
                        .skip_while(|&&x| x != t)
                        .skip(1)
                        .take_while(|&&x| self.st.tickets[x].issued_at >= f.at)
                        .count();
                    let share = self.st.service_times[tk.zone].mean_ms() / self.open_windows_for(tk.zone).max(1) as i64;
                    next.plus_ms(ahead as i64 * share)
                })
            }
            None => None,
        };
        Some(match at {
            Some(at) => Wait::Expected(self.est.range(at.since(now).max(0))),
            None => Wait::NoWindow,
        })
    }

    /// The wait of a normal ticket taken now in zone `z`; `None` while the
    /// zone does not issue.
    pub(crate) fn next_wait(&self, z: usize, now: Millis) -> Option<Wait> {
        let day = self.st.day.as_ref()?;
        if !day.zone_is_open(z, now) {
            return None;
        }
        let f = self.est.forecast.as_ref()?;
        Some(match f.next_call(z) {
            Some(at) => Wait::Expected(self.est.range(at.since(now).max(0))),
            None => Wait::NoWindow,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_the_default_band_until_enough_errors_then_their_quartiles() {
        let mut e = Estimates::default();
        let ten = 10 * 60_000;
        assert_eq!(
            e.range(ten),
            WaitRange {
                expected_ms: ten,
                low_ms: ten - ten * 200 / 1000,
                high_ms: ten + ten * 230 / 1000,
            }
        );
        // Forecasts of ten minutes; waits of 5..=17 minutes (errors of
        // -50% .. +70% of the forecast), each once, over and over.
        for i in 0..40 {
            let t = TicketNumber::new("A", i, 3).unwrap();
            e.predicted.insert(t, ten);
            e.called(t, (5 + i64::from(i % 13)) * 60_000);
        }
        let (lo, hi) = e.band();
        assert!(lo < -200 && hi > 230, "wider than the default: {lo} {hi}");
        // As a forecast made now would keep them.
        e.quartiles = Some(e.band());
        let r = e.range(ten);
        assert!(r.low_ms < ten && r.high_ms > ten);
        // A ticket not forecast leaves no error.
        e.called(TicketNumber::new("A", 99, 3).unwrap(), 0);
        assert_eq!(e.errors.len(), 40);
        // Short waits count against the floor: never below zero.
        assert_eq!(e.range(0).low_ms, 0);
    }
}
