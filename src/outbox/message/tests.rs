//! What a scripted morning makes for a webhook and the platform.

use super::*;
use crate::archive::Day;
use crate::engine::{Channel, Command, Hall, Issue, Rating};

const HALL: &str = r#"
[[hall]]
id = "h"
name = "大厅"
time_zone = "Asia/Shanghai"
window = [
  { number = 1, name = "综合", serves = ["general"] },
]
[[hall.account]]
user = "li"
role = "window"
windows = [1]
password = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
name = "李明"
staff_number = "0305"
[[hall.zone]]
id = "general"
name = "综合"
prefix = "A"
service = [{ id = "apply", name = "受理" }]
[[hall.webhook]]
name = "erp"
url = "https://erp.example/hook"
secret_file = "/etc/hallcall/erp.secret"
events = ["TicketCalled", "ServiceFinished"]
[[hall.webhook]]
name = "all"
url = "http://10.0.0.9/in"
secret_file = "/etc/hallcall/all.secret"
events = ["*"]
[hall.platform]
url = "https://zwfw.example.gov.cn/queue"
secret_file = "/etc/hallcall/platform.secret"
hall_code = "341602-01"
"#;

fn at(h: i8, m: i8) -> Millis {
    crate::engine::tests::local(h, m)
}

/// Every message a morning makes, with the replay the outbox runs.
fn morning() -> (HallConfig, Vec<Message>) {
    let cfg = crate::config::parse(HALL, "t.toml").unwrap().halls.remove(0);
    let mut hall = Hall::new(cfg.spec.clone());
    let mut day = Day::new(cfg.spec.clone());
    let mut calls = Calls::default();
    let mut out = Vec::new();
    let label = cfg.accounts[0].card.label("li");
    let zone = cfg.spec.zones[0].id;
    let service = cfg.spec.zones[0].services[0].id;
    let script = [
        (
            at(9, 0),
            Command::Open {
                window: 1,
                staff: Some(label),
            },
        ),
        (at(9, 1), Command::Issue(Issue::normal(zone, service, Channel::Kiosk))),
        (at(9, 5), Command::CallNext { window: 1 }),
        (at(9, 6), Command::Start { window: 1 }),
        (at(9, 16), Command::Finish { window: 1 }),
        (
            at(9, 17),
            Command::Rate {
                ticket: "A001".parse().unwrap(),
                level: Rating::Satisfied,
                comment: Some("快".into()),
            },
        ),
    ];
    for (now, cmd) in script {
        for ev in hall.execute(&cmd, now).unwrap_or_else(|e| panic!("{cmd:?}: {e}")) {
            let mut rows = Rows::default();
            day.feed(&ev, &mut rows).unwrap();
            calls.note(&ev);
            out.extend(make(HallId::new("h").unwrap(), &cfg, &ev, &rows, &calls));
        }
    }
    (cfg, out)
}

#[test]
fn webhooks_get_the_types_they_asked_for_and_the_platform_its_records() {
    let (_, msgs) = morning();
    let of = |sink: &str| -> Vec<&str> {
        msgs.iter()
            .filter(|m| m.sink.name() == sink)
            .map(|m| m.kind.as_str())
            .collect()
    };
    assert_eq!(of("webhook:erp"), ["TicketCalled", "ServiceFinished"]);
    assert_eq!(
        of("webhook:all"),
        [
            "DayStarted",
            "WindowOpened",
            "TicketIssued",
            "TicketCalled",
            "ServiceStarted",
            "ServiceFinished",
            "TicketRated"
        ]
    );
    assert_eq!(of("platform"), ["visit", "rating"]);
    let mut keys: Vec<&str> = msgs.iter().map(|m| m.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), msgs.len(), "every message has a key of its own");
}

#[test]
fn a_visit_record_carries_times_names_and_the_staff_number() {
    let (_, msgs) = morning();
    let visit = msgs.iter().find(|m| m.kind == "visit").unwrap();
    let v: Value = serde_json::from_str(&visit.body).unwrap();
    assert_eq!(v["hall_code"], "341602-01");
    assert_eq!(v["ticket"], "A001");
    assert_eq!(v["service_name"], "受理");
    assert_eq!(v["window"], 1);
    assert_eq!(v["staff_number"], "0305");
    assert_eq!(v["issued_at"], "2026-11-24T09:01:00+08:00");
    assert_eq!(v["wait_seconds"], 240);
    assert_eq!(v["service_seconds"], 600);
    assert_eq!(v["calls"], 1);
    assert_eq!(v["first_called_at"], "2026-11-24T09:05:00+08:00");
    assert_eq!(v["id"], visit.key);
    let rating = msgs.iter().find(|m| m.kind == "rating").unwrap();
    let r: Value = serde_json::from_str(&rating.body).unwrap();
    assert_eq!((r["level"].as_str(), r["score"].as_u64()), (Some("satisfied"), Some(4)));
    assert_eq!(r["comment"], "快");
    // A webhook's body is the event as staff receive it: no person's key.
    let called = msgs.iter().find(|m| m.sink.name() == "webhook:erp").unwrap();
    let c: Value = serde_json::from_str(&called.body).unwrap();
    assert_eq!(c["event"]["type"], "TicketCalled");
    assert_eq!(c["event"]["ticket"], "A001");
}

#[test]
fn the_same_events_make_the_same_keys() {
    let (_, a) = morning();
    let (_, b) = morning();
    assert_eq!(a, b);
    assert!(a[0].key.starts_with("h."), "{}", a[0].key);
}
