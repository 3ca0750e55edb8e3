//! Changing a running hall's configuration (`Command::ChangeConfig`).
//!
//! The new spec is laid over the old one by id: a zone, service or window
//! keeps its index for good, one taken out stays as `retired`, and new ones
//! go after the rest. Indices therefore only grow, so the state, the days
//! already in the log and the reports replaying them stay valid; and a
//! change that would strand a citizen is refused before anything happens.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::booking::BookingState;
use super::calendar::Day;
use super::hall::{Hall, ZoneState};
use super::ids::{Millis, TicketNumber};
use super::spec::{HallSpec, Serve, ServiceMask, ServiceSpec, WindowSpec, ZoneSpec};
use super::stats::ServiceTimes;
use super::ticket::{Lane, TicketState};

/// A hall spec as events and commands carry it: compared by value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SpecDoc(pub Arc<HallSpec>);

impl Eq for SpecDoc {}

/// One version of the hall's configuration, as its history lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigNote {
    pub version: u32,
    /// The sequence number of its `ConfigChanged` event.
    pub seq: u64,
    pub at: Millis,
    /// The business day it was made on (where its event is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<jiff::civil::Date>,
    pub by: String,
    pub reason: String,
}

/// The configuration the hall runs: its version, the document it was made
/// from (opaque to the engine: the shell's TOML) and every version's note.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigState {
    /// 0 until the first version is recorded.
    pub version: u32,
    pub text: Arc<str>,
    pub history: Vec<ConfigNote>,
}

/// A change asked of the hall: the spec the shell built from `text`
/// (validated, in the document's own order), made against `base`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChange {
    /// The version the change was made from: a change from an older one is
    /// refused, so two administrators cannot overwrite each other unseen.
    pub base: u32,
    pub spec: SpecDoc,
    pub text: String,
    pub by: String,
    pub reason: String,
}

/// The longest reason kept with a version.
pub const MAX_REASON: usize = 500;

/// Lays `new` over `old` by id (see the module's text).
///
/// # Errors
/// A change that cannot be made while the hall runs: another hall, the time
/// zone or the day's reset, or a zone past 64 services counting retired ones.
pub fn merge(old: &HallSpec, new: &HallSpec) -> Result<HallSpec, String> {
    if old.id != new.id {
        return Err(format!("this is hall {}'s configuration, not {}'s", new.id, old.id));
    }
    if old.time_zone_name != new.time_zone_name || old.day_reset != new.day_reset {
        return Err("the time zone and the day's reset time cannot change while the hall runs".into());
    }
    let mut zones: Vec<ZoneSpec> = Vec::with_capacity(old.zones.len());
    // Index in `new` → index in the result, and per zone the same for services.
    let mut zone_at = vec![usize::MAX; new.zones.len()];
    let mut service_at: Vec<Vec<usize>> = new.zones.iter().map(|z| vec![usize::MAX; z.services.len()]).collect();
    for oz in &old.zones {
        let z = match new.zone_index(oz.id) {
            Some(nz) => {
                zone_at[nz] = zones.len();
                let (merged, at) = merge_zone(oz, &new.zones[nz])?;
                service_at[nz] = at;
                merged
            }
            None => retire_zone(oz),
        };
        zones.push(z);
    }
    for (nz, z) in new.zones.iter().enumerate() {
        if zone_at[nz] == usize::MAX {
            zone_at[nz] = zones.len();
            service_at[nz] = (0..z.services.len()).collect();
            zones.push(z.clone());
        }
    }
    let remap = |s: &Serve| {
        let at = &service_at[s.zone];
        let mask = at
            .iter()
            .enumerate()
            .filter(|&(i, _)| s.services.contains(i))
            .fold(0u64, |m, (_, &to)| m | (1 << to));
        Serve {
            zone: zone_at[s.zone],
            services: ServiceMask(mask),
        }
    };
    let mut windows: Vec<WindowSpec> = Vec::with_capacity(old.windows.len());
    for ow in &old.windows {
        windows.push(match new.window_index(ow.number) {
            Some(nw) => {
                let w = &new.windows[nw];
                WindowSpec {
                    serves: w.serves.iter().map(remap).collect(),
                    retired: false,
                    ..w.clone()
                }
            }
            None => WindowSpec {
                retired: true,
                ..ow.clone()
            },
        });
    }
    for w in &new.windows {
        if old.window_index(w.number).is_none() {
            windows.push(WindowSpec {
                serves: w.serves.iter().map(remap).collect(),
                ..w.clone()
            });
        }
    }
    Ok(HallSpec {
        time_zone: old.time_zone.clone(),
        zones,
        windows,
        ..new.clone()
    })
}

fn merge_zone(old: &ZoneSpec, new: &ZoneSpec) -> Result<(ZoneSpec, Vec<usize>), String> {
    let mut services: Vec<ServiceSpec> = Vec::with_capacity(old.services.len());
    let mut at = vec![usize::MAX; new.services.len()];
    for os in &old.services {
        services.push(match new.service_index(os.id) {
            Some(ns) => {
                at[ns] = services.len();
                new.services[ns].clone()
            }
            None => ServiceSpec {
                retired: true,
                ..os.clone()
            },
        });
    }
    for (ns, s) in new.services.iter().enumerate() {
        if at[ns] == usize::MAX {
            at[ns] = services.len();
            services.push(s.clone());
        }
    }
    if services.len() > 64 {
        return Err(format!(
            "zone {} would have {} services counting those taken out earlier; 64 is the most a zone can have",
            new.id,
            services.len()
        ));
    }
    Ok((
        ZoneSpec {
            services,
            ..new.clone()
        },
        at,
    ))
}

fn retire_zone(z: &ZoneSpec) -> ZoneSpec {
    ZoneSpec {
        retired: true,
        services: z
            .services
            .iter()
            .map(|s| ServiceSpec {
                retired: true,
                ..s.clone()
            })
            .collect(),
        ..z.clone()
    }
}

/// `spec` as the hall applies it: whatever `current` has beyond it (a report
/// replaying an older day on today's spec) is kept, retired, so that no
/// index shrinks.
fn widen(current: &HallSpec, spec: &HallSpec) -> Result<HallSpec, String> {
    let mut out = HallSpec {
        time_zone: current.time_zone.clone(),
        ..spec.clone()
    };
    for (i, z) in current.zones.iter().enumerate() {
        match out.zones.get_mut(i) {
            Some(o) if o.id != z.id => return Err(format!("zone {} where {} was", o.id, z.id)),
            Some(o) => {
                for (j, s) in z.services.iter().enumerate() {
                    match o.services.get(j) {
                        Some(os) if os.id != s.id => return Err(format!("service {} where {} was", os.id, s.id)),
                        Some(_) => {}
                        None => o.services.push(ServiceSpec {
                            retired: true,
                            ..s.clone()
                        }),
                    }
                }
            }
            None => out.zones.push(retire_zone(z)),
        }
    }
    for (i, w) in current.windows.iter().enumerate() {
        match out.windows.get(i) {
            Some(o) if o.number != w.number => return Err(format!("window {} where {} was", o.number, w.number)),
            Some(_) => {}
            None => out.windows.push(WindowSpec {
                retired: true,
                ..w.clone()
            }),
        }
    }
    Ok(out)
}

impl Hall {
    /// The configuration version the hall runs, its document and history.
    pub fn config(&self) -> &ConfigState {
        &self.st.config
    }

    /// Checks a change against the hall as it stands and gives the spec it
    /// would run on.
    pub(super) fn decide_config(&self, change: &ConfigChange) -> Result<HallSpec, String> {
        if change.base != self.st.config.version {
            return Err(format!(
                "the configuration is at version {}, not {}: reload it and make the change again",
                self.st.config.version, change.base
            ));
        }
        if change.reason.chars().count() > MAX_REASON {
            return Err(format!("a reason is at most {MAX_REASON} characters"));
        }
        let spec = merge(&self.cfg, &change.spec.0)?;
        self.strands(&spec)?;
        Ok(spec)
    }

    /// Refuses a spec that would leave a citizen without a way to be served.
    fn strands(&self, spec: &HallSpec) -> Result<(), String> {
        let active = |t: &&super::ticket::Ticket| !t.state.is_terminal();
        let tickets: Vec<_> = self.st.tickets.iter().filter(active).collect();
        let list = |ts: Vec<TicketNumber>| {
            let n = ts.len();
            let shown: Vec<String> = ts.iter().take(5).map(ToString::to_string).collect();
            format!(
                "{}{}",
                shown.join(", "),
                if n > 5 {
                    format!(" and {} more", n - 5)
                } else {
                    String::new()
                }
            )
        };
        for (z, zone) in spec.zones.iter().enumerate() {
            let before = &self.cfg.zones[..];
            if zone.retired && before.get(z).is_some_and(|b| !b.retired) {
                let here: Vec<_> = tickets.iter().filter(|t| t.zone == z).map(|t| t.number).collect();
                if !here.is_empty() {
                    return Err(format!(
                        "zone {} still has tickets waiting or in hand ({}): take it out once they are served",
                        zone.id,
                        list(here)
                    ));
                }
            }
            for (s, service) in zone.services.iter().enumerate() {
                let was_live = before
                    .get(z)
                    .and_then(|b| b.services.get(s))
                    .is_some_and(|b| !b.retired);
                if service.retired && was_live && !zone.retired {
                    let here: Vec<_> = tickets
                        .iter()
                        .filter(|t| t.zone == z && t.service == s)
                        .map(|t| t.number)
                        .collect();
                    if !here.is_empty() {
                        return Err(format!(
                            "service {} of zone {} still has tickets waiting or in hand ({}): take it out once they are served",
                            service.id,
                            zone.id,
                            list(here)
                        ));
                    }
                }
                if service.retired && was_live {
                    let booked =
                        self.st.bookings.values().filter(|b| {
                            b.state == BookingState::Booked && b.zone == zone.id && b.service == service.id
                        });
                    if let Some(b) = booked.min_by_key(|b| b.day) {
                        return Err(format!(
                            "service {} of zone {} has appointments booked (the first on {}): cancel them before taking it out",
                            service.id, zone.id, b.day
                        ));
                    }
                }
            }
        }
        for (w, window) in spec.windows.iter().enumerate() {
            let Some(before) = self.cfg.windows.get(w) else {
                continue;
            };
            if !window.retired || before.retired {
                continue;
            }
            let ws = &self.st.windows[w];
            if ws.open {
                return Err(format!(
                    "window {} is open: close it before taking it out",
                    window.number
                ));
            }
            let held: Vec<_> = self.st.held[w].iter().map(|&t| self.st.tickets[t].number).collect();
            let directed: Vec<_> = self.st.directed[w].iter().map(|&t| self.st.tickets[t].number).collect();
            if !held.is_empty() || !directed.is_empty() {
                return Err(format!(
                    "window {} has tickets held at it or sent to it alone ({}): serve or move them first",
                    window.number,
                    list([held, directed].concat())
                ));
            }
        }
        for t in &tickets {
            if let Lane::Priority { category } = t.lane
                && spec.category_index(category).is_none()
            {
                return Err(format!(
                    "priority category {category} still has tickets waiting or in hand ({}): take it out once they are served",
                    t.number
                ));
            }
            // A waiting ticket no window of the new spec would ever call.
            if t.state == TicketState::Waiting
                && t.directed.is_none()
                && !spec.windows.iter().any(|w| {
                    !w.retired
                        && w.serves
                            .iter()
                            .any(|s| s.zone == t.zone && s.services.contains(t.service))
                })
            {
                let zone = &spec.zones[t.zone];
                return Err(format!(
                    "no window would serve {} of zone {} any more, and ticket {} is waiting for it",
                    zone.services[t.service].id, zone.id, t.number
                ));
            }
        }
        Ok(())
    }

    /// Runs the hall on `spec` from now on, keeping every index it had.
    pub(super) fn apply_config(&mut self, spec: &HallSpec, note: ConfigNote, text: &str) -> Result<(), String> {
        let spec = widen(&self.cfg, spec)?;
        for (z, zone) in spec.zones.iter().enumerate() {
            if z >= self.st.zones.len() {
                self.st.zones.push(ZoneState::default());
                self.st.service_times.push(ServiceTimes::new(zone.default_service_secs));
                self.st.service_means.push(Vec::new());
            }
            let means = &mut self.st.service_means[z];
            while means.len() < zone.services.len() {
                means.push(ServiceTimes::new(zone.default_service_secs));
            }
        }
        let windows = spec.windows.len();
        self.st.windows.resize_with(windows, super::window::WindowState::closed);
        self.st.directed.resize_with(windows, Default::default);
        self.st.held.resize_with(windows, Vec::new);
        self.cfg = Arc::new(spec);
        if let Some(day) = &self.st.day {
            self.st.day = Some(Day::new(&self.cfg, day.date));
        }
        self.est.forget_forecast();
        self.st.config.version = note.version;
        self.st.config.text = Arc::from(text);
        self.st.config.history.push(note);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::command::{Command, Issue};
    use super::super::error::EngineError;
    use super::super::event::{Event, EventKind};
    use super::super::hall::Hall;
    use super::super::ids::{Millis, TicketNumber, WindowNo};
    use super::super::spec::{HallSpec, Serve, ServiceMask, WindowSpec};
    use super::super::tests::{code, config, local, spec};
    use super::super::ticket::Channel;
    use super::{ConfigChange, SpecDoc};

    struct H {
        hall: Hall,
        log: Vec<Event>,
        now: Millis,
    }

    impl H {
        fn new() -> H {
            H {
                hall: Hall::new(config()),
                log: Vec::new(),
                now: local(9, 0),
            }
        }

        fn run(&mut self, cmd: &Command) -> Result<Vec<Event>, EngineError> {
            let before = self.hall.clone();
            let r = self.hall.execute(cmd, self.now);
            match &r {
                Ok(evs) => self.log.extend(evs.iter().cloned()),
                Err(_) => assert_eq!(self.hall, before, "a refusal changed the hall"),
            }
            r
        }

        fn issue(&mut self, zone: &str, service: &str) -> TicketNumber {
            let cmd = Command::Issue(Issue::normal(code(zone), code(service), Channel::Kiosk));
            let evs = self.run(&cmd).unwrap();
            evs.iter()
                .find_map(|e| match e.kind {
                    EventKind::TicketIssued { ticket, .. } => Some(ticket),
                    _ => None,
                })
                .unwrap()
        }

        fn change(&mut self, spec: HallSpec) -> Result<Vec<Event>, EngineError> {
            let cmd = Command::ChangeConfig(Box::new(ConfigChange {
                base: self.hall.config().version,
                spec: SpecDoc(Arc::new(spec)),
                text: "[[hall]]".into(),
                by: "admin".into(),
                reason: "test".into(),
            }));
            self.run(&cmd)
        }

        fn call(&mut self, window: WindowNo) -> Result<TicketNumber, EngineError> {
            let evs = self.run(&Command::CallNext { window })?;
            Ok(evs
                .iter()
                .find_map(|e| match e.kind {
                    EventKind::TicketCalled { ticket, .. } => Some(ticket),
                    _ => None,
                })
                .unwrap())
        }

        /// The log replayed into a fresh hall, and through a snapshot.
        fn check_replay(&self) {
            let mut replayed = Hall::new(config());
            for e in &self.log {
                replayed.apply(e).unwrap();
            }
            assert_eq!(replayed, self.hall);
            assert_eq!(replayed.spec(), self.hall.spec());
            let restored = Hall::restore(config(), &self.hall.snapshot()).unwrap();
            assert_eq!(restored, self.hall);
            assert_eq!(restored.spec(), self.hall.spec());
            assert_eq!(restored.config(), self.hall.config());
        }
    }

    /// The test spec without the police zone (and window 3, which served
    /// only it).
    fn without_police() -> HallSpec {
        let mut s = spec();
        s.zones.truncate(1);
        for w in &mut s.windows {
            w.serves.retain(|sv| sv.zone == 0);
        }
        s.windows.retain(|w| !w.serves.is_empty());
        s
    }

    fn window(spec: &mut HallSpec, number: WindowNo) -> &mut WindowSpec {
        spec.windows.iter_mut().find(|w| w.number == number).unwrap()
    }

    #[test]
    fn a_window_serves_what_it_was_changed_to_while_tickets_wait() {
        let mut h = H::new();
        let police = h.issue("police", "idcard");
        h.run(&Command::Open { window: 1, staff: None }).unwrap();
        assert!(matches!(h.call(1), Err(EngineError::QueueEmpty(1))));
        let mut s = spec();
        window(&mut s, 1).serves.push(Serve {
            zone: 1,
            services: ServiceMask(0b11),
        });
        let evs = h.change(s).unwrap();
        assert!(matches!(evs[0].kind, EventKind::ConfigChanged { version: 1, .. }));
        assert_eq!(h.call(1).unwrap(), police);
        assert_eq!(h.hall.config().version, 1);
        assert_eq!(h.hall.config().history[0].by, "admin");
        h.check_replay();
    }

    #[test]
    fn a_change_that_strands_a_ticket_is_refused() {
        let mut h = H::new();
        let waiting = h.issue("police", "hukou");
        // Windows 2 and 3 serve hukou; take it from both.
        let mut s = spec();
        window(&mut s, 2).serves.truncate(1);
        window(&mut s, 3).serves.clear();
        s.windows.retain(|w| w.number != 3);
        let e = h.change(s).unwrap_err();
        assert!(e.to_string().contains(&waiting.to_string()), "{e}");
        // The zone itself, while the ticket waits.
        let s = without_police();
        let e = h.change(s).unwrap_err();
        assert!(e.to_string().contains("zone police still has tickets"), "{e}");
        // An open window.
        h.run(&Command::Open { window: 4, staff: None }).unwrap();
        let mut s = spec();
        s.windows.retain(|w| w.number != 4);
        let e = h.change(s).unwrap_err();
        assert_eq!(e.to_string(), "window 4 is open: close it before taking it out");
        assert_eq!(h.hall.config().version, 0);
    }

    #[test]
    fn a_zone_taken_out_is_retired_and_comes_back_in_its_place() {
        let mut h = H::new();
        let served = h.issue("police", "hukou");
        h.run(&Command::Open { window: 3, staff: None }).unwrap();
        assert_eq!(h.call(3).unwrap(), served);
        h.run(&Command::Start { window: 3 }).unwrap();
        h.run(&Command::Finish { window: 3 }).unwrap();
        h.run(&Command::Close { window: 3 }).unwrap();
        let s = without_police();
        h.change(s).unwrap();
        let spec_now = h.hall.spec().clone();
        assert!(spec_now.zones[1].retired && spec_now.zones[1].services.iter().all(|s| s.retired));
        assert!(spec_now.windows[2].retired);
        let cmd = Command::Issue(Issue::normal(code("police"), code("hukou"), Channel::Kiosk));
        assert_eq!(h.run(&cmd).unwrap_err(), EngineError::UnknownZone(code("police")));
        assert_eq!(
            h.run(&Command::Open { window: 3, staff: None }).unwrap_err(),
            EngineError::UnknownWindow(3)
        );
        h.check_replay();
        // Put back: same index, numbering goes on from the day's last.
        h.change(spec()).unwrap();
        assert!(!h.hall.spec().zones[1].retired);
        assert_eq!(h.hall.spec().zones.len(), 2);
        let next = h.issue("police", "hukou");
        assert_eq!(next.to_string(), "C002");
        h.check_replay();
    }

    #[test]
    fn a_new_zone_and_window_are_added_after_the_rest() {
        let mut h = H::new();
        let a = h.issue("general", "apply");
        let mut s = spec();
        let mut tax = s.zones[0].clone();
        tax.id = code("tax");
        tax.prefix = "T".into();
        s.zones.insert(0, tax);
        for w in &mut s.windows {
            for sv in &mut w.serves {
                sv.zone += 1;
            }
        }
        s.windows.push(WindowSpec {
            number: 9,
            name: "税务".into(),
            name_en: "Tax".into(),
            serves: vec![Serve {
                zone: 0,
                services: ServiceMask(0b01),
            }],
            results_only: false,
            retired: false,
        });
        h.change(s).unwrap();
        let now = h.hall.spec().clone();
        assert_eq!(
            now.zones.iter().map(|z| z.id.as_str()).collect::<Vec<_>>(),
            ["general", "police", "tax"]
        );
        assert_eq!(now.windows.last().unwrap().serves[0].zone, 2);
        let t = h.issue("tax", "apply");
        h.run(&Command::Open { window: 9, staff: None }).unwrap();
        assert_eq!(h.call(9).unwrap(), t);
        h.run(&Command::Open { window: 1, staff: None }).unwrap();
        assert_eq!(h.call(1).unwrap(), a);
        h.check_replay();
    }

    #[test]
    fn a_stale_or_impossible_change_is_refused() {
        let mut h = H::new();
        h.change(spec()).unwrap();
        let stale = Command::ChangeConfig(Box::new(ConfigChange {
            base: 0,
            spec: SpecDoc(Arc::new(spec())),
            text: String::new(),
            by: "admin".into(),
            reason: String::new(),
        }));
        let e = h.run(&stale).unwrap_err();
        assert!(
            e.to_string().starts_with("the configuration is at version 1, not 0"),
            "{e}"
        );
        let mut s = spec();
        s.time_zone_name = "Asia/Urumqi".into();
        assert!(h.change(s).unwrap_err().to_string().contains("time zone"));
        let mut s = spec();
        s.id = code("other");
        assert!(h.change(s).is_err());
    }

    #[test]
    fn holidays_close_and_working_weekends_open() {
        // local(9, 0) is Tuesday 2026-11-24 in the tests' calendar.
        const DAY: i64 = 24 * 60 * Millis::MINUTE;
        let mut h = H::new();
        h.issue("general", "apply");
        let tuesday = h.hall.business_day().unwrap();
        let wednesday = tuesday.tomorrow().unwrap();
        let saturday = tuesday.checked_add(jiff::Span::new().days(4)).unwrap();
        let mut s = spec();
        s.special_days = vec![(wednesday, false), (saturday, true)];
        h.change(s).unwrap();
        let cmd = Command::Issue(Issue::normal(code("general"), code("apply"), Channel::Kiosk));
        h.now = h.now.plus_ms(DAY);
        assert!(matches!(h.run(&cmd).unwrap_err(), EngineError::ZoneClosed { .. }));
        h.now = h.now.plus_ms(3 * DAY);
        h.issue("general", "apply");
        h.now = h.now.plus_ms(DAY);
        assert!(matches!(h.run(&cmd).unwrap_err(), EngineError::ZoneClosed { .. }));
        h.check_replay();
    }

    #[test]
    fn an_older_day_replays_on_a_wider_spec() {
        let mut h = H::new();
        h.issue("general", "apply");
        let s = without_police();
        // Version 1 narrower than what a report would replay on (the
        // original spec, which is wider by the police zone and window 3).
        h.change(s).unwrap();
        let mut report = Hall::new(config());
        for e in &h.log {
            report.apply(e).unwrap();
        }
        assert_eq!(report.spec().zones.len(), 2);
        assert!(report.spec().zones[1].retired);
    }
}
