//! Walks a hall's events in order, replaying them into an engine hall and
//! recording every fact in the groups it belongs to.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;

use super::part::{HourTally, Part};
use super::tally::Tally;
use super::{FollowUps, Report};
use crate::engine::HallSpec;
use crate::engine::{CallKind, Event, EventKind, FollowUpStep, Hall, Millis, PauseReason, ReplayError, TicketState};

/// Builds the report of `from..=to` from a hall's events, in order, at
/// `now` (which decides whether the last day is still running).
///
/// # Errors
/// An event does not apply to the replay (a corrupt log).
pub fn build<'a>(
    cfg: Arc<HallSpec>,
    from: Date,
    to: Date,
    events: impl IntoIterator<Item = &'a Event>,
    now: Millis,
) -> Result<Report, ReplayError> {
    let mut f = Folder::new(cfg, from, to);
    for e in events {
        f.feed(e)?;
    }
    Ok(f.finish(now))
}

/// Every group's tally.
struct Groups {
    total: Tally,
    zones: Vec<Tally>,
    services: Vec<Vec<Tally>>,
    windows: Vec<Tally>,
    staff: BTreeMap<String, Tally>,
    hours: Vec<HourTally>,
    follow: FollowUps,
}

/// Where one fact belongs (indices into the configuration).
#[derive(Clone, Copy, Default)]
struct Place<'s> {
    zone: Option<(usize, usize)>,
    window: Option<usize>,
    staff: Option<&'s str>,
}

impl Groups {
    fn add(&mut self, at: Place<'_>, f: impl Fn(&mut Tally)) {
        f(&mut self.total);
        if let Some((z, s)) = at.zone {
            f(&mut self.zones[z]);
            f(&mut self.services[z][s]);
        }
        if let Some(w) = at.window {
            f(&mut self.windows[w]);
        }
        if let Some(user) = at.staff {
            match self.staff.get_mut(user) {
                Some(t) => f(t),
                None => f(self.staff.entry(user.to_owned()).or_default()),
            }
        }
    }
}

/// A report being built: feed it events, then finish it.
pub struct Folder {
    cfg: Arc<HallSpec>,
    from: Date,
    to: Date,
    /// The replay of the day being read (none outside the range).
    hall: Option<Hall>,
    days: Vec<Date>,
    last_at: Millis,
    groups: Groups,
    /// Per window, as of the last event: its pause, since when it has been
    /// idle with work waiting, and who staffs it.
    paused: Vec<Option<(PauseReason, Millis)>>,
    idle_since: Vec<Option<Millis>>,
    staff: Vec<Option<String>>,
}

impl Folder {
    pub fn new(cfg: Arc<HallSpec>, from: Date, to: Date) -> Folder {
        let windows = cfg.windows.len();
        let groups = Groups {
            total: Tally::default(),
            zones: vec![Tally::default(); cfg.zones.len()],
            services: cfg
                .zones
                .iter()
                .map(|z| vec![Tally::default(); z.services.len()])
                .collect(),
            windows: vec![Tally::default(); windows],
            staff: BTreeMap::new(),
            hours: (0..24).map(|_| HourTally::default()).collect(),
            follow: FollowUps::default(),
        };
        Folder {
            cfg,
            from,
            to,
            hall: None,
            days: Vec::new(),
            last_at: Millis(0),
            groups,
            paused: vec![None; windows],
            idle_since: vec![None; windows],
            staff: vec![None; windows],
        }
    }

    /// Takes the next event of the hall's log.
    ///
    /// # Errors
    /// The event does not apply to the replay.
    pub fn feed(&mut self, ev: &Event) -> Result<(), ReplayError> {
        if let EventKind::DayStarted { day } = ev.kind {
            self.close_day(self.last_at, true);
            self.hall = (self.from <= day && day <= self.to).then(|| {
                self.days.push(day);
                Hall::before_event(self.cfg.clone(), ev.seq)
            });
        }
        let Some(hall) = &mut self.hall else {
            return Ok(());
        };
        record(&self.cfg, hall, &mut self.groups, ev);
        hall.apply(ev)?;
        self.last_at = ev.at;
        if matches!(ev.kind, EventKind::ConfigChanged { .. }) {
            let wider = hall.spec().clone();
            self.widen(wider);
        }
        // These change no queue and no window's state, staff or pause.
        let quiet = matches!(
            ev.kind,
            EventKind::TicketRecalled { .. }
                | EventKind::ServiceStarted { .. }
                | EventKind::TicketRated { .. }
                | EventKind::FollowUpRecorded { .. }
                | EventKind::AlertRaised { .. }
                | EventKind::AlertAcknowledged { .. }
                | EventKind::AlertCleared { .. }
                | EventKind::AutoCallChanged { .. }
                | EventKind::WindowServesFirst { .. }
        );
        if !quiet {
            let staffing = matches!(
                ev.kind,
                EventKind::WindowOpened { .. } | EventKind::WindowClosed { .. } | EventKind::DayStarted { .. }
            );
            self.track_windows(ev.at, staffing);
        }
        Ok(())
    }

    /// Takes a configuration version that adds zones, services or windows
    /// to the spec the report began with: their groups start empty.
    fn widen(&mut self, spec: Arc<HallSpec>) {
        let g = &mut self.groups;
        for (z, zone) in spec.zones.iter().enumerate() {
            if z >= g.zones.len() {
                g.zones.push(Tally::default());
                g.services.push(Vec::new());
            }
            let services = zone.services.len().max(g.services[z].len());
            g.services[z].resize_with(services, Tally::default);
        }
        let windows = spec.windows.len().max(g.windows.len());
        g.windows.resize_with(windows, Tally::default);
        self.paused.resize(windows, None);
        self.idle_since.resize(windows, None);
        self.staff.resize(windows, None);
        if spec.zones.len() >= self.cfg.zones.len() && spec.windows.len() >= self.cfg.windows.len() {
            self.cfg = spec;
        }
    }

    /// Follows each window's pause and idle spells across one event.
    fn track_windows(&mut self, at: Millis, staffing: bool) {
        let Some(hall) = &self.hall else { return };
        for (w, ws) in hall.st.windows.iter().enumerate() {
            let staff = self.staff[w].as_deref();
            if self.paused[w] != ws.paused {
                if let Some((reason, since)) = self.paused[w] {
                    let place = Place {
                        window: Some(w),
                        staff,
                        ..Place::default()
                    };
                    self.groups.add(place, |t| t.pause(reason, at.since(since)));
                }
                self.paused[w] = ws.paused;
            }
            let idle = ws.is_free() && hall.select(w, at).is_some();
            match (self.idle_since[w], idle) {
                (Some(since), false) => {
                    let place = Place {
                        window: Some(w),
                        staff,
                        ..Place::default()
                    };
                    self.groups.add(place, |t| t.idle_ms += at.since(since));
                    self.idle_since[w] = None;
                }
                (None, true) => self.idle_since[w] = Some(at),
                _ => {}
            }
            if staffing && self.staff[w] != ws.staff {
                self.staff[w].clone_from(&ws.staff);
            }
        }
    }

    /// Ends the day being read at `end`: open spells are counted up to it
    /// and, for a day that is over, what was left in hand or waiting.
    fn close_day(&mut self, end: Millis, over: bool) {
        let Some(hall) = self.hall.take() else { return };
        for w in 0..self.paused.len() {
            let place = Place {
                window: Some(w),
                staff: self.staff[w].as_deref(),
                ..Place::default()
            };
            if let Some((reason, since)) = self.paused[w].take() {
                self.groups.add(place, |t| t.pause(reason, end.since(since)));
            }
            if let Some(since) = self.idle_since[w].take() {
                self.groups.add(place, |t| t.idle_ms += end.since(since));
            }
        }
        if over {
            for tk in &hall.st.tickets {
                let zone = Some((tk.zone, tk.service));
                match tk.state {
                    TicketState::Called { window } | TicketState::Serving { window } | TicketState::Held { window } => {
                        let w = self.cfg.window_index(window);
                        let place = Place {
                            zone,
                            window: w,
                            staff: w.and_then(|w| self.staff[w].as_deref()),
                        };
                        self.groups.add(place, |t| t.unfinished += 1);
                    }
                    TicketState::Waiting => {
                        let place = Place {
                            zone,
                            ..Place::default()
                        };
                        self.groups.add(place, |t| t.left_waiting += 1);
                    }
                    _ => {}
                }
            }
        }
        self.staff.iter_mut().for_each(|s| *s = None);
    }

    /// The report, as of `now`.
    pub fn finish(self, now: Millis) -> Report {
        let (cfg, from, to) = (self.cfg.clone(), self.from, self.to);
        self.part(now).report(&cfg, from, to)
    }

    /// The facts read, as of `now`, keyed by the configuration's ids: what
    /// the archive keeps of a day, and what a range's days are merged as.
    pub fn part(mut self, now: Millis) -> Part {
        let running = self.hall.as_ref().and_then(|h| {
            let day = h.st.day.as_ref()?;
            (now < day.end).then_some(day.date)
        });
        match running {
            Some(_) => self.close_day(Millis(now.0.max(self.last_at.0)), false),
            None => self.close_day(self.last_at, true),
        }
        let cfg = &self.cfg;
        let g = self.groups;
        let kept = |t: &Tally| !t.is_empty();
        let zones = g
            .zones
            .into_iter()
            .zip(&cfg.zones)
            .filter(|(t, _)| kept(t))
            .map(|(t, z)| (z.id.to_string(), t))
            .collect();
        let services = g
            .services
            .into_iter()
            .zip(&cfg.zones)
            .flat_map(|(ts, z)| {
                ts.into_iter()
                    .zip(&z.services)
                    .filter(|(t, _)| kept(t))
                    .map(move |(t, s)| (format!("{}/{}", z.id, s.id), t))
            })
            .collect();
        let windows = g
            .windows
            .into_iter()
            .zip(&cfg.windows)
            .filter(|(t, _)| kept(t))
            .map(|(t, w)| (w.number, t))
            .collect();
        Part {
            days: self.days,
            running,
            total: g.total,
            zones,
            services,
            windows,
            staff: g.staff,
            hours: g.hours,
            follow: g.follow,
        }
    }

    /// The replay of the day being read, as of the last event fed (none
    /// before a day in the range has started).
    pub fn hall(&self) -> Option<&Hall> {
        self.hall.as_ref()
    }

    /// Who staffs each window (by position in the configuration), as of the
    /// last event fed.
    pub fn staff(&self) -> &[Option<String>] {
        &self.staff
    }
}

fn hour(cfg: &HallSpec, at: Millis) -> usize {
    Timestamp::from_millisecond(at.0).map_or(0, |ts| usize::from(cfg.time_zone.to_datetime(ts).hour() as u8))
}

/// Records what one event says, read against the hall as it was before it.
fn record(cfg: &HallSpec, hall: &Hall, g: &mut Groups, ev: &Event) {
    let st = &hall.st;
    let ticket = |number| st.by_number.get(number).map(|&t| &st.tickets[t]);
    let staff_at = |w: Option<usize>| w.and_then(|w| st.windows[w].staff.as_deref());
    let at = ev.at;
    match &ev.kind {
        EventKind::TicketIssued { zone, service, .. } => {
            let Some(z) = cfg.zone_index(*zone) else { return };
            let Some(s) = cfg.zones[z].service_index(*service) else {
                return;
            };
            let place = Place {
                zone: Some((z, s)),
                ..Place::default()
            };
            g.add(place, |t| t.issued += 1);
            g.hours[hour(cfg, at)].arrivals += 1;
        }
        EventKind::TicketCalled {
            ticket: n, window, how, ..
        } => {
            let Some(tk) = ticket(n) else { return };
            if *how == CallKind::CallBack || tk.called_at.is_some() {
                return;
            }
            let wait = at.since(tk.issued_at);
            let w = cfg.window_index(*window);
            let place = Place {
                zone: Some((tk.zone, tk.service)),
                window: w,
                staff: staff_at(w),
            };
            g.add(place, |t| {
                t.called += 1;
                t.wait.push(wait);
            });
            g.hours[hour(cfg, tk.issued_at)].wait.push(wait);
        }
        EventKind::ServiceStarted { ticket: n, window } => {
            let Some(tk) = ticket(n) else { return };
            let walk = at.since(tk.called_at.unwrap_or(at));
            let w = cfg.window_index(*window);
            let place = Place {
                zone: Some((tk.zone, tk.service)),
                window: w,
                staff: staff_at(w),
            };
            g.add(place, |t| t.walk.push(walk));
        }
        EventKind::ServiceFinished { ticket: n, window } => {
            let Some(tk) = ticket(n) else { return };
            // Finished from called where the hall records no start.
            let since = match tk.state {
                TicketState::Serving { .. } => tk.started_at,
                _ => tk.called_at,
            };
            let took = at.since(since.unwrap_or(at));
            let w = cfg.window_index(*window);
            let place = Place {
                zone: Some((tk.zone, tk.service)),
                window: w,
                staff: staff_at(w),
            };
            g.add(place, |t| {
                t.served += 1;
                t.service.push(took);
            });
            g.hours[hour(cfg, at)].served += 1;
        }
        EventKind::TicketSkipped {
            ticket: n,
            window,
            no_show,
        } => {
            let Some(tk) = ticket(n) else { return };
            let w = cfg.window_index(*window);
            let place = Place {
                zone: Some((tk.zone, tk.service)),
                window: w,
                staff: staff_at(w),
            };
            let no_show = *no_show;
            g.add(place, |t| {
                t.skips += 1;
                t.no_shows += u64::from(no_show);
            });
        }
        EventKind::TicketTransferred {
            ticket: n, from_window, ..
        } => {
            let Some(tk) = ticket(n) else { return };
            let w = from_window.and_then(|w| cfg.window_index(w));
            let place = Place {
                zone: Some((tk.zone, tk.service)),
                window: w,
                staff: staff_at(w),
            };
            g.add(place, |t| t.transfers += 1);
        }
        EventKind::TicketCancelled { ticket: n } => {
            let Some(tk) = ticket(n) else { return };
            let place = Place {
                zone: Some((tk.zone, tk.service)),
                ..Place::default()
            };
            g.add(place, |t| t.cancelled += 1);
        }
        EventKind::TicketRated {
            ticket: n,
            window,
            staff,
            level,
            ..
        } => {
            let Some(tk) = ticket(n) else { return };
            let place = Place {
                zone: Some((tk.zone, tk.service)),
                window: cfg.window_index(*window),
                staff: staff.as_deref(),
            };
            g.add(place, |t| t.rate(*level));
            if level.is_bad() {
                g.follow.bad += 1;
            }
        }
        EventKind::FollowUpRecorded { step, .. } => match step {
            FollowUpStep::Verified => g.follow.verified += 1,
            FollowUpStep::Rectified => g.follow.rectified += 1,
            FollowUpStep::CalledBack => g.follow.called_back += 1,
        },
        _ => {}
    }
}
