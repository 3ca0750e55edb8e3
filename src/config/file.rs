//! The TOML file as written by people: strings where the model has indices,
//! with source spans kept so that a mistake can be reported by line and column.

use serde::Deserialize;
use toml::Spanned;

pub(crate) type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct File {
    #[serde(default)]
    pub hall: Vec<Hall>,
    #[serde(default)]
    pub directory: Option<Directory>,
}

/// `[directory]`: the LDAP or Active Directory staff sign in against.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Directory {
    pub url: S<String>,
    /// The service account that looks people up (none: anonymous search).
    pub bind_dn: Option<S<String>>,
    /// A file holding the service account's password, kept out of the
    /// configuration.
    pub bind_password_file: Option<S<String>>,
    pub user_base: S<String>,
    pub user_filter: Option<S<String>>,
    pub group_base: Option<S<String>>,
    pub group_filter: Option<S<String>>,
    pub name_attribute: Option<S<String>>,
    pub staff_number_attribute: Option<S<String>>,
    /// PEM certificates of the authorities that signed the directory's
    /// certificate (none: the system's).
    pub ca_file: Option<S<String>>,
    pub starttls: Option<bool>,
    /// Passwords in clear over `ldap://` without StartTLS: a lab only.
    pub plaintext: Option<bool>,
    pub timeout_seconds: Option<S<i64>>,
}

/// `[[hall.directory_group]]`: members of a directory group sign in to
/// this hall with a role (and windows).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DirectoryGroup {
    pub group: S<String>,
    pub role: S<String>,
    #[serde(default)]
    pub windows: Option<S<Vec<S<i64>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Hall {
    pub id: S<String>,
    pub name: String,
    pub name_en: Option<String>,
    pub time_zone: S<String>,
    #[serde(default)]
    pub day_reset: Option<S<String>>,
    #[serde(default)]
    pub hours: Option<Hours>,
    #[serde(default)]
    pub policy: Policy,
    #[serde(default)]
    pub category: Vec<Category>,
    #[serde(default)]
    pub zone: Vec<Zone>,
    #[serde(default)]
    pub window: Vec<Window>,
    #[serde(default)]
    pub account: Vec<Account>,
    #[serde(default)]
    pub directory_group: Vec<DirectoryGroup>,
    #[serde(default)]
    pub voice: Option<Voice>,
    #[serde(default)]
    pub alerts: Option<Alerts>,
    #[serde(default)]
    pub display: Option<Display>,
    #[serde(default)]
    pub special_day: Vec<SpecialDay>,
    #[serde(default)]
    pub webhook: Vec<super::outbound::WebhookFile>,
    #[serde(default)]
    pub platform: Option<super::outbound::PlatformFile>,
    #[serde(default)]
    pub notices: Option<super::outbound::NoticesFile>,
    #[serde(default)]
    pub printer: Vec<super::outbound::PrinterFile>,
}

/// `[[hall.special_day]]`: a public holiday (`open = false`) or a 调休
/// working day on a weekend (`open = true`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SpecialDay {
    pub date: S<String>,
    pub open: bool,
    /// What the day is (国庆节, 调休上班), for people reading the file.
    #[serde(default)]
    #[allow(dead_code)]
    pub name: Option<String>,
}

/// What the hall's screens show besides the calls: `[hall.display]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct Display {
    /// The scrolling notice (温馨提示) of the hall display.
    pub notice: Option<S<String>>,
    pub notice_en: Option<S<String>>,
}

/// 超时预警 thresholds: hall-wide in `[hall.alerts]`, per zone in its `alerts`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct Alerts {
    pub wait_minutes: Option<S<i64>>,
    pub queue_length: Option<S<i64>>,
    pub service_minutes: Option<S<i64>>,
    pub pause_minutes: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Voice {
    pub languages: Option<S<Vec<S<String>>>>,
    pub repeat: Option<S<i64>>,
    pub gap_ms: Option<S<i64>>,
    pub language_pause_ms: Option<S<i64>>,
    pub zh: Option<S<String>>,
    pub en: Option<S<String>>,
    /// "spoken" (by name) or "silent" (digits only on the speaker).
    pub letters: Option<S<String>>,
    /// A prefix's own words per language: `prefix_zh = { A = "综合 A" }`.
    pub prefix_zh: Option<S<std::collections::BTreeMap<String, S<String>>>>,
    pub prefix_en: Option<S<std::collections::BTreeMap<String, S<String>>>>,
    pub window_two: Option<S<String>>,
    pub play: Option<S<Vec<S<String>>>>,
    pub announce_within_seconds: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Account {
    pub user: S<String>,
    pub role: S<String>,
    /// An argon2 PHC string from `hallcall hash-password`, never the password.
    pub password: S<String>,
    #[serde(default)]
    pub windows: Option<S<Vec<S<i64>>>>,
    /// A kiosk's settings PIN, as an argon2 PHC string.
    #[serde(default)]
    pub pin: Option<S<String>>,
    /// Staff: the name, staff number (工号) and photo the window's
    /// evaluator shows (亮牌服务).
    #[serde(default)]
    pub name: Option<S<String>>,
    #[serde(default)]
    pub staff_number: Option<S<String>>,
    #[serde(default)]
    pub photo: Option<S<String>>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct Hours {
    #[serde(default)]
    pub days: Option<S<Vec<String>>>,
    #[serde(default)]
    pub open: Option<Vec<S<String>>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct Policy {
    pub priority_ratio: Option<S<String>>,
    pub max_normal_wait_minutes: Option<S<i64>>,
    pub skip_requeue_places: Option<S<i64>>,
    pub max_skips: Option<S<i64>>,
    pub recall_limit: Option<S<i64>>,
    pub transfer_placement: Option<S<String>>,
    pub one_waiting_ticket_per_person: Option<bool>,
    pub number_digits: Option<S<i64>>,
    pub appointment_early_minutes: Option<S<i64>>,
    pub appointment_grace_minutes: Option<S<i64>>,
    pub open_paused: Option<bool>,
    pub finish_from_called: Option<bool>,
    pub wait_target_minutes: Option<S<i64>>,
    pub id_kinds: Option<S<Vec<String>>>,
    pub mobile_daily_quota: Option<S<i64>>,
    pub mobile_waiting_per_zone: Option<S<i64>>,
    pub phone_challenge_bits: Option<S<i64>>,
    /// Citizens who asked are told when this many are ahead (0: never).
    pub notice_ahead: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Category {
    pub id: S<String>,
    pub name: String,
    pub name_en: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Zone {
    pub id: S<String>,
    pub name: String,
    pub name_en: Option<String>,
    pub prefix: S<String>,
    #[serde(default)]
    pub hours: Option<Hours>,
    #[serde(default)]
    pub service_minutes: Option<S<i64>>,
    #[serde(default)]
    pub alerts: Option<Alerts>,
    #[serde(default)]
    pub service: Vec<Service>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Service {
    pub id: S<String>,
    pub name: String,
    pub name_en: Option<String>,
    #[serde(default)]
    pub results: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Window {
    pub number: S<i64>,
    pub name: String,
    pub name_en: Option<String>,
    pub serves: S<Vec<S<String>>>,
    #[serde(default)]
    pub results_only: bool,
}
