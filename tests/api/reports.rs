//! A scripted day through the real server: the live figures pushed to the
//! supervisor, then the day's report (JSON and CSV), checked against
//! numbers worked out by hand, and again after a restart.

use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use crate::helpers::{TUESDAY_10AM, TestApp, spawn_app, spawn_app_on, until};

const HALL: &str = "/api/v1/halls/qiaocheng";
const MIN: i64 = 60_000;

/// Local time on Tuesday 2026-11-24 in the sample hall.
fn at(h: i64, m: i64) -> i64 {
    TUESDAY_10AM + ((h - 10) * 60 + m) * MIN
}

async fn window(app: &TestApp, n: u16, action: &str, body: Option<Value>) {
    let user = format!("w{n}");
    let (s, r) = app
        .post_as("qiaocheng", &user, &format!("{HALL}/windows/{n}/{action}"), body)
        .await;
    assert_eq!(s, 200, "window {n} {action}: {r}");
}

/// Issues a ticket; its citizen token.
async fn issue(app: &TestApp) -> String {
    let body = json!({"zone": "general", "service": "social"});
    let (s, r) = app
        .post_as("qiaocheng", "guide", &format!("{HALL}/tickets"), Some(body))
        .await;
    assert_eq!(s, 201, "{r}");
    r["token"].as_str().unwrap().to_owned()
}

async fn report(app: &TestApp, query: &str) -> (u16, Value) {
    app.get_as("qiaocheng", "supervisor", &format!("{HALL}/report{query}"))
        .await
}

async fn csv_text(app: &TestApp, query: &str) -> String {
    let token = app.token("qiaocheng", "supervisor").await;
    let res = app
        .client
        .get(app.url(&format!("{HALL}/report.csv{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/csv"), "{kind}");
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(
        disposition.contains("hallcall-qiaocheng-2026-11-24-2026-11-24.csv"),
        "{disposition}"
    );
    res.text().await.unwrap()
}

/// The JSON value a CSV column stands for, in one of the report's rows.
fn json_cell<'a>(report: &'a Value, row: &'a Value, section: &str, column: &str) -> &'a Value {
    let (head, tail) = column.split_once('_').unwrap_or((column, ""));
    match (head, tail) {
        ("wait" | "service" | "walk", stat) => &row[head][stat],
        ("pause", reason) => &row["pause"][reason],
        ("follow", step) if section == "hall" => &report["follow_ups"][step.trim_start_matches("up_")],
        ("follow", _) => &Value::Null,
        ("rating", "rate_pct") => &row["ratings"]["rate_pct"],
        _ if [
            "very_satisfied",
            "satisfied",
            "basic",
            "dissatisfied",
            "very_dissatisfied",
            "rated",
            "bad",
        ]
        .contains(&column) =>
        {
            &row["ratings"][column]
        }
        _ => &row[column],
    }
}

fn same(cell: &str, value: &Value) -> bool {
    match value {
        Value::Null => cell.is_empty(),
        Value::String(s) => cell == s,
        Value::Number(n) => cell.parse::<f64>().ok() == n.as_f64(),
        _ => false,
    }
}

/// Every cell of every group row of the CSV equals the JSON.
fn assert_csv_equals_json(text: &str, report: &Value) {
    let body = text
        .strip_prefix('\u{feff}')
        .expect("a byte-order mark for spreadsheets");
    let mut rows = csv::Reader::from_reader(body.as_bytes());
    let columns: Vec<String> = rows.headers().unwrap().iter().map(str::to_owned).collect();
    let mut seen = 0;
    for record in rows.records() {
        let record = record.expect("the CSV parses");
        let section = &record[0];
        let list = match section {
            "hall" => None,
            "zone" => Some("zones"),
            "service" => Some("services"),
            "window" => Some("windows"),
            "staff" => Some("staff"),
            "hour" => continue,
            other => panic!("unknown section {other}"),
        };
        let row = match list {
            None => &report["total"],
            Some(list) => report[list]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["key"] == record[1])
                .unwrap_or_else(|| panic!("no {list} row {} in the JSON", &record[1])),
        };
        for (i, column) in columns.iter().enumerate().skip(1) {
            if column == "arrivals" {
                continue;
            }
            let value = json_cell(report, row, section, column);
            assert!(
                same(&record[i], value),
                "{section} {}: column {column} is {:?} in the CSV, {value} in the JSON",
                &record[1],
                &record[i]
            );
        }
        seen += 1;
    }
    let groups = ["zones", "services", "windows", "staff"]
        .iter()
        .map(|l| report[*l].as_array().unwrap().len())
        .sum::<usize>();
    assert_eq!(seen, 1 + groups, "a CSV row per group");
}

#[tokio::test]
async fn a_scripted_day_gives_hand_worked_live_figures_and_report_and_survives_a_restart() {
    let app = spawn_app().await;
    let clock = |h, m| app.clock.store(at(h, m), Ordering::SeqCst);

    clock(8, 30);
    window(&app, 1, "open", None).await; // paused (signed in) from 8:30
    window(&app, 2, "open", None).await;
    clock(8, 35);
    window(&app, 1, "resume", None).await; // signed in 5 min
    clock(8, 40);
    window(&app, 2, "resume", None).await; // signed in 10 min
    let a001 = issue(&app).await; // 8:40: windows 1 and 2 idle with work
    clock(8, 50);
    issue(&app).await; // A002
    clock(9, 0);
    window(&app, 1, "call-next", None).await; // A001 waited 20 min; w1 idle 20 min

    let mut board = app.live("qiaocheng", "supervisor", "").await;
    until(&mut board, |v| v["type"] == "snapshot").await;
    clock(9, 3);
    window(&app, 1, "start", None).await; // walk 3 min
    let delta = until(&mut board, |v| {
        v["type"] == "delta"
            && v["windows"]
                .as_array()
                .is_some_and(|w| w.iter().any(|w| w["number"] == 1))
    })
    .await;
    // Live at 9:03: A002 waits (13 min so far); one call in the last hour
    // (20 min). The forecast: idle window 2 takes A002 now, so a new
    // ticket goes to window 1 when A001 is done, at the 12-minute default
    // service time: 12 min, in the default range (-20%, +23%).
    let general = delta["zones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["zone"] == "general")
        .unwrap();
    assert_eq!(general["waiting"], 1);
    assert_eq!(general["longest_wait_ms"], 13 * MIN);
    assert_eq!(general["mean_wait_last_hour_ms"], 20 * MIN);
    assert_eq!(general["called_last_hour"], 1);
    assert_eq!(general["estimated_wait_ms"], 12 * MIN);
    assert_eq!(
        general["wait_range"],
        json!({"expected_ms": 12 * MIN, "low_ms": 12 * MIN * 80 / 100, "high_ms": 12 * MIN * 123 / 100})
    );
    assert_eq!(general["no_window_open"], false);
    let w1 = delta["windows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["number"] == 1)
        .unwrap();
    assert_eq!(w1["current"], "A001");
    assert_eq!(w1["called_at"], at(9, 0));
    assert_eq!(w1["serving_since"], at(9, 3), "time in service counts from here");
    assert_eq!(w1["served_today"], 0);
    assert_eq!(w1["staff"], "w1");

    clock(9, 10);
    window(&app, 2, "call-next", None).await; // A002 waited 20 min; w2 idle 30 min
    clock(9, 13);
    window(&app, 1, "finish", None).await; // A001 served in 10 min
    let delta = until(&mut board, |v| {
        v["type"] == "delta"
            && v["windows"]
                .as_array()
                .is_some_and(|w| w.iter().any(|w| w["number"] == 1 && w["served_today"] == 1))
    })
    .await;
    let w1 = delta["windows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["number"] == 1)
        .unwrap();
    assert!(w1.get("current").is_none() && w1.get("serving_since").is_none(), "{w1}");
    clock(9, 14);
    window(&app, 2, "start", None).await; // walk 4 min
    clock(9, 15);
    let res = app
        .client
        .post(app.url(&format!("/api/v1/tickets/{a001}/rating")))
        .json(&json!({"level": "satisfied"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    clock(9, 20);
    window(&app, 1, "pause", Some(json!({"reason": "break"}))).await;
    clock(9, 30);
    window(&app, 2, "finish", None).await; // A002 served in 16 min
    clock(9, 35);
    window(&app, 1, "resume", None).await; // break 15 min
    clock(9, 40);
    issue(&app).await; // A003: both idle with work from 9:40
    clock(9, 45);
    window(&app, 1, "close", None).await; // w1 idle +5; the day's last event

    let check = |r: &Value| {
        let h = &r["total"];
        assert_eq!(
            (h["issued"].as_u64(), h["called"].as_u64(), h["served"].as_u64()),
            (Some(3), Some(2), Some(2))
        );
        assert_eq!(
            h["wait"],
            json!({"count": 2, "mean_ms": 20 * MIN, "p90_ms": 20 * MIN, "max_ms": 20 * MIN})
        );
        // Services of 10 and 16 min; walks of 3 and 4 min.
        assert_eq!(
            h["service"],
            json!({"count": 2, "mean_ms": 13 * MIN, "p90_ms": 16 * MIN, "max_ms": 16 * MIN})
        );
        assert_eq!(
            h["walk"],
            json!({"count": 2, "mean_ms": 210_000, "p90_ms": 4 * MIN, "max_ms": 4 * MIN})
        );
        // Idle: w1 20 + 5, w2 30 + 5 (to 9:45, the last event).
        assert_eq!(h["idle_ms"], 60 * MIN);
        // Paused: w1 signed in 5 and a break of 15, w2 signed in 10.
        assert_eq!(h["pause"]["total_ms"], 30 * MIN);
        assert_eq!(h["pause"]["signed_in_ms"], 15 * MIN);
        assert_eq!(h["pause"]["break_ms"], 15 * MIN);
        assert_eq!(h["ratings"]["satisfied"], 1);
        assert_eq!(h["ratings"]["rate_pct"], 50.0);
        let w = |n: usize| &r["windows"][n - 1];
        assert_eq!(
            (w(1)["served"].as_u64(), w(1)["idle_ms"].as_i64()),
            (Some(1), Some(25 * MIN))
        );
        assert_eq!(
            (w(2)["served"].as_u64(), w(2)["idle_ms"].as_i64()),
            (Some(1), Some(35 * MIN))
        );
        assert_eq!(w(1)["pause"]["total_ms"], 20 * MIN);
        let staff: Vec<&str> = r["staff"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["key"].as_str().unwrap())
            .collect();
        assert_eq!(staff, ["w1", "w2"]);
        assert_eq!(r["hours"][8]["arrivals"], 2);
        assert_eq!(r["hours"][9]["arrivals"], 1);
        assert_eq!(r["hours"][9]["served"], 2);
    };

    // While the day runs: nothing unfinished yet, A003 not yet "left".
    let (s, running) = report(&app, "").await;
    assert_eq!(s, 200, "{running}");
    assert_eq!(running["running"], "2026-11-24");
    check(&running);
    assert_eq!(running["total"]["left_waiting"], 0);

    // The next morning the 24th is over: A003 was left waiting.
    app.clock.store(at(9, 0) + 24 * 60 * MIN, Ordering::SeqCst);
    app.forget_tokens().await; // staff sign-ins last 16 hours
    let q = "?from=2026-11-24&to=2026-11-24";
    let (s, over) = report(&app, q).await;
    assert_eq!(s, 200, "{}", over["error"]);
    assert!(over.get("running").is_none(), "{}", over["running"]);
    check(&over);
    assert_eq!(
        (
            over["total"]["left_waiting"].as_u64(),
            over["total"]["unfinished_at_close"].as_u64()
        ),
        (Some(1), Some(0))
    );
    assert_csv_equals_json(&csv_text(&app, q).await, &over);

    // The report is computed from the stored events: a restart changes nothing.
    let now = app.clock.load(Ordering::SeqCst);
    let dir = app.shutdown().await.expect("the data directory");
    let app = spawn_app_on(dir.path(), now).await;
    let (s, again) = report(&app, q).await;
    assert_eq!(s, 200);
    assert_eq!(again, over);
}

#[tokio::test]
async fn report_requests_are_checked() {
    let app = spawn_app().await;
    for (query, code) in [
        ("?from=2026-13-01", "bad_date"),
        ("?from=2026-11-24&to=2026-11-01", "bad_range"),
        ("?from=2025-01-01&to=2026-11-24", "range_too_long"),
        ("?from=2026-11-24&hall=x", "bad_query"),
    ] {
        let (s, r) = report(&app, query).await;
        assert_eq!((s, r["error"]["code"].as_str()), (400, Some(code)), "{query}: {r}");
    }
    let (s, _) = app.get_as("qiaocheng", "guide", &format!("{HALL}/report")).await;
    assert_eq!(s, 403, "the guide desk does not read reports");
    let (s, r) = app.get_as("qiaocheng", "admin", "/api/v1/halls/nowhere/report").await;
    assert_eq!((s, r["error"]["code"].as_str()), (404, Some("unknown_hall")));
    // A day without events is an empty report, not an error.
    let (s, r) = report(&app, "?from=2026-10-01&to=2026-10-31").await;
    assert_eq!(s, 200);
    assert_eq!(
        (r["days"].as_array().map(Vec::len), r["total"]["issued"].as_u64()),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn on_redis_the_report_is_read_from_the_stream_and_outlives_the_server() {
    let redis = crate::redis_server::RedisServer::start(true);
    let store = hallcall::cli::StoreUrl::Redis(redis.url());
    let app = crate::helpers::spawn_app_with(store.clone(), at(9, 0)).await;
    window(&app, 1, "open", None).await;
    window(&app, 1, "resume", None).await;
    issue(&app).await;
    app.clock.store(at(9, 10), Ordering::SeqCst);
    window(&app, 1, "call-next", None).await; // waited 10 min
    app.clock.store(at(9, 11), Ordering::SeqCst);
    window(&app, 1, "start", None).await;
    app.clock.store(at(9, 20), Ordering::SeqCst);
    window(&app, 1, "finish", None).await; // served in 9 min
    let (s, first) = report(&app, "?from=2026-11-24").await;
    assert_eq!(s, 200, "{}", first["error"]);
    assert_eq!(first["days"], json!(["2026-11-24"]));
    assert_eq!(first["total"]["wait"]["mean_ms"], 10 * MIN);
    assert_eq!(first["total"]["service"]["mean_ms"], 9 * MIN);
    assert_eq!(first["windows"][0]["walk"]["mean_ms"], MIN);

    app.shutdown().await;
    let app = crate::helpers::spawn_app_with(store, at(9, 20)).await;
    let (s, again) = report(&app, "?from=2026-11-24").await;
    assert_eq!(s, 200);
    assert_eq!(again, first);
}
