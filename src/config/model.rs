//! The validated configuration: each hall's engine model ([`HallSpec`],
//! owned by the engine) and what only the shell needs beside it.

use std::sync::Arc;

use crate::engine::WindowNo;
pub use crate::engine::{
    AlertLimits, Category, HallSpec, Hours, Placement, Policy, Serve, ServiceMask, ServiceSpec, WindowSpec, ZoneSpec,
    weekday_index,
};

/// Everything one server runs: its halls.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub halls: Vec<HallConfig>,
    /// `[directory]`: where staff without a local account sign in.
    pub directory: Option<Directory>,
}

/// The LDAP or Active Directory server staff sign in against: a
/// search-then-bind (see `auth::directory`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    /// `ldaps://HOST[:PORT]` or `ldap://HOST[:PORT]`.
    pub url: String,
    pub bind_dn: Option<String>,
    pub bind_password_file: Option<std::path::PathBuf>,
    pub user_base: String,
    /// With `{user}` for the escaped user name.
    pub user_filter: String,
    pub group_base: String,
    /// With `{dn}` for the person's entry, `{user}` for the user name.
    pub group_filter: String,
    pub name_attribute: String,
    pub staff_number_attribute: String,
    pub ca_file: Option<std::path::PathBuf>,
    pub starttls: bool,
    pub plaintext: bool,
    pub timeout: std::time::Duration,
}

/// Members of a directory group sign in to a hall as `role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryGroup {
    /// The group's DN, normalised (see [`normal_dn`]).
    pub group: String,
    pub role: Role,
    pub windows: Vec<WindowNo>,
}

/// A DN compared as directories compare them for our purposes: case and
/// the spaces around `,` and `=` do not count.
pub fn normal_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| {
            rdn.split('=')
                .map(|p| p.trim().to_lowercase())
                .collect::<Vec<_>>()
                .join("=")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One hall as the server runs it: the engine's model of the hall, and
/// what only the shell needs (who may sign in, how calls are spoken).
#[derive(Debug, Clone)]
pub struct HallConfig {
    /// Zones, services, windows, hours and rules: what the engine runs on.
    pub spec: Arc<HallSpec>,
    /// Who may sign in, and as what.
    pub accounts: Vec<Account>,
    /// Directory groups whose members sign in here, in order of precedence.
    pub directory_groups: Vec<DirectoryGroup>,
    /// How calls are announced.
    pub voice: Voice,
    /// What the screens show besides the calls.
    pub display: Display,
    /// Where the hall's events go beyond its screens (see `outbox`).
    pub outbound: super::Outbound,
    /// Network printers desks and kiosks print their slips on.
    pub printers: Vec<crate::print::PrinterConfig>,
    /// The ID numbers accepted for per-person rules (`policy.id_kinds`).
    pub id_kinds: Vec<super::identity::IdKind>,
    /// The work a phone must show to take a ticket, in leading zero bits
    /// of a hash (`policy.phone_challenge_bits`); 0: none.
    pub phone_challenge_bits: u8,
    /// The document all of this was read from: the hall's `[[hall]]`
    /// table (see `document`).
    pub text: Arc<str>,
    /// The configuration version it is (0: the server's file, before the
    /// store recorded any).
    pub version: u32,
}

/// `[hall.display]`: the hall display's scrolling notice (温馨提示), in
/// Chinese and English; empty for the pages' own default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Display {
    pub notice: String,
    pub notice_en: String,
}

/// A notice is at most this many characters.
pub const MAX_NOTICE: usize = 500;

impl HallConfig {
    pub fn account(&self, user: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.user == user)
    }

    /// The role and windows a directory member of `groups` (normalised
    /// DNs) has here: the first mapping that matches decides the role, and
    /// every matching mapping of that role adds its windows.
    pub fn directory_role(&self, groups: &[String]) -> Option<(Role, Vec<WindowNo>)> {
        let role = self.directory_groups.iter().find(|g| groups.contains(&g.group))?.role;
        let mut windows: Vec<WindowNo> = self
            .directory_groups
            .iter()
            .filter(|g| g.role == role && groups.contains(&g.group))
            .flat_map(|g| g.windows.iter().copied())
            .collect();
        windows.sort_unstable();
        windows.dedup();
        Some((role, windows))
    }

    /// What a directory sign-in's token is bound to: the hall's mappings,
    /// so changing them ends the sessions they gave.
    pub fn directory_binding(&self) -> String {
        let mut s = String::from("directory");
        for g in &self.directory_groups {
            s.push_str(&format!("|{}:{}:{:?}", g.group, g.role.name(), g.windows));
        }
        s
    }
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
    /// Silence between one language's sentence and the next.
    pub language_pause_ms: u32,
    /// Say a ticket's prefix letters by name (A023 → A 零 二 三); without,
    /// the speaker says the digits only.
    pub letters_spoken: bool,
    /// A prefix said as the hall says it, per language: template words,
    /// where a lone capital is that letter's clip (`综合 A`).
    pub prefix_say: Vec<(Lang, String, String)>,
    /// Read a window number 2 as 两 rather than 二.
    pub window_two_liang: bool,
    /// Played through the server's sound card.
    pub play_device: bool,
    /// Fetched and played by the hall display page.
    pub play_browser: bool,
    /// Spoken by the hall display's own voice (Web Speech API) where its
    /// browser has one for the language; the clips otherwise.
    pub play_speech: bool,
    /// A hall display that comes back after being away speaks the calls it
    /// missed that are still current, if no older than this: a citizen
    /// called minutes ago has gone to the window or left.
    pub announce_within_secs: u32,
}

/// The Mandarin template most halls use.
pub const ZH_TEMPLATE: &str = "{chime} 请 {number} 号 到 {window} 号窗口办理";
pub const EN_TEMPLATE: &str = "ticket {number} please go to window {window}";

/// Between clips cut from whole sentences (they carry their own edges). A
/// 24-call Mandarin trial of 0, 30 and 120 ms heard the windows best at
/// 30; the benchmark (BENCHMARKS.md) runs at this default.
pub const DEFAULT_GAP_MS: u32 = 30;

impl Voice {
    /// How `prefix` is said in `lang`, where the hall gave it its own words.
    pub fn prefix_words(&self, lang: Lang, prefix: &str) -> Option<&str> {
        self.prefix_say
            .iter()
            .find(|(l, p, _)| *l == lang && p == prefix)
            .map(|(_, _, w)| w.as_str())
    }
}

impl Default for Voice {
    fn default() -> Self {
        Voice {
            languages: vec![(Lang::Zh, ZH_TEMPLATE.to_owned())],
            repeat: 2,
            gap_ms: DEFAULT_GAP_MS,
            language_pause_ms: 700,
            letters_spoken: true,
            prefix_say: Vec::new(),
            window_two_liang: false,
            play_device: false,
            play_browser: true,
            play_speech: false,
            announce_within_secs: 60,
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
    /// The guide desk (引导台): issues, looks up and cancels tickets.
    Guide,
    /// Window staff, bound to the windows they may operate.
    Window,
    /// A screen or LED board: reads the hall, changes nothing. A device.
    Display,
    /// A self-service kiosk (自助取号机): issues tickets and checks in
    /// appointments by code; no lookups, no cancelling. A device.
    Kiosk,
    /// A window's evaluator (评价器): shows who serves and takes the
    /// citizen's rating of the service just finished there. A device,
    /// bound to one window.
    Evaluator,
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
            Role::Kiosk => "kiosk",
            Role::Evaluator => "evaluator",
        }
    }

    /// A device signs in once and stays signed in until revoked.
    pub fn is_device(self) -> bool {
        matches!(self, Role::Display | Role::Kiosk | Role::Evaluator)
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "admin" => Role::Admin,
            "supervisor" => Role::Supervisor,
            "guide" => Role::Guide,
            "window" => Role::Window,
            "display" => Role::Display,
            "kiosk" => Role::Kiosk,
            "evaluator" => Role::Evaluator,
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
    /// The windows a `Window` account may operate, or the one window an
    /// `Evaluator` stands at (empty for other roles).
    pub windows: Vec<WindowNo>,
    /// A kiosk's settings PIN, as an argon2 hash: staff type it on the
    /// kiosk to sign it out or change its language.
    pub pin_hash: Option<String>,
    /// Who this is, as the window's evaluator shows it (亮牌服务): a name,
    /// a staff number (工号) and a photo's address (`https://…` or `/…`).
    pub card: StaffCard,
}

impl StaffCard {
    /// How the window, its screens and the reports name whoever signs on
    /// with this card: 李明（工号0305）, the name alone, or else the user.
    pub fn label(&self, user: &str) -> String {
        match (self.name.is_empty(), self.staff_number.is_empty()) {
            (false, false) => format!("{}（工号{}）", self.name, self.staff_number),
            (false, true) => self.name.clone(),
            _ => user.to_owned(),
        }
    }
}

/// A member of staff as shown to citizens at the window.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct StaffCard {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub staff_number: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub photo: String,
}
