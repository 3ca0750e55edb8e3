//! Configuration: the samples load, and each kind of mistake is refused
//! with its file, line, column and place.

use super::*;

const GOOD: &str = r#"
[[hall]]
id = "h"
name = "大厅"
time_zone = "Asia/Shanghai"
window = [
  { number = 1, name = "综合", serves = ["general"] },
]
[[hall.zone]]
id = "general"
name = "综合"
prefix = "A"
service = [{ id = "apply", name = "受理" }]
"#;

fn errors(src: &str) -> Vec<ConfigError> {
    parse(src, "t.toml").expect_err("should be refused").0
}

/// The first problem in `src`, as printed (later ones may follow from it).
fn problem(src: &str) -> String {
    errors(src)[0].to_string()
}

#[test]
fn the_samples_load() {
    for (file, halls) in [("config/hall.toml", 2), ("config/puning.toml", 1)] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let cfg = load(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(cfg.halls.len(), halls, "{file}");
    }
}

#[test]
fn the_qiaocheng_sample_has_the_seed_desk_counts() {
    let cfg = parse(include_str!("../../config/hall.toml"), "hall.toml").unwrap();
    let hall = &cfg.halls[0];
    let desks = |zone: &str| {
        let z = hall.spec.zones.iter().position(|z| z.id.as_str() == zone).unwrap();
        hall.spec.windows.iter().filter(|w| w.serves[0].zone == z).count()
    };
    // 谯政办秘〔2019〕76号: 6, 4, 6, 10, 1, 1, 1 front desks.
    assert_eq!(desks("general"), 6);
    assert_eq!(desks("construction"), 4);
    assert_eq!(desks("police"), 6);
    assert_eq!(desks("business"), 10);
    assert_eq!(
        (desks("culture"), desks("legal-aid"), desks("farm-machinery")),
        (1, 1, 1)
    );
}

#[test]
fn a_minimal_hall_takes_the_defaults() {
    let cfg = parse(GOOD, "t.toml").unwrap();
    let h = &cfg.halls[0];
    assert_eq!(h.spec.policy, Policy::default());
    assert_eq!(h.spec.zones[0].hours, Hours::always());
    assert_eq!(h.spec.day_reset, jiff::civil::Time::midnight());
    assert_eq!(
        h.spec.windows[0].serves,
        vec![Serve {
            zone: 0,
            services: ServiceMask(1)
        }]
    );
}

#[test]
fn syntax_errors_and_unknown_fields_are_placed() {
    let e = problem("[[hall]]\nid = \"h\"\nname = \n");
    assert!(e.starts_with("t.toml:3:"), "{e}");
    let e = problem(&GOOD.replace("prefix = \"A\"", "prefix = \"A\"\ncolour = \"red\""));
    assert!(e.contains("unknown field `colour`"), "{e}");
    assert!(e.starts_with("t.toml:13:1:"), "{e}");
}

#[test]
fn a_window_serving_an_unknown_zone() {
    let e = problem(&GOOD.replace("serves = [\"general\"]", "serves = [\"general\", \"polce\"]"));
    assert_eq!(
        e,
        "t.toml:7:51: hall #1 (\"h\"), window 1: serves unknown zone \"polce\""
    );
}

#[test]
fn a_window_serving_an_unknown_service() {
    let e = problem(&GOOD.replace("serves = [\"general\"]", "serves = [\"general/hukou\"]"));
    assert!(
        e.ends_with("serves unknown service \"hukou\" of zone \"general\""),
        "{e}"
    );
}

#[test]
fn duplicate_ids_numbers_and_prefixes() {
    let two_zones = GOOD.to_owned()
        + "[[hall.zone]]\nid = \"general\"\nname = \"x\"\nprefix = \"A\"\nservice = [{ id = \"s\", name = \"s\" }]\n";
    let errs = errors(&two_zones);
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(text.iter().any(|e| e.contains("duplicate zone id general")), "{text:?}");
    assert!(
        text.iter().any(|e| e.contains("duplicate ticket prefix \"A\"")),
        "{text:?}"
    );
    let e = problem(&GOOD.replace(
        "{ number = 1, name = \"综合\", serves = [\"general\"] },",
        "{ number = 1, name = \"综合\", serves = [\"general\"] },\n  { number = 1, name = \"x\", serves = [\"general\"] },",
    ));
    assert!(e.contains("duplicate window number 1"), "{e}");
    let e = problem(&GOOD.replace(
        "service = [{ id = \"apply\", name = \"受理\" }]",
        "service = [{ id = \"apply\", name = \"a\" }, { id = \"apply\", name = \"b\" }]",
    ));
    assert!(e.contains("duplicate service id apply"), "{e}");
    let e = problem(&format!(
        "{GOOD}{}",
        GOOD.replace("\n[[hall]]\n", "[[hall]]\n")
            .replace("name = \"大厅\"", "name = \"x\"")
    ));
    assert!(e.contains("duplicate hall id \"h\""), "{e}");
}

#[test]
fn an_empty_file_or_hall() {
    let e = problem("");
    assert!(e.contains("no [[hall]] is defined"), "{e}");
    let errs = errors("[[hall]]\nid = \"h\"\nname = \"x\"\ntime_zone = \"Asia/Shanghai\"\n");
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(text.iter().any(|e| e.contains("the hall has no zones")), "{text:?}");
    assert!(text.iter().any(|e| e.contains("the hall has no windows")), "{text:?}");
}

#[test]
fn a_bad_time_zone_or_time() {
    let e = problem(&GOOD.replace("Asia/Shanghai", "Asia/Beijing"));
    assert!(e.starts_with("t.toml:5:13:"), "{e}");
    assert!(e.contains("unknown time zone \"Asia/Beijing\""), "{e}");
    let e = problem(&GOOD.replace("time_zone", "day_reset = \"25:00\"\ntime_zone"));
    assert!(e.contains("day_reset \"25:00\" is not a time"), "{e}");
}

#[test]
fn bad_opening_hours() {
    let with = |hours: &str| GOOD.replace("time_zone", &format!("hours = {hours}\ntime_zone"));
    assert!(problem(&with("{ open = [\"8:30-12:00\"] }")).contains("are not like \"08:30-12:00\""));
    assert!(problem(&with("{ open = [\"12:00-08:30\"] }")).contains("end before they start"));
    assert!(problem(&with("{ open = [\"14:00-17:00\", \"08:30-12:00\"] }")).contains("overlap or are out of order"));
    assert!(problem(&with("{ days = [\"mon\", \"moon\"] }")).contains("unknown day \"moon\""));
    assert!(problem(&with("{ days = [\"mon\", \"mon\"] }")).contains("listed twice"));
    let early = with("{ open = [\"02:00-12:00\"] }").replace("time_zone", "day_reset = \"03:00\"\ntime_zone");
    assert!(problem(&early).contains("start before the day_reset time"));
}

#[test]
fn bad_ids_and_prefixes() {
    assert!(problem(&GOOD.replace("id = \"general\"", "id = \"General\"")).contains("bad zone id"));
    assert!(problem(&GOOD.replace("prefix = \"A\"", "prefix = \"a1\"")).contains("must be 1 to 3 capital letters"));
    assert!(problem(&GOOD.replace("prefix = \"A\"", "prefix = \"ABCD\"")).contains("must be 1 to 3 capital letters"));
}

#[test]
fn a_zone_no_window_serves() {
    let src = GOOD.to_owned()
        + "[[hall.zone]]\nid = \"police\"\nname = \"x\"\nprefix = \"C\"\nservice = [{ id = \"s\", name = \"s\" }]\n";
    assert!(problem(&src).contains("zone police is served by no window"));
}

#[test]
fn results_only_windows_serve_results_only() {
    let src = GOOD.replace(
        "serves = [\"general\"] }",
        "serves = [\"general\"], results_only = true }",
    );
    assert!(problem(&src).contains("has no results services"));
    let src = GOOD.replace(
        "serves = [\"general\"] }",
        "serves = [\"general/apply\"], results_only = true }",
    );
    assert!(problem(&src).contains("cannot serve \"general/apply\""));
}

#[test]
fn preference_entries_must_add_something() {
    let src = GOOD.replace("serves = [\"general\"]", "serves = [\"general\", \"general/apply\"]");
    assert!(problem(&src).contains("\"general/apply\" adds nothing"));
    let src = GOOD.replace("serves = [\"general\"]", "serves = []");
    assert!(problem(&src).contains("serves is empty"));
}

#[test]
fn policy_values_are_checked() {
    let with = |line: &str| format!("{GOOD}[hall.policy]\n{line}\n");
    assert!(problem(&with("priority_ratio = \"1:0\"")).contains("priority_ratio \"1:0\""));
    assert!(problem(&with("priority_ratio = \"two\"")).contains("priority_ratio"));
    assert!(problem(&with("max_skips = -1")).contains("max_skips must be from 0 to 10"));
    assert!(problem(&with("transfer_placement = \"middle\"")).contains("\"front\" or \"end\""));
    assert!(problem(&with("number_digits = 0")).contains("number_digits"));
    let ok = parse(
        &with("priority_ratio = \"2:3\"\ntransfer_placement = \"end\""),
        "t.toml",
    )
    .unwrap();
    let p = &ok.halls[0].spec.policy;
    assert_eq!(
        (p.priority_calls, p.normal_calls, p.transfer_placement),
        (2, 3, Placement::End)
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let src = GOOD
        .replace("Asia/Shanghai", "Mars/Olympus")
        .replace("serves = [\"general\"]", "serves = [\"general\", \"nowhere\"]")
        .replace("prefix = \"A\"", "prefix = \"a\"");
    assert_eq!(errors(&src).len(), 3);
}

#[test]
fn an_unreadable_file_is_named() {
    let e = load(std::path::Path::new("/nonexistent/hall.toml")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/hall.toml:0:0: file: cannot read"),
        "{e}"
    );
}

#[test]
fn accounts_need_a_known_role_a_hash_and_real_windows() {
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$z5rI4j4g1EmAgp3zGxcTJw$GbaB6JrEHunOwNudcCKdXVKdTLHBAufqbhikHa+qwQw";
    let with = |accounts: &str| GOOD.replace("window = [", &format!("account = [{accounts}]\nwindow = ["));
    let ok = parse(
        &with(&format!(
            r#"{{ user = "w1", role = "window", windows = [1], password = "{hash}" }}"#
        )),
        "t.toml",
    )
    .unwrap();
    assert_eq!(ok.halls[0].accounts[0].windows, vec![1]);
    let p = problem(&with(
        r#"{ user = "w1", role = "window", windows = [1], password = "secret" }"#,
    ));
    assert!(p.contains("argon2 hash"), "{p}");
    let p = problem(&with(&format!(
        r#"{{ user = "x", role = "boss", password = "{hash}" }}"#
    )));
    assert!(p.contains("role \"boss\""), "{p}");
    let p = problem(&with(&format!(
        r#"{{ user = "w9", role = "window", windows = [9], password = "{hash}" }}"#
    )));
    assert!(p.contains("no window 9"), "{p}");
    let p = problem(&with(&format!(
        r#"{{ user = "g", role = "guide", windows = [1], password = "{hash}" }}"#
    )));
    assert!(p.contains("only window and evaluator accounts"), "{p}");
    let p = problem(&with(&format!(
        r#"{{ user = "e", role = "evaluator", windows = [1, 1], password = "{hash}" }}"#
    )));
    assert!(p.contains("one window"), "{p}");
    let p = problem(&with(&format!(
        r#"{{ user = "e", role = "evaluator", password = "{hash}" }}"#
    )));
    assert!(p.contains("needs the window"), "{p}");
    let p = problem(&with(&format!(
        r#"{{ user = "k", role = "kiosk", password = "{hash}", pin = "2468" }}"#
    )));
    assert!(p.contains("pin must be an argon2 hash"), "{p}");
    let p = problem(&with(&format!(
        r#"{{ user = "g", role = "guide", password = "{hash}", pin = "{hash}" }}"#
    )));
    assert!(p.contains("only a kiosk account has a settings pin"), "{p}");
    let p = problem(&with(&format!(
        r#"{{ user = "g", role = "guide", password = "{hash}", name = "李明", photo = "photo.jpg" }}"#
    )));
    assert!(p.contains("a photo is an address"), "{p}");
}

#[test]
fn the_voice_section_is_checked() {
    let with = |voice: &str| format!("{GOOD}[hall.voice]\n{voice}\n");
    let v = parse(
        &with(
            r#"languages = ["zh", "en"]
repeat = 3
window_two = "liang"
play = ["device", "browser"]"#,
        ),
        "t.toml",
    )
    .unwrap()
    .halls
    .remove(0)
    .voice;
    assert_eq!(v.languages.len(), 2);
    assert_eq!(
        (v.repeat, v.window_two_liang, v.play_device, v.play_browser),
        (3, true, true, true)
    );
    assert!(problem(&with(r#"languages = ["fr"]"#)).contains("\"fr\""));
    assert!(problem(&with(r#"zh = "请 {number} 号""#)).contains("{window}"));
    assert!(problem(&with(r#"window_two = "three""#)).contains("window_two"));
    assert!(problem(&with(r#"play = ["radio"]"#)).contains("\"radio\""));
    assert!(problem(&with("repeat = 9")).contains("repeat"));
    let v = parse(
        &with("letters = \"silent\"\nlanguage_pause_ms = 900\nprefix_zh = { E = \"综合 E\" }"),
        "t.toml",
    )
    .unwrap()
    .halls
    .remove(0)
    .voice;
    assert!(!v.letters_spoken);
    assert_eq!(v.language_pause_ms, 900);
    assert_eq!(v.prefix_words(crate::config::Lang::Zh, "E"), Some("综合 E"));
    assert_eq!(v.prefix_words(crate::config::Lang::En, "E"), None);
    assert!(problem(&with(r#"letters = "loud""#)).contains("\"loud\""));
    assert!(problem(&with(r#"prefix_zh = { e1 = "x" }"#)).contains("\"e1\""));
    assert!(problem(&with(r#"prefix_en = { A = "{number}" }"#)).contains("placeholders"));
    assert!(problem(&with("language_pause_ms = 9000")).contains("language_pause_ms"));
    let d = parse(GOOD, "t.toml").unwrap().halls.remove(0).voice;
    assert_eq!(d, crate::config::Voice::default());
}

#[test]
fn the_display_notice_is_read_and_bounded() {
    let with = |d: &str| format!("{GOOD}[hall.display]\n{d}\n");
    let d = parse(
        &with("notice = \" 请在休息区等候 \"\nnotice_en = \"Please wait\""),
        "t.toml",
    )
    .unwrap()
    .halls
    .remove(0)
    .display;
    assert_eq!(
        (d.notice.as_str(), d.notice_en.as_str()),
        ("请在休息区等候", "Please wait")
    );
    let long = "字".repeat(crate::config::MAX_NOTICE + 1);
    assert!(problem(&with(&format!("notice = \"{long}\""))).contains("at most 500"));
    assert!(problem(&with("banner = \"x\"")).contains("banner"));
    let none = parse(GOOD, "t.toml").unwrap().halls.remove(0).display;
    assert_eq!(none, crate::config::Display::default());
}

/// The engine's tests build their hall by hand (the engine knows nothing of
/// these files); this is the file that hall stands for, and it must read
/// into exactly that model.
#[test]
fn the_engine_tests_hall_is_what_its_file_reads_into() {
    let src = r#"
[[hall]]
id = "test"
name = "测试大厅"
time_zone = "Asia/Shanghai"
day_reset = "03:00"
hours = { days = ["mon", "tue", "wed", "thu", "fri"], open = ["08:30-12:00", "14:00-17:30"] }
window = [
  { number = 1, name = "综合", serves = ["general"] },
  { number = 2, name = "综合户籍", serves = ["general", "police"] },
  { number = 3, name = "户籍", serves = ["police/hukou"] },
  { number = 4, name = "出件", serves = ["general/results"], results_only = true },
]
[hall.policy]
priority_ratio = "1:2"
max_normal_wait_minutes = 30
skip_requeue_places = 2
max_skips = 1
recall_limit = 2
transfer_placement = "front"
open_paused = false
[[hall.category]]
id = "elderly"
name = "老年人"
[[hall.zone]]
id = "general"
name = "综合"
prefix = "A"
service = [{ id = "apply", name = "受理" }, { id = "results", name = "出件", results = true }]
[[hall.zone]]
id = "police"
name = "户籍"
prefix = "C"
service = [{ id = "hukou", name = "户籍" }, { id = "idcard", name = "身份证" }]
"#;
    let parsed = parse(src, "test.toml").unwrap().halls.remove(0);
    assert_eq!(*parsed.spec, crate::engine::tests::spec());
}

#[test]
fn a_directory_needs_tls_and_its_groups_person_roles_and_real_windows() {
    let directory = |extra: &str| {
        format!(
            "[directory]\nurl = \"ldaps://ad.example.org\"\nuser_base = \"ou=people,dc=example,dc=org\"\n{extra}\n{GOOD}"
        )
    };
    let group = |body: &str| format!("{}\n[[hall.directory_group]]\n{body}\n", directory(""));
    let ok = parse(
        &group("group = \"CN=Intake, OU=Groups,DC=example,DC=org\"\nrole = \"window\"\nwindows = [1]"),
        "t.toml",
    )
    .unwrap();
    let d = ok.directory.as_ref().unwrap();
    assert_eq!(d.user_filter, "(&(objectClass=person)(uid={user}))");
    assert_eq!(d.group_base, "ou=people,dc=example,dc=org");
    let g = &ok.halls[0].directory_groups[0];
    assert_eq!(
        (g.group.as_str(), g.role, g.windows.as_slice()),
        ("cn=intake,ou=groups,dc=example,dc=org", Role::Window, &[1u16][..])
    );

    let clear = directory("").replace("ldaps://", "ldap://");
    assert!(problem(&clear).contains("in clear"), "{}", problem(&clear));
    assert!(parse(&directory("starttls = true").replace("ldaps://", "ldap://"), "t.toml").is_ok());
    assert!(problem(&directory("starttls = true")).contains("TLS already"));
    assert!(problem(&directory("bind_dn = \"cn=svc\"")).contains("bind_password_file"));
    assert!(problem(&directory("user_filter = \"uid=x\"")).contains("{user}"));
    let p = problem(&group("group = \"cn=kiosks,dc=x\"\nrole = \"kiosk\""));
    assert!(p.contains("devices"), "{p}");
    let p = problem(&group("group = \"cn=w,dc=x\"\nrole = \"window\"\nwindows = [9]"));
    assert!(p.contains("no window 9"), "{p}");
    let p = problem(&group("group = \"cn=w,dc=x\"\nrole = \"window\""));
    assert!(p.contains("needs `windows"), "{p}");
    let p = problem(&group("group = \"staff\"\nrole = \"guide\""));
    assert!(p.contains("must be a DN"), "{p}");
    let orphan = format!("{GOOD}\n[[hall.directory_group]]\ngroup = \"cn=g,dc=x\"\nrole = \"guide\"\n");
    assert!(problem(&orphan).contains("need a [directory]"), "{}", problem(&orphan));
}
