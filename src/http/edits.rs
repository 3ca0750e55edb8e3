//! The administration page's edits, applied to a hall's document with
//! `toml_edit` so that everything else in it (comments, order, the tables
//! the page does not edit) stays as the administrator wrote it. The result
//! is validated like any other document afterwards.

use serde::Deserialize;
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, TableLike, value};

/// One edit. Windows are found by number, accounts by user name, special
/// days by date.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Edit {
    /// Adds a window or replaces what one is called and serves.
    SetWindow {
        number: u16,
        name: String,
        #[serde(default)]
        name_en: String,
        /// In order of preference: `ZONE` or `ZONE/SERVICE`.
        serves: Vec<String>,
        #[serde(default)]
        results_only: bool,
    },
    RemoveWindow {
        number: u16,
    },
    /// Adds an account or changes one; a new account needs a password.
    SetAccount {
        user: String,
        role: String,
        #[serde(default)]
        windows: Vec<u16>,
        #[serde(default)]
        name: String,
        #[serde(default)]
        staff_number: String,
        #[serde(default)]
        photo: String,
        /// Set here, kept only as its argon2 hash; none keeps the old one.
        #[serde(default)]
        password: Option<String>,
    },
    RemoveAccount {
        user: String,
    },
    /// The hall display's scrolling notice (温馨提示).
    SetNotice {
        notice: String,
        #[serde(default)]
        notice_en: String,
    },
    /// A public holiday (`open: false`) or a 调休 working day (`open: true`).
    SetSpecialDay {
        date: String,
        open: bool,
        #[serde(default)]
        name: String,
    },
    RemoveSpecialDay {
        date: String,
    },
    /// Adds a zone or changes one (its hours and alerts stay as written).
    SetZone {
        id: String,
        name: String,
        #[serde(default)]
        name_en: String,
        prefix: String,
        /// Expected minutes per service before any is measured.
        #[serde(default)]
        service_minutes: Option<i64>,
        services: Vec<ServiceEdit>,
        /// Its own opening hours; absent: as written (or the hall's).
        #[serde(default)]
        hours: Option<HoursEdit>,
    },
    RemoveZone {
        id: String,
    },
    /// Sets `[hall.voice]` keys as the file writes them (`languages`,
    /// `zh`, `en`, `repeat`, `gap_ms`, `language_pause_ms`, `letters`,
    /// `prefix_zh`, `prefix_en`, `window_two`, `play`,
    /// `announce_within_seconds`); `null` removes one.
    SetVoice {
        #[schema(value_type = Object)]
        values: serde_json::Map<String, serde_json::Value>,
    },
    /// Adds a priority category (绿色通道) or renames one.
    SetCategory {
        id: String,
        name: String,
        #[serde(default)]
        name_en: String,
    },
    RemoveCategory {
        id: String,
    },
    /// Sets `[hall.policy]` keys (as the file writes them: `priority_ratio
    /// = "1:2"`, `recall_limit = 3`, `open_paused = true`, …); `null`
    /// removes a key, back to its default.
    SetPolicy {
        #[schema(value_type = Object)]
        values: serde_json::Map<String, serde_json::Value>,
    },
}

/// A zone's opening hours as the file writes them: `days` like `"mon"`,
/// `open` like `"08:30-12:00"`. No days: the zone takes the hall's hours.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursEdit {
    pub days: Vec<String>,
    #[serde(default)]
    pub open: Vec<String>,
}

/// One service of a zone, as [`Edit::SetZone`] gives it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceEdit {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub results: bool,
}

/// The shortest password an administrator may set.
pub const MIN_PASSWORD: usize = 8;

/// `text` with every edit made, in order.
///
/// # Errors
/// What is wrong with an edit: what it names is missing, a new account
/// without a password, a password too short.
pub fn apply_edits(text: &str, edits: &[Edit]) -> Result<String, String> {
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("the document does not read: {e}"))?;
    let hall = doc
        .get_mut("hall")
        .and_then(Item::as_array_of_tables_mut)
        .and_then(|a| a.get_mut(0))
        .ok_or("the document holds no [[hall]]")?;
    for e in edits {
        apply(hall, e)?;
    }
    Ok(doc.to_string())
}

/// A list of tables in either form a file may use: `[[hall.window]]`
/// tables, or `window = [ { … }, … ]` inline (kept in its own form).
enum Rows<'t> {
    Tables(&'t mut ArrayOfTables),
    Inline(&'t mut Array),
}

impl Rows<'_> {
    fn len(&self) -> usize {
        match self {
            Rows::Tables(a) => a.len(),
            Rows::Inline(a) => a.len(),
        }
    }

    fn get(&self, i: usize) -> Option<&dyn TableLike> {
        match self {
            Rows::Tables(a) => a.get(i).map(|t| t as &dyn TableLike),
            Rows::Inline(a) => a.get(i).and_then(|v| v.as_inline_table()).map(|t| t as &dyn TableLike),
        }
    }

    fn get_mut(&mut self, i: usize) -> Option<&mut dyn TableLike> {
        match self {
            Rows::Tables(a) => a.get_mut(i).map(|t| t as &mut dyn TableLike),
            Rows::Inline(a) => a
                .get_mut(i)
                .and_then(|v| v.as_inline_table_mut())
                .map(|t| t as &mut dyn TableLike),
        }
    }

    /// A new row at the end; its index.
    fn push(&mut self) -> usize {
        match self {
            Rows::Tables(a) => a.push(Table::new()),
            Rows::Inline(a) => {
                let mut v = toml_edit::Value::InlineTable(InlineTable::new());
                v.decor_mut().set_prefix("\n  ");
                a.push_formatted(v);
                a.set_trailing(",\n");
                a.set_trailing_comma(false);
            }
        }
        self.len() - 1
    }

    fn remove(&mut self, i: usize) {
        match self {
            Rows::Tables(a) => {
                a.remove(i);
            }
            Rows::Inline(a) => {
                a.remove(i);
            }
        }
    }

    /// The row whose `key` is `wanted`, or a new one with `key = new`.
    fn entry(&mut self, key: &str, wanted: &str, new: Item) -> &mut dyn TableLike {
        let at = match self.find(key, wanted) {
            Some(i) => i,
            None => {
                let i = self.push();
                self.get_mut(i).expect("just pushed").insert(key, new);
                i
            }
        };
        self.get_mut(at).expect("found or pushed")
    }

    fn find(&self, key: &str, wanted: &str) -> Option<usize> {
        (0..self.len()).find(|&i| {
            self.get(i).and_then(|t| t.get(key)).is_some_and(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .or_else(|| v.as_integer().map(|n| n.to_string()))
                    .as_deref()
                    == Some(wanted)
            })
        })
    }
}

fn rows<'t>(hall: &'t mut Table, key: &str) -> Rows<'t> {
    let inline = hall.get(key).and_then(Item::as_array).is_some();
    if !inline && !hall.get(key).is_some_and(Item::is_array_of_tables) {
        hall.insert(key, Item::ArrayOfTables(ArrayOfTables::new()));
    }
    let item = hall.get_mut(key).expect("present or just made");
    if inline {
        Rows::Inline(item.as_array_mut().expect("an inline array"))
    } else {
        Rows::Tables(item.as_array_of_tables_mut().expect("an array of tables"))
    }
}

fn set_or_remove(t: &mut dyn TableLike, key: &str, v: &str) {
    if v.is_empty() {
        t.remove(key);
    } else {
        t.insert(key, value(v));
    }
}

/// Sets keys of the hall's `[hall.SECTION]` table as JSON gives them.
fn set_keys(
    hall: &mut Table,
    section: &str,
    values: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    if !hall.get(section).is_some_and(Item::is_table_like) {
        hall.insert(section, Item::Table(Table::new()));
    }
    let t = hall
        .get_mut(section)
        .and_then(Item::as_table_like_mut)
        .expect("just made a table");
    for (k, v) in values {
        let item = match v {
            serde_json::Value::Null => {
                t.remove(k);
                continue;
            }
            serde_json::Value::Bool(b) => value(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => value(i),
                None => return Err(format!("{section} {k}: a whole number, not {n}")),
            },
            serde_json::Value::String(s) => value(s.as_str()),
            serde_json::Value::Array(a) => {
                let strings: Option<Array> = a.iter().map(|x| x.as_str()).collect();
                value(strings.ok_or(format!("{section} {k}: a list of words"))?)
            }
            serde_json::Value::Object(_) => return Err(format!("{section} {k}: not a table")),
        };
        t.insert(k, item);
    }
    Ok(())
}

fn apply(hall: &mut Table, e: &Edit) -> Result<(), String> {
    match e {
        Edit::SetWindow {
            number,
            name,
            name_en,
            serves,
            results_only,
        } => {
            let mut windows = rows(hall, "window");
            let t = windows.entry("number", &number.to_string(), value(i64::from(*number)));
            t.insert("name", value(name.as_str()));
            set_or_remove(t, "name_en", name_en);
            t.insert("serves", value(serves.iter().map(String::as_str).collect::<Array>()));
            if *results_only {
                t.insert("results_only", value(true));
            } else {
                t.remove("results_only");
            }
        }
        Edit::RemoveWindow { number } => {
            let mut windows = rows(hall, "window");
            let at = windows
                .find("number", &number.to_string())
                .ok_or(format!("there is no window {number}"))?;
            windows.remove(at);
        }
        Edit::SetAccount {
            user,
            role,
            windows,
            name,
            staff_number,
            photo,
            password,
        } => {
            let mut accounts = rows(hall, "account");
            let existing = accounts.find("user", user).is_some();
            let hash = match password {
                Some(p) if p.chars().count() < MIN_PASSWORD => {
                    return Err(format!("a password is at least {MIN_PASSWORD} characters"));
                }
                Some(p) => Some(crate::auth::hash_password(p).map_err(|e| format!("cannot hash the password: {e}"))?),
                None if !existing => return Err(format!("account {user:?} is new: give it a password")),
                None => None,
            };
            let t = accounts.entry("user", user, value(user.as_str()));
            t.insert("role", value(role.as_str()));
            if let Some(h) = hash {
                t.insert("password", value(h));
            }
            if windows.is_empty() {
                t.remove("windows");
            } else {
                t.insert(
                    "windows",
                    value(windows.iter().map(|&w| i64::from(w)).collect::<Array>()),
                );
            }
            set_or_remove(t, "name", name);
            set_or_remove(t, "staff_number", staff_number);
            set_or_remove(t, "photo", photo);
        }
        Edit::RemoveAccount { user } => {
            let mut accounts = rows(hall, "account");
            let at = accounts
                .find("user", user)
                .ok_or(format!("there is no account {user:?}"))?;
            accounts.remove(at);
        }
        Edit::SetNotice { notice, notice_en } => {
            if !hall.get("display").is_some_and(Item::is_table) {
                hall.insert("display", Item::Table(Table::new()));
            }
            let t = hall["display"].as_table_mut().expect("just made a table");
            set_or_remove(t, "notice", notice);
            set_or_remove(t, "notice_en", notice_en);
        }
        Edit::SetSpecialDay { date, open, name } => {
            let mut days = rows(hall, "special_day");
            let t = days.entry("date", date, value(date.as_str()));
            t.insert("open", value(*open));
            set_or_remove(t, "name", name);
        }
        Edit::SetZone {
            id,
            name,
            name_en,
            prefix,
            service_minutes,
            services,
            hours,
        } => {
            let mut zones = rows(hall, "zone");
            let t = zones.entry("id", id, value(id.as_str()));
            t.insert("name", value(name.as_str()));
            set_or_remove(t, "name_en", name_en);
            t.insert("prefix", value(prefix.as_str()));
            match service_minutes {
                Some(m) => {
                    t.insert("service_minutes", value(*m));
                }
                None => {
                    t.remove("service_minutes");
                }
            }
            let mut list = Array::new();
            for s in services {
                let mut one = InlineTable::new();
                one.insert("id", s.id.as_str().into());
                one.insert("name", s.name.as_str().into());
                if !s.name_en.is_empty() {
                    one.insert("name_en", s.name_en.as_str().into());
                }
                if s.results {
                    one.insert("results", true.into());
                }
                let mut v = toml_edit::Value::InlineTable(one);
                v.decor_mut().set_prefix("\n  ");
                list.push_formatted(v);
            }
            list.set_trailing(",\n");
            list.set_trailing_comma(false);
            t.insert("service", value(list));
            match hours {
                Some(h) if h.days.is_empty() => {
                    t.remove("hours");
                }
                Some(h) => {
                    let mut one = InlineTable::new();
                    one.insert("days", h.days.iter().map(String::as_str).collect::<Array>().into());
                    if !h.open.is_empty() {
                        one.insert("open", h.open.iter().map(String::as_str).collect::<Array>().into());
                    }
                    t.insert("hours", value(one));
                }
                None => {}
            }
        }
        Edit::SetCategory { id, name, name_en } => {
            let mut list = rows(hall, "category");
            let t = list.entry("id", id, value(id.as_str()));
            t.insert("name", value(name.as_str()));
            set_or_remove(t, "name_en", name_en);
        }
        Edit::RemoveCategory { id } => {
            let mut list = rows(hall, "category");
            let at = list.find("id", id).ok_or(format!("there is no category {id:?}"))?;
            list.remove(at);
        }
        Edit::SetVoice { values } => set_keys(hall, "voice", values)?,
        Edit::RemoveZone { id } => {
            let mut zones = rows(hall, "zone");
            let at = zones.find("id", id).ok_or(format!("there is no zone {id:?}"))?;
            zones.remove(at);
        }
        Edit::SetPolicy { values } => set_keys(hall, "policy", values)?,
        Edit::RemoveSpecialDay { date } => {
            let mut days = rows(hall, "special_day");
            let at = days
                .find("date", date)
                .ok_or(format!("there is no special day {date}"))?;
            days.remove(at);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Edit, apply_edits};

    const DOC: &str = r#"[[hall]]
id = "h"
name = "大厅" # the hall's name
time_zone = "Asia/Shanghai"

[[hall.zone]]
id = "general"
name = "综合"
prefix = "A"
service = [{ id = "apply", name = "受理" }]

# the first window
[[hall.window]]
number = 1
name = "一号"
serves = ["general"]
"#;

    fn cfg_of(text: &str) -> crate::config::HallConfig {
        crate::config::parse_hall(text, "test", false).unwrap()
    }

    #[test]
    fn edits_keep_what_they_do_not_touch() {
        let out = apply_edits(
            DOC,
            &[
                Edit::SetWindow {
                    number: 2,
                    name: "二号".into(),
                    name_en: String::new(),
                    serves: vec!["general/apply".into()],
                    results_only: false,
                },
                Edit::SetNotice {
                    notice: "请保管好随身物品".into(),
                    notice_en: String::new(),
                },
                Edit::SetSpecialDay {
                    date: "2026-10-01".into(),
                    open: false,
                    name: "国庆节".into(),
                },
            ],
        )
        .unwrap();
        assert!(
            out.contains("# the hall's name") && out.contains("# the first window"),
            "{out}"
        );
        let cfg = crate::config::parse_hall(&out, "test", false).unwrap();
        assert_eq!(cfg.spec.windows.len(), 2);
        assert_eq!(cfg.display.notice, "请保管好随身物品");
        assert_eq!(cfg.spec.special_days.len(), 1);
        let out = apply_edits(&out, &[Edit::RemoveWindow { number: 1 }]).unwrap();
        let cfg = crate::config::parse_hall(&out, "test", false).unwrap();
        assert_eq!(cfg.spec.windows[0].number, 2);
    }

    #[test]
    fn inline_lists_stay_inline() {
        let file = include_str!("../../config/hall.toml");
        let doc = &crate::config::split_halls(file)[0];
        let out = apply_edits(
            doc,
            &[
                Edit::SetWindow {
                    number: 1,
                    name: "综合受理".into(),
                    name_en: "Comprehensive intake".into(),
                    serves: vec!["general".into(), "police".into()],
                    results_only: false,
                },
                Edit::SetWindow {
                    number: 40,
                    name: "新窗口".into(),
                    name_en: String::new(),
                    serves: vec!["culture".into()],
                    results_only: false,
                },
            ],
        )
        .unwrap();
        assert!(out.contains("# 工程建设项目: 4 desks."), "comments kept");
        assert!(!out.contains("[[hall.window]]"), "{out}");
        let cfg = crate::config::parse_hall(&out, "test", false).unwrap();
        let w1 = cfg.spec.windows.iter().find(|w| w.number == 1).unwrap();
        assert_eq!(w1.serves.len(), 2);
        assert!(cfg.spec.windows.iter().any(|w| w.number == 40));
        assert_eq!(
            cfg.spec.windows.len(),
            crate::config::parse_hall(doc, "t", false).unwrap().spec.windows.len() + 1
        );
    }

    #[test]
    fn a_zone_and_the_policy_change_and_mistakes_are_found_by_validation() {
        let out = apply_edits(
            DOC,
            &[
                Edit::SetZone {
                    id: "general".into(),
                    name: "综合".into(),
                    name_en: "General".into(),
                    prefix: "A".into(),
                    service_minutes: Some(8),
                    hours: Some(super::HoursEdit {
                        days: vec!["mon".into(), "sat".into()],
                        open: vec!["09:00-12:00".into()],
                    }),
                    services: vec![
                        super::ServiceEdit {
                            id: "apply".into(),
                            name: "受理".into(),
                            name_en: String::new(),
                            results: false,
                        },
                        super::ServiceEdit {
                            id: "results".into(),
                            name: "出件".into(),
                            name_en: "Results".into(),
                            results: true,
                        },
                    ],
                },
                Edit::SetPolicy {
                    values: serde_json::json!({"recall_limit": 3, "priority_ratio": "1:3", "open_paused": true})
                        .as_object()
                        .unwrap()
                        .clone(),
                },
                Edit::SetVoice {
                    values: serde_json::json!({"languages": ["zh", "en"], "repeat": 1, "window_two": "liang"})
                        .as_object()
                        .unwrap()
                        .clone(),
                },
                Edit::SetCategory {
                    id: "elderly".into(),
                    name: "老年人".into(),
                    name_en: "Elderly".into(),
                },
            ],
        )
        .unwrap();
        assert_eq!(cfg_of(&out).voice.languages.len(), 2);
        assert!(cfg_of(&out).voice.window_two_liang);
        assert_eq!(cfg_of(&out).spec.categories[0].name_en, "Elderly");
        let without = apply_edits(&out, &[Edit::RemoveCategory { id: "elderly".into() }]).unwrap();
        assert!(cfg_of(&without).spec.categories.is_empty());
        let cfg = crate::config::parse_hall(&out, "test", false).unwrap();
        assert_eq!(cfg.spec.zones[0].services.len(), 2);
        assert!(cfg.spec.zones[0].services[1].results);
        assert_eq!(cfg.spec.zones[0].default_service_secs, 480);
        assert_eq!(
            cfg.spec.zones[0].hours.days,
            [true, false, false, false, false, true, false]
        );
        assert_eq!(cfg.spec.zones[0].hours.intervals.len(), 1);
        assert_eq!(cfg.spec.policy.recall_limit, 3);
        assert_eq!((cfg.spec.policy.priority_calls, cfg.spec.policy.normal_calls), (1, 3));
        assert!(cfg.spec.policy.open_paused);
        // An unknown key is written, then refused by the same validation as
        // the file, with its place.
        let bad = apply_edits(
            &out,
            &[Edit::SetPolicy {
                values: serde_json::json!({"recal_limit": 3}).as_object().unwrap().clone(),
            }],
        )
        .unwrap();
        let e = crate::config::parse_hall(&bad, "test", false).unwrap_err().to_string();
        assert!(e.contains("recal_limit"), "{e}");
        // Back to the default.
        let reset = apply_edits(
            &out,
            &[Edit::SetPolicy {
                values: serde_json::json!({"recall_limit": null}).as_object().unwrap().clone(),
            }],
        )
        .unwrap();
        assert_eq!(
            crate::config::parse_hall(&reset, "test", false)
                .unwrap()
                .spec
                .policy
                .recall_limit,
            5
        );
    }

    #[test]
    fn an_account_gets_a_hash_never_the_password() {
        let set = |password: Option<&str>| Edit::SetAccount {
            user: "li".into(),
            role: "window".into(),
            windows: vec![1],
            name: "李明".into(),
            staff_number: "0305".into(),
            photo: String::new(),
            password: password.map(Into::into),
        };
        assert!(
            apply_edits(DOC, &[set(None)])
                .unwrap_err()
                .contains("give it a password")
        );
        assert!(
            apply_edits(DOC, &[set(Some("short"))])
                .unwrap_err()
                .contains("at least 8")
        );
        let out = apply_edits(DOC, &[set(Some("correct horse"))]).unwrap();
        assert!(!out.contains("correct horse"));
        let cfg = crate::config::parse_hall(&out, "test", false).unwrap();
        let a = cfg.account("li").unwrap();
        assert!(crate::auth::verify_password("correct horse", &a.password_hash));
        assert_eq!(a.card.staff_number, "0305");
        // Changed without a password: the hash stays.
        let again = apply_edits(&out, &[set(None)]).unwrap();
        let b = crate::config::parse_hall(&again, "test", false).unwrap();
        assert_eq!(b.account("li").unwrap().password_hash, a.password_hash);
        assert!(apply_edits(&again, &[Edit::RemoveAccount { user: "nobody".into() }]).is_err());
    }
}
