//! The validated hall configuration the engine runs on. Every reference is
//! resolved to an index and every rule checked, so the engine never has to
//! ask "does this zone exist" of its own configuration.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;

use crate::engine::{CategoryId, Code, HallId, ServiceId, WindowNo, ZoneId};

/// Everything one server runs: its halls.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub halls: Vec<HallConfig>,
}

/// One service hall (政务服务中心 or a township 便民服务中心).
#[derive(Debug, Clone)]
pub struct HallConfig {
    pub id: HallId,
    pub name: String,
    pub name_en: String,
    pub time_zone: TimeZone,
    pub time_zone_name: String,
    /// Local time at which the business day, and so the ticket numbers, reset.
    pub day_reset: Time,
    pub zones: Vec<ZoneConfig>,
    pub windows: Vec<WindowConfig>,
    pub categories: Vec<Category>,
    pub policy: Policy,
    /// Who may sign in, and as what.
    pub accounts: Vec<Account>,
    /// How calls are announced.
    pub voice: Voice,
}

/// A language announcements can be spoken in (a clip set under `sounds/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

/// The hall's announcements (叫号语音).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voice {
    /// Spoken in this order, each with its template.
    pub languages: Vec<(Lang, String)>,
    /// The whole announcement, said this many times.
    pub repeat: u32,
    /// Silence between clips.
    pub gap_ms: u32,
    /// Read a window number 2 as 两 rather than 二.
    pub window_two_liang: bool,
    /// Played through the server's sound card.
    pub play_device: bool,
    /// Fetched and played by the hall display page.
    pub play_browser: bool,
}

/// The Mandarin template most halls use.
pub const ZH_TEMPLATE: &str = "{chime} 请 {number} 号 到 {window} 号窗口办理";
pub const EN_TEMPLATE: &str = "ticket {number} please go to window {window}";

impl Default for Voice {
    fn default() -> Self {
        Voice {
            languages: vec![(Lang::Zh, ZH_TEMPLATE.to_owned())],
            repeat: 2,
            gap_ms: 60,
            window_two_liang: false,
            play_device: false,
            play_browser: true,
        }
    }
}

/// What a signed-in account may do (see `auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything in the hall.
    Admin,
    /// Watches the hall, cancels, reactivates and moves tickets, closes windows.
    Supervisor,
    /// The guide desk (引导台) or a self-service kiosk: issues and cancels tickets.
    Guide,
    /// Window staff, bound to the windows they may operate.
    Window,
    /// A screen or LED board: reads the hall, changes nothing.
    Display,
}

impl Role {
    /// As written in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Guide => "guide",
            Role::Window => "window",
            Role::Display => "display",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "admin" => Role::Admin,
            "supervisor" => Role::Supervisor,
            "guide" => Role::Guide,
            "window" => Role::Window,
            "display" => Role::Display,
            _ => return None,
        })
    }
}

/// One account. The password is kept only as an argon2 hash.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: String,
    pub role: Role,
    pub password_hash: String,
    /// The windows a `Window` account may operate (empty for other roles).
    pub windows: Vec<WindowNo>,
}

/// A zone (专区): its own ticket prefix, its own services and hours.
#[derive(Debug, Clone)]
pub struct ZoneConfig {
    pub id: ZoneId,
    pub name: String,
    pub name_en: String,
    pub prefix: String,
    pub hours: Hours,
    pub services: Vec<ServiceConfig>,
    /// Expected service time before any has been measured today.
    pub default_service_secs: u32,
    /// 超时预警 thresholds for this zone (the hall's, unless overridden).
    pub alerts: AlertLimits,
}

/// When a zone raises an alert; `None` raises none of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertLimits {
    /// Someone has waited longer than this.
    pub wait_ms: Option<i64>,
    /// More than this many are waiting.
    pub queue: Option<usize>,
    /// A service of this zone has gone on longer than this.
    pub service_ms: Option<i64>,
}

/// A service (事项) inside a zone.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub id: ServiceId,
    pub name: String,
    pub name_en: String,
    /// Handing out results (出件/领证) rather than accepting a case.
    pub results: bool,
}

/// When a zone issues tickets, in the hall's local time.
#[derive(Debug, Clone, PartialEq, Eq)]
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

pub(crate) fn weekday_index(w: Weekday) -> usize {
    w.to_monday_zero_offset() as usize
}

/// The services of one zone that a window takes, as a bit set over the
/// zone's service indices (validation caps a zone at 64 services).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceMask(pub u64);

impl ServiceMask {
    pub fn contains(self, service: usize) -> bool {
        self.0 & (1u64 << service) != 0
    }
}

/// One entry of a window's preference list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Serve {
    pub zone: usize,
    pub services: ServiceMask,
}

/// A counter (窗口).
#[derive(Debug, Clone)]
pub struct WindowConfig {
    pub number: WindowNo,
    pub name: String,
    pub name_en: String,
    /// In order of preference: the window calls from the first entry that
    /// has someone waiting (一窗受理).
    pub serves: Vec<Serve>,
    /// Only hands out results (出件窗口).
    pub results_only: bool,
}

impl WindowConfig {
    pub fn serves(&self, zone: usize, service: usize) -> bool {
        self.serves
            .iter()
            .any(|s| s.zone == zone && s.services.contains(service))
    }
}

/// A priority group served in the green channel (绿色通道).
#[derive(Debug, Clone)]
pub struct Category {
    pub id: CategoryId,
    pub name: String,
    pub name_en: String,
}

/// Where a transferred ticket joins its new queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    Front,
    End,
}

/// The hall's local rules. Every number here is a setting because halls
/// differ (see docs/domain.md).
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Tickets one person may take from a phone per business day.
    pub mobile_daily_quota: u32,
    /// A window paused longer than this raises an alert.
    pub alert_pause_ms: Option<i64>,
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
            mobile_daily_quota: 3,
            alert_pause_ms: None,
        }
    }
}

impl HallConfig {
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

    pub fn account(&self, user: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.user == user)
    }

    pub fn category_index(&self, id: Code) -> Option<usize> {
        self.categories.iter().position(|c| c.id == id)
    }
}

impl ZoneConfig {
    pub fn service_index(&self, id: Code) -> Option<usize> {
        self.services.iter().position(|s| s.id == id)
    }
}
