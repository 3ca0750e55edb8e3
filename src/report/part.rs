//! A report's facts before its figures are read off: keyed by the
//! configuration's ids (not positions), mergeable and serialisable. The
//! archive keeps one per business day, so a range is built from the
//! store's days and the archive's days by the same code.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::tally::{Samples, Shows, Tally};
use super::{FollowUps, HourRow, Report};
use crate::engine::{HallSpec, WindowNo};

/// One local hour's arrivals, services and waits.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct HourTally {
    pub arrivals: u64,
    pub served: u64,
    pub wait: Samples,
}

/// The facts of some business days, per group.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Part {
    /// The business days these facts cover, in order.
    pub days: Vec<Date>,
    /// The last day was still running when these were taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<Date>,
    pub total: Tally,
    /// By zone id.
    #[serde(default)]
    pub zones: BTreeMap<String, Tally>,
    /// By `zone/service`.
    #[serde(default)]
    pub services: BTreeMap<String, Tally>,
    /// By window number.
    #[serde(default)]
    pub windows: BTreeMap<WindowNo, Tally>,
    /// By user name.
    #[serde(default)]
    pub staff: BTreeMap<String, Tally>,
    /// By local hour, 24 of them.
    pub hours: Vec<HourTally>,
    pub follow: FollowUps,
}

fn merge_into<K: Ord>(to: &mut BTreeMap<K, Tally>, from: BTreeMap<K, Tally>) {
    for (k, t) in from {
        match to.get_mut(&k) {
            Some(have) => have.merge(t),
            None => {
                to.insert(k, t);
            }
        }
    }
}

impl Part {
    /// Adds `other`'s facts (other days) to these.
    pub fn merge(&mut self, other: Part) {
        self.days.extend(other.days);
        self.days.sort_unstable();
        self.days.dedup();
        // Only the range's last day can be running.
        self.running = match (self.running, other.running) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.total.merge(other.total);
        merge_into(&mut self.zones, other.zones);
        merge_into(&mut self.services, other.services);
        merge_into(&mut self.windows, other.windows);
        merge_into(&mut self.staff, other.staff);
        self.hours.resize_with(24, HourTally::default);
        for (h, x) in self.hours.iter_mut().zip(other.hours) {
            h.arrivals += x.arrivals;
            h.served += x.served;
            h.wait.extend(x.wait);
        }
        let f = &mut self.follow;
        f.bad += other.follow.bad;
        f.verified += other.follow.verified;
        f.rectified += other.follow.rectified;
        f.called_back += other.follow.called_back;
    }

    /// The figures of `from..=to`, with a row for every zone, service and
    /// window of `cfg` (groups it no longer has are left out).
    pub fn report(mut self, cfg: &HallSpec, from: Date, to: Date) -> Report {
        let area = Shows {
            issued: true,
            windows: false,
            queue: true,
        };
        let desk = Shows {
            issued: false,
            windows: true,
            queue: false,
        };
        let all = Shows {
            issued: true,
            windows: true,
            queue: true,
        };
        let zones = cfg
            .zones
            .iter()
            .map(|z| {
                let t = self.zones.remove(z.id.as_str()).unwrap_or_default();
                t.row(z.id.to_string(), z.name.clone(), area)
            })
            .collect();
        let services = cfg
            .zones
            .iter()
            .flat_map(|z| z.services.iter().map(move |s| (z, s)))
            .map(|(z, s)| {
                let key = format!("{}/{}", z.id, s.id);
                let t = self.services.remove(&key).unwrap_or_default();
                t.row(key, format!("{} · {}", z.name, s.name), area)
            })
            .collect();
        let windows = cfg
            .windows
            .iter()
            .map(|w| {
                let t = self.windows.remove(&w.number).unwrap_or_default();
                t.row(w.number.to_string(), w.name.clone(), desk)
            })
            .collect();
        let staff = self
            .staff
            .into_iter()
            .map(|(user, t)| t.row(user.clone(), user, desk))
            .collect();
        self.hours.resize_with(24, HourTally::default);
        let hours = self
            .hours
            .into_iter()
            .enumerate()
            .map(|(h, mut x)| HourRow {
                hour: h as u8,
                arrivals: x.arrivals,
                served: x.served,
                wait: x.wait.stat(),
            })
            .collect();
        Report {
            hall: cfg.id,
            from,
            to,
            days: self.days,
            running: self.running,
            total: self.total.row("hall".into(), cfg.name.clone(), all),
            zones,
            services,
            windows,
            staff,
            hours,
            follow_ups: self.follow,
        }
    }
}
