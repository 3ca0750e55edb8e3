//! One simulated day, played through the engine on a virtual clock.
//!
//! Citizens arrive by the model's curve and take tickets; each window is a
//! clerk who opens (some late), calls the next ticket whenever free,
//! waits for the citizen to walk up (or skips one who left), serves for a
//! log-normal time, pauses for lunch and perhaps a break, and after the
//! ticket hours serves whoever still waits. For every ticket the estimate
//! the engine showed is kept at issue and when 10 and 3 people were
//! first ahead, with the wait the ticket then had until its first call.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use hallcall::engine::{AdviceAction, Channel};
use hallcall::engine::{
    Command, Event, EventKind, Hall as Engine, Issue, LaneRequest, Millis, PauseReason, TicketNumber, TicketState,
    WindowNo,
};
use rand::{Rng, SeedableRng};

use crate::model::{Hall, arrival_offset, between, log_normal, midnight};

/// When a ticket's estimate was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Point {
    Issue,
    Ahead10,
    Ahead3,
}

impl Point {
    pub const ALL: [Point; 3] = [Point::Issue, Point::Ahead10, Point::Ahead3];

    pub fn name(self) -> &'static str {
        match self {
            Point::Issue => "at issue",
            Point::Ahead10 => "10 ahead",
            Point::Ahead3 => "3 ahead",
        }
    }
}

/// The estimates of one ticket at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    pub point: Point,
    pub at: Millis,
    pub current_ms: i64,
    pub forecast_ms: Option<i64>,
    /// The range the views showed with the forecast.
    pub range_ms: Option<(i64, i64)>,
}

/// What the views show of `ticket` now, as the server shows it: after the
/// forecast is made again by the server's rules (after a change, within
/// the gaps a big hall keeps). The server tries after every change, this
/// only when it reads, so in a big hall the two may fall on slightly
/// different moments within a gap.
fn reading(engine: &mut Engine, ticket: TicketNumber, point: Point, now: Millis) -> Option<Reading> {
    engine.refresh_estimates(now, hallcall::engine::REFRESH_GAP_MS);
    let v = engine.ticket_view(ticket, now)?;
    if v.state != TicketState::Waiting {
        return None;
    }
    Some(Reading {
        point,
        at: now,
        current_ms: engine.naive_wait_ms(ticket, now).unwrap_or(0),
        forecast_ms: v.wait_range.map(|r| r.expected_ms),
        range_ms: v.wait_range.map(|r| (r.low_ms, r.high_ms)),
    })
}

/// What a day recorded for one ticket.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ticket: TicketNumber,
    pub zone: usize,
    pub priority: bool,
    /// Checked in for a booking (the appointment lane, if on time).
    pub appointment: bool,
    /// The citizen left before the call (a no-show).
    pub gone: bool,
    /// Estimates read: when, and in ms the current estimator's and the
    /// forecast's (`None`: no open window will reach it today).
    pub estimates: Vec<Reading>,
    /// When it was issued and first called (none: never called).
    pub issued: Millis,
    pub called: Option<Millis>,
    /// The model reference's estimate at issue, when played for (see
    /// [`Play::reference`]).
    pub reference_ms: Option<i64>,
}

impl Outcome {
    /// The wait still ahead when an estimate was read, once called.
    pub fn actual_from(&self, read: Millis) -> Option<i64> {
        self.called.map(|c| c.since(read))
    }
}

/// What a day did, in all.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals {
    pub issued: usize,
    pub served: usize,
    pub no_shows: usize,
    pub never_called: usize,
    /// 潮汐窗口 changes made on advice.
    pub advice_followed: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Arrive {
        zone: usize,
        service: usize,
        priority: bool,
        gone: bool,
        /// Checks in this booking (by its number) rather than taking a ticket.
        booking: Option<u32>,
    },
    /// A citizen books a slot (the morning before the hall opens).
    Book {
        booking: u32,
        zone: usize,
        service: usize,
        slot_start: i64,
    },
    Open(usize),
    /// The window may call (it became free, or someone arrived).
    Free(usize),
    /// The called citizen reached the window.
    ShowUp(usize),
    /// The called citizen is not coming: skip.
    GiveUp(usize),
    Done(usize),
    /// A break until the time given, once the citizen in hand is done.
    Break(usize, i64),
    /// Lunch is due: taken once nobody this window serves is waiting.
    LunchDue(usize, i64),
    /// Lunch now, whoever waits (after the citizen in hand).
    LunchLatest(usize),
    Resume(usize),
    /// The supervisor reads the board's 潮汐窗口 advice and follows it.
    Advise,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Desk {
    #[default]
    Shut,
    Idle,
    /// Calling or serving someone.
    Busy,
    Paused,
}

#[derive(Debug, Default, Clone, Copy)]
struct Clerk {
    desk: Desk,
    /// A pause to take once the citizen in hand is done: until when.
    pause_after: Option<(PauseReason, i64)>,
    /// Lunch not yet taken: until when (staff serve the morning's queue
    /// first, as halls do, but not past 12:45).
    lunch: Option<i64>,
}

/// How often a supervisor who follows the advice reads it.
pub const ADVICE_EVERY_MS: i64 = 10 * 60_000;

/// How a day is played beside the hall and its draws.
#[derive(Debug, Clone, Copy, Default)]
pub struct Play {
    /// A supervisor follows the 潮汐窗口 advice every [`ADVICE_EVERY_MS`]
    /// (for windows already open: there is no spare staff to open another).
    pub advised: bool,
    /// For each ticket at issue, the rest of the day is played this many
    /// times more from that moment with what an estimator cannot know
    /// drawn afresh from the day's model (see `forget_the_future`), and
    /// the median of the waits it then had is kept: the estimate of one
    /// that knows the simulator's model exactly, a reference for how far
    /// a wait can be foreseen at all. 0 for none.
    pub reference: usize,
}

/// Plays one day of `hall` on `date`, with its own draws from `rng`.
pub fn run(hall: &Hall, date: jiff::civil::Date, rng: &mut impl Rng) -> (Vec<Outcome>, Totals) {
    run_with(hall, date, rng, Play::default())
}

/// As [`run`], played as `play` says.
pub fn run_with(hall: &Hall, date: jiff::civil::Date, rng: &mut impl Rng, play: Play) -> (Vec<Outcome>, Totals) {
    let a = &hall.assumptions;
    let spec = &hall.spec;
    let midnight = midnight(spec, date);
    let at = |h: i64, m: i64| midnight.plus_ms((h * 60 + m) * 60_000);
    let mut sim = Sim {
        engine: Engine::new(spec.clone()),
        queue: BinaryHeap::new(),
        order: 0,
        clerks: vec![Clerk::default(); spec.windows.len()],
        outcomes: Vec::new(),
        index: HashMap::new(),
        totals: Totals::default(),
        bookings: 0,
        reference: play.reference,
        watch: None,
        began: vec![None; spec.windows.len()],
        broke: vec![false; spec.windows.len()],
        midnight,
    };
    // Citizens.
    for (zone, mean) in hall.daily_arrivals().into_iter().enumerate() {
        let n = (mean * rng.random_range(0.85..1.15)).round() as usize;
        for _ in 0..n {
            let Citizen {
                service,
                priority,
                gone,
                mut when,
                books,
            } = Citizen::draw(hall, zone, midnight, rng);
            let mut booking = None;
            if books {
                // The half-hour slot of the arrival, checked in up to 15
                // minutes before it (in its first 10 if the zone is shut).
                let n = sim.bookings;
                sim.bookings += 1;
                let slot_start = midnight.plus_ms(when.since(midnight) / SLOT_MS * SLOT_MS);
                sim.push(
                    at(8, 0),
                    Ev::Book {
                        booking: n,
                        zone,
                        service,
                        slot_start: slot_start.0,
                    },
                );
                if rng.random_bool(a.appointment_no_show) {
                    continue;
                }
                let early = slot_start.plus_ms(-between(rng, (0, 15), 60_000));
                when = if zone_open_at(spec, zone, midnight, early) {
                    early
                } else {
                    slot_start.plus_ms(between(rng, (0, 10), 60_000))
                };
                booking = Some(n);
            }
            sim.push(
                when,
                Ev::Arrive {
                    zone,
                    service,
                    priority,
                    gone,
                    booking,
                },
            );
        }
    }
    // Clerks.
    for w in 0..spec.windows.len() {
        sim.push(open_at(hall, midnight, rng), Ev::Open(w));
        let back = at(14, 0).plus_ms(between(rng, a.lunch_resume_minutes, 60_000));
        sim.push(at(12, 0), Ev::LunchDue(w, back.0));
        sim.push(at(12, 45), Ev::LunchLatest(w));
        if let Some((from, until)) = break_at(hall, midnight, rng) {
            sim.push(from, Ev::Break(w, until.0));
        }
    }
    if play.advised {
        let mut at_ = at(8, 30);
        while at_ < at(17, 30) {
            sim.push(at_, Ev::Advise);
            at_ = at_.plus_ms(ADVICE_EVERY_MS);
        }
    }
    sim.play(hall, rng);
    let mut totals = sim.totals.clone();
    totals.never_called = sim.outcomes.iter().filter(|o| o.called.is_none()).count();
    (sim.outcomes, totals)
}

/// One citizen of a day, as drawn.
struct Citizen {
    service: usize,
    priority: bool,
    /// Leaves before the call.
    gone: bool,
    when: Millis,
    /// Books the slot of `when` (none in the priority lane).
    books: bool,
}

impl Citizen {
    fn draw(hall: &Hall, zone: usize, midnight: Millis, rng: &mut impl Rng) -> Citizen {
        let (spec, a) = (&hall.spec, &hall.assumptions);
        let service = rng.random_range(0..spec.zones[zone].services.len());
        let priority = !spec.categories.is_empty() && rng.random_bool(a.priority_share);
        let gone = rng.random_bool(a.no_show_share);
        let when = midnight.plus_ms(arrival_offset(rng));
        let books = !priority && rng.random_bool(a.appointment_share);
        Citizen {
            service,
            priority,
            gone,
            when,
            books,
        }
    }
}

#[derive(Clone)]
struct Sim {
    engine: Engine,
    queue: BinaryHeap<Reverse<(i64, u64, Ev)>>,
    /// Ties in time go in the order they were scheduled.
    order: u64,
    clerks: Vec<Clerk>,
    /// In issue order.
    outcomes: Vec<Outcome>,
    /// Each ticket's place in `outcomes`.
    index: HashMap<TicketNumber, usize>,
    /// Bookings made so far (their numbers).
    bookings: u32,
    totals: Totals,
    /// Replays per ticket for the model reference.
    reference: usize,
    /// In a replay: the ticket whose first call ends it, and that call.
    watch: Option<(TicketNumber, Option<Millis>)>,
    /// Per window, whether its break came (taken, or missed while away).
    broke: Vec<bool>,
    /// Per window, the service under way: since when, zone and service.
    began: Vec<Option<(Millis, usize, usize)>>,
    midnight: Millis,
}

impl Sim {
    fn play(&mut self, hall: &Hall, rng: &mut impl Rng) {
        while let Some(Reverse((now, _, ev))) = self.queue.pop() {
            let now = Millis(now);
            self.handle(hall, ev, now, rng);
            match self.watch {
                Some((_, Some(_))) => return,
                Some(_) => {}
                None => self.read_estimates(now),
            }
        }
    }

    /// What a replay may not know: when the services under way will end
    /// (drawn again, given how long each has run), when the windows still
    /// shut will open, which will take a break and when, who of those
    /// waiting has left, and who else will walk in (all drawn again from
    /// the day's model; bookings stay, as the engine knows them, and so
    /// does lunch, the hall's custom).
    fn forget_the_future(&mut self, hall: &Hall, now: Millis, rng: &mut impl Rng) {
        let a = &hall.assumptions;
        let midnight = self.midnight;
        let mut kept = BinaryHeap::with_capacity(self.queue.len());
        for Reverse((at, order, ev)) in std::mem::take(&mut self.queue).into_vec() {
            match ev {
                Ev::Arrive { booking: None, .. } | Ev::Break(..) => {}
                // A window not yet open: when, from the model, given it
                // is still shut.
                Ev::Open(_) => {
                    let opens = (0..100)
                        .map(|_| open_at(hall, midnight, rng))
                        .find(|t| *t > now)
                        .unwrap_or(Millis(at));
                    kept.push(Reverse((opens.0, order, ev)));
                }
                Ev::Done(w) => {
                    let at = match self.began[w] {
                        Some((began, zone, service)) => {
                            let mean = hall.service_ms[zone][service];
                            let took = (0..100)
                                .map(|_| service_ms(rng, mean, a.service_sigma))
                                .find(|&t| began.0 + t > now.0)
                                .unwrap_or(now.since(began) + 30_000);
                            began.0 + took
                        }
                        None => at,
                    };
                    kept.push(Reverse((at, order, ev)));
                }
                _ => kept.push(Reverse((at, order, ev))),
            }
        }
        self.queue = kept;
        // Nor which windows will take a break, nor when, past those begun.
        for w in 0..self.clerks.len() {
            if !self.broke[w] {
                if let Some((from, until)) = (0..100)
                    .map(|_| break_at(hall, midnight, rng))
                    .find(|b| b.is_none_or(|(f, _)| f > now))
                    .flatten()
                {
                    self.push(from, Ev::Break(w, until.0));
                }
            }
        }
        // Nor who of those waiting has left.
        for o in self.outcomes.iter_mut().filter(|o| o.called.is_none()) {
            o.gone = rng.random_bool(a.no_show_share);
        }
        for (zone, mean) in hall.daily_arrivals().into_iter().enumerate() {
            let n = (mean * rng.random_range(0.85..1.15)).round() as usize;
            for _ in 0..n {
                let c = Citizen::draw(hall, zone, midnight, rng);
                if c.when > now && !c.books {
                    let ev = Ev::Arrive {
                        zone,
                        service: c.service,
                        priority: c.priority,
                        gone: c.gone,
                        booking: None,
                    };
                    self.push(c.when, ev);
                }
            }
        }
    }

    /// The median wait from `now` of `ticket` over the replays of the
    /// rest of the day (see [`Play::reference`]).
    fn reference_ms(&self, hall: &Hall, ticket: TicketNumber, now: Millis) -> Option<i64> {
        let mut waits: Vec<i64> = (0..self.reference)
            .filter_map(|k| {
                let mut replay = self.clone();
                replay.reference = 0;
                replay.watch = Some((ticket, None));
                let seed = (self.outcomes.len() as u64) << 16 ^ (now.0 as u64) << 24 ^ k as u64;
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                replay.forget_the_future(hall, now, &mut rng);
                // As the arrival does once it has been read.
                replay.wake_idle(now);
                replay.play(hall, &mut rng);
                replay.watch.and_then(|(_, called)| called).map(|c| c.since(now))
            })
            .collect();
        waits.sort_unstable();
        waits.get(waits.len() / 2).copied()
    }

    fn push(&mut self, at: Millis, ev: Ev) {
        self.order += 1;
        self.queue.push(Reverse((at.0, self.order, ev)));
    }

    fn number(&self, w: usize) -> WindowNo {
        self.engine.spec().windows[w].number
    }

    fn exec(&mut self, cmd: Command, now: Millis) -> Option<Vec<Event>> {
        self.engine.execute(&cmd, now).ok()
    }

    fn wake_idle(&mut self, now: Millis) {
        for w in 0..self.clerks.len() {
            if self.clerks[w].desk == Desk::Idle {
                self.push(now, Ev::Free(w));
            }
        }
    }

    fn handle(&mut self, hall: &Hall, ev: Ev, now: Millis, rng: &mut impl Rng) {
        let a = &hall.assumptions;
        match ev {
            Ev::Book {
                booking,
                zone,
                service,
                slot_start,
            } => {
                let spec = self.engine.spec().clone();
                let _ = self.exec(
                    Command::Book {
                        code: booking_code(booking),
                        zone: spec.zones[zone].id,
                        service: spec.zones[zone].services[service].id,
                        slot_start: Millis(slot_start),
                        slot_end: Millis(slot_start + SLOT_MS),
                        person: None,
                    },
                    now,
                );
            }
            Ev::Arrive {
                zone,
                service,
                priority,
                gone,
                booking,
            } => {
                let spec = self.engine.spec().clone();
                let lane = if priority {
                    LaneRequest::Priority {
                        category: spec.categories[0].id,
                    }
                } else {
                    LaneRequest::Normal
                };
                let issue = Issue {
                    lane,
                    ..Issue::normal(
                        spec.zones[zone].id,
                        spec.zones[zone].services[service].id,
                        Channel::Kiosk,
                    )
                };
                let cmd = match booking {
                    Some(n) => Command::CheckIn {
                        code: booking_code(n),
                        channel: Channel::Kiosk,
                        number: None,
                    },
                    None => Command::Issue(issue),
                };
                let Some(events) = self.exec(cmd, now) else {
                    return; // the zone is closed then
                };
                let Some(ticket) = events.iter().find_map(|e| match e.kind {
                    EventKind::TicketIssued { ticket, .. } => Some(ticket),
                    _ => None,
                }) else {
                    return;
                };
                self.totals.issued += 1;
                let read = match self.watch {
                    Some(_) => None,
                    None => reading(&mut self.engine, ticket, Point::Issue, now),
                };
                let reference_ms = (self.reference > 0)
                    .then(|| self.reference_ms(hall, ticket, now))
                    .flatten();
                self.index.insert(ticket, self.outcomes.len());
                self.outcomes.push(Outcome {
                    ticket,
                    zone,
                    priority,
                    appointment: booking.is_some(),
                    gone,
                    estimates: read.into_iter().collect(),
                    issued: now,
                    called: None,
                    reference_ms,
                });
                self.wake_idle(now);
            }
            Ev::Open(w) => {
                let n = self.number(w);
                if self.exec(Command::Open { window: n, staff: None }, now).is_some() {
                    // Windows may open paused (staff sign in, then start).
                    let _ = self.exec(Command::Resume { window: n }, now);
                    self.clerks[w].desk = Desk::Idle;
                    self.push(now, Ev::Free(w));
                }
            }
            Ev::Free(w) => {
                if self.clerks[w].desk != Desk::Idle {
                    return;
                }
                if let Some((reason, until)) = self.clerks[w].pause_after.take() {
                    self.pause(w, reason, until, now);
                    return;
                }
                let n = self.number(w);
                let Some(events) = self.exec(Command::CallNext { window: n }, now) else {
                    // Nobody this window serves is waiting: lunch, if due.
                    if let Some(until) = self.clerks[w].lunch.take() {
                        self.pause(w, PauseReason::Lunch, until, now);
                    }
                    return;
                };
                let Some(ticket) = events.iter().find_map(|e| match e.kind {
                    EventKind::TicketCalled { ticket, .. } => Some(ticket),
                    _ => None,
                }) else {
                    return;
                };
                if let Some((watched, called)) = &mut self.watch {
                    if *watched == ticket {
                        called.get_or_insert(now);
                    }
                }
                let o = self.index.get(&ticket).map(|&i| &mut self.outcomes[i]);
                let gone = o.is_some_and(|o| {
                    o.called.get_or_insert(now);
                    o.gone
                });
                self.clerks[w].desk = Desk::Busy;
                if gone {
                    self.push(now.plus_ms(i64::from(a.no_show_wait_secs) * 1000), Ev::GiveUp(w));
                } else {
                    self.push(now.plus_ms(between(rng, a.walk_secs, 1000)), Ev::ShowUp(w));
                }
            }
            Ev::GiveUp(w) => {
                let n = self.number(w);
                if let Some(events) = self.exec(Command::Skip { window: n }, now) {
                    if events
                        .iter()
                        .any(|e| matches!(e.kind, EventKind::TicketSkipped { no_show: true, .. }))
                    {
                        self.totals.no_shows += 1;
                    }
                }
                self.clerks[w].desk = Desk::Idle;
                self.push(now, Ev::Free(w));
            }
            Ev::ShowUp(w) => {
                let n = self.number(w);
                let Some(ticket) = self.engine.window_view(w).current else {
                    return;
                };
                let _ = self.exec(Command::Start { window: n }, now);
                let (zone, service) = self
                    .engine
                    .ticket_view(ticket, now)
                    .and_then(|v| {
                        let spec = self.engine.spec();
                        let z = spec.zone_index(v.zone)?;
                        let s = spec.zones[z].service_index(v.service)?;
                        Some((z, s))
                    })
                    .unwrap_or((0, 0));
                self.began[w] = Some((now, zone, service));
                let took = service_ms(rng, hall.service_ms[zone][service], a.service_sigma);
                self.push(now.plus_ms(took), Ev::Done(w));
            }
            Ev::Done(w) => {
                self.began[w] = None;
                let n = self.number(w);
                if self.exec(Command::Finish { window: n }, now).is_some() {
                    self.totals.served += 1;
                }
                self.clerks[w].desk = Desk::Idle;
                self.push(now, Ev::Free(w));
            }
            Ev::Break(w, until) => match self.clerks[w].desk {
                _ if std::mem::replace(&mut self.broke[w], true) => {}
                Desk::Idle => self.pause(w, PauseReason::Break, until, now),
                Desk::Busy => self.clerks[w].pause_after = Some((PauseReason::Break, until)),
                // Not open yet (late), or away: the break is its absence.
                Desk::Shut | Desk::Paused => {}
            },
            Ev::LunchDue(w, until) => {
                if matches!(self.clerks[w].desk, Desk::Idle | Desk::Busy) {
                    self.clerks[w].lunch = Some(until);
                    self.push(now, Ev::Free(w));
                }
            }
            Ev::LunchLatest(w) => {
                if let Some(until) = self.clerks[w].lunch.take() {
                    match self.clerks[w].desk {
                        Desk::Idle => self.pause(w, PauseReason::Lunch, until, now),
                        Desk::Busy => self.clerks[w].pause_after = Some((PauseReason::Lunch, until)),
                        Desk::Shut | Desk::Paused => {}
                    }
                }
            }
            Ev::Advise => {
                for a in self.engine.advice(now) {
                    let zone = match a.action {
                        AdviceAction::ServeFirst => Some(a.zone),
                        AdviceAction::Restore => None,
                        AdviceAction::OpenAndServeFirst => continue,
                    };
                    if self.exec(Command::ServeFirst { window: a.window, zone }, now).is_some() {
                        self.totals.advice_followed += 1;
                        self.wake_idle(now);
                    }
                }
            }
            Ev::Resume(w) => {
                if self.clerks[w].desk == Desk::Paused {
                    let _ = self.exec(Command::Resume { window: self.number(w) }, now);
                    self.clerks[w].desk = Desk::Idle;
                    self.push(now, Ev::Free(w));
                }
            }
        }
    }

    fn pause(&mut self, w: usize, reason: PauseReason, until: i64, now: Millis) {
        let minutes = ((until - now.0).max(60_000) / 60_000).min(480) as u16;
        let n = self.number(w);
        if self
            .exec(
                Command::Pause {
                    window: n,
                    reason,
                    minutes: Some(minutes),
                },
                now,
            )
            .is_some()
        {
            self.clerks[w].desk = Desk::Paused;
            self.push(Millis(until.max(now.0)), Ev::Resume(w));
        }
    }

    /// Reads the estimates of every ticket still waiting for its first
    /// call that has just come to 10 or 3 people ahead.
    fn read_estimates(&mut self, now: Millis) {
        for o in self.outcomes.iter_mut().filter(|o| o.called.is_none()) {
            let have = |o: &Outcome, p: Point| o.estimates.iter().any(|e| e.point == p);
            if have(o, Point::Ahead3) {
                continue;
            }
            let Some(v) = self.engine.ticket_view(o.ticket, now) else {
                continue;
            };
            if v.state != TicketState::Waiting {
                continue;
            }
            for (p, n) in [(Point::Ahead10, 10), (Point::Ahead3, 3)] {
                if v.people_ahead <= n && !have(o, p) {
                    o.estimates.extend(reading(&mut self.engine, o.ticket, p, now));
                }
            }
        }
    }
}

/// When a window opens: at 08:30 within two minutes, or late.
fn open_at(hall: &Hall, midnight: Millis, rng: &mut impl Rng) -> Millis {
    let a = &hall.assumptions;
    let late = if rng.random_bool(a.late_share) {
        between(rng, a.late_minutes, 60_000)
    } else {
        0
    };
    midnight.plus_ms(8 * 3_600_000 + 30 * 60_000 + late + between(rng, (0, 120), 1000))
}

/// A window's afternoon break, if it takes one: from and until.
fn break_at(hall: &Hall, midnight: Millis, rng: &mut impl Rng) -> Option<(Millis, Millis)> {
    let a = &hall.assumptions;
    rng.random_bool(a.break_share).then(|| {
        let from = midnight.plus_ms(15 * 3_600_000 + between(rng, (0, 90), 60_000));
        (from, from.plus_ms(between(rng, a.break_minutes, 60_000)))
    })
}

/// How long one service takes: log-normal around the service's mean, at
/// least half a minute.
fn service_ms(rng: &mut impl Rng, mean: f64, sigma: f64) -> i64 {
    (log_normal(rng, mean, sigma) as i64).max(30_000)
}

/// Appointment slots are half an hour.
const SLOT_MS: i64 = 30 * 60_000;

fn booking_code(n: u32) -> hallcall::engine::Code {
    hallcall::engine::Code::new(&format!("sim{n:05}")).expect("a booking code")
}

/// Whether zone `z` issues at `t` (its hours, on the day of `midnight`).
fn zone_open_at(spec: &hallcall::engine::HallSpec, z: usize, midnight: Millis, t: Millis) -> bool {
    let minute = t.since(midnight) / 60_000;
    let of = |time: jiff::civil::Time| i64::from(time.hour()) * 60 + i64::from(time.minute());
    let hours = &spec.zones[z].hours;
    hours.intervals.is_empty() || hours.intervals.iter().any(|&(a, b)| (of(a)..of(b)).contains(&minute))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn sample() -> Hall {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/hall.toml");
        let cfg = hallcall::config::load(&path).expect("the sample configuration");
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        Hall::new(
            cfg.halls[0].spec.clone(),
            crate::model::Assumptions::default(),
            &mut rng,
        )
    }

    #[test]
    fn a_day_serves_everyone_it_issues_to_and_repeats_from_its_seed() {
        let hall = sample();
        let date = jiff::civil::date(2026, 11, 24);
        let (outcomes, totals) = run(&hall, date, &mut rand::rngs::StdRng::seed_from_u64(9));
        assert!(totals.issued > 100, "{totals:?}");
        assert_eq!(
            totals.never_called, 0,
            "the windows serve until the queue is empty: {totals:?}"
        );
        assert_eq!(totals.served + totals.no_shows, totals.issued, "{totals:?}");
        assert!(outcomes.iter().all(|o| o.called.is_some_and(|c| c >= o.issued)));
        assert!(
            outcomes
                .iter()
                .any(|o| o.estimates.iter().any(|e| e.point == Point::Ahead3))
        );
        let (again, totals2) = run(&hall, date, &mut rand::rngs::StdRng::seed_from_u64(9));
        assert_eq!(totals2, totals);
        let waits = |o: &[Outcome]| o.iter().map(|x| x.called).collect::<Vec<_>>();
        assert_eq!(waits(&again), waits(&outcomes), "the same seed, the same day");
    }

    #[test]
    fn the_model_reference_replays_each_ticket_without_changing_the_day() {
        use crate::accuracy::{Estimator, group, summarize};
        let hall = sample();
        let date = jiff::civil::date(2026, 11, 24);
        let (plain, _) = run(&hall, date, &mut rand::rngs::StdRng::seed_from_u64(5));
        let play = Play {
            reference: 5,
            ..Play::default()
        };
        let (referred, _) = run_with(&hall, date, &mut rand::rngs::StdRng::seed_from_u64(5), play);
        let calls = |o: &[Outcome]| o.iter().map(|x| (x.ticket, x.called)).collect::<Vec<_>>();
        assert_eq!(calls(&referred), calls(&plain), "replays draw from their own seeds");
        assert!(plain.iter().all(|o| o.reference_ms.is_none()));
        assert!(
            referred.iter().all(|o| o.reference_ms.is_some()),
            "every ticket is reached"
        );
        // Knowing the model, it is closer than the estimate before the
        // forecast; and unbiased, so it is no constant.
        let g = group(&referred);
        let at_issue = |e: Estimator| summarize(&g.samples[&(None, None, Point::Issue, e)]);
        let (current, reference) = (at_issue(Estimator::Current), at_issue(Estimator::Reference));
        assert!(
            reference.median_rel < current.median_rel,
            "{reference:?} against {current:?}"
        );
        assert!(reference.median_bias_min.abs() < 1.0, "{reference:?}");
    }

    #[test]
    fn the_forecast_is_closer_than_the_current_estimate_on_seeded_days() {
        use crate::accuracy::{Estimator, group, summarize};
        let hall = sample();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut outcomes = Vec::new();
        for day in 23..26 {
            outcomes.extend(run(&hall, jiff::civil::date(2026, 11, day), &mut rng).0);
        }
        let g = group(&outcomes);
        let at_issue = |e: Estimator| summarize(&g.samples[&(None, None, Point::Issue, e)]);
        let (current, forecast) = (at_issue(Estimator::Current), at_issue(Estimator::Forecast));
        assert!(
            forecast.median_rel < current.median_rel && forecast.p90_abs_min < current.p90_abs_min,
            "forecast {forecast:?} against current {current:?}"
        );
    }
}
