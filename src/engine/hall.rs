//! One hall's queue state and the rules that change it.
//!
//! Every operation goes `decide` (check the command against the state,
//! produce events, change nothing) then `apply` (change the state by the
//! events). Replay uses `apply` alone, which is why events carry every
//! choice the engine made (which ticket, which lane, contested or not).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use rustc_hash::FxHashMap;
use std::sync::Arc;

use super::alert::Alert;
use super::answers::KeptAnswer;
use super::booking::{Booking, BookingState, KEEP_DAYS};
use super::calendar::{Day, business_date, next_opening};
use super::calls::{CallMade, RecentCalls};
use super::command::{Command, Issue, LaneRequest, Target};
use super::devices::Device;
use super::error::{EngineError, ReplayError};
use super::estimates::Estimates;
use super::event::{CallKind, Event, EventKind};
use super::ids::{Code, Millis, PersonKey, ServiceId, TicketNumber, WindowNo, ZoneId};
use super::queue::{Join, Queue, take_out};
use super::rating::{FollowUp, FollowUpStep, MAX_COMMENT, RatingRecord};
use super::respec::{ConfigNote, ConfigState, SpecDoc};
use super::spec::{HallSpec, Placement, Serve, ServiceMask};
use super::stats::ServiceTimes;
use super::ticket::{Channel, LANE_APPOINTMENT, LANE_NORMAL, LANE_PRIORITY, Lane, Step, StepKind, Ticket, TicketState};
use super::tickets::Tickets;
use super::window::{PauseReason, WindowState};

/// Per-zone queues and counters.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct ZoneState {
    /// Last sequence number issued today.
    pub last_seq: u32,
    /// Ticket indices per lane (appointment, priority, normal), front first.
    pub lanes: [Queue; 3],
    /// Contested calls so far in the current priority:normal cycle.
    pub priority_run: u32,
    pub normal_run: u32,
    /// (called at, waited) of the calls of the last hour, oldest first:
    /// the supervisor's mean wait over the last hour.
    pub recent_waits: VecDeque<(Millis, i64)>,
}

/// How far back the recent mean wait looks.
pub(crate) const RECENT_WAITS_MS: i64 = 3_600_000;

/// Everything that changes. Kept apart from the configuration so that two
/// halls can be compared (replay equals live) with `==`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct State {
    pub seq: u64,
    pub day: Option<Day>,
    /// The sequence number of the business day's `DayStarted` (0: none
    /// known, as in a snapshot from before it was kept).
    pub day_seq: u64,
    pub tickets: Tickets,
    /// Fx-hashed: looked up by every operation, and the numbers are the
    /// engine's own (no one chooses them to collide).
    pub by_number: FxHashMap<TicketNumber, usize>,
    pub zones: Vec<ZoneState>,
    pub windows: Vec<WindowState>,
    /// Per window: tickets transferred to that window alone.
    pub directed: Vec<VecDeque<usize>>,
    /// Per window: tickets held there (暂挂), in issue order, so the
    /// window's view lists them without scanning the day's tickets.
    pub held: Vec<Vec<usize>>,
    /// Active tickets per person, zone and service (for one-per-person).
    /// A set, not one ticket: a reactivated no-show may be active beside a
    /// newer ticket of the same person.
    pub persons: HashMap<(PersonKey, usize, usize), BTreeSet<usize>>,
    /// Windows with auto-call on, in window order.
    pub auto_windows: Vec<usize>,
    /// Recent service times per zone; kept across days as tomorrow's prior.
    pub service_times: Vec<ServiceTimes>,
    /// Per zone, per service: the recent service times of that service
    /// alone (the forecast's; services of one zone differ).
    pub service_means: Vec<Vec<ServiceTimes>>,
    /// Alerts that are up, oldest first.
    pub alerts: Vec<Alert>,
    /// Appointments by code, kept across days (see `booking`).
    pub bookings: BTreeMap<Code, Booking>,
    /// Today's answers to requests with idempotency keys, by key (see
    /// `answers`). SipHash: the keys are chosen by clients.
    pub answers: HashMap<String, KeptAnswer>,
    /// Devices kept signed in, by id; kept across days (see `devices`).
    pub devices: BTreeMap<String, Device>,
    /// When each account last signed out everywhere: its sessions begun
    /// before then are void. Kept across days (a session spans midnight).
    pub signed_out: BTreeMap<String, Millis>,
    /// The configuration version in force; kept across days.
    pub config: ConfigState,
    /// What the outbox delivered and set aside; kept across days.
    pub outbox: super::outbox::OutboxState,
    /// Tickets whose citizens asked to be told of their turn and have not
    /// been told they are near yet (see `notices`).
    pub noticed: Vec<usize>,
}

/// A hall's queue engine: pure and synchronous. Give it a command and the
/// time; it answers with events or a refusal.
#[derive(Clone, Debug)]
pub struct Hall {
    pub(crate) cfg: Arc<HallSpec>,
    pub(crate) st: State,
    /// Read model: the latest calls (see `calls`).
    pub(crate) recent: RecentCalls,
    /// Read model: the waits views show (see `estimates`).
    pub(crate) est: Estimates,
}

impl PartialEq for Hall {
    fn eq(&self, other: &Self) -> bool {
        self.cfg.id == other.cfg.id && self.st == other.st
    }
}

fn wrong(t: &Ticket, expected: &'static str) -> EngineError {
    EngineError::WrongState {
        ticket: t.number,
        state: t.state.name(),
        expected,
    }
}

impl Hall {
    /// A hall that has not started its first business day yet.
    pub fn new(cfg: Arc<HallSpec>) -> Hall {
        let zones = cfg.zones.len();
        let windows = cfg.windows.len();
        let service_times = cfg
            .zones
            .iter()
            .map(|z| ServiceTimes::new(z.default_service_secs))
            .collect();
        let service_means = fresh_service_means(&cfg);
        Hall {
            st: State {
                seq: 0,
                day_seq: 0,
                day: None,
                tickets: Tickets::default(),
                by_number: FxHashMap::default(),
                zones: vec![ZoneState::default(); zones],
                windows: vec![WindowState::closed(); windows],
                directed: vec![VecDeque::new(); windows],
                held: vec![Vec::new(); windows],
                persons: HashMap::new(),
                auto_windows: Vec::new(),
                service_times,
                service_means,
                alerts: Vec::new(),
                bookings: BTreeMap::new(),
                signed_out: BTreeMap::new(),
                answers: HashMap::new(),
                devices: BTreeMap::new(),
                config: ConfigState::default(),
                outbox: super::outbox::OutboxState::default(),
                noticed: Vec::new(),
            },
            recent: RecentCalls::default(),
            est: Estimates::default(),
            cfg,
        }
    }

    /// An empty hall about to apply event `seq`: where a report's replay
    /// starts, at a `DayStarted` (which resets all but the service-time
    /// priors that estimates use and reports do not).
    pub(crate) fn before_event(cfg: Arc<HallSpec>, seq: u64) -> Hall {
        let mut hall = Hall::new(cfg);
        hall.st.seq = seq.saturating_sub(1);
        hall
    }

    /// What the hall is: its zones, windows and rules.
    pub fn spec(&self) -> &Arc<HallSpec> {
        &self.cfg
    }

    /// Sequence number of the last event.
    pub fn seq(&self) -> u64 {
        self.st.seq
    }

    /// The business day in force, if the hall has started one.
    /// The sequence number of the business day's `DayStarted`, if known.
    pub fn day_started_seq(&self) -> Option<u64> {
        (self.st.day_seq > 0).then_some(self.st.day_seq)
    }

    pub fn business_day(&self) -> Option<jiff::civil::Date> {
        self.st.day.as_ref().map(|d| d.date)
    }

    /// The highest ticket number the zone has issued on the business day
    /// (0 for none, or an unknown zone).
    pub fn last_number(&self, zone: ZoneId) -> u32 {
        self.cfg.zone_index(zone).map_or(0, |z| self.st.zones[z].last_seq)
    }

    /// Runs one command at `now`.
    ///
    /// When `now` falls in a new business day the rollover happens first and
    /// its `DayStarted` event leads the returned events; if the command is
    /// refused, the rollover is not applied either (it will be at the next
    /// command), so a refusal never changes anything.
    ///
    /// # Errors
    /// The command does not fit the hall's state or configuration.
    pub fn execute(&mut self, cmd: &Command, now: Millis) -> Result<Vec<Event>, EngineError> {
        if let Some(date) = self.rollover_due(now) {
            let mut next = Hall::new(self.cfg.clone());
            next.st.seq = self.st.seq;
            next.st.service_times = self.st.service_times.clone();
            next.st.service_means = self.st.service_means.clone();
            next.st.bookings = self.st.bookings.clone();
            next.st.devices = self.st.devices.clone();
            next.st.signed_out = self.st.signed_out.clone();
            next.st.config = self.st.config.clone();
            next.st.outbox = self.st.outbox.clone();
            next.est.errors_from(&self.est);
            let mut events = Vec::with_capacity(2);
            next.push(EventKind::DayStarted { day: date }, now, &mut events)?;
            next.execute_today(cmd, now, &mut events)?;
            *self = next;
            return Ok(events);
        }
        let mut events = Vec::with_capacity(1);
        self.execute_today(cmd, now, &mut events)?;
        Ok(events)
    }

    fn rollover_due(&self, now: Millis) -> Option<jiff::civil::Date> {
        match &self.st.day {
            Some(d) if now < d.end => None,
            _ => Some(business_date(&self.cfg, now)),
        }
    }

    fn execute_today(&mut self, cmd: &Command, now: Millis, out: &mut Vec<Event>) -> Result<(), EngineError> {
        if let Some(kind) = self.decide(cmd, now)? {
            self.push(kind, now, out)?;
        }
        if let Command::Record { notes } = cmd {
            for n in notes {
                self.push(EventKind::Audited(n.clone()), now, out)?;
            }
        }
        if let Command::CancelPhoneTickets { zone } = cmd {
            let z = zone.and_then(|z| self.cfg.zone_index(z));
            for ticket in self.waiting_from_phones(z) {
                self.push(EventKind::TicketCancelled { ticket }, now, out)?;
            }
        }
        // Even a tick can free work for auto-call windows: an appointment
        // becomes due with the passing of time alone.
        self.auto_call(now, out);
        for kind in self.nearing(now) {
            self.push(kind, now, out)?;
        }
        for kind in self.alert_changes(now, matches!(cmd, Command::Tick)) {
            self.push(kind, now, out)?;
        }
        Ok(())
    }

    /// Numbers, applies and records one decided event.
    pub(super) fn push(&mut self, kind: EventKind, now: Millis, out: &mut Vec<Event>) -> Result<(), EngineError> {
        let ev = Event {
            seq: self.st.seq + 1,
            at: now,
            kind,
        };
        // `decide` checked everything `apply` checks, so this only fails on an
        // engine bug; `apply` checks before it mutates, so nothing is half-done.
        self.apply(&ev).map_err(|e| {
            debug_assert!(false, "decided event does not apply: {e}");
            EngineError::Inconsistent(e.problem)
        })?;
        out.push(ev);
        Ok(())
    }

    /// Free windows with auto-call on take the next ticket.
    fn auto_call(&mut self, now: Millis, out: &mut Vec<Event>) {
        for i in 0..self.st.auto_windows.len() {
            let w = self.st.auto_windows[i];
            if !self.st.windows[w].is_free() {
                continue;
            }
            if let Some((t, contested)) = self.select(w, now) {
                let kind = EventKind::TicketCalled {
                    ticket: self.st.tickets[t].number,
                    window: self.cfg.windows[w].number,
                    how: CallKind::Auto,
                    contested,
                };
                if self.push(kind, now, out).is_err() {
                    return;
                }
            }
        }
    }

    // ----- lookups -------------------------------------------------------

    /// A window still in the configuration.
    fn window(&self, number: WindowNo) -> Result<usize, EngineError> {
        match self.cfg.window_index(number) {
            Some(w) if !self.cfg.windows[w].retired => Ok(w),
            _ => Err(EngineError::UnknownWindow(number)),
        }
    }

    /// A zone and service still offered: a retired one takes no ticket,
    /// transfer or appointment.
    fn offered(&self, zone: ZoneId, service: ServiceId) -> Result<(usize, usize), EngineError> {
        let z = match self.cfg.zone_index(zone) {
            Some(z) if !self.cfg.zones[z].retired => z,
            _ => return Err(EngineError::UnknownZone(zone)),
        };
        match self.cfg.zones[z].service_index(service) {
            Some(s) if !self.cfg.zones[z].services[s].retired => Ok((z, s)),
            _ => Err(EngineError::UnknownService { zone, service }),
        }
    }

    fn ticket(&self, number: TicketNumber) -> Result<usize, EngineError> {
        self.st
            .by_number
            .get(&number)
            .copied()
            .ok_or(EngineError::UnknownTicket(number))
    }

    fn open_window(&self, number: WindowNo) -> Result<usize, EngineError> {
        let w = self.window(number)?;
        if !self.st.windows[w].open {
            return Err(EngineError::WindowClosed(number));
        }
        Ok(w)
    }

    /// An open, unpaused window with nobody in hand.
    fn free_window(&self, number: WindowNo) -> Result<usize, EngineError> {
        let w = self.open_window(number)?;
        let ws = &self.st.windows[w];
        if ws.paused.is_some() {
            return Err(EngineError::WindowPaused(number));
        }
        if let Some(t) = ws.current {
            return Err(EngineError::WindowBusy {
                window: number,
                ticket: self.st.tickets[t].number,
            });
        }
        Ok(w)
    }

    /// The ticket a window has in hand.
    fn in_hand(&self, number: WindowNo) -> Result<(usize, usize), EngineError> {
        let w = self.open_window(number)?;
        let t = self.st.windows[w].current.ok_or(EngineError::NothingInHand(number))?;
        Ok((w, t))
    }

    /// The ticket in hand, which must be called (or, if `serving`, being served).
    fn in_hand_as(&self, window: WindowNo, serving: bool) -> Result<&Ticket, EngineError> {
        let (_, t) = self.in_hand(window)?;
        let t = &self.st.tickets[t];
        match (t.state, serving) {
            (TicketState::Called { .. }, false) | (TicketState::Serving { .. }, true) => Ok(t),
            (_, false) => Err(wrong(t, "called")),
            (_, true) => Err(wrong(t, "serving")),
        }
    }

    fn may_serve(&self, w: usize, t: &Ticket) -> bool {
        match t.directed {
            Some(d) => d == w,
            None => self.takes(w, t.zone, t.service),
        }
    }

    /// Window `w`'s order of preference today: the zone a supervisor put
    /// first (潮汐窗口), all its services, then its own list without it.
    pub(crate) fn serve_order(&self, w: usize) -> std::borrow::Cow<'_, [Serve]> {
        let own = &self.cfg.windows[w].serves;
        match self.first_entry(w) {
            None => std::borrow::Cow::Borrowed(own),
            Some(first) => std::borrow::Cow::Owned(
                std::iter::once(first)
                    .chain(own.iter().copied().filter(|s| s.zone != first.zone))
                    .collect(),
            ),
        }
    }

    /// The entry a supervisor put first for window `w` today, if any: the
    /// whole zone, as far as the window may serve it (a results-only
    /// window still hands out results only).
    fn first_entry(&self, w: usize) -> Option<Serve> {
        let z = self.st.windows[w].first_zone?;
        Some(Serve {
            zone: z,
            services: ServiceMask::whole_zone(&self.cfg.zones[z], self.cfg.windows[w].results_only),
        })
    }

    /// Whether window `w` takes a service today.
    pub(crate) fn takes(&self, w: usize, zone: usize, service: usize) -> bool {
        self.first_entry(w)
            .is_some_and(|e| e.zone == zone && e.services.contains(service))
            || self.cfg.windows[w].serves(zone, service)
    }

    /// Resolves a transfer target; refuses one that names the queue the
    /// ticket would go back to anyway.
    fn check_target(&self, t: &Ticket, to: &Target) -> Result<(), EngineError> {
        match *to {
            Target::Zone { zone, service } => {
                let (z, s) = self.offered(zone, service)?;
                if t.state == TicketState::Waiting && t.directed.is_none() && t.zone == z && t.service == s {
                    return Err(EngineError::SameQueue(t.number));
                }
            }
            Target::Window { window } => {
                let w = self.window(window)?;
                if t.state == TicketState::Waiting && t.directed == Some(w) {
                    return Err(EngineError::SameQueue(t.number));
                }
            }
        }
        Ok(())
    }

    // ----- decide --------------------------------------------------------

    fn decide(&self, cmd: &Command, now: Millis) -> Result<Option<EventKind>, EngineError> {
        let p = &self.cfg.policy;
        let kind = match *cmd {
            Command::Tick => return Ok(None),
            // Many events: see `execute_today`.
            Command::Record { ref notes } => {
                for n in notes {
                    n.check()?;
                }
                return Ok(None);
            }
            // Many events: see `execute_today`.
            Command::CancelPhoneTickets { zone } => {
                if let Some(z) = zone {
                    self.cfg.zone_index(z).ok_or(EngineError::UnknownZone(z))?;
                }
                return Ok(None);
            }
            Command::PairDevice {
                ref device,
                ref account,
                ref name,
            } => self.decide_pair(device, account, name)?,
            Command::RevokeDevice { ref device } => self.decide_revoke(device)?,
            Command::ChangeConfig(ref change) => {
                let spec = self.decide_config(change).map_err(EngineError::ConfigRefused)?;
                EventKind::ConfigChanged {
                    version: self.st.config.version + 1,
                    spec: SpecDoc(Arc::new(spec)),
                    text: change.text.clone(),
                    by: change.by.clone(),
                    reason: change.reason.clone(),
                }
            }
            Command::OutboxProgress { through, day_from } => match self.decide_progress(through, day_from)? {
                Some(kind) => kind,
                None => return Ok(None),
            },
            Command::OutboxSetAside { ref items } => match self.decide_set_aside(items)? {
                Some(kind) => kind,
                None => return Ok(None),
            },
            Command::OutboxResend { ref keys, ref by } => self.decide_resend(keys, by)?,
            Command::SignOut { ref user } => {
                if user.is_empty() || user.chars().count() > 64 {
                    return Err(EngineError::BadDevice("an account's name is 1 to 64 characters".into()));
                }
                EventKind::SignedOut { user: user.clone() }
            }
            Command::Issue(ref issue) => self.decide_issue(issue, now)?,
            Command::Book {
                code,
                zone,
                service,
                slot_start,
                slot_end,
                person,
            } => self.decide_book(code, zone, service, (slot_start, slot_end), person, now)?,
            Command::CancelBooking { code } => {
                self.open_booking(code)?;
                EventKind::BookingCancelled { code }
            }
            Command::CheckIn { code, channel, number } => {
                let b = self.open_booking(code)?;
                if self.business_day() != Some(b.day) {
                    return Err(EngineError::NotBookingDay { code, day: b.day });
                }
                let issue = Issue {
                    zone: b.zone,
                    service: b.service,
                    lane: LaneRequest::Appointment {
                        slot_start: b.slot_start,
                        slot_end: b.slot_end,
                    },
                    channel,
                    person: b.person,
                    number,
                    notice: None,
                };
                let mut kind = self.decide_issue(&issue, now)?;
                if let EventKind::TicketIssued { booking, .. } = &mut kind {
                    *booking = Some(code);
                }
                kind
            }
            Command::CallNext { window } => {
                let w = self.free_window(window)?;
                let (t, contested) = self.select(w, now).ok_or(EngineError::QueueEmpty(window))?;
                EventKind::TicketCalled {
                    ticket: self.st.tickets[t].number,
                    window,
                    how: CallKind::Next,
                    contested,
                }
            }
            Command::CallTicket { window, ticket } => {
                let w = self.free_window(window)?;
                let t = &self.st.tickets[self.ticket(ticket)?];
                if t.state != TicketState::Waiting {
                    return Err(wrong(t, "waiting"));
                }
                if !self.may_serve(w, t) {
                    return Err(EngineError::NotServedHere { window, ticket });
                }
                EventKind::TicketCalled {
                    ticket,
                    window,
                    how: CallKind::Chosen,
                    contested: false,
                }
            }
            Command::CallBack { window, ticket } => {
                let w = self.free_window(window)?;
                let t = &self.st.tickets[self.ticket(ticket)?];
                let TicketState::Held { window: held_at } = t.state else {
                    return Err(wrong(t, "held"));
                };
                if held_at != window && !self.may_serve(w, t) {
                    return Err(EngineError::NotServedHere { window, ticket });
                }
                EventKind::TicketCalled {
                    ticket,
                    window,
                    how: CallKind::CallBack,
                    contested: false,
                }
            }
            Command::Recall { window } => {
                let t = self.in_hand_as(window, false)?;
                if t.recalls >= p.recall_limit {
                    return Err(EngineError::RecallLimit(t.number));
                }
                EventKind::TicketRecalled {
                    ticket: t.number,
                    window,
                    count: t.recalls + 1,
                }
            }
            Command::Skip { window } => {
                let t = self.in_hand_as(window, false)?;
                EventKind::TicketSkipped {
                    ticket: t.number,
                    window,
                    no_show: t.skips >= p.max_skips,
                }
            }
            Command::Start { window } => {
                let t = self.in_hand_as(window, false)?;
                EventKind::ServiceStarted {
                    ticket: t.number,
                    window,
                }
            }
            Command::Finish { window } => {
                let (_, t) = self.in_hand(window)?;
                let t = &self.st.tickets[t];
                match t.state {
                    TicketState::Serving { .. } => {}
                    TicketState::Called { .. } if p.finish_from_called => {}
                    _ => return Err(wrong(t, "serving")),
                }
                EventKind::ServiceFinished {
                    ticket: t.number,
                    window,
                }
            }
            Command::Hold { window } => {
                let (_, t) = self.in_hand(window)?;
                EventKind::TicketHeld {
                    ticket: self.st.tickets[t].number,
                    window,
                }
            }
            Command::Transfer { window, to } => {
                let (_, t) = self.in_hand(window)?;
                let t = &self.st.tickets[t];
                self.check_target(t, &to)?;
                EventKind::TicketTransferred {
                    ticket: t.number,
                    from_window: Some(window),
                    to,
                    placement: p.transfer_placement,
                }
            }
            Command::Move { ticket, to } => {
                let t = &self.st.tickets[self.ticket(ticket)?];
                if !matches!(t.state, TicketState::Waiting | TicketState::Held { .. }) {
                    return Err(wrong(t, "waiting or held"));
                }
                self.check_target(t, &to)?;
                EventKind::TicketTransferred {
                    ticket,
                    from_window: None,
                    to,
                    placement: p.transfer_placement,
                }
            }
            Command::Cancel { ticket } => {
                let t = &self.st.tickets[self.ticket(ticket)?];
                if t.state.is_terminal() {
                    return Err(wrong(t, "active"));
                }
                EventKind::TicketCancelled { ticket }
            }
            Command::Reactivate { ticket } => {
                let t = &self.st.tickets[self.ticket(ticket)?];
                if !matches!(t.state, TicketState::NoShow { .. }) {
                    return Err(wrong(t, "no_show"));
                }
                EventKind::TicketReactivated { ticket }
            }
            Command::Pause {
                window,
                reason,
                minutes,
            } => {
                let w = self.open_window(window)?;
                if self.st.windows[w].paused.is_some() {
                    return Err(EngineError::WindowPaused(window));
                }
                let until = match minutes {
                    None => None,
                    Some(m) if (1..=super::window::MAX_PAUSE_MINUTES).contains(&m) => {
                        Some(now.plus_ms(i64::from(m) * Millis::MINUTE))
                    }
                    Some(m) => return Err(EngineError::BadPause(m)),
                };
                EventKind::WindowPaused { window, reason, until }
            }
            Command::Resume { window } => {
                let w = self.open_window(window)?;
                if self.st.windows[w].paused.is_none() {
                    return Err(EngineError::WindowNotPaused(window));
                }
                EventKind::WindowResumed { window }
            }
            Command::Open { window, ref staff } => {
                let w = self.window(window)?;
                if self.st.windows[w].open {
                    return Err(EngineError::WindowAlreadyOpen(window));
                }
                EventKind::WindowOpened {
                    window,
                    staff: staff.clone(),
                    paused: p.open_paused,
                }
            }
            Command::Close { window } => {
                let w = self.open_window(window)?;
                if let Some(t) = self.st.windows[w].current {
                    return Err(EngineError::WindowBusy {
                        window,
                        ticket: self.st.tickets[t].number,
                    });
                }
                EventKind::WindowClosed { window }
            }
            Command::ServeFirst { window, zone } => {
                let w = self
                    .cfg
                    .window_index(window)
                    .ok_or(EngineError::UnknownWindow(window))?;
                let z = match zone {
                    Some(z) => Some(self.cfg.zone_index(z).ok_or(EngineError::UnknownZone(z))?),
                    None => None,
                };
                if self.st.windows[w].first_zone == z {
                    return Ok(None);
                }
                EventKind::WindowServesFirst { window, zone }
            }
            Command::SetAutoCall { window, on } => {
                let w = self.open_window(window)?;
                if self.st.windows[w].auto_call == on {
                    return Ok(None);
                }
                EventKind::AutoCallChanged { window, on }
            }
            Command::Rate {
                ticket,
                level,
                ref comment,
            } => {
                let t = &self.st.tickets[self.ticket(ticket)?];
                let TicketState::Finished { window } = t.state else {
                    return Err(wrong(t, "finished"));
                };
                if t.rating.is_some() {
                    return Err(EngineError::AlreadyRated(ticket));
                }
                if comment.as_ref().is_some_and(|c| c.chars().count() > MAX_COMMENT) {
                    return Err(EngineError::TooLong(MAX_COMMENT));
                }
                if let Some(c) = comment.as_deref().and_then(super::text::first_forbidden) {
                    return Err(EngineError::BadText(c));
                }
                let staff = self
                    .cfg
                    .window_index(window)
                    .and_then(|w| self.st.windows[w].staff.clone());
                EventKind::TicketRated {
                    ticket,
                    window,
                    staff,
                    level,
                    comment: comment.clone().filter(|c| !c.trim().is_empty()),
                }
            }
            Command::AcknowledgeAlert { alert, target, ref by } => {
                let a = self
                    .st
                    .alerts
                    .iter()
                    .find(|a| a.kind == alert && a.target == target)
                    .ok_or(EngineError::NoSuchAlert)?;
                if a.acknowledged_by.is_some() {
                    return Err(EngineError::AlreadyAcknowledged);
                }
                EventKind::AlertAcknowledged {
                    alert,
                    target,
                    by: by.clone(),
                }
            }
            Command::FollowUp { ticket, step, ref note } => {
                let t = &self.st.tickets[self.ticket(ticket)?];
                if !t.rating.as_ref().is_some_and(|r| r.level.is_bad()) {
                    return Err(EngineError::NoBadRating(ticket));
                }
                if t.follow_ups.iter().any(|f| f.step == step) {
                    return Err(EngineError::FollowUpDone {
                        ticket,
                        step: match step {
                            FollowUpStep::Verified => "verified",
                            FollowUpStep::Rectified => "rectified",
                            FollowUpStep::CalledBack => "called_back",
                        },
                    });
                }
                if note.chars().count() > MAX_COMMENT {
                    return Err(EngineError::TooLong(MAX_COMMENT));
                }
                if let Some(c) = super::text::first_forbidden(note) {
                    return Err(EngineError::BadText(c));
                }
                EventKind::FollowUpRecorded {
                    ticket,
                    step,
                    note: note.clone(),
                }
            }
        };
        Ok(Some(kind))
    }

    fn decide_issue(&self, issue: &Issue, now: Millis) -> Result<EventKind, EngineError> {
        let p = &self.cfg.policy;
        let (z, s) = self.offered(issue.zone, issue.service)?;
        let zone = &self.cfg.zones[z];
        let lane = match issue.lane {
            LaneRequest::Normal => Lane::Normal,
            LaneRequest::Priority { category } => {
                self.cfg
                    .category_index(category)
                    .ok_or(EngineError::UnknownCategory(category))?;
                Lane::Priority { category }
            }
            LaneRequest::Appointment { slot_start, slot_end } => {
                if slot_end <= slot_start {
                    return Err(EngineError::BadAppointment);
                }
                // Checked in too late: no longer entitled to the appointment lane.
                if now > slot_start.plus_ms(p.appointment_grace_ms) {
                    Lane::Normal
                } else {
                    Lane::Appointment { slot_start, slot_end }
                }
            }
        };
        let closed = || EngineError::ZoneClosed {
            zone: issue.zone,
            opens: next_opening(&self.cfg, z, now),
        };
        let day = self.st.day.as_ref().ok_or_else(closed)?;
        if !day.zone_is_open(z, now) {
            return Err(closed());
        }
        // A cap on phone tickets waiting per zone: a flood of them from
        // the internet cannot fill a queue for the day.
        if issue.channel == Channel::Mobile && p.mobile_waiting_per_zone > 0 {
            let waiting = self.st.zones[z]
                .lanes
                .iter()
                .flatten()
                .filter(|&&t| self.st.tickets[t].channel == Channel::Mobile)
                .count();
            if waiting >= p.mobile_waiting_per_zone as usize {
                return Err(EngineError::PhoneTicketsFull {
                    zone: issue.zone,
                    limit: p.mobile_waiting_per_zone,
                });
            }
        }
        if let Some(person) = issue.person {
            if p.one_waiting_ticket_per_person {
                if let Some(&t) = self.st.persons.get(&(person, z, s)).and_then(|set| set.first()) {
                    return Err(EngineError::AlreadyWaiting(self.st.tickets[t].number));
                }
            }
        }
        let seq = issue.number.unwrap_or(self.st.zones[z].last_seq + 1);
        // Prefixes are validated as 1-3 capital letters, so this cannot fail.
        let number = TicketNumber::new(&zone.prefix, seq, p.number_digits)
            .map_err(|e| EngineError::Inconsistent(e.to_string()))?;
        if seq == 0 || self.st.by_number.contains_key(&number) {
            return Err(EngineError::NumberTaken(number));
        }
        Ok(EventKind::TicketIssued {
            ticket: number,
            zone: issue.zone,
            service: issue.service,
            lane,
            channel: issue.channel,
            person: issue.person,
            booking: None,
            notice: issue.notice,
        })
    }

    /// A booking that may still be checked in or cancelled.
    fn open_booking(&self, code: Code) -> Result<&Booking, EngineError> {
        let b = self.st.bookings.get(&code).ok_or(EngineError::UnknownBooking(code))?;
        match b.state {
            BookingState::Booked => Ok(b),
            other => Err(EngineError::BookingClosed {
                code,
                state: other.name(),
            }),
        }
    }

    fn decide_book(
        &self,
        code: Code,
        zone: ZoneId,
        service: ServiceId,
        (slot_start, slot_end): (Millis, Millis),
        person: Option<PersonKey>,
        now: Millis,
    ) -> Result<EventKind, EngineError> {
        let (z, _) = self.offered(zone, service)?;
        if slot_end <= slot_start || slot_end <= now {
            return Err(EngineError::BadAppointment);
        }
        let day = business_date(&self.cfg, slot_start);
        if !Day::new(&self.cfg, day).zone_is_open(z, slot_start) {
            return Err(EngineError::ZoneClosed { zone, opens: None });
        }
        if self.st.bookings.contains_key(&code) {
            return Err(EngineError::BookingTaken(code));
        }
        if person.is_some()
            && self
                .st
                .bookings
                .values()
                .any(|b| b.person == person && b.day == day && !matches!(b.state, BookingState::Cancelled { .. }))
        {
            return Err(EngineError::AlreadyBooked);
        }
        Ok(EventKind::AppointmentBooked {
            code,
            day,
            zone,
            service,
            slot_start,
            slot_end,
            person,
        })
    }

    /// The call order for window `w`: its own queue (tickets transferred to
    /// it) first; then, zone by zone in its preference order, appointments
    /// that are due, then the priority and normal lanes by the hall's ratio,
    /// with a normal ticket waiting past the bound going first. FIFO within
    /// a lane. Returns the ticket and whether both lanes were contending.
    pub(crate) fn select(&self, w: usize, now: Millis) -> Option<(usize, bool)> {
        if let Some(&t) = self.st.directed[w].front() {
            return Some((t, false));
        }
        let p = &self.cfg.policy;
        let tickets = &self.st.tickets;
        for serve in self.serve_order(w).iter() {
            let zs = &self.st.zones[serve.zone];
            let matches = |t: &&usize| serve.services.contains(tickets[**t].service);
            let lane = |slot: usize| Some(&zs.lanes[slot]).filter(|q| q.has_any(serve.services));
            if let Some(&t) = lane(LANE_APPOINTMENT).and_then(|q| {
                q.iter()
                    .filter(matches)
                    .find(|&&t| tickets[t].due(now, p.appointment_early_ms))
            }) {
                return Some((t, false));
            }
            let pri = lane(LANE_PRIORITY).and_then(|q| q.iter().find(matches).copied());
            let norm = lane(LANE_NORMAL).and_then(|q| q.iter().find(matches).copied());
            match (pri, norm) {
                (Some(pt), Some(nt)) => {
                    let overdue = now.since(tickets[nt].queued_at) >= p.max_normal_wait_ms;
                    let t = if !overdue && zs.priority_run < p.priority_calls {
                        pt
                    } else {
                        nt
                    };
                    return Some((t, true));
                }
                (Some(t), None) | (None, Some(t)) => return Some((t, false)),
                (None, None) => {}
            }
        }
        None
    }

    // ----- apply ---------------------------------------------------------

    /// Applies one event. Checks come before any change, so an event that
    /// does not fit leaves the hall as it was.
    ///
    /// # Errors
    /// The event does not fit the state (a corrupt or foreign event log).
    pub fn apply(&mut self, ev: &Event) -> Result<(), ReplayError> {
        let bad = |problem: String| ReplayError { seq: ev.seq, problem };
        if ev.seq != self.st.seq + 1 {
            return Err(bad(format!("expected sequence {}", self.st.seq + 1)));
        }
        let at = ev.at;
        match ev.kind {
            EventKind::DayStarted { day } => {
                self.apply_day(day);
                self.st.day_seq = ev.seq;
            }
            EventKind::TicketIssued {
                ticket,
                zone,
                service,
                lane,
                channel,
                person,
                booking,
                notice,
            } => {
                let z = self
                    .cfg
                    .zone_index(zone)
                    .ok_or_else(|| bad(format!("unknown zone {zone}")))?;
                let s = self.cfg.zones[z]
                    .service_index(service)
                    .ok_or_else(|| bad(format!("unknown service {service}")))?;
                if self.st.by_number.contains_key(&ticket) {
                    return Err(bad(format!("ticket {ticket} issued twice")));
                }
                if self.st.day.is_none() {
                    return Err(bad("ticket issued before any business day".into()));
                }
                let i = self.st.tickets.len();
                let zs = &mut self.st.zones[z];
                zs.last_seq = zs.last_seq.max(ticket.seq());
                zs.lanes[lane.slot()].join(i, s, Join::Back);
                if let Some(person) = person {
                    self.st.persons.entry((person, z, s)).or_default().insert(i);
                }
                self.st.by_number.insert(ticket, i);
                self.st.tickets.push(Ticket {
                    number: ticket,
                    zone: z,
                    service: s,
                    origin: (z, s),
                    lane,
                    channel,
                    person,
                    issued_at: at,
                    queued_at: at,
                    called_at: None,
                    started_at: None,
                    state: TicketState::Waiting,
                    directed: None,
                    recalls: 0,
                    skips: 0,
                    transfers: 0,
                    history: vec![Step {
                        at,
                        what: StepKind::Issued,
                        window: None,
                    }],
                    rating: None,
                    follow_ups: Vec::new(),
                    notice,
                    near_told: false,
                });
                if notice.is_some() {
                    // Near already when taken: the first notice says so.
                    let n = self.cfg.policy.notice_ahead as usize;
                    if n > 0 && self.people_ahead(i, at) <= n {
                        self.st.tickets[i].near_told = true;
                    } else {
                        self.st.noticed.push(i);
                    }
                }
                // A replay that starts after the booking (a report's) has
                // not seen it: nothing to mark then.
                if let Some(b) = booking.and_then(|c| self.st.bookings.get_mut(&c)) {
                    b.state = BookingState::CheckedIn { ticket, at };
                }
            }
            EventKind::AppointmentBooked {
                code,
                day,
                zone,
                service,
                slot_start,
                slot_end,
                person,
            } => {
                if self.st.bookings.contains_key(&code) {
                    return Err(bad(format!("appointment {code} booked twice")));
                }
                self.st.bookings.insert(
                    code,
                    Booking {
                        code,
                        day,
                        zone,
                        service,
                        slot_start,
                        slot_end,
                        person,
                        booked_at: at,
                        state: BookingState::Booked,
                    },
                );
            }
            EventKind::BookingCancelled { code } => {
                if let Some(b) = self.st.bookings.get_mut(&code) {
                    b.state = BookingState::Cancelled { at };
                }
            }
            EventKind::TicketCalled {
                ticket,
                window,
                how,
                contested,
            } => {
                let (t, w) = self.lookup(ticket, window).map_err(bad)?;
                if self.st.windows[w].current.is_some() || !self.st.windows[w].open {
                    return Err(bad(format!("window {window} cannot take a ticket")));
                }
                let tk = &self.st.tickets[t];
                match (how, tk.state) {
                    (CallKind::CallBack, TicketState::Held { .. }) => {}
                    (CallKind::CallBack, _) => return Err(bad(format!("{ticket} is not held"))),
                    (_, TicketState::Waiting) => {
                        if !self.unqueue(t) {
                            return Err(bad(format!("{ticket} is not in its queue")));
                        }
                    }
                    _ => return Err(bad(format!("{ticket} is not waiting"))),
                }
                let (zone, lane) = (self.st.tickets[t].zone, self.st.tickets[t].lane);
                // A ticket's wait is taken to its first call, as in reports.
                if how != CallKind::CallBack && self.st.tickets[t].called_at.is_none() {
                    let waited = at.since(self.st.tickets[t].issued_at);
                    let recent = &mut self.st.zones[zone].recent_waits;
                    while recent
                        .front()
                        .is_some_and(|(when, _)| at.since(*when) > RECENT_WAITS_MS)
                    {
                        recent.pop_front();
                    }
                    recent.push_back((at, waited));
                }
                if contested {
                    let p = &self.cfg.policy;
                    let zs = &mut self.st.zones[zone];
                    if lane.slot() == LANE_PRIORITY {
                        zs.priority_run += 1;
                        zs.normal_run = 0;
                    } else {
                        zs.normal_run += 1;
                        if zs.normal_run >= p.normal_calls {
                            zs.priority_run = 0;
                            zs.normal_run = 0;
                        }
                    }
                }
                self.unhold(t);
                let tk = &mut self.st.tickets[t];
                tk.state = TicketState::Called { window };
                tk.called_at = Some(at);
                tk.recalls = 0;
                tk.directed = None;
                tk.history.push(Step {
                    at,
                    what: StepKind::Called,
                    window: Some(window),
                });
                self.st.windows[w].current = Some(t);
            }
            EventKind::TicketRecalled { ticket, window, count } => {
                let t = self.in_hand_at(ticket, window, false).map_err(bad)?;
                let tk = &mut self.st.tickets[t];
                tk.recalls = count;
                tk.history.push(Step {
                    at,
                    what: StepKind::Recalled,
                    window: Some(window),
                });
            }
            EventKind::TicketSkipped {
                ticket,
                window,
                no_show,
            } => {
                let t = self.in_hand_at(ticket, window, false).map_err(bad)?;
                self.release_window(t);
                let tk = &mut self.st.tickets[t];
                tk.skips += 1;
                if no_show {
                    tk.state = TicketState::NoShow { window };
                    tk.history.push(Step {
                        at,
                        what: StepKind::NoShow,
                        window: Some(window),
                    });
                    self.release_person(t);
                } else {
                    tk.state = TicketState::Waiting;
                    tk.queued_at = at;
                    tk.history.push(Step {
                        at,
                        what: StepKind::Skipped,
                        window: Some(window),
                    });
                    let places = self.cfg.policy.skip_requeue_places as usize;
                    self.enqueue(t, Join::After(places));
                }
            }
            EventKind::ServiceStarted { ticket, window } => {
                let t = self.in_hand_at(ticket, window, false).map_err(bad)?;
                let tk = &mut self.st.tickets[t];
                tk.state = TicketState::Serving { window };
                tk.started_at = Some(at);
                tk.history.push(Step {
                    at,
                    what: StepKind::Started,
                    window: Some(window),
                });
            }
            EventKind::ServiceFinished { ticket, window } => {
                // From called too, where the hall allows it (the command
                // checks): service then counts from the call.
                let t = self.in_hand_at(ticket, window, false).map_err(bad)?;
                let since = match self.st.tickets[t].state {
                    TicketState::Serving { .. } => self.st.tickets[t].started_at,
                    _ => self.st.tickets[t].called_at,
                };
                let w = self.release_window(t);
                self.st.windows[w].served_today += 1;
                let tk = &mut self.st.tickets[t];
                tk.state = TicketState::Finished { window };
                tk.history.push(Step {
                    at,
                    what: StepKind::Finished,
                    window: Some(window),
                });
                let took = at.since(since.unwrap_or(at));
                let (zone, service) = (tk.zone, tk.service);
                self.st.service_times[zone].record(took);
                self.st.service_means[zone][service].record(took);
                self.release_person(t);
            }
            EventKind::TicketHeld { ticket, window } => {
                let t = self.ticket(ticket).map_err(|e| bad(e.to_string()))?;
                if self.st.tickets[t].state.at_window() != Some(window) {
                    return Err(bad(format!("{ticket} is not in hand at window {window}")));
                }
                let w = self.release_window(t);
                if let Err(pos) = self.st.held[w].binary_search(&t) {
                    self.st.held[w].insert(pos, t);
                }
                let tk = &mut self.st.tickets[t];
                tk.state = TicketState::Held { window };
                tk.history.push(Step {
                    at,
                    what: StepKind::Held,
                    window: Some(window),
                });
            }
            EventKind::TicketTransferred {
                ticket,
                from_window,
                to,
                placement,
            } => {
                let t = self.ticket(ticket).map_err(|e| bad(e.to_string()))?;
                let target = match to {
                    Target::Zone { zone, service } => {
                        let z = self
                            .cfg
                            .zone_index(zone)
                            .ok_or_else(|| bad(format!("unknown zone {zone}")))?;
                        let s = self.cfg.zones[z]
                            .service_index(service)
                            .ok_or_else(|| bad(format!("unknown service {service}")))?;
                        Ok((z, s))
                    }
                    Target::Window { window } => Err(self
                        .cfg
                        .window_index(window)
                        .ok_or_else(|| bad(format!("unknown window {window}")))?),
                };
                let state = self.st.tickets[t].state;
                match from_window {
                    Some(w) if state.at_window() == Some(w) => {
                        self.release_window(t);
                    }
                    None if matches!(state, TicketState::Held { .. }) => self.unhold(t),
                    None if state == TicketState::Waiting => {
                        if !self.unqueue(t) {
                            return Err(bad(format!("{ticket} is not in its queue")));
                        }
                    }
                    _ => return Err(bad(format!("{ticket} cannot be transferred from here"))),
                }
                let tk = &mut self.st.tickets[t];
                match target {
                    Ok((z, s)) => {
                        tk.zone = z;
                        tk.service = s;
                        tk.directed = None;
                    }
                    Err(w) => tk.directed = Some(w),
                }
                tk.state = TicketState::Waiting;
                tk.queued_at = at;
                tk.transfers += 1;
                tk.history.push(Step {
                    at,
                    what: StepKind::Transferred,
                    window: from_window,
                });
                self.enqueue(
                    t,
                    match placement {
                        Placement::Front => Join::Front,
                        Placement::End => Join::Back,
                    },
                );
            }
            EventKind::TicketCancelled { ticket } => {
                let t = self.ticket(ticket).map_err(|e| bad(e.to_string()))?;
                let state = self.st.tickets[t].state;
                match state {
                    s if s.is_terminal() => return Err(bad(format!("{ticket} is already closed"))),
                    TicketState::Waiting if !self.unqueue(t) => {
                        return Err(bad(format!("{ticket} is not in its queue")));
                    }
                    TicketState::Called { .. } | TicketState::Serving { .. } => {
                        self.release_window(t);
                    }
                    TicketState::Held { .. } => self.unhold(t),
                    _ => {}
                }
                let tk = &mut self.st.tickets[t];
                tk.state = TicketState::Cancelled;
                tk.history.push(Step {
                    at,
                    what: StepKind::Cancelled,
                    window: None,
                });
                self.release_person(t);
            }
            EventKind::TicketReactivated { ticket } => {
                let t = self.ticket(ticket).map_err(|e| bad(e.to_string()))?;
                if !matches!(self.st.tickets[t].state, TicketState::NoShow { .. }) {
                    return Err(bad(format!("{ticket} is not a no-show")));
                }
                let tk = &mut self.st.tickets[t];
                tk.state = TicketState::Waiting;
                tk.skips = 0;
                tk.queued_at = at;
                tk.history.push(Step {
                    at,
                    what: StepKind::Reactivated,
                    window: None,
                });
                if tk.notice.is_some() && !tk.near_told {
                    // Back in a queue: watched again, in issue order.
                    if let Err(i) = self.st.noticed.binary_search(&t) {
                        self.st.noticed.insert(i, t);
                    }
                }
                if let Some(person) = tk.person {
                    let key = (person, tk.origin.0, tk.origin.1);
                    self.st.persons.entry(key).or_default().insert(t);
                }
                self.enqueue(t, Join::Back);
            }
            EventKind::WindowOpened {
                window,
                ref staff,
                paused,
            } => {
                let w = self
                    .cfg
                    .window_index(window)
                    .ok_or_else(|| bad(format!("unknown window {window}")))?;
                let ws = &mut self.st.windows[w];
                if ws.open {
                    return Err(bad(format!("window {window} is already open")));
                }
                ws.open = true;
                ws.staff = staff.clone();
                ws.paused = paused.then_some((PauseReason::SignedIn, at));
                ws.opened_at = Some(at);
            }
            EventKind::WindowClosed { window } => {
                let w = self
                    .cfg
                    .window_index(window)
                    .ok_or_else(|| bad(format!("unknown window {window}")))?;
                if self.st.windows[w].current.is_some() {
                    return Err(bad(format!("window {window} has a ticket in hand")));
                }
                let served = self.st.windows[w].served_today;
                self.st.windows[w] = WindowState {
                    served_today: served,
                    ..WindowState::closed()
                };
                self.st.auto_windows.retain(|&x| x != w);
            }
            EventKind::WindowPaused { window, reason, until } => {
                let w = self
                    .cfg
                    .window_index(window)
                    .ok_or_else(|| bad(format!("unknown window {window}")))?;
                self.st.windows[w].paused = Some((reason, at));
                self.st.windows[w].resumes_at = until;
            }
            EventKind::WindowResumed { window } => {
                let w = self
                    .cfg
                    .window_index(window)
                    .ok_or_else(|| bad(format!("unknown window {window}")))?;
                self.st.windows[w].paused = None;
                self.st.windows[w].resumes_at = None;
            }
            EventKind::TicketRated {
                ticket,
                window,
                ref staff,
                level,
                ref comment,
            } => {
                let t = self.ticket(ticket).map_err(|e| bad(e.to_string()))?;
                let tk = &mut self.st.tickets[t];
                if tk.rating.is_some() {
                    return Err(bad(format!("{ticket} is already rated")));
                }
                tk.rating = Some(RatingRecord {
                    level,
                    comment: comment.clone(),
                    window,
                    staff: staff.clone(),
                    at,
                });
            }
            EventKind::AlertRaised {
                alert,
                target,
                value,
                limit,
            } => {
                if self.st.alerts.iter().any(|a| a.kind == alert && a.target == target) {
                    return Err(bad("the alert is already up".into()));
                }
                self.st.alerts.push(Alert {
                    kind: alert,
                    target,
                    raised_at: at,
                    value,
                    limit,
                    acknowledged_by: None,
                    acknowledged_at: None,
                });
            }
            EventKind::AlertAcknowledged { alert, target, ref by } => {
                let a = self
                    .st
                    .alerts
                    .iter_mut()
                    .find(|a| a.kind == alert && a.target == target)
                    .ok_or_else(|| bad("no such alert".into()))?;
                a.acknowledged_by = Some(by.clone());
                a.acknowledged_at = Some(at);
            }
            EventKind::AlertCleared { alert, target } => {
                let before = self.st.alerts.len();
                self.st.alerts.retain(|a| !(a.kind == alert && a.target == target));
                if self.st.alerts.len() == before {
                    return Err(bad("no such alert".into()));
                }
            }
            EventKind::FollowUpRecorded { ticket, step, ref note } => {
                let t = self.ticket(ticket).map_err(|e| bad(e.to_string()))?;
                self.st.tickets[t].follow_ups.push(FollowUp {
                    step,
                    note: note.clone(),
                    at,
                });
            }
            EventKind::WindowServesFirst { window, zone } => {
                let w = self
                    .cfg
                    .window_index(window)
                    .ok_or_else(|| bad(format!("unknown window {window}")))?;
                let z = match zone {
                    Some(z) => Some(self.cfg.zone_index(z).ok_or_else(|| bad(format!("unknown zone {z}")))?),
                    None => None,
                };
                self.st.windows[w].first_zone = z;
            }
            EventKind::AutoCallChanged { window, on } => {
                let w = self
                    .cfg
                    .window_index(window)
                    .ok_or_else(|| bad(format!("unknown window {window}")))?;
                self.st.windows[w].auto_call = on;
                self.st.auto_windows.retain(|&x| x != w);
                if on {
                    let pos = self.st.auto_windows.partition_point(|&x| x < w);
                    self.st.auto_windows.insert(pos, w);
                }
            }
            EventKind::DevicePaired {
                ref device,
                ref account,
                ref name,
            } => self.apply_pair(device, account, name, at).map_err(bad)?,
            EventKind::DeviceRevoked { ref device } => self.apply_revoke(device).map_err(bad)?,
            EventKind::SignedOut { ref user } => {
                self.st.signed_out.insert(user.clone(), at);
            }
            EventKind::Audited(_) => {}
            EventKind::TicketNearing { ticket, .. } => self.apply_nearing(ticket).map_err(bad)?,
            EventKind::OutboxProgressed { .. } | EventKind::OutboxSetAside { .. } | EventKind::OutboxResent { .. } => {
                self.apply_outbox(&ev.kind).map_err(bad)?;
            }
            EventKind::ConfigChanged {
                version,
                ref spec,
                ref text,
                ref by,
                ref reason,
            } => {
                if version != self.st.config.version + 1 {
                    return Err(bad(format!(
                        "configuration version {version} after {}",
                        self.st.config.version
                    )));
                }
                let note = ConfigNote {
                    version,
                    seq: ev.seq,
                    at,
                    day: self.st.day.as_ref().map(|d| d.date),
                    by: by.clone(),
                    reason: reason.clone(),
                };
                self.apply_config(&spec.0, note, text).map_err(bad)?;
            }
            EventKind::AnswerKept {
                ref key,
                ref fingerprint,
                status,
                ref body,
            } => {
                if self.st.answers.contains_key(key) {
                    return Err(bad(format!("a second answer for key {key:?}")));
                }
                let kept = KeptAnswer {
                    fingerprint: fingerprint.clone(),
                    status,
                    body: body.clone(),
                    seq: ev.seq,
                };
                self.st.answers.insert(key.clone(), kept);
            }
        }
        self.st.seq = ev.seq;
        if !self.st.noticed.is_empty() {
            self.watch_noticed();
        }
        match ev.kind {
            EventKind::DayStarted { .. } => self.recent.clear(),
            EventKind::TicketCalled { ticket, window, .. } => {
                if let Some(&t) = self.st.by_number.get(&ticket) {
                    self.est.called(ticket, at.since(self.st.tickets[t].issued_at));
                }
                self.recent.push(CallMade {
                    at,
                    ticket,
                    window,
                    recall: 0,
                });
            }
            EventKind::TicketRecalled { ticket, window, count } => self.recent.push(CallMade {
                at,
                ticket,
                window,
                recall: count,
            }),
            _ => {}
        }
        Ok(())
    }

    fn apply_day(&mut self, date: jiff::civil::Date) {
        let keep = std::mem::take(&mut self.st.service_times);
        let means = std::mem::take(&mut self.st.service_means);
        let mut bookings = std::mem::take(&mut self.st.bookings);
        let devices = std::mem::take(&mut self.st.devices);
        let signed_out = std::mem::take(&mut self.st.signed_out);
        let config = std::mem::take(&mut self.st.config);
        let outbox = std::mem::take(&mut self.st.outbox);
        let seq = self.st.seq;
        let est = std::mem::take(&mut self.est);
        *self = Hall::new(self.cfg.clone());
        self.est.errors_from(&est);
        self.st.seq = seq;
        self.st.service_times = keep;
        self.st.service_means = means;
        self.st.devices = devices;
        self.st.signed_out = signed_out;
        self.st.config = config;
        self.st.outbox = outbox;
        self.st.day = Some(Day::new(&self.cfg, date));
        // Yesterday's appointments nobody checked in are missed; old ones go.
        let oldest = date.checked_sub(jiff::Span::new().days(KEEP_DAYS)).unwrap_or(date);
        bookings.retain(|_, b| b.day >= oldest);
        for b in bookings.values_mut() {
            if b.day < date && b.state == BookingState::Booked {
                b.state = BookingState::Missed;
            }
        }
        self.st.bookings = bookings;
    }

    fn lookup(&self, ticket: TicketNumber, window: WindowNo) -> Result<(usize, usize), String> {
        let t = self.ticket(ticket).map_err(|e| e.to_string())?;
        let w = self.window(window).map_err(|e| e.to_string())?;
        Ok((t, w))
    }

    /// The ticket, checked to be in hand at `window` (and serving, if asked).
    fn in_hand_at(&self, ticket: TicketNumber, window: WindowNo, serving: bool) -> Result<usize, String> {
        let (t, _) = self.lookup(ticket, window)?;
        let ok = match self.st.tickets[t].state {
            TicketState::Called { window: w } => !serving && w == window,
            TicketState::Serving { window: w } => w == window,
            _ => false,
        };
        if ok {
            Ok(t)
        } else {
            Err(format!("{ticket} is not in that state at window {window}"))
        }
    }

    /// Puts a waiting ticket in its queue: its window's, if it was sent to
    /// one, else its lane's.
    fn enqueue(&mut self, t: usize, at: Join) {
        let tk = &self.st.tickets[t];
        match tk.directed {
            Some(w) => at.put(&mut self.st.directed[w], t),
            None => self.st.zones[tk.zone].lanes[tk.lane.slot()].join(t, tk.service, at),
        }
    }

    /// Takes a waiting ticket out of its queue; false if it was not there.
    fn unqueue(&mut self, t: usize) -> bool {
        let tk = &self.st.tickets[t];
        match tk.directed {
            Some(w) => take_out(&mut self.st.directed[w], t),
            None => self.st.zones[tk.zone].lanes[tk.lane.slot()].leave(t, tk.service),
        }
    }

    /// Frees the window holding ticket `t` (callers have checked that one
    /// does); returns the window's index.
    fn release_window(&mut self, t: usize) -> usize {
        let number = self.st.tickets[t].state.at_window();
        let w = number.and_then(|n| self.cfg.window_index(n)).unwrap_or_default();
        debug_assert_eq!(self.st.windows[w].current, Some(t));
        self.st.windows[w].current = None;
        w
    }

    /// Phone tickets waiting in zone `z` (every zone for `None`).
    fn waiting_from_phones(&self, z: Option<usize>) -> Vec<TicketNumber> {
        let zones = match z {
            Some(z) => z..z + 1,
            None => 0..self.st.zones.len(),
        };
        self.st.zones[zones]
            .iter()
            .flat_map(|zs| zs.lanes.iter().flatten())
            .map(|&t| &self.st.tickets[t])
            .filter(|t| t.channel == Channel::Mobile)
            .map(|t| t.number)
            .collect()
    }

    /// Takes a held ticket off its window's list (before it leaves `Held`).
    fn unhold(&mut self, t: usize) {
        if let TicketState::Held { window } = self.st.tickets[t].state
            && let Some(w) = self.cfg.window_index(window)
            && let Ok(pos) = self.st.held[w].binary_search(&t)
        {
            self.st.held[w].remove(pos);
        }
    }

    fn release_person(&mut self, t: usize) {
        let tk = &self.st.tickets[t];
        if let Some(person) = tk.person {
            let key = (person, tk.origin.0, tk.origin.1);
            if let Some(set) = self.st.persons.get_mut(&key) {
                set.remove(&t);
                if set.is_empty() {
                    self.st.persons.remove(&key);
                }
            }
        }
    }
}

/// Per zone, per service, no service time measured yet.
pub(super) fn fresh_service_means(cfg: &HallSpec) -> Vec<Vec<ServiceTimes>> {
    cfg.zones
        .iter()
        .map(|z| vec![ServiceTimes::new(z.default_service_secs); z.services.len()])
        .collect()
}
