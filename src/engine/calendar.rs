//! Business days and opening hours as instants. Pure arithmetic over the
//! hall's time zone: nothing here reads a clock.

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

use super::ids::Millis;
use super::spec::HallSpec;

/// The business day in force, with its bounds and each zone's opening hours
/// turned into instants once, so that per-operation checks are comparisons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Day {
    pub date: Date,
    pub start: Millis,
    pub end: Millis,
    /// Per zone: the instants during which it issues tickets.
    pub zone_open: Vec<Vec<(Millis, Millis)>>,
}

fn instant(date: Date, time: Time, tz: &TimeZone) -> Millis {
    // A local time that a DST gap skips resolves to the later instant
    // (jiff's "compatible" rule), so this cannot fail for valid dates.
    let ts = tz.to_timestamp(date.to_datetime(time)).unwrap_or(Timestamp::UNIX_EPOCH);
    Millis(ts.as_millisecond())
}

/// The business date that `now` belongs to: local date, moved back one day
/// before the reset time.
pub fn business_date(cfg: &HallSpec, now: Millis) -> Date {
    let ts = Timestamp::from_millisecond(now.0).unwrap_or(Timestamp::UNIX_EPOCH);
    let local = cfg.time_zone.to_datetime(ts);
    if local.time() < cfg.day_reset {
        local.date().yesterday().unwrap_or(local.date())
    } else {
        local.date()
    }
}

impl Day {
    pub(crate) fn new(cfg: &HallSpec, date: Date) -> Day {
        let tz = &cfg.time_zone;
        let start = instant(date, cfg.day_reset, tz);
        let end = instant(date.tomorrow().unwrap_or(date), cfg.day_reset, tz);
        let zone_open = cfg
            .zones
            .iter()
            .map(|z| {
                if !cfg.zone_open_on(z, date) {
                    Vec::new()
                } else if z.hours.intervals.is_empty() {
                    vec![(start, end)]
                } else {
                    z.hours
                        .intervals
                        .iter()
                        .map(|&(a, b)| (instant(date, a, tz), instant(date, b, tz)))
                        .collect()
                }
            })
            .collect();
        Day {
            date,
            start,
            end,
            zone_open,
        }
    }

    pub(crate) fn zone_is_open(&self, zone: usize, now: Millis) -> bool {
        self.zone_open[zone].iter().any(|&(a, b)| a <= now && now < b)
    }
}

/// When `zone` next opens after `now`, as local text: `HH:MM` on the
/// business date of `now`, `YYYY-MM-DD HH:MM` on a later one; `None` if it
/// does not open within two weeks.
pub(crate) fn next_opening(cfg: &HallSpec, zone: usize, now: Millis) -> Option<String> {
    let today = business_date(cfg, now);
    let mut date = today;
    for _ in 0..15 {
        let day = Day::new(cfg, date);
        if let Some(&(open, _)) = day.zone_open[zone].iter().find(|&&(a, _)| a > now) {
            let ts = Timestamp::from_millisecond(open.0).ok()?;
            let local = cfg.time_zone.to_datetime(ts);
            let hm = format!("{:02}:{:02}", local.hour(), local.minute());
            return Some(if date == today { hm } else { format!("{date} {hm}") });
        }
        date = date.tomorrow().ok()?;
    }
    None
}
