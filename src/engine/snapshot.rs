//! A hall's state as a value that can be stored and read back: the
//! snapshot that bounds replay at start. It names zones, services and
//! windows by id, so a snapshot survives reordering the configuration; one
//! that names something the configuration no longer has is refused.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::alert::Alert;
use super::answers::KeptAnswer;
use super::booking::Booking;
use super::calendar::Day;
use super::devices::Device;
use super::hall::{Hall, State, ZoneState};
use super::ids::{HallId, Millis, PersonKey, ServiceId, TicketNumber, WindowNo, ZoneId};
use super::outbox::{OutboxState, SetAside};
use super::queue::{Join, Queue};
use super::rating::{FollowUp, RatingRecord};
use super::respec::{ConfigNote, ConfigState, SpecDoc};
use super::spec::HallSpec;
use super::stats::ServiceTimes;
use super::ticket::{Channel, Lane, Step, Ticket, TicketState};
use super::window::{PauseReason, WindowState};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HallSnapshot {
    pub hall: HallId,
    /// Sequence number of the last event the snapshot includes.
    pub seq: u64,
    pub day: Option<Date>,
    /// The sequence number of the day's `DayStarted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_seq: Option<u64>,
    pub tickets: Vec<TicketSnapshot>,
    pub zones: Vec<ZoneSnapshot>,
    pub windows: Vec<WindowSnapshot>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<Alert>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bookings: Vec<Booking>,
    /// Today's answers kept for idempotency keys, by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub answers: BTreeMap<String, KeptAnswer>,
    /// Devices kept signed in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Device>,
    /// Accounts and when they last signed out everywhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed_out: Vec<(String, Millis)>,
    /// The configuration version the hall ran (none before the first):
    /// restored in place of the file's, which only seeds a new store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigSnapshot>,
    /// What the outbox delivered and set aside (none before it did any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox: Option<OutboxSnapshot>,
}

/// The outbox's record as a snapshot keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxSnapshot {
    pub through: u64,
    pub day_from: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set_aside: Vec<SetAside>,
    #[serde(default)]
    pub dropped: u64,
}

/// A configuration version as a snapshot keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigSnapshot {
    pub version: u32,
    pub spec: SpecDoc,
    pub text: String,
    pub history: Vec<ConfigNote>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketSnapshot {
    pub number: TicketNumber,
    pub zone: ZoneId,
    pub service: ServiceId,
    pub origin: (ZoneId, ServiceId),
    pub lane: Lane,
    pub channel: Channel,
    pub person: Option<PersonKey>,
    pub issued_at: Millis,
    pub queued_at: Millis,
    pub called_at: Option<Millis>,
    pub started_at: Option<Millis>,
    pub state: TicketState,
    pub directed: Option<WindowNo>,
    pub recalls: u32,
    pub skips: u32,
    pub transfers: u32,
    pub history: Vec<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<RatingRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub follow_ups: Vec<FollowUp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<super::notices::NoticeRef>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub near_told: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZoneSnapshot {
    pub zone: ZoneId,
    pub last_seq: u32,
    /// Appointment, priority and normal lanes, front first.
    pub lanes: [Vec<TicketNumber>; 3],
    pub priority_run: u32,
    pub normal_run: u32,
    pub service_times: ServiceTimes,
    /// Per service, its own recent service times (absent from snapshots
    /// made before they were kept: they start afresh).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_means: Vec<ServiceTimes>,
    /// (called at, waited ms) of the last hour's calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_waits: Vec<(Millis, i64)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowSnapshot {
    pub number: WindowNo,
    pub open: bool,
    pub staff: Option<String>,
    pub paused: Option<(PauseReason, Millis)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumes_at: Option<Millis>,
    pub current: Option<TicketNumber>,
    pub auto_call: bool,
    pub opened_at: Option<Millis>,
    pub served_today: u32,
    pub own_queue: Vec<TicketNumber>,
    /// 潮汐窗口: the zone it takes first today.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_zone: Option<ZoneId>,
}

/// Why a snapshot does not fit the configuration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("snapshot of hall {hall} at event {seq}: {problem}")]
pub struct SnapshotError {
    pub hall: HallId,
    pub seq: u64,
    pub problem: String,
}

impl Hall {
    /// The hall's whole state as a storable value.
    pub fn snapshot(&self) -> HallSnapshot {
        let cfg = &self.cfg;
        let st = &self.st;
        let number = |t: &usize| st.tickets[*t].number;
        let zone_id = |z: usize| cfg.zones[z].id;
        let service_id = |z: usize, s: usize| cfg.zones[z].services[s].id;
        HallSnapshot {
            hall: cfg.id,
            alerts: st.alerts.clone(),
            bookings: st.bookings.values().cloned().collect(),
            answers: st.answers.iter().map(|(k, a)| (k.clone(), a.clone())).collect(),
            devices: st.devices.values().cloned().collect(),
            signed_out: st.signed_out.iter().map(|(u, at)| (u.clone(), *at)).collect(),
            config: (st.config.version > 0).then(|| ConfigSnapshot {
                version: st.config.version,
                spec: SpecDoc(cfg.clone()),
                text: st.config.text.to_string(),
                history: st.config.history.clone(),
            }),
            outbox: (st.outbox != OutboxState::default()).then(|| OutboxSnapshot {
                through: st.outbox.through,
                day_from: st.outbox.day_from,
                set_aside: st.outbox.set_aside.values().cloned().collect(),
                dropped: st.outbox.dropped,
            }),
            seq: st.seq,
            day: st.day.as_ref().map(|d| d.date),
            day_seq: (st.day_seq > 0).then_some(st.day_seq),
            tickets: st
                .tickets
                .iter()
                .map(|t| TicketSnapshot {
                    number: t.number,
                    zone: zone_id(t.zone),
                    service: service_id(t.zone, t.service),
                    origin: (zone_id(t.origin.0), service_id(t.origin.0, t.origin.1)),
                    lane: t.lane,
                    channel: t.channel,
                    person: t.person,
                    issued_at: t.issued_at,
                    queued_at: t.queued_at,
                    called_at: t.called_at,
                    started_at: t.started_at,
                    state: t.state,
                    directed: t.directed.map(|w| cfg.windows[w].number),
                    recalls: t.recalls,
                    skips: t.skips,
                    transfers: t.transfers,
                    history: t.history.clone(),
                    rating: t.rating.clone(),
                    follow_ups: t.follow_ups.clone(),
                    notice: t.notice,
                    near_told: t.near_told,
                })
                .collect(),
            zones: st
                .zones
                .iter()
                .enumerate()
                .map(|(z, zs)| ZoneSnapshot {
                    zone: zone_id(z),
                    last_seq: zs.last_seq,
                    lanes: zs.lanes.clone().map(|q| q.iter().map(number).collect()),
                    priority_run: zs.priority_run,
                    normal_run: zs.normal_run,
                    service_times: st.service_times[z].clone(),
                    service_means: st.service_means[z].clone(),
                    recent_waits: zs.recent_waits.iter().copied().collect(),
                })
                .collect(),
            windows: st
                .windows
                .iter()
                .enumerate()
                .map(|(w, ws)| WindowSnapshot {
                    number: cfg.windows[w].number,
                    open: ws.open,
                    staff: ws.staff.clone(),
                    paused: ws.paused,
                    resumes_at: ws.resumes_at,
                    current: ws.current.as_ref().map(number),
                    auto_call: ws.auto_call,
                    opened_at: ws.opened_at,
                    served_today: ws.served_today,
                    own_queue: st.directed[w].iter().map(number).collect(),
                    first_zone: ws.first_zone.map(|z| cfg.zones[z].id),
                })
                .collect(),
        }
    }

    /// Rebuilds a hall from a snapshot under the given configuration, or
    /// under the snapshot's own when it kept one.
    ///
    /// # Errors
    /// The snapshot is for another hall, or names a zone, service, window or
    /// ticket that the configuration (or the snapshot itself) lacks.
    pub fn restore(cfg: Arc<HallSpec>, snap: &HallSnapshot) -> Result<Hall, SnapshotError> {
        let bad = |problem: String| SnapshotError {
            hall: snap.hall,
            seq: snap.seq,
            problem,
        };
        let cfg = match &snap.config {
            Some(c) => {
                let spec = &c.spec.0;
                // The bundled time zone database: no I/O.
                let time_zone = jiff::tz::TimeZone::get(&spec.time_zone_name).unwrap_or_else(|_| cfg.time_zone.clone());
                Arc::new(HallSpec {
                    time_zone,
                    ..(**spec).clone()
                })
            }
            None => cfg,
        };
        if snap.hall != cfg.id {
            return Err(bad(format!("it belongs to hall {}, not {}", snap.hall, cfg.id)));
        }
        let zone = |id: ZoneId| cfg.zone_index(id).ok_or_else(|| bad(format!("unknown zone {id}")));
        let service = |z: usize, id: ServiceId| {
            cfg.zones[z]
                .service_index(id)
                .ok_or_else(|| bad(format!("unknown service {id} in zone {}", cfg.zones[z].id)))
        };
        let window = |n: WindowNo| cfg.window_index(n).ok_or_else(|| bad(format!("unknown window {n}")));

        let mut hall = Hall::new(cfg.clone());
        let st: &mut State = &mut hall.st;
        st.seq = snap.seq;
        st.day = snap.day.map(|d| Day::new(&cfg, d));
        st.day_seq = snap.day_seq.unwrap_or(0);
        for (i, t) in snap.tickets.iter().enumerate() {
            let z = zone(t.zone)?;
            let oz = zone(t.origin.0)?;
            let ticket = Ticket {
                number: t.number,
                zone: z,
                service: service(z, t.service)?,
                origin: (oz, service(oz, t.origin.1)?),
                lane: t.lane,
                channel: t.channel,
                person: t.person,
                issued_at: t.issued_at,
                queued_at: t.queued_at,
                called_at: t.called_at,
                started_at: t.started_at,
                state: t.state,
                directed: t.directed.map(window).transpose()?,
                recalls: t.recalls,
                skips: t.skips,
                transfers: t.transfers,
                history: t.history.clone(),
                rating: t.rating.clone(),
                follow_ups: t.follow_ups.clone(),
                notice: t.notice,
                near_told: t.near_told,
            };
            if st.by_number.insert(t.number, i).is_some() {
                return Err(bad(format!("ticket {} appears twice", t.number)));
            }
            if let TicketState::Held { window: n } = ticket.state {
                st.held[window(n)?].push(i);
            }
            if ticket.notice.is_some() && !ticket.near_told && !ticket.state.is_terminal() {
                st.noticed.push(i);
            }
            if let (Some(p), false) = (ticket.person, ticket.state.is_terminal()) {
                st.persons
                    .entry((p, ticket.origin.0, ticket.origin.1))
                    .or_default()
                    .insert(i);
            }
            st.tickets.push(ticket);
        }
        let by_number: &rustc_hash::FxHashMap<TicketNumber, usize> = &st.by_number;
        let index = |n: &TicketNumber| {
            by_number
                .get(n)
                .copied()
                .ok_or_else(|| bad(format!("unknown ticket {n}")))
        };
        let tickets = &st.tickets;
        let queue = |q: &Vec<TicketNumber>| {
            q.iter().try_fold(Queue::default(), |mut out, n| {
                let t = index(n)?;
                out.join(t, tickets[t].service, Join::Back);
                Ok(out)
            })
        };
        for zs in &snap.zones {
            let z = zone(zs.zone)?;
            let [a, p, n] = &zs.lanes;
            st.zones[z] = ZoneState {
                last_seq: zs.last_seq,
                lanes: [queue(a)?, queue(p)?, queue(n)?],
                priority_run: zs.priority_run,
                normal_run: zs.normal_run,
                recent_waits: zs.recent_waits.iter().copied().collect(),
            };
            st.service_times[z] = zs.service_times.clone();
            if zs.service_means.len() == st.service_means[z].len() {
                st.service_means[z] = zs.service_means.clone();
            }
        }
        st.alerts = snap.alerts.clone();
        st.answers = snap.answers.iter().map(|(k, a)| (k.clone(), a.clone())).collect();
        st.devices = snap.devices.iter().map(|d| (d.id.clone(), d.clone())).collect();
        st.signed_out = snap.signed_out.iter().cloned().collect();
        if let Some(c) = &snap.config {
            st.config = ConfigState {
                version: c.version,
                text: Arc::from(c.text.as_str()),
                history: c.history.clone(),
            };
        }
        if let Some(o) = &snap.outbox {
            st.outbox = OutboxState {
                through: o.through,
                day_from: o.day_from,
                set_aside: o.set_aside.iter().map(|s| (s.key.clone(), s.clone())).collect(),
                dropped: o.dropped,
            };
        }
        for b in &snap.bookings {
            let z = zone(b.zone)?;
            service(z, b.service)?;
            st.bookings.insert(b.code, b.clone());
        }
        for ws in &snap.windows {
            let w = window(ws.number)?;
            st.windows[w] = WindowState {
                open: ws.open,
                staff: ws.staff.clone(),
                paused: ws.paused,
                resumes_at: ws.resumes_at,
                current: ws.current.as_ref().map(index).transpose()?,
                auto_call: ws.auto_call,
                opened_at: ws.opened_at,
                served_today: ws.served_today,
                first_zone: ws.first_zone.map(zone).transpose()?,
            };
            st.directed[w] = ws.own_queue.iter().map(index).collect::<Result<_, _>>()?;
            if ws.auto_call {
                st.auto_windows.push(w);
            }
        }
        st.auto_windows.sort_unstable();
        hall.recent = super::calls::RecentCalls::rebuilt(&hall.st.tickets);
        Ok(hall)
    }
}
