//! Property tests: random operation sequences run against the engine and
//! against a small reference model written for clarity, not speed. After
//! every step the engine's invariants are checked; at the end, replaying
//! the events (also through JSON) must rebuild the same hall.

use std::collections::HashSet;
use std::sync::Arc;

use proptest::prelude::*;

use super::tests::{code, config as test_config, local};
use super::*;
use super::{Hours, Placement};

const ZONES: [&str; 2] = ["general", "police"];
const SERVICES: [[&str; 2]; 2] = [["apply", "results"], ["hukou", "idcard"]];
const WINDOWS: u16 = 4;

#[derive(Clone, Debug)]
pub(crate) enum Op {
    Issue {
        zone: usize,
        service: usize,
        lane: u8,
        person: Option<u8>,
    },
    CallNext(u16),
    CallTicket(u16, usize),
    Recall(u16),
    Skip(u16),
    Start(u16),
    Finish(u16),
    TransferZone(u16, usize, usize),
    TransferWindow(u16, u16),
    Hold(u16),
    CallBack(u16, usize),
    Cancel(usize),
    Reactivate(usize),
    Move(usize, usize, usize),
    Pause(u16),
    Resume(u16),
    Open(u16),
    Close(u16),
    AutoCall(u16, bool),
    Advance(u8),
    NextDay,
}

pub(crate) fn op() -> impl Strategy<Value = Op> {
    let w = 1..=WINDOWS;
    let pick = 0..12usize;
    prop_oneof![
        8 => (0..2usize, 0..2usize, 0..4u8, proptest::option::weighted(0.3, 0..3u8))
            .prop_map(|(zone, service, lane, person)| Op::Issue { zone, service, lane, person }),
        6 => w.clone().prop_map(Op::CallNext),
        2 => (w.clone(), pick.clone()).prop_map(|(w, p)| Op::CallTicket(w, p)),
        2 => w.clone().prop_map(Op::Recall),
        2 => w.clone().prop_map(Op::Skip),
        4 => w.clone().prop_map(Op::Start),
        4 => w.clone().prop_map(Op::Finish),
        1 => (w.clone(), 0..2usize, 0..2usize).prop_map(|(w, z, s)| Op::TransferZone(w, z, s)),
        1 => (w.clone(), w.clone()).prop_map(|(w, t)| Op::TransferWindow(w, t)),
        1 => w.clone().prop_map(Op::Hold),
        1 => (w.clone(), pick.clone()).prop_map(|(w, p)| Op::CallBack(w, p)),
        1 => pick.clone().prop_map(Op::Cancel),
        1 => pick.clone().prop_map(Op::Reactivate),
        1 => (pick, 0..2usize, 0..2usize).prop_map(|(p, z, s)| Op::Move(p, z, s)),
        1 => w.clone().prop_map(Op::Pause),
        1 => w.clone().prop_map(Op::Resume),
        3 => w.clone().prop_map(Op::Open),
        1 => w.clone().prop_map(Op::Close),
        1 => (w, any::<bool>()).prop_map(|(w, on)| Op::AutoCall(w, on)),
        3 => (0..20u8).prop_map(Op::Advance),
        1 => Just(Op::NextDay),
    ]
}

// ----- the reference model ------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MState {
    Waiting,
    Called(u16),
    Serving(u16),
    Held(u16),
    Done,
    NoShow,
}

#[derive(Clone, Debug)]
struct MTicket {
    zone: usize,
    service: usize,
    origin: (usize, usize),
    /// 0 appointment, 1 priority, 2 normal.
    lane: usize,
    due: Millis,
    person: Option<u8>,
    state: MState,
    directed: Option<u16>,
    queued_at: Millis,
    recalls: u32,
    skips: u32,
}

#[derive(Clone, Debug, Default)]
struct MWindow {
    open: bool,
    paused: bool,
    current: Option<usize>,
    auto: bool,
}

/// The rules of docs and README, written as plainly as possible: queues are
/// vectors of ticket indices, front first.
#[derive(Clone, Debug)]
struct Model {
    policy: super::Policy,
    serves: Vec<Vec<(usize, Vec<usize>)>>,
    tickets: Vec<MTicket>,
    lanes: Vec<[Vec<usize>; 3]>,
    own: Vec<Vec<usize>>,
    windows: Vec<MWindow>,
    runs: Vec<(u32, u32)>,
    started: bool,
}

type MResult = Result<Option<usize>, &'static str>;

impl Model {
    fn new(cfg: &super::HallSpec) -> Model {
        let serves = cfg
            .windows
            .iter()
            .map(|w| {
                w.serves
                    .iter()
                    .map(|s| (s.zone, (0..64).filter(|&i| s.services.contains(i)).collect()))
                    .collect()
            })
            .collect();
        Model {
            policy: cfg.policy.clone(),
            serves,
            ..Model::empty()
        }
    }

    fn empty() -> Model {
        Model {
            policy: super::Policy::default(),
            serves: Vec::new(),
            tickets: Default::default(),
            lanes: vec![Default::default(); 2],
            own: vec![Vec::new(); WINDOWS as usize],
            windows: vec![MWindow::default(); WINDOWS as usize],
            runs: vec![(0, 0); 2],
            started: false,
        }
    }

    fn new_day(&mut self) {
        *self = Model {
            policy: self.policy.clone(),
            serves: std::mem::take(&mut self.serves),
            ..Model::empty()
        };
        self.started = true;
    }

    fn w(n: u16) -> usize {
        usize::from(n) - 1
    }

    fn queue(&mut self, t: usize) -> &mut Vec<usize> {
        let tk = &self.tickets[t];
        match tk.directed {
            Some(w) => &mut self.own[Model::w(w)],
            None => &mut self.lanes[tk.zone][tk.lane],
        }
    }

    fn unqueue(&mut self, t: usize) {
        self.queue(t).retain(|&x| x != t);
    }

    fn serves(&self, w: usize, t: usize) -> bool {
        let tk = &self.tickets[t];
        match tk.directed {
            Some(d) => Model::w(d) == w,
            None => self.serves[w]
                .iter()
                .any(|(z, ss)| *z == tk.zone && ss.contains(&tk.service)),
        }
    }

    /// Which ticket window `w` calls next, and whether the lanes contended.
    fn select(&self, w: usize, now: Millis) -> Option<(usize, bool)> {
        if let Some(&t) = self.own[w].first() {
            return Some((t, false));
        }
        for (z, services) in &self.serves[w] {
            let first = |lane: usize, due: bool| {
                self.lanes[*z][lane]
                    .iter()
                    .copied()
                    .find(|&t| services.contains(&self.tickets[t].service) && (!due || self.tickets[t].due <= now))
            };
            if let Some(t) = first(0, true) {
                return Some((t, false));
            }
            match (first(1, false), first(2, false)) {
                (Some(p), Some(n)) => {
                    let overdue = now.0 - self.tickets[n].queued_at.0 >= self.policy.max_normal_wait_ms;
                    let prio_turn = self.runs[*z].0 < self.policy.priority_calls;
                    return Some((if prio_turn && !overdue { p } else { n }, true));
                }
                (Some(t), None) | (None, Some(t)) => return Some((t, false)),
                (None, None) => {}
            }
        }
        None
    }

    fn call(&mut self, t: usize, w: usize, contested: bool) {
        if contested {
            let z = self.tickets[t].zone;
            let (p, n) = &mut self.runs[z];
            if self.tickets[t].lane == 1 {
                *p += 1;
                *n = 0;
            } else {
                *n += 1;
                if *n >= self.policy.normal_calls {
                    *p = 0;
                    *n = 0;
                }
            }
        }
        if self.tickets[t].state == MState::Waiting {
            self.unqueue(t);
        }
        let tk = &mut self.tickets[t];
        tk.state = MState::Called(w as u16 + 1);
        tk.recalls = 0;
        tk.directed = None;
        self.windows[w].current = Some(t);
    }

    fn auto(&mut self, now: Millis) -> Vec<usize> {
        let mut called = Vec::new();
        for w in 0..self.windows.len() {
            let ws = &self.windows[w];
            if ws.auto && ws.open && !ws.paused && ws.current.is_none() {
                if let Some((t, c)) = self.select(w, now) {
                    self.call(t, w, c);
                    called.push(t);
                }
            }
        }
        called
    }

    fn window_free(&self, w: usize) -> Result<(), &'static str> {
        let ws = &self.windows[w];
        if !ws.open {
            Err("window_closed")
        } else if ws.paused {
            Err("window_paused")
        } else if ws.current.is_some() {
            Err("window_busy")
        } else {
            Ok(())
        }
    }

    fn in_hand(&self, w: usize) -> Result<usize, &'static str> {
        if !self.windows[w].open {
            return Err("window_closed");
        }
        self.windows[w].current.ok_or("nothing_in_hand")
    }

    fn requeue(&mut self, t: usize, front: bool, now: Millis) {
        let tk = &mut self.tickets[t];
        tk.state = MState::Waiting;
        tk.queued_at = now;
        let q = self.queue(t);
        if front { q.insert(0, t) } else { q.push(t) }
    }

    fn person_active(&self, person: u8, origin: (usize, usize)) -> bool {
        self.tickets.iter().any(|t| {
            t.person == Some(person) && t.origin == origin && !matches!(t.state, MState::Done | MState::NoShow)
        })
    }

    /// Runs one operation; `Ok(Some(t))` names the ticket a call picked.
    fn run(&mut self, op: &Op, now: Millis) -> MResult {
        let front = self.policy.transfer_placement == Placement::Front;
        match *op {
            Op::Advance(_) | Op::NextDay => Ok(None),
            Op::Issue {
                zone,
                service,
                lane,
                person,
            } => {
                if let Some(p) = person {
                    if self.person_active(p, (zone, service)) {
                        return Err("already_waiting");
                    }
                }
                let (lane, due) = match lane {
                    0 | 1 => (2 - lane as usize, now),
                    2 => (0, now),
                    _ => (0, now.plus_ms(60 * Millis::MINUTE)),
                };
                let t = self.tickets.len();
                self.tickets.push(MTicket {
                    zone,
                    service,
                    origin: (zone, service),
                    lane,
                    due,
                    person,
                    state: MState::Waiting,
                    directed: None,
                    queued_at: now,
                    recalls: 0,
                    skips: 0,
                });
                self.lanes[zone][lane].push(t);
                Ok(None)
            }
            Op::CallNext(n) => {
                let w = Model::w(n);
                self.window_free(w)?;
                let (t, c) = self.select(w, now).ok_or("queue_empty")?;
                self.call(t, w, c);
                Ok(Some(t))
            }
            Op::CallTicket(n, t) => {
                let w = Model::w(n);
                self.window_free(w)?;
                let tk = self.tickets.get(t).ok_or("unknown_ticket")?;
                if tk.state != MState::Waiting {
                    return Err("wrong_state");
                }
                if !self.serves(w, t) {
                    return Err("not_served_here");
                }
                self.call(t, w, false);
                Ok(Some(t))
            }
            Op::CallBack(n, t) => {
                let w = Model::w(n);
                self.window_free(w)?;
                let tk = self.tickets.get(t).ok_or("unknown_ticket")?;
                let MState::Held(at) = tk.state else {
                    return Err("wrong_state");
                };
                if at != n && !self.serves(w, t) {
                    return Err("not_served_here");
                }
                self.call(t, w, false);
                Ok(Some(t))
            }
            Op::Recall(n) => {
                let t = self.in_hand(Model::w(n))?;
                let tk = &mut self.tickets[t];
                if !matches!(tk.state, MState::Called(_)) {
                    return Err("wrong_state");
                }
                if tk.recalls >= self.policy.recall_limit {
                    return Err("recall_limit");
                }
                tk.recalls += 1;
                Ok(None)
            }
            Op::Skip(n) => {
                let w = Model::w(n);
                let t = self.in_hand(w)?;
                if !matches!(self.tickets[t].state, MState::Called(_)) {
                    return Err("wrong_state");
                }
                self.windows[w].current = None;
                let tk = &mut self.tickets[t];
                tk.skips += 1;
                if tk.skips > self.policy.max_skips {
                    tk.state = MState::NoShow;
                } else {
                    tk.state = MState::Waiting;
                    tk.queued_at = now;
                    let places = self.policy.skip_requeue_places as usize;
                    let q = self.queue(t);
                    q.insert(places.min(q.len()), t);
                }
                Ok(None)
            }
            Op::Start(n) => {
                let t = self.in_hand(Model::w(n))?;
                if !matches!(self.tickets[t].state, MState::Called(_)) {
                    return Err("wrong_state");
                }
                self.tickets[t].state = MState::Serving(n);
                Ok(None)
            }
            Op::Finish(n) => {
                let w = Model::w(n);
                let t = self.in_hand(w)?;
                match self.tickets[t].state {
                    MState::Serving(_) => {}
                    MState::Called(_) if self.policy.finish_from_called => {}
                    _ => return Err("wrong_state"),
                }
                self.tickets[t].state = MState::Done;
                self.windows[w].current = None;
                Ok(None)
            }
            Op::Hold(n) => {
                let w = Model::w(n);
                let t = self.in_hand(w)?;
                self.tickets[t].state = MState::Held(n);
                self.windows[w].current = None;
                Ok(None)
            }
            Op::TransferZone(n, z, s) => {
                let w = Model::w(n);
                let t = self.in_hand(w)?;
                self.windows[w].current = None;
                let tk = &mut self.tickets[t];
                tk.zone = z;
                tk.service = s;
                tk.directed = None;
                self.requeue(t, front, now);
                Ok(None)
            }
            Op::TransferWindow(n, to) => {
                let w = Model::w(n);
                let t = self.in_hand(w)?;
                self.windows[w].current = None;
                self.tickets[t].directed = Some(to);
                self.requeue(t, front, now);
                Ok(None)
            }
            Op::Move(t, z, s) => {
                let tk = self.tickets.get(t).ok_or("unknown_ticket")?;
                if !matches!(tk.state, MState::Waiting | MState::Held(_)) {
                    return Err("wrong_state");
                }
                if tk.state == MState::Waiting && tk.directed.is_none() && tk.zone == z && tk.service == s {
                    return Err("same_queue");
                }
                if tk.state == MState::Waiting {
                    self.unqueue(t);
                }
                let tk = &mut self.tickets[t];
                tk.zone = z;
                tk.service = s;
                tk.directed = None;
                self.requeue(t, front, now);
                Ok(None)
            }
            Op::Cancel(t) => {
                let tk = self.tickets.get(t).ok_or("unknown_ticket")?;
                match tk.state {
                    MState::Done | MState::NoShow => return Err("wrong_state"),
                    MState::Waiting => self.unqueue(t),
                    MState::Called(w) | MState::Serving(w) => self.windows[Model::w(w)].current = None,
                    MState::Held(_) => {}
                }
                self.tickets[t].state = MState::Done;
                Ok(None)
            }
            Op::Reactivate(t) => {
                let tk = self.tickets.get(t).ok_or("unknown_ticket")?;
                if tk.state != MState::NoShow {
                    return Err("wrong_state");
                }
                self.tickets[t].skips = 0;
                self.requeue(t, false, now);
                Ok(None)
            }
            Op::Pause(n) => {
                let ws = &mut self.windows[Model::w(n)];
                if !ws.open {
                    return Err("window_closed");
                }
                if ws.paused {
                    return Err("window_paused");
                }
                ws.paused = true;
                Ok(None)
            }
            Op::Resume(n) => {
                let ws = &mut self.windows[Model::w(n)];
                if !ws.open {
                    return Err("window_closed");
                }
                if !ws.paused {
                    return Err("window_not_paused");
                }
                ws.paused = false;
                Ok(None)
            }
            Op::Open(n) => {
                let ws = &mut self.windows[Model::w(n)];
                if ws.open {
                    return Err("window_already_open");
                }
                ws.open = true;
                ws.paused = self.policy.open_paused;
                Ok(None)
            }
            Op::Close(n) => {
                let ws = &mut self.windows[Model::w(n)];
                if !ws.open {
                    return Err("window_closed");
                }
                if ws.current.is_some() {
                    return Err("window_busy");
                }
                *ws = MWindow::default();
                Ok(None)
            }
            Op::AutoCall(n, on) => {
                let ws = &mut self.windows[Model::w(n)];
                if !ws.open {
                    return Err("window_closed");
                }
                ws.auto = on;
                Ok(None)
            }
        }
    }
}

// ----- driving both ---------------------------------------------------------

fn number_of(hall: &Hall, t: usize) -> TicketNumber {
    hall.st.tickets[t].number
}

pub(crate) fn command(hall: &Hall, op: &Op, now: Millis) -> Command {
    // Picks refer to tickets by issue order; one past the end is unknown.
    let ticket = |i: usize| {
        hall.st
            .tickets
            .get(i)
            .map(|t| t.number)
            .unwrap_or_else(|| TicketNumber::new("A", 900 + i as u32, 3).unwrap())
    };
    let target = |z: usize, s: usize| Target::Zone {
        zone: code(ZONES[z]),
        service: code(SERVICES[z][s]),
    };
    match *op {
        Op::Issue {
            zone,
            service,
            lane,
            person,
        } => Command::Issue(Issue {
            zone: code(ZONES[zone]),
            service: code(SERVICES[zone][service]),
            lane: match lane {
                0 => LaneRequest::Normal,
                1 => LaneRequest::Priority {
                    category: code("elderly"),
                },
                2 => LaneRequest::Appointment {
                    slot_start: now,
                    slot_end: now.plus_ms(30 * Millis::MINUTE),
                },
                _ => LaneRequest::Appointment {
                    // Due (15 minutes early) an hour from now.
                    slot_start: now.plus_ms(75 * Millis::MINUTE),
                    slot_end: now.plus_ms(105 * Millis::MINUTE),
                },
            },
            channel: Channel::Kiosk,
            person: person.map(|p| PersonKey(u128::from(p))),
            number: None,
            notice: None,
        }),
        Op::CallNext(w) => Command::CallNext { window: w },
        Op::CallTicket(w, t) => Command::CallTicket {
            window: w,
            ticket: ticket(t),
        },
        Op::Recall(w) => Command::Recall { window: w },
        Op::Skip(w) => Command::Skip { window: w },
        Op::Start(w) => Command::Start { window: w },
        Op::Finish(w) => Command::Finish { window: w },
        Op::TransferZone(w, z, s) => Command::Transfer {
            window: w,
            to: target(z, s),
        },
        Op::TransferWindow(w, to) => Command::Transfer {
            window: w,
            to: Target::Window { window: to },
        },
        Op::Hold(w) => Command::Hold { window: w },
        Op::CallBack(w, t) => Command::CallBack {
            window: w,
            ticket: ticket(t),
        },
        Op::Cancel(t) => Command::Cancel { ticket: ticket(t) },
        Op::Reactivate(t) => Command::Reactivate { ticket: ticket(t) },
        Op::Move(t, z, s) => Command::Move {
            ticket: ticket(t),
            to: target(z, s),
        },
        Op::Pause(w) => Command::Pause {
            window: w,
            reason: PauseReason::Break,
            minutes: None,
        },
        Op::Resume(w) => Command::Resume { window: w },
        Op::Open(w) => Command::Open { window: w, staff: None },
        Op::Close(w) => Command::Close { window: w },
        Op::AutoCall(w, on) => Command::SetAutoCall { window: w, on },
        Op::Advance(_) | Op::NextDay => Command::Tick,
    }
}

fn config() -> Arc<super::HallSpec> {
    config_with(false)
}

/// The model's hall, with 办结 straight from called allowed or not.
pub(crate) fn config_with(finish_from_called: bool) -> Arc<super::HallSpec> {
    let mut cfg = (*test_config()).clone();
    cfg.policy.finish_from_called = finish_from_called;
    // Open all day, so random time steps never close the zones.
    for z in &mut cfg.zones {
        z.hours = Hours::always();
    }
    Arc::new(cfg)
}

/// Invariants that hold after every operation.
fn check_invariants(hall: &Hall) {
    let st = &hall.st;
    let mut seen = HashSet::new();
    for q in st.zones.iter().flat_map(|z| z.lanes.iter()) {
        assert!(
            q.counts_agree(|t| st.tickets[t].service),
            "a lane's services are its tickets'"
        );
    }
    let lanes = st.zones.iter().flat_map(|z| z.lanes.iter().map(|q| &**q));
    for q in lanes.chain(st.directed.iter()) {
        for &t in q {
            assert!(seen.insert(t), "ticket {} queued twice", number_of(hall, t));
            assert_eq!(st.tickets[t].state, TicketState::Waiting, "a queued ticket is waiting");
        }
    }
    for (i, t) in st.tickets.iter().enumerate() {
        // Exactly one place: queued iff waiting; in a window's hand iff called or serving.
        assert_eq!(
            t.state == TicketState::Waiting,
            seen.contains(&i),
            "{} queued iff waiting",
            t.number
        );
        if let Some(n) = t.state.at_window() {
            let w = hall.cfg.window_index(n).unwrap();
            assert_eq!(st.windows[w].current, Some(i), "{} in hand at window {n}", t.number);
        }
        // On its window's held list iff held there.
        for (w, held) in st.held.iter().enumerate() {
            let here = t.state
                == TicketState::Held {
                    window: hall.cfg.windows[w].number,
                };
            assert_eq!(
                held.contains(&i),
                here,
                "{} on window {w}'s held list iff held there",
                t.number
            );
        }
        assert_eq!(st.by_number.get(&t.number), Some(&i), "numbers are unique and indexed");
    }
    for held in &st.held {
        assert!(
            held.is_sorted_by(|a, b| a < b),
            "a held list is in issue order, without repeats"
        );
    }
    for (w, ws) in st.windows.iter().enumerate() {
        if let Some(t) = ws.current {
            assert_eq!(st.tickets[t].state.at_window(), Some(hall.cfg.windows[w].number));
            assert!(ws.open, "a closed window holds nothing");
        }
    }
    assert_eq!(st.by_number.len(), st.tickets.len());
    for (z, zs) in st.zones.iter().enumerate() {
        assert!(
            zs.priority_run <= hall.cfg.policy.priority_calls,
            "zone {z}: too many priority calls in a row"
        );
    }
}

fn run_case(ops: &[Op], finish_from_called: bool) {
    let cfg = config_with(finish_from_called);
    let mut hall = Hall::new(cfg.clone());
    let mut model = Model::new(&cfg);
    let mut now = local(9, 0);
    let mut log: Vec<Event> = Vec::new();
    let mut issued_today = 0usize;
    for op in ops {
        match op {
            Op::Advance(m) => now = now.plus_ms(i64::from(*m) * Millis::MINUTE),
            Op::NextDay => now = now.plus_ms(24 * 60 * Millis::MINUTE),
            _ => {}
        }
        let before = hall.clone();
        let cmd = command(&hall, op, now);
        let got = hall.execute(&cmd, now);
        if let Ok(evs) = &got {
            if evs.iter().any(|e| matches!(e.kind, EventKind::DayStarted { .. })) {
                model.new_day();
                issued_today = 0;
            }
        }
        if !model.started {
            model.started = true;
        }
        let mut expected = model.run(op, now);
        let auto_called = if expected.is_ok() { model.auto(now) } else { Vec::new() };
        match (&got, &mut expected) {
            (Ok(evs), Ok(pick)) => {
                for e in evs {
                    assert_eq!(
                        e.seq,
                        log.last().map_or(0, |l| l.seq) + 1,
                        "sequence numbers rise by one"
                    );
                    if let EventKind::TicketCalled { window, .. } = e.kind {
                        let w = &before.st.windows[before.cfg.window_index(window).unwrap()];
                        let fresh_day = evs.iter().any(|e| matches!(e.kind, EventKind::DayStarted { .. }));
                        assert!(fresh_day || w.open, "a closed window was handed a ticket");
                    }
                    if matches!(e.kind, EventKind::TicketIssued { .. }) {
                        issued_today += 1;
                    }
                    log.push(e.clone());
                }
                let called: Vec<TicketNumber> = evs
                    .iter()
                    .filter_map(|e| match e.kind {
                        EventKind::TicketCalled { ticket, .. } => Some(ticket),
                        _ => None,
                    })
                    .collect();
                let expected_calls: Vec<TicketNumber> = pick
                    .iter()
                    .chain(auto_called.iter())
                    .map(|&t| number_of(&hall, t))
                    .collect();
                assert_eq!(
                    called, expected_calls,
                    "{op:?}: engine and model called different tickets"
                );
            }
            (Err(e), Err(code)) => {
                assert_eq!(e.code(), *code, "{op:?}: refused for a different reason");
                assert_eq!(hall, before, "{op:?}: a refusal changed the hall");
            }
            (got, expected) => panic!("{op:?}: engine {got:?}, model {expected:?}"),
        }
        check_invariants(&hall);
        // Conservation: every ticket issued today is held, in one state.
        assert_eq!(hall.st.tickets.len(), issued_today);
        assert_eq!(hall.st.tickets.len(), model.tickets.len());
        for (t, m) in hall.st.tickets.iter().zip(&model.tickets) {
            let same = match (t.state, m.state) {
                (TicketState::Waiting, MState::Waiting) => true,
                (TicketState::Called { window: a }, MState::Called(b))
                | (TicketState::Serving { window: a }, MState::Serving(b))
                | (TicketState::Held { window: a }, MState::Held(b)) => a == b,
                (TicketState::Finished { .. } | TicketState::Cancelled, MState::Done) => true,
                (TicketState::NoShow { .. }, MState::NoShow) => true,
                _ => false,
            };
            assert!(same, "{}: engine {:?}, model {:?}", t.number, t.state, m.state);
        }
    }
    // Replay, straight and through JSON, rebuilds the same hall.
    let mut replayed = Hall::new(cfg.clone());
    let mut from_json = Hall::new(cfg);
    for e in &log {
        replayed.apply(e).unwrap();
        let back: Event = serde_json::from_str(&serde_json::to_string(e).unwrap()).unwrap();
        from_json.apply(&back).unwrap();
    }
    assert_eq!(replayed, hall, "replay differs from the live hall");
    assert_eq!(from_json, hall, "replay through JSON differs from the live hall");
    // A snapshot, also through JSON, restores the same hall.
    let snap: HallSnapshot = serde_json::from_str(&serde_json::to_string(&hall.snapshot()).unwrap()).unwrap();
    assert_eq!(
        Hall::restore(hall.spec().clone(), &snap).unwrap(),
        hall,
        "snapshot restore differs"
    );
}

/// Cases per run: at least 10,000 (the issue's floor); `PROPTEST_CASES`
/// may ask for more.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .max(10_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_model(ops in proptest::collection::vec(op(), 1..60), finish_from_called in any::<bool>()) {
        run_case(&ops, finish_from_called);
    }
}

#[test]
fn starvation_bound_holds_under_a_steady_priority_stream() {
    // Priority tickets keep coming; normal ones must still be called
    // at least `normal_calls` for every `priority_calls`.
    let cfg = config();
    let mut hall = Hall::new(cfg.clone());
    let now = local(9, 0);
    let issue = |lane| {
        Command::Issue(Issue {
            zone: code("general"),
            service: code("apply"),
            lane,
            channel: Channel::GuideDesk,
            person: None,
            number: None,
            notice: None,
        })
    };
    for _ in 0..20 {
        hall.execute(&issue(LaneRequest::Normal), now).unwrap();
    }
    hall.execute(&Command::Open { window: 1, staff: None }, now).unwrap();
    let mut lanes = Vec::new();
    for _ in 0..30 {
        hall.execute(
            &issue(LaneRequest::Priority {
                category: code("elderly"),
            }),
            now,
        )
        .unwrap();
        let evs = hall.execute(&Command::CallNext { window: 1 }, now).unwrap();
        let EventKind::TicketCalled { ticket, .. } = evs[0].kind else {
            panic!()
        };
        lanes.push(hall.ticket_view(ticket, now).unwrap().lane == Lane::Normal);
        hall.execute(&Command::Start { window: 1 }, now).unwrap();
        hall.execute(&Command::Finish { window: 1 }, now).unwrap();
    }
    for run in lanes.split(|&normal| normal) {
        assert!(run.len() <= cfg.policy.priority_calls as usize, "{lanes:?}");
    }
    assert_eq!(
        lanes.iter().filter(|&&n| n).count(),
        20,
        "every normal ticket was called: {lanes:?}"
    );
}
