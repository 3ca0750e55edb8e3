//! What the archive writes for a run of one hall's events: the raw events,
//! and the rows of the tables people query (tickets, ratings, follow-ups,
//! window sessions and pauses, and each finished day's report facts).
//! Pure: the rows are read off a replay of the day, the report's own.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use jiff::civil::Date;
use serde::Serialize;

use crate::engine::{
    CategoryId, Event, EventKind, HallSpec, Lane, Millis, PauseReason, ServiceId, TicketNumber, TicketState, WindowNo,
    ZoneId,
};
use crate::report::{Folder, Part};

/// One event as archived.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub seq: u64,
    pub at: Millis,
    /// The business day it belongs to (none before the first day seen).
    pub day: Option<Date>,
    /// The event's content (its kind, as JSON, its `"type"` first).
    pub body: String,
}

impl EventRow {
    /// The event's type (`"TicketCalled"`), read off the start of its body.
    pub fn kind(&self) -> &str {
        self.body
            .strip_prefix(r#"{"type":""#)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
    }
}

/// A visit as it stands after the events read (one row per ticket per day).
#[derive(Clone, Debug, PartialEq)]
pub struct TicketRow {
    pub day: Date,
    pub number: TicketNumber,
    pub zone: ZoneId,
    pub service: ServiceId,
    pub lane: &'static str,
    pub category: Option<CategoryId>,
    pub channel: &'static str,
    pub issued_at: Millis,
    pub first_called_at: Option<Millis>,
    /// Calls in these events (added to what the row has).
    pub calls: i32,
    pub recalls: i32,
    pub skips: i32,
    pub transfers: i32,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    pub window: Option<WindowNo>,
    pub staff: Option<String>,
    /// waiting, called, serving, held, finished, no_show, cancelled; a day
    /// that ended with the ticket waiting or in hand leaves `left_waiting`
    /// or `unfinished`.
    pub outcome: &'static str,
    /// No row of this visit was made before this run: the archive has
    /// none to update (a plain insert; most in a catch-up).
    pub fresh: bool,
}

impl TicketRow {
    /// The row after `newer`, both read in the same run.
    fn absorb(&mut self, newer: TicketRow) {
        let calls = self.calls + newer.calls;
        let first = self.first_called_at.or(newer.first_called_at);
        let finished = newer.finished_at.or(self.finished_at);
        *self = TicketRow {
            calls,
            first_called_at: first,
            finished_at: finished,
            fresh: self.fresh,
            ..newer
        };
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RatingRow {
    pub day: Date,
    pub number: TicketNumber,
    pub window: WindowNo,
    pub staff: Option<String>,
    pub level: String,
    pub comment: Option<String>,
    pub at: Millis,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FollowUpRow {
    pub seq: u64,
    pub day: Date,
    pub number: TicketNumber,
    pub step: String,
    pub note: String,
    pub at: Millis,
}

/// A window's session (open to close) or pause (start to end); the end is
/// absent while it lasts.
#[derive(Clone, Debug, PartialEq)]
pub struct SpellRow {
    pub day: Date,
    pub window: WindowNo,
    pub staff: Option<String>,
    /// For pauses: the reason.
    pub reason: Option<&'static str>,
    pub from: Millis,
    pub until: Option<Millis>,
}

/// Everything to write for a run of events.
#[derive(Debug, Default)]
pub struct Rows {
    pub events: Vec<EventRow>,
    pub tickets: HashMap<(Date, TicketNumber), TicketRow>,
    pub ratings: Vec<RatingRow>,
    pub follow_ups: Vec<FollowUpRow>,
    /// By window and start: the latest of each.
    pub sessions: BTreeMap<(WindowNo, Millis), SpellRow>,
    pub pauses: BTreeMap<(WindowNo, Millis), SpellRow>,
    /// The report facts of each day these events finished.
    pub days: Vec<(Date, Part)>,
}

impl Rows {
    /// Keeps a ticket's row, after any read earlier in the same run.
    fn put_ticket(&mut self, row: TicketRow) {
        match self.tickets.get_mut(&(row.day, row.number)) {
            Some(have) => have.absorb(row),
            None => {
                self.tickets.insert((row.day, row.number), row);
            }
        }
    }
}

/// A window's open session or pause: since when, who, why.
#[derive(Clone, Debug, PartialEq)]
struct Spell {
    from: Millis,
    staff: Option<String>,
    reason: Option<PauseReason>,
}

/// A hall's day as far as archived: the replay the rows are read from.
pub struct Day {
    cfg: Arc<HallSpec>,
    /// The day being read and its replay; none until a day starts (an
    /// archive that begins mid-day, or after a gap, makes no rows for it).
    current: Option<(Date, u64, Folder)>,
    last_at: Millis,
    sessions: Vec<Option<Spell>>,
    pauses: Vec<Option<Spell>>,
    /// The windows (by index) the event being read can change, and the
    /// ticket each had in hand before it (kept to spare allocations).
    watch: Vec<usize>,
    in_hand: Vec<Option<usize>>,
    /// By ticket, whether a row of it was made since the day started.
    made: Vec<bool>,
}

fn name<T: Serialize>(x: &T) -> String {
    match serde_json::to_value(x) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(o)) => o
            .get("state")
            .or_else(|| o.get("type"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    }
}

/// The ticket an event is about, if any.
fn ticket_of(kind: &EventKind) -> Option<TicketNumber> {
    use EventKind as K;
    match kind {
        K::TicketIssued { ticket, .. }
        | K::TicketCalled { ticket, .. }
        | K::TicketRecalled { ticket, .. }
        | K::TicketSkipped { ticket, .. }
        | K::ServiceStarted { ticket, .. }
        | K::ServiceFinished { ticket, .. }
        | K::TicketTransferred { ticket, .. }
        | K::TicketHeld { ticket, .. }
        | K::TicketCancelled { ticket }
        | K::TicketReactivated { ticket }
        | K::TicketRated { ticket, .. }
        | K::FollowUpRecorded { ticket, .. } => Some(*ticket),
        _ => None,
    }
}

impl Day {
    pub fn new(cfg: Arc<HallSpec>) -> Day {
        let windows = cfg.windows.len();
        Day {
            cfg,
            current: None,
            last_at: Millis(0),
            sessions: vec![None; windows],
            pauses: vec![None; windows],
            watch: Vec::with_capacity(windows),
            in_hand: Vec::with_capacity(windows),
            made: Vec::new(),
        }
    }

    /// The day being read and the sequence number of its `DayStarted`.
    pub fn started(&self) -> Option<(Date, u64)> {
        self.current.as_ref().map(|(d, s, _)| (*d, *s))
    }

    /// Forgets the day: after a gap in the archive, rows wait for the next.
    pub fn lose(&mut self) {
        self.current = None;
        self.made.clear();
        self.sessions.iter_mut().for_each(|s| *s = None);
        self.pauses.iter_mut().for_each(|s| *s = None);
    }

    /// Reads `ev` and adds what it makes to `rows`.
    ///
    /// # Errors
    /// The event does not apply to the replay (a corrupt log).
    pub fn feed(&mut self, ev: &Event, rows: &mut Rows) -> Result<(), String> {
        if let EventKind::DayStarted { day } = ev.kind {
            self.end_day(ev.at, rows);
            self.current = Some((day, ev.seq, Folder::new(self.cfg.clone(), day, day)));
            self.made.clear();
        }
        // Whole, a configuration's document too (with the accounts'
        // password hashes): archived days are replayed from these rows.
        let body = serde_json::to_string(&ev.kind).map_err(|e| e.to_string())?;
        rows.events.push(EventRow {
            seq: ev.seq,
            at: ev.at,
            day: self.current.as_ref().map(|c| c.0),
            body,
        });
        self.last_at = ev.at;
        let Some((day, _, folder)) = &mut self.current else {
            return Ok(());
        };
        let day = *day;
        // Only the windows this event can change are compared: comparing
        // all of them on every event was a sixth of the archive's own time.
        self.watch.clear();
        match windows_of(folder, ev) {
            Some(some) => self.watch.extend(some.into_iter().flatten()),
            None => self.watch.extend(0..folder.hall().map_or(0, |h| h.st.windows.len())),
        }
        self.watch.sort_unstable();
        self.watch.dedup();
        self.in_hand.clear();
        if let Some(h) = folder.hall() {
            self.in_hand.extend(
                self.watch
                    .iter()
                    .map(|&w| h.st.windows.get(w).and_then(|ws| ws.current)),
            );
        }
        #[cfg(debug_assertions)]
        let before = folder.hall().map(|h| h.st.windows.clone());
        folder.feed(ev).map_err(|e| format!("event {}: {e}", ev.seq))?;
        let Some(hall) = folder.hall() else { return Ok(()) };
        if matches!(ev.kind, EventKind::ConfigChanged { .. }) && hall.spec().windows.len() >= self.cfg.windows.len() {
            // Later days replay on the widest spec (see `engine::respec`).
            self.cfg = hall.spec().clone();
            self.sessions.resize(self.cfg.windows.len(), None);
            self.pauses.resize(self.cfg.windows.len(), None);
        }
        if windows_of_all(ev) {
            // A new configuration may have added windows, none in hand.
            self.watch.clear();
            self.watch.extend(0..hall.st.windows.len());
        }
        #[cfg(debug_assertions)]
        if let Some(before) = before {
            for (w, (was, now)) in before.iter().zip(&hall.st.windows).enumerate() {
                debug_assert!(
                    self.watch.contains(&w) || was == now,
                    "event {} changed window {w}, not among those watched",
                    ev.seq
                );
            }
        }
        // The ticket named, and any a window took up or let go of.
        let mut touched: Vec<usize> = Vec::new();
        if let Some(n) = ticket_of(&ev.kind)
            && let Some(&t) = hall.st.by_number.get(&n)
        {
            touched.push(t);
        }
        for (i, &w) in self.watch.iter().enumerate() {
            let Some(ws) = hall.st.windows.get(w) else { continue };
            let before = self.in_hand.get(i).copied().flatten();
            if before != ws.current {
                touched.extend(before);
                touched.extend(ws.current);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for t in touched {
            let mut row = ticket_row_of(&self.cfg, folder, day, t);
            match &ev.kind {
                EventKind::TicketCalled { ticket, how, .. } if *ticket == row.number => {
                    row.calls = 1;
                    if *how != crate::engine::CallKind::CallBack {
                        row.first_called_at = Some(ev.at);
                    }
                }
                EventKind::ServiceFinished { ticket, .. } if *ticket == row.number => row.finished_at = Some(ev.at),
                _ => {}
            }
            row.fresh = !made(&mut self.made, t);
            rows.put_ticket(row);
        }
        match &ev.kind {
            EventKind::TicketRated {
                ticket,
                window,
                staff,
                level,
                comment,
            } => rows.ratings.push(RatingRow {
                day,
                number: *ticket,
                window: *window,
                staff: staff.clone(),
                level: name(level),
                comment: comment.clone(),
                at: ev.at,
            }),
            EventKind::FollowUpRecorded { ticket, step, note } => rows.follow_ups.push(FollowUpRow {
                seq: ev.seq,
                day,
                number: *ticket,
                step: name(step),
                note: note.clone(),
                at: ev.at,
            }),
            _ => {}
        }
        self.track_windows(day, ev.at, rows);
        Ok(())
    }

    /// Follows the session and pause of each window watched across one event.
    fn track_windows(&mut self, day: Date, at: Millis, rows: &mut Rows) {
        let Some((_, _, folder)) = &self.current else { return };
        let Some(hall) = folder.hall() else { return };
        for &w in &self.watch {
            let Some(ws) = hall.st.windows.get(w) else { continue };
            let number = self.cfg.windows[w].number;
            // (since, reason) of the session and the pause, if any.
            let session = ws.open.then(|| (ws.opened_at.unwrap_or(at), None));
            let pause = ws.paused.map(|(reason, from)| (from, Some(reason)));
            for (now, was, out) in [
                (session, &mut self.sessions[w], &mut rows.sessions),
                (pause, &mut self.pauses[w], &mut rows.pauses),
            ] {
                // Most events change no window: compared in place, the
                // staff's name is copied only when a spell changes.
                let same = match (&now, &*was) {
                    (None, None) => true,
                    (Some((from, reason)), Some(s)) => {
                        s.from == *from && s.reason == *reason && s.staff.as_deref() == ws.staff.as_deref()
                    }
                    _ => false,
                };
                if same {
                    continue;
                }
                let now = now.map(|(from, reason)| Spell {
                    from,
                    staff: ws.staff.clone(),
                    reason,
                });
                if let Some(old) = was.take()
                    && now.as_ref().is_none_or(|n| n.from != old.from)
                {
                    out.insert((number, old.from), spell_row(day, number, &old, Some(at)));
                }
                if let Some(n) = &now {
                    out.insert((number, n.from), spell_row(day, number, n, None));
                }
                *was = now;
            }
        }
    }

    /// The day being read is over at `at` (the next day started): its open
    /// spells end at its last event, its tickets still waiting or in hand
    /// say so, and its report facts are taken.
    fn end_day(&mut self, at: Millis, rows: &mut Rows) {
        let Some((day, _, folder)) = self.current.take() else {
            return;
        };
        let end = self.last_at;
        for w in 0..self.sessions.len() {
            let number = self.cfg.windows[w].number;
            for (was, out) in [
                (&mut self.sessions[w], &mut rows.sessions),
                (&mut self.pauses[w], &mut rows.pauses),
            ] {
                if let Some(old) = was.take() {
                    out.insert((number, old.from), spell_row(day, number, &old, Some(end)));
                }
            }
        }
        if let Some(hall) = folder.hall() {
            for (t, tk) in hall.st.tickets.iter().enumerate() {
                let outcome = match tk.state {
                    TicketState::Waiting => "left_waiting",
                    TicketState::Called { .. } | TicketState::Serving { .. } | TicketState::Held { .. } => "unfinished",
                    _ => continue,
                };
                let mut row = ticket_row_of(&self.cfg, &folder, day, t);
                row.outcome = outcome;
                row.fresh = !made(&mut self.made, t);
                rows.put_ticket(row);
            }
        }
        rows.days.push((day, folder.part(at)));
    }
}

/// Events after which every window is looked at: a new day, a new
/// configuration.
fn windows_of_all(ev: &Event) -> bool {
    matches!(ev.kind, EventKind::DayStarted { .. } | EventKind::ConfigChanged { .. })
}

/// The windows (by index) `ev` can change, read before it applies: the
/// one it names and the one its ticket is (or was last) at. `None`: all.
fn windows_of(folder: &Folder, ev: &Event) -> Option<[Option<usize>; 2]> {
    use EventKind as K;
    let hall = folder.hall()?;
    if windows_of_all(ev) {
        return None;
    }
    let named = match &ev.kind {
        K::TicketCalled { window, .. }
        | K::TicketRecalled { window, .. }
        | K::TicketSkipped { window, .. }
        | K::ServiceStarted { window, .. }
        | K::ServiceFinished { window, .. }
        | K::TicketHeld { window, .. }
        | K::WindowOpened { window, .. }
        | K::WindowClosed { window, .. }
        | K::WindowPaused { window, .. }
        | K::WindowResumed { window, .. }
        | K::AutoCallChanged { window, .. }
        | K::WindowServesFirst { window, .. }
        | K::TicketRated { window, .. } => Some(*window),
        K::TicketTransferred { from_window, .. } => *from_window,
        _ => None,
    };
    let holder = ticket_of(&ev.kind)
        .and_then(|n| hall.st.by_number.get(&n))
        .and_then(|&t| hall.st.tickets[t].state.window());
    let index = |w: Option<WindowNo>| w.and_then(|w| hall.spec().window_index(w));
    Some([index(named), index(holder)])
}

/// Whether a row of ticket `t` was made before; it is from now on.
fn made(made: &mut Vec<bool>, t: usize) -> bool {
    if made.len() <= t {
        made.resize(t + 1, false);
    }
    std::mem::replace(&mut made[t], true)
}

/// The row of the ticket at position `t` of the day's replay.
fn ticket_row_of(cfg: &HallSpec, folder: &Folder, day: Date, t: usize) -> TicketRow {
    let hall = folder.hall().expect("the day's replay");
    let tk = &hall.st.tickets[t];
    let zone = &cfg.zones[tk.zone];
    let (lane, category) = match &tk.lane {
        Lane::Normal => ("normal", None),
        Lane::Priority { category } => ("priority", Some(*category)),
        Lane::Appointment { .. } => ("appointment", None),
    };
    let window = tk.state.window();
    let staff = window
        .and_then(|w| cfg.window_index(w))
        .and_then(|w| folder.staff()[w].clone());
    TicketRow {
        day,
        number: tk.number,
        zone: zone.id,
        service: zone.services[tk.service].id,
        lane,
        category,
        channel: tk.channel.name(),
        issued_at: tk.issued_at,
        first_called_at: None,
        calls: 0,
        recalls: tk.recalls as i32,
        skips: tk.skips as i32,
        transfers: tk.transfers as i32,
        started_at: tk.started_at,
        finished_at: None,
        window,
        staff,
        outcome: tk.state.name(),
        fresh: false,
    }
}

fn spell_row(day: Date, window: WindowNo, s: &Spell, until: Option<Millis>) -> SpellRow {
    SpellRow {
        day,
        window,
        staff: s.staff.clone(),
        reason: s.reason.map(|r| r.name()),
        from: s.from,
        until,
    }
}
