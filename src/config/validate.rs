//! Turns the file as written into the validated model, or into a list of
//! problems each naming its place. All problems are collected, not just the
//! first, so one restart shows everything wrong with a file.

use std::collections::HashSet;
use std::ops::Range;

use jiff::civil::Time;
use jiff::tz::TimeZone;

use super::file::{self, S};
use super::identity::{DEFAULT_KINDS, IdKind};
use super::model::*;
use super::{ConfigError, ConfigErrors};
use crate::engine::Code;

const MAX_SERVICES_PER_ZONE: usize = 64;

pub(super) struct Checker<'a> {
    src: &'a str,
    file: &'a str,
    errors: Vec<ConfigError>,
}

impl Checker<'_> {
    pub(super) fn err(&mut self, span: Range<usize>, place: &str, problem: impl Into<String>) {
        let (line, column) = line_col(self.src, span.start);
        self.errors.push(ConfigError {
            file: self.file.to_owned(),
            line,
            column,
            place: place.to_owned(),
            problem: problem.into(),
        });
    }

    fn code(&mut self, s: &S<String>, place: &str, what: &str) -> Option<Code> {
        match Code::new(s.get_ref()) {
            Ok(c) => Some(c),
            Err(e) => {
                self.err(s.span(), place, format!("bad {what} id: {e}"));
                None
            }
        }
    }

    fn int(&mut self, v: &Option<S<i64>>, place: &str, what: &str, range: Range<i64>, default: i64) -> i64 {
        match v {
            None => default,
            Some(s) if range.contains(s.get_ref()) => *s.get_ref(),
            Some(s) => {
                self.err(
                    s.span(),
                    place,
                    format!(
                        "{what} must be from {} to {}, not {}",
                        range.start,
                        range.end - 1,
                        s.get_ref()
                    ),
                );
                default
            }
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn parse_time(s: &str) -> Option<Time> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Validates a parsed file. `src` and `file` are only used to place errors.
/// `has_directory`: the server has a `[directory]` that `f` does not hold
/// (a hall's own document, checked apart from the server's file).
pub(crate) fn validate(
    f: file::File,
    src: &str,
    file: &str,
    has_directory: bool,
) -> Result<ServerConfig, ConfigErrors> {
    let mut c = Checker {
        src,
        file,
        errors: Vec::new(),
    };
    if f.hall.is_empty() {
        c.err(0..0, "file", "no [[hall]] is defined: a server needs at least one hall");
    }
    let directory = f.directory.as_ref().map(|d| directory(&mut c, d));
    let mut hall_ids = HashSet::new();
    let mut halls = Vec::new();
    for (i, h) in f.hall.into_iter().enumerate() {
        let place = format!("hall #{} ({:?})", i + 1, h.id.get_ref());
        if !hall_ids.insert(h.id.get_ref().clone()) {
            c.err(h.id.span(), &place, format!("duplicate hall id {:?}", h.id.get_ref()));
        }
        if let (None, false, Some(g)) = (&directory, has_directory, h.directory_group.first()) {
            c.err(
                g.group.span(),
                &place,
                "directory groups need a [directory] to sign in against",
            );
        }
        if let Some(hall) = hall(&mut c, h, &place) {
            halls.push(hall);
        }
    }
    if c.errors.is_empty() {
        Ok(ServerConfig { halls, directory })
    } else {
        Err(ConfigErrors(c.errors))
    }
}

fn hall(c: &mut Checker, h: file::Hall, place: &str) -> Option<HallConfig> {
    let id = c.code(&h.id, place, "hall");
    let tz = match TimeZone::get(h.time_zone.get_ref()) {
        Ok(tz) => Some(tz),
        Err(_) => {
            c.err(
                h.time_zone.span(),
                place,
                format!(
                    "unknown time zone {:?} (use an IANA name such as \"Asia/Shanghai\")",
                    h.time_zone.get_ref()
                ),
            );
            None
        }
    };
    let day_reset = match &h.day_reset {
        None => Time::midnight(),
        Some(s) => parse_time(s.get_ref()).unwrap_or_else(|| {
            c.err(
                s.span(),
                place,
                format!("day_reset {:?} is not a time like \"03:00\"", s.get_ref()),
            );
            Time::midnight()
        }),
    };
    let mut policy = policy(c, &h.policy, place);
    let hall_alerts = h.alerts.as_ref().map_or_else(AlertLimits::default, |a| {
        policy.alert_pause_ms = minutes_opt(c, &a.pause_minutes, place, "pause_minutes");
        alert_limits(c, a, AlertLimits::default(), &format!("{place}, alerts"))
    });
    let default_hours = h.hours.clone();

    let mut categories = Vec::new();
    let mut seen = HashSet::new();
    for cat in &h.category {
        let Some(cid) = c.code(&cat.id, place, "category") else {
            continue;
        };
        if !seen.insert(cid) {
            c.err(cat.id.span(), place, format!("duplicate priority category {cid}"));
        }
        categories.push(Category {
            id: cid,
            name: cat.name.clone(),
            name_en: cat.name_en.clone().unwrap_or_else(|| cat.name.clone()),
        });
    }

    if h.zone.is_empty() {
        c.err(h.id.span(), place, "the hall has no zones ([[hall.zone]])");
    }
    let mut zones = Vec::new();
    let mut zone_ids = HashSet::new();
    let mut prefixes = HashSet::new();
    for z in &h.zone {
        let zplace = format!("{place}, zone {:?}", z.id.get_ref());
        let Some(zid) = c.code(&z.id, &zplace, "zone") else {
            continue;
        };
        if !zone_ids.insert(zid) {
            c.err(z.id.span(), &zplace, format!("duplicate zone id {zid}"));
        }
        let p = z.prefix.get_ref();
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_uppercase()) {
            c.err(
                z.prefix.span(),
                &zplace,
                format!("prefix {p:?} must be 1 to 3 capital letters A-Z"),
            );
        } else if !prefixes.insert(p.clone()) {
            c.err(
                z.prefix.span(),
                &zplace,
                format!("duplicate ticket prefix {p:?}: each zone needs its own"),
            );
        }
        let hours_src = z.hours.as_ref().or(default_hours.as_ref());
        let hours = hours_src.map_or_else(Hours::always, |hs| hours(c, hs, day_reset, &zplace));
        let service_minutes = c.int(&z.service_minutes, &zplace, "service_minutes", 1..481, 10);
        let alerts = match &z.alerts {
            None => hall_alerts,
            Some(a) => {
                if let Some(p) = &a.pause_minutes {
                    c.err(
                        p.span(),
                        &zplace,
                        "pause_minutes is set for the whole hall, in [hall.alerts]",
                    );
                }
                alert_limits(c, a, hall_alerts, &format!("{zplace}, alerts"))
            }
        };
        if z.service.is_empty() {
            c.err(z.id.span(), &zplace, "the zone has no services ([[hall.zone.service]])");
        }
        if z.service.len() > MAX_SERVICES_PER_ZONE {
            c.err(
                z.id.span(),
                &zplace,
                format!("at most {MAX_SERVICES_PER_ZONE} services per zone"),
            );
        }
        let mut services = Vec::new();
        let mut sids = HashSet::new();
        for s in &z.service {
            let Some(sid) = c.code(&s.id, &zplace, "service") else {
                continue;
            };
            if !sids.insert(sid) {
                c.err(s.id.span(), &zplace, format!("duplicate service id {sid}"));
            }
            services.push(ServiceSpec {
                id: sid,
                name: s.name.clone(),
                name_en: s.name_en.clone().unwrap_or_else(|| s.name.clone()),
                results: s.results,
                retired: false,
            });
        }
        zones.push(ZoneSpec {
            id: zid,
            name: z.name.clone(),
            name_en: z.name_en.clone().unwrap_or_else(|| z.name.clone()),
            prefix: p.clone(),
            hours,
            services,
            default_service_secs: (service_minutes * 60) as u32,
            alerts,
            retired: false,
        });
    }

    let windows = windows(c, &h.window, &zones, &h.id, place);
    for (zi, z) in zones.iter().enumerate() {
        if !windows.is_empty() && !windows.iter().any(|w| w.serves.iter().any(|s| s.zone == zi)) {
            let span = h
                .zone
                .iter()
                .find(|fz| fz.id.get_ref() == z.id.as_str())
                .map_or(0..0, |fz| fz.id.span());
            c.err(
                span,
                place,
                format!(
                    "zone {} is served by no window: its tickets could never be called",
                    z.id
                ),
            );
        }
    }

    let special_days = special_days(c, &h.special_day, place);
    let accounts = accounts(c, &h.account, &windows, place);
    let directory_groups = directory_groups(c, &h.directory_group, &windows, place);
    let id_kinds = id_kinds(c, &h.policy, place);
    // About a second of a phone's hashing at 20 bits; past 24, minutes.
    let phone_challenge_bits = c.int(
        &h.policy.phone_challenge_bits,
        &format!("{place}, policy"),
        "phone_challenge_bits",
        0..25,
        0,
    ) as u8;
    let voice = h.voice.as_ref().map_or_else(Voice::default, |v| voice(c, v, place));
    let display = h
        .display
        .as_ref()
        .map_or_else(Display::default, |d| display(c, d, place));
    let outbound = super::outbound::outbound(c, (&h.webhook, h.platform.as_ref(), h.notices.as_ref()), place);
    let printers = super::outbound::printers(c, &h.printer, &accounts, place);

    Some(HallConfig {
        spec: std::sync::Arc::new(HallSpec {
            id: id?,
            name: h.name,
            name_en: h.name_en.unwrap_or_default(),
            time_zone: tz?,
            time_zone_name: h.time_zone.into_inner(),
            day_reset,
            zones,
            windows,
            categories,
            special_days,
            policy,
        }),
        accounts,
        directory_groups,
        voice,
        display,
        outbound,
        printers,
        id_kinds,
        phone_challenge_bits,
        text: std::sync::Arc::from(""),
        version: 0,
    })
}

/// `policy.id_kinds`: which ID numbers the hall accepts.
fn id_kinds(c: &mut Checker, p: &file::Policy, place: &str) -> Vec<IdKind> {
    let Some(list) = &p.id_kinds else {
        return DEFAULT_KINDS.to_vec();
    };
    let mut kinds = Vec::new();
    for name in list.get_ref() {
        match IdKind::parse(name) {
            Some(k) if !kinds.contains(&k) => kinds.push(k),
            Some(_) => {}
            None => c.err(
                list.span(),
                &format!("{place}, policy"),
                format!(
                    "id_kinds: unknown kind {name:?} (one of {})",
                    IdKind::ALL.map(IdKind::name).join(", ")
                ),
            ),
        }
    }
    if kinds.is_empty() {
        c.err(
            list.span(),
            &format!("{place}, policy"),
            "id_kinds names no kind of ID number",
        );
    }
    kinds
}

/// An account's name, staff number and photo, as citizens see them.
fn card(c: &mut Checker, a: &file::Account, place: &str) -> StaffCard {
    let mut text = |t: &Option<S<String>>, what: &str, max: usize| -> String {
        let Some(s) = t else { return String::new() };
        let v = s.get_ref().trim();
        if v.chars().count() > max || v.chars().any(char::is_control) {
            c.err(s.span(), place, format!("{what} is at most {max} characters"));
        }
        v.to_owned()
    };
    let name = text(&a.name, "a name", 32);
    let staff_number = text(&a.staff_number, "a staff number", 32);
    let photo = text(&a.photo, "a photo's address", 500);
    let address = photo.starts_with("https://") || photo.starts_with("http://") || photo.starts_with('/');
    if !photo.is_empty() && !address {
        if let Some(s) = &a.photo {
            c.err(s.span(), place, "a photo is an address: https://… or /…");
        }
    }
    StaffCard {
        name,
        staff_number,
        photo,
    }
}

fn display(c: &mut Checker, d: &file::Display, place: &str) -> Display {
    let place = &format!("{place}, display");
    let mut text = |t: &Option<S<String>>| -> String {
        let Some(s) = t else { return String::new() };
        let n = s.get_ref().chars().count();
        if n > MAX_NOTICE {
            c.err(
                s.span(),
                place,
                format!("a notice is at most {MAX_NOTICE} characters (this one has {n})"),
            );
        }
        s.get_ref().trim().to_owned()
    };
    Display {
        notice: text(&d.notice),
        notice_en: text(&d.notice_en),
    }
}

fn voice(c: &mut Checker, v: &file::Voice, place: &str) -> Voice {
    let place = &format!("{place}, voice");
    let d = Voice::default();
    let template = |c: &mut Checker, t: &Option<S<String>>, lang: Lang, default: &str| -> String {
        match t {
            None => default.to_owned(),
            Some(s) => {
                let text = s.get_ref();
                if !text.contains("{number}") || !text.contains("{window}") {
                    c.err(
                        s.span(),
                        place,
                        format!("the {} template must say {{number}} and {{window}}", lang.code()),
                    );
                }
                text.clone()
            }
        }
    };
    let mut languages = Vec::new();
    match &v.languages {
        None => languages.push((Lang::Zh, template(c, &v.zh, Lang::Zh, ZH_TEMPLATE))),
        Some(list) => {
            if list.get_ref().is_empty() {
                c.err(list.span(), place, "languages needs at least one of \"zh\", \"en\"");
            }
            for l in list.get_ref() {
                let lang = match l.get_ref().as_str() {
                    "zh" => Lang::Zh,
                    "en" => Lang::En,
                    other => {
                        c.err(l.span(), place, format!("language {other:?} must be \"zh\" or \"en\""));
                        continue;
                    }
                };
                if languages.iter().any(|(x, _)| *x == lang) {
                    c.err(l.span(), place, format!("language {:?} listed twice", lang.code()));
                    continue;
                }
                let t = match lang {
                    Lang::Zh => template(c, &v.zh, lang, ZH_TEMPLATE),
                    Lang::En => template(c, &v.en, lang, EN_TEMPLATE),
                };
                languages.push((lang, t));
            }
        }
    }
    let window_two_liang = match v.window_two.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
        None | Some(("er", _)) => false,
        Some(("liang", _)) => true,
        Some((other, span)) => {
            c.err(
                span,
                place,
                format!("window_two {other:?} must be \"er\" (二) or \"liang\" (两)"),
            );
            false
        }
    };
    let (mut play_device, mut play_browser, mut play_speech) = (d.play_device, d.play_browser, d.play_speech);
    if let Some(play) = &v.play {
        play_browser = false;
        for p in play.get_ref() {
            match p.get_ref().as_str() {
                "device" => play_device = true,
                "browser" => play_browser = true,
                "speech" => play_speech = true,
                other => c.err(
                    p.span(),
                    place,
                    format!("play {other:?} must be \"device\", \"browser\" or \"speech\""),
                ),
            }
        }
    }
    let letters_spoken = match v.letters.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
        None | Some(("spoken", _)) => true,
        Some(("silent", _)) => false,
        Some((other, span)) => {
            c.err(
                span,
                place,
                format!("letters {other:?} must be \"spoken\" or \"silent\""),
            );
            true
        }
    };
    let mut prefix_say = Vec::new();
    for (lang, table) in [(Lang::Zh, &v.prefix_zh), (Lang::En, &v.prefix_en)] {
        for (prefix, words) in table.iter().flat_map(|t| t.get_ref()) {
            if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_uppercase()) {
                c.err(
                    words.span(),
                    place,
                    format!(
                        "prefix_{} key {prefix:?} must be a ticket prefix (1 to 3 capital letters)",
                        lang.code()
                    ),
                );
                continue;
            }
            if words.get_ref().contains('{') {
                c.err(
                    words.span(),
                    place,
                    format!("prefix_{}.{prefix} takes words, not placeholders", lang.code()),
                );
                continue;
            }
            prefix_say.push((lang, prefix.clone(), words.get_ref().clone()));
        }
    }
    Voice {
        languages,
        repeat: c.int(&v.repeat, place, "repeat", 1..6, 2) as u32,
        gap_ms: c.int(&v.gap_ms, place, "gap_ms", 0..2001, i64::from(d.gap_ms)) as u32,
        language_pause_ms: c.int(
            &v.language_pause_ms,
            place,
            "language_pause_ms",
            0..5001,
            i64::from(d.language_pause_ms),
        ) as u32,
        letters_spoken,
        prefix_say,
        window_two_liang,
        play_device,
        play_browser,
        play_speech,
        announce_within_secs: c.int(
            &v.announce_within_seconds,
            place,
            "announce_within_seconds",
            5..3601,
            i64::from(d.announce_within_secs),
        ) as u32,
    }
}

fn minutes_opt(c: &mut Checker, v: &Option<S<i64>>, place: &str, what: &str) -> Option<i64> {
    v.as_ref().map(|_| c.int(v, place, what, 1..1441, 30) * 60_000)
}

/// Alert thresholds: each key given overrides `base`.
fn alert_limits(c: &mut Checker, a: &file::Alerts, base: AlertLimits, place: &str) -> AlertLimits {
    AlertLimits {
        wait_ms: minutes_opt(c, &a.wait_minutes, place, "wait_minutes").or(base.wait_ms),
        queue: a
            .queue_length
            .as_ref()
            .map(|_| c.int(&a.queue_length, place, "queue_length", 1..100_001, 50) as usize)
            .or(base.queue),
        service_ms: minutes_opt(c, &a.service_minutes, place, "service_minutes").or(base.service_ms),
    }
}

fn accounts(c: &mut Checker, list: &[file::Account], windows: &[WindowSpec], place: &str) -> Vec<Account> {
    let mut out = Vec::new();
    let mut users = HashSet::new();
    for a in list {
        let aplace = format!("{place}, account {:?}", a.user.get_ref());
        let user = a.user.get_ref();
        if user.is_empty() || user.chars().count() > 64 || user.chars().any(|ch| ch.is_whitespace() || ch.is_control())
        {
            c.err(
                a.user.span(),
                &aplace,
                "a user name is 1 to 64 characters without spaces",
            );
            continue;
        }
        if !users.insert(user.clone()) {
            c.err(a.user.span(), &aplace, format!("duplicate account {user:?}"));
        }
        let Some(role) = Role::parse(a.role.get_ref()) else {
            c.err(
                a.role.span(),
                &aplace,
                format!(
                    "role {:?} must be admin, supervisor, guide, window, display, kiosk or evaluator",
                    a.role.get_ref()
                ),
            );
            continue;
        };
        if argon2::PasswordHash::new(a.password.get_ref()).is_err() {
            c.err(
                a.password.span(),
                &aplace,
                "password must be an argon2 hash (run `hallcall hash-password`), never the password itself",
            );
        }
        let mut nos = Vec::new();
        match (&a.windows, role) {
            (Some(ws), Role::Window | Role::Evaluator) => {
                for w in ws.get_ref() {
                    match u16::try_from(*w.get_ref()).ok() {
                        Some(n) if windows.iter().any(|cw| cw.number == n) => nos.push(n),
                        _ => c.err(w.span(), &aplace, format!("no window {} in this hall", w.get_ref())),
                    }
                }
                if ws.get_ref().is_empty() {
                    c.err(ws.span(), &aplace, "a window account needs at least one window");
                }
                if role == Role::Evaluator && ws.get_ref().len() > 1 {
                    c.err(ws.span(), &aplace, "an evaluator stands at one window: `windows = [N]`");
                }
            }
            (None, Role::Window) => c.err(a.role.span(), &aplace, "a window account needs `windows = [..]`"),
            (None, Role::Evaluator) => c.err(
                a.role.span(),
                &aplace,
                "an evaluator account needs the window it stands at: `windows = [N]`",
            ),
            (Some(ws), _) => c.err(
                ws.span(),
                &aplace,
                "only window and evaluator accounts are bound to windows",
            ),
            (None, _) => {}
        }
        let pin_hash = match (&a.pin, role) {
            (Some(p), Role::Kiosk) => {
                if argon2::PasswordHash::new(p.get_ref()).is_err() {
                    c.err(
                        p.span(),
                        &aplace,
                        "pin must be an argon2 hash (run `hallcall --hash-password`), never the PIN itself",
                    );
                }
                Some(p.get_ref().clone())
            }
            (Some(p), _) => {
                c.err(p.span(), &aplace, "only a kiosk account has a settings pin");
                None
            }
            (None, _) => None,
        };
        out.push(Account {
            user: user.clone(),
            role,
            password_hash: a.password.get_ref().clone(),
            windows: nos,
            pin_hash,
            card: card(c, a, &aplace),
        });
    }
    out
}

fn hours(c: &mut Checker, h: &file::Hours, day_reset: Time, place: &str) -> Hours {
    let mut out = Hours::always();
    if let Some(days) = &h.days {
        out.days = [false; 7];
        for d in days.get_ref() {
            match DAY_NAMES.iter().position(|n| n == d) {
                Some(i) if !out.days[i] => out.days[i] = true,
                Some(_) => c.err(days.span(), place, format!("day {d:?} is listed twice")),
                None => c.err(
                    days.span(),
                    place,
                    format!("unknown day {d:?} (use mon, tue, wed, thu, fri, sat, sun)"),
                ),
            }
        }
    }
    for iv in h.open.iter().flatten() {
        let parsed = iv
            .get_ref()
            .split_once('-')
            .and_then(|(a, b)| Some((parse_time(a.trim())?, parse_time(b.trim())?)));
        match parsed {
            None => c.err(
                iv.span(),
                place,
                format!("opening hours {:?} are not like \"08:30-12:00\"", iv.get_ref()),
            ),
            Some((a, b)) if a >= b => c.err(
                iv.span(),
                place,
                format!("opening hours {:?} end before they start", iv.get_ref()),
            ),
            Some((a, _)) if a < day_reset => c.err(
                iv.span(),
                place,
                format!(
                    "opening hours {:?} start before the day_reset time {day_reset}",
                    iv.get_ref()
                ),
            ),
            Some((a, b)) => {
                if let Some(&(_, prev_end)) = out.intervals.last() {
                    if a < prev_end {
                        c.err(
                            iv.span(),
                            place,
                            format!("opening hours {:?} overlap or are out of order", iv.get_ref()),
                        );
                    }
                }
                out.intervals.push((a, b));
            }
        }
    }
    out
}

fn policy(c: &mut Checker, p: &file::Policy, place: &str) -> Policy {
    let d = Policy::default();
    let place = &format!("{place}, policy");
    let (priority_calls, normal_calls) = match &p.priority_ratio {
        None => (d.priority_calls, d.normal_calls),
        Some(s) => {
            let parsed = s
                .get_ref()
                .split_once(':')
                .and_then(|(a, b)| Some((a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?)));
            match parsed {
                Some((a, b)) if (1..=20).contains(&a) && (1..=20).contains(&b) => (a, b),
                _ => {
                    c.err(
                        s.span(),
                        place,
                        format!(
                            "priority_ratio {:?} must be like \"1:2\" (priority:normal, each 1 to 20)",
                            s.get_ref()
                        ),
                    );
                    (d.priority_calls, d.normal_calls)
                }
            }
        }
    };
    let transfer_placement = match p.transfer_placement.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
        None => d.transfer_placement,
        Some(("front", _)) => Placement::Front,
        Some(("end", _)) => Placement::End,
        Some((other, span)) => {
            c.err(
                span,
                place,
                format!("transfer_placement {other:?} must be \"front\" or \"end\""),
            );
            d.transfer_placement
        }
    };
    Policy {
        priority_calls,
        normal_calls,
        max_normal_wait_ms: c.int(
            &p.max_normal_wait_minutes,
            place,
            "max_normal_wait_minutes",
            1..1441,
            30,
        ) * 60_000,
        skip_requeue_places: c.int(&p.skip_requeue_places, place, "skip_requeue_places", 0..1001, 3) as u32,
        max_skips: c.int(&p.max_skips, place, "max_skips", 0..11, 1) as u32,
        recall_limit: c.int(&p.recall_limit, place, "recall_limit", 0..21, 5) as u32,
        transfer_placement,
        one_waiting_ticket_per_person: p
            .one_waiting_ticket_per_person
            .unwrap_or(d.one_waiting_ticket_per_person),
        number_digits: c.int(&p.number_digits, place, "number_digits", 1..7, 3) as u8,
        appointment_early_ms: c.int(
            &p.appointment_early_minutes,
            place,
            "appointment_early_minutes",
            0..241,
            15,
        ) * 60_000,
        appointment_grace_ms: c.int(
            &p.appointment_grace_minutes,
            place,
            "appointment_grace_minutes",
            0..241,
            15,
        ) * 60_000,
        open_paused: p.open_paused.unwrap_or(d.open_paused),
        finish_from_called: p.finish_from_called.unwrap_or(d.finish_from_called),
        wait_target_ms: c.int(&p.wait_target_minutes, place, "wait_target_minutes", 5..481, 30) * 60_000,
        mobile_daily_quota: c.int(&p.mobile_daily_quota, place, "mobile_daily_quota", 0..101, 3) as u32,
        mobile_waiting_per_zone: c.int(
            &p.mobile_waiting_per_zone,
            place,
            "mobile_waiting_per_zone",
            0..100_001,
            100,
        ) as u32,
        notice_ahead: c.int(&p.notice_ahead, place, "notice_ahead", 0..51, 3) as u32,
        alert_pause_ms: None,
    }
}

fn windows(
    c: &mut Checker,
    ws: &[file::Window],
    zones: &[ZoneSpec],
    hall_id: &S<String>,
    place: &str,
) -> Vec<WindowSpec> {
    if ws.is_empty() {
        c.err(hall_id.span(), place, "the hall has no windows ([[hall.window]])");
    }
    let mut numbers = HashSet::new();
    let mut out = Vec::new();
    for w in ws {
        let n = *w.number.get_ref();
        let wplace = format!("{place}, window {n}");
        if !(1..=9999).contains(&n) {
            c.err(
                w.number.span(),
                &wplace,
                format!("window number {n} must be from 1 to 9999"),
            );
            continue;
        }
        if !numbers.insert(n) {
            c.err(w.number.span(), &wplace, format!("duplicate window number {n}"));
        }
        if w.serves.get_ref().is_empty() {
            c.err(
                w.serves.span(),
                &wplace,
                "serves is empty: name at least one zone or zone/service",
            );
        }
        let mut serves: Vec<Serve> = Vec::new();
        for entry in w.serves.get_ref() {
            let text = entry.get_ref().as_str();
            let (zid, sid) = match text.split_once('/') {
                Some((z, s)) => (z, Some(s)),
                None => (text, None),
            };
            let Some(zi) = zones.iter().position(|z| z.id.as_str() == zid) else {
                c.err(entry.span(), &wplace, format!("serves unknown zone {zid:?}"));
                continue;
            };
            let zone = &zones[zi];
            let eligible = |s: &ServiceSpec| !w.results_only || s.results;
            let mask = match sid {
                None => ServiceMask::whole_zone(zone, w.results_only).0,
                Some(sid) => match zone.services.iter().position(|s| s.id.as_str() == sid) {
                    None => {
                        c.err(
                            entry.span(),
                            &wplace,
                            format!("serves unknown service {sid:?} of zone {zid:?}"),
                        );
                        continue;
                    }
                    Some(si) if !eligible(&zone.services[si]) => {
                        c.err(
                            entry.span(),
                            &wplace,
                            format!("a results-only window cannot serve {text:?}, which is not a results service"),
                        );
                        continue;
                    }
                    Some(si) => 1u64 << si,
                },
            };
            if mask == 0 {
                c.err(
                    entry.span(),
                    &wplace,
                    format!("zone {zid:?} has no results services for this results-only window"),
                );
                continue;
            }
            // A whole-zone entry after a service of the same zone means "the
            // rest of the zone": entries never overlap.
            let listed = serves
                .iter()
                .filter(|s| s.zone == zi)
                .fold(0u64, |m, s| m | s.services.0);
            let mask = mask & !listed;
            if mask == 0 {
                c.err(
                    entry.span(),
                    &wplace,
                    format!("{text:?} adds nothing: it is already listed"),
                );
                continue;
            }
            serves.push(Serve {
                zone: zi,
                services: ServiceMask(mask),
            });
        }
        out.push(WindowSpec {
            number: n as u16,
            name: w.name.clone(),
            name_en: w.name_en.clone().unwrap_or_else(|| w.name.clone()),
            serves,
            results_only: w.results_only,
            retired: false,
        });
    }
    out
}

/// `[[hall.special_day]]`: public holidays and 调休 working days.
fn special_days(c: &mut Checker, list: &[file::SpecialDay], place: &str) -> Vec<(jiff::civil::Date, bool)> {
    let mut out: Vec<(jiff::civil::Date, bool)> = Vec::new();
    for d in list {
        let Ok(date) = d.date.get_ref().parse::<jiff::civil::Date>() else {
            c.err(
                d.date.span(),
                place,
                format!("special_day date {:?} is not a date like 2026-10-01", d.date.get_ref()),
            );
            continue;
        };
        if out.iter().any(|&(o, _)| o == date) {
            c.err(d.date.span(), place, format!("special_day {date} is listed twice"));
            continue;
        }
        out.push((date, d.open));
    }
    out.sort_unstable();
    out
}

fn directory(c: &mut Checker, d: &file::Directory) -> Directory {
    let place = "directory";
    let url = d.url.get_ref().trim().to_owned();
    let tls = url.starts_with("ldaps://");
    if !tls && !url.starts_with("ldap://") {
        c.err(
            d.url.span(),
            place,
            "url must be ldaps://HOST[:PORT] or ldap://HOST[:PORT]",
        );
    }
    let starttls = d.starttls.unwrap_or(false);
    let plaintext = d.plaintext.unwrap_or(false);
    if tls && starttls {
        c.err(
            d.url.span(),
            place,
            "starttls is for ldap:// URLs: ldaps:// is TLS already",
        );
    }
    if !tls && !starttls && !plaintext {
        c.err(
            d.url.span(),
            place,
            "passwords would cross the network in clear: use ldaps://, or starttls = true (plaintext = true only in a lab)",
        );
    }
    match (&d.bind_dn, &d.bind_password_file) {
        (Some(_), None) => c.err(
            d.url.span(),
            place,
            "bind_dn needs bind_password_file: a file holding its password",
        ),
        (None, Some(f)) => c.err(f.span(), place, "bind_password_file needs bind_dn"),
        _ => {}
    }
    let filter = |c: &mut Checker, v: &Option<S<String>>, what: &str, default: &str, needs: &[&str]| {
        let Some(v) = v else { return default.to_owned() };
        let f = v.get_ref().trim();
        if !(f.starts_with('(') && f.ends_with(')') && needs.iter().any(|n| f.contains(n))) {
            c.err(
                v.span(),
                place,
                format!(
                    "{what} must be an LDAP filter in parentheses naming {}",
                    needs.join(" or ")
                ),
            );
        }
        f.to_owned()
    };
    let user_filter = filter(
        c,
        &d.user_filter,
        "user_filter",
        "(&(objectClass=person)(uid={user}))",
        &["{user}"],
    );
    let group_filter = filter(
        c,
        &d.group_filter,
        "group_filter",
        "(|(member={dn})(uniqueMember={dn}))",
        &["{dn}", "{user}"],
    );
    let word = |v: &Option<S<String>>, default: &str| v.as_ref().map_or(default, |s| s.get_ref().trim()).to_owned();
    let timeout = c.int(&d.timeout_seconds, place, "timeout_seconds", 1..61, 5);
    Directory {
        url,
        bind_dn: d.bind_dn.as_ref().map(|s| s.get_ref().trim().to_owned()),
        bind_password_file: d.bind_password_file.as_ref().map(|s| s.get_ref().into()),
        user_base: d.user_base.get_ref().trim().to_owned(),
        group_base: word(&d.group_base, d.user_base.get_ref().trim()),
        user_filter,
        group_filter,
        name_attribute: word(&d.name_attribute, "displayName"),
        staff_number_attribute: word(&d.staff_number_attribute, "employeeNumber"),
        ca_file: d.ca_file.as_ref().map(|s| s.get_ref().into()),
        starttls,
        plaintext,
        timeout: std::time::Duration::from_secs(timeout as u64),
    }
}

fn directory_groups(
    c: &mut Checker,
    list: &[file::DirectoryGroup],
    windows: &[WindowSpec],
    place: &str,
) -> Vec<DirectoryGroup> {
    let mut out = Vec::new();
    for g in list {
        let gplace = format!("{place}, directory_group {:?}", g.group.get_ref());
        if !g.group.get_ref().contains('=') {
            c.err(
                g.group.span(),
                &gplace,
                "group must be a DN, as in cn=window-staff,ou=groups,dc=example,dc=org",
            );
            continue;
        }
        let role = match Role::parse(g.role.get_ref()) {
            Some(r) if !r.is_device() => r,
            Some(_) => {
                c.err(
                    g.role.span(),
                    &gplace,
                    "displays, kiosks and evaluators are devices: give them local accounts",
                );
                continue;
            }
            None => {
                c.err(
                    g.role.span(),
                    &gplace,
                    "role must be admin, supervisor, guide or window",
                );
                continue;
            }
        };
        let mut nos = Vec::new();
        match (&g.windows, role) {
            (Some(ws), Role::Window) => {
                for w in ws.get_ref() {
                    match u16::try_from(*w.get_ref()).ok() {
                        Some(n) if windows.iter().any(|cw| cw.number == n) => nos.push(n),
                        _ => c.err(w.span(), &gplace, format!("no window {} in this hall", w.get_ref())),
                    }
                }
                if ws.get_ref().is_empty() {
                    c.err(ws.span(), &gplace, "a window group needs at least one window");
                }
            }
            (None, Role::Window) => c.err(g.role.span(), &gplace, "a window group needs `windows = [..]`"),
            (Some(ws), _) => c.err(ws.span(), &gplace, "only window groups are bound to windows"),
            (None, _) => {}
        }
        out.push(DirectoryGroup {
            group: normal_dn(g.group.get_ref()),
            role,
            windows: nos,
        });
    }
    out
}
