//! What a hall is, as the engine runs it: its zones, services, windows,
//! hours, priority groups and rules. The shell builds it (from the TOML
//! files, see `crate::config`) with every reference resolved to an index
//! and every rule checked, so the engine never has to ask "does this zone
//! exist" of its own model.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::ids::{CategoryId, Code, HallId, ServiceId, WindowNo, ZoneId};

/// One service hall (政务服务中心 or a township 便民服务中心).
///
/// Serialised whole into a `ConfigChanged` event, so a replay runs on the
/// spec the hall ran on; the time zone travels by name only (it cannot
/// change while the hall runs, see `respec`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HallSpec {
    pub id: HallId,
    pub name: String,
    pub name_en: String,
    #[serde(skip, default = "utc")]
    pub time_zone: TimeZone,
    pub time_zone_name: String,
    /// Local time at which the business day, and so the ticket numbers, reset.
    pub day_reset: Time,
    pub zones: Vec<ZoneSpec>,
    pub windows: Vec<WindowSpec>,
    pub categories: Vec<Category>,
    pub policy: Policy,
    /// Public holidays and 调休 days, sorted by date: `true` opens a day
    /// the zones' weekdays would close (a working Saturday), `false`
    /// closes one they would open.
    #[serde(default)]
    pub special_days: Vec<(Date, bool)>,
}

fn utc() -> TimeZone {
    TimeZone::UTC
}

/// A zone (专区): its own ticket prefix, its own services and hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneSpec {
    pub id: ZoneId,
    pub name: String,
    pub name_en: String,
    pub prefix: String,
    pub hours: Hours,
    pub services: Vec<ServiceSpec>,
    /// Expected service time before any has been measured today.
    pub default_service_secs: u32,
    /// 超时预警 thresholds for this zone (the hall's, unless overridden).
    pub alerts: AlertLimits,
    /// Taken out of the configuration: kept so that indices and the days
    /// already lived stay valid, but it issues nothing and no page lists it.
    #[serde(default)]
    pub retired: bool,
}

/// When a zone raises an alert; `None` raises none of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertLimits {
    /// Someone has waited longer than this.
    pub wait_ms: Option<i64>,
    /// More than this many are waiting.
    pub queue: Option<usize>,
    /// A service of this zone has gone on longer than this.
    pub service_ms: Option<i64>,
}

/// A service (事项) inside a zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub id: ServiceId,
    pub name: String,
    pub name_en: String,
    /// Handing out results (出件/领证) rather than accepting a case.
    pub results: bool,
    /// Taken out of the configuration (see [`ZoneSpec::retired`]).
    #[serde(default)]
    pub retired: bool,
}

/// When a zone issues tickets, in the hall's local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hours {
    /// Indexed Monday = 0 .. Sunday = 6.
    pub days: [bool; 7],
    /// Sorted, non-overlapping, each within the business day; empty means
    /// open the whole business day.
    pub intervals: Vec<(Time, Time)>,
}

impl Hours {
    pub fn always() -> Hours {
        Hours {
            days: [true; 7],
            intervals: Vec::new(),
        }
    }

    pub fn open_on(&self, date: Date) -> bool {
        self.days[weekday_index(date.weekday())]
    }
}

pub fn weekday_index(w: Weekday) -> usize {
    w.to_monday_zero_offset() as usize
}

/// The services of one zone that a window takes, as a bit set over the
/// zone's service indices (validation caps a zone at 64 services).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceMask(pub u64);

impl ServiceMask {
    pub fn contains(self, service: usize) -> bool {
        self.0 & (1u64 << service) != 0
    }

    /// Every service of `zone` a window takes when it serves the whole
    /// zone: only the results services (出件) for a results-only window.
    pub fn whole_zone(zone: &ZoneSpec, results_only: bool) -> ServiceMask {
        ServiceMask(
            zone.services
                .iter()
                .enumerate()
                .filter(|(_, s)| !results_only || s.results)
                .fold(0u64, |m, (i, _)| m | (1 << i)),
        )
    }
}

/// One entry of a window's preference list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Serve {
    pub zone: usize,
    pub services: ServiceMask,
}

/// A counter (窗口).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowSpec {
    pub number: WindowNo,
    pub name: String,
    pub name_en: String,
    /// In order of preference: the window calls from the first entry that
    /// has someone waiting (一窗受理).
    pub serves: Vec<Serve>,
    /// Only hands out results (出件窗口).
    pub results_only: bool,
    /// Taken out of the configuration (see [`ZoneSpec::retired`]): it
    /// cannot open.
    #[serde(default)]
    pub retired: bool,
}

impl WindowSpec {
    pub fn serves(&self, zone: usize, service: usize) -> bool {
        self.serves
            .iter()
            .any(|s| s.zone == zone && s.services.contains(service))
    }
}

/// A priority group served in the green channel (绿色通道).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    pub id: CategoryId,
    pub name: String,
    pub name_en: String,
}

/// Where a transferred ticket joins its new queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    Front,
    End,
}

/// The hall's local rules. Every number here is a setting because halls
/// differ (see docs/domain.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// While both lanes wait, `priority_calls` priority tickets are called for
    /// every `normal_calls` normal ones.
    pub priority_calls: u32,
    pub normal_calls: u32,
    /// A normal ticket that has waited this long goes before the priority lane.
    pub max_normal_wait_ms: i64,
    /// A skipped (过号) ticket goes back this many places behind the front.
    pub skip_requeue_places: u32,
    /// Skips allowed before the ticket becomes a no-show; 0 means the first skip is final.
    pub max_skips: u32,
    /// Recalls (重呼) allowed per call.
    pub recall_limit: u32,
    pub transfer_placement: Placement,
    pub one_waiting_ticket_per_person: bool,
    /// Zero-padding of ticket numbers (3 gives A001).
    pub number_digits: u8,
    /// An appointment is called from this long before its slot.
    pub appointment_early_ms: i64,
    /// An appointment checked in later than this after its slot start joins the normal lane.
    pub appointment_grace_ms: i64,
    /// Windows start paused when staff sign in.
    pub open_paused: bool,
    /// 办结 straight from called, without a separate 开始办理: service
    /// time then counts from the call. Many halls record no start.
    pub finish_from_called: bool,
    /// Tickets one person may take from a phone per business day.
    pub mobile_daily_quota: u32,
    /// Phone tickets waiting at once per zone; 0: no cap.
    pub mobile_waiting_per_zone: u32,
    /// A window paused longer than this raises an alert.
    pub alert_pause_ms: Option<i64>,
    /// 潮汐窗口: past this expected wait for a ticket taken now, the
    /// supervisor board proposes a window for the zone.
    pub wait_target_ms: i64,
    /// A citizen who asked to be told is told once this many people (or
    /// fewer) are ahead of them; 0: never (see `notices`).
    #[serde(default = "default_notice_ahead")]
    pub notice_ahead: u32,
}

fn default_notice_ahead() -> u32 {
    3
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            priority_calls: 1,
            normal_calls: 2,
            max_normal_wait_ms: 30 * 60_000,
            skip_requeue_places: 3,
            max_skips: 1,
            recall_limit: 5,
            transfer_placement: Placement::Front,
            one_waiting_ticket_per_person: true,
            number_digits: 3,
            appointment_early_ms: 15 * 60_000,
            appointment_grace_ms: 15 * 60_000,
            open_paused: false,
            finish_from_called: false,
            mobile_daily_quota: 3,
            mobile_waiting_per_zone: 100,
            wait_target_ms: 30 * 60_000,
            alert_pause_ms: None,
            notice_ahead: default_notice_ahead(),
        }
    }
}

impl HallSpec {
    pub fn zone_index(&self, id: Code) -> Option<usize> {
        self.zones.iter().position(|z| z.id == id)
    }

    pub fn window_index(&self, number: WindowNo) -> Option<usize> {
        self.windows.iter().position(|w| w.number == number)
    }

    /// Whether any alert threshold is set.
    pub fn has_alerts(&self) -> bool {
        self.policy.alert_pause_ms.is_some() || self.zones.iter().any(|z| z.alerts != AlertLimits::default())
    }

    pub fn category_index(&self, id: Code) -> Option<usize> {
        self.categories.iter().position(|c| c.id == id)
    }

    /// Whether `zone` issues tickets at all on `date`: a special day
    /// (holiday or 调休 working day) decides, else the zone's weekdays.
    pub fn zone_open_on(&self, zone: &ZoneSpec, date: Date) -> bool {
        if zone.retired {
            return false;
        }
        match self.special_days.binary_search_by_key(&date, |&(d, _)| d) {
            Ok(i) => self.special_days[i].1,
            Err(_) => zone.hours.open_on(date),
        }
    }

    /// The zones still in the configuration, with their indices.
    pub fn live_zones(&self) -> impl Iterator<Item = (usize, &ZoneSpec)> {
        self.zones.iter().enumerate().filter(|(_, z)| !z.retired)
    }

    /// The windows still in the configuration, with their indices.
    pub fn live_windows(&self) -> impl Iterator<Item = (usize, &WindowSpec)> {
        self.windows.iter().enumerate().filter(|(_, w)| !w.retired)
    }
}

impl ZoneSpec {
    pub fn service_index(&self, id: Code) -> Option<usize> {
        self.services.iter().position(|s| s.id == id)
    }
}
