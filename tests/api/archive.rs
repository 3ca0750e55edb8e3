//! The PostgreSQL archive against a PostgreSQL of the test's own: every
//! event once, the tables people query, reports of days the store does
//! not have, PostgreSQL stopped and started under operations, and the
//! real binary killed with SIGKILL while it archives.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hallcall::cli::StoreUrl;
use serde_json::{Value, json};
use tokio_postgres::{Client, NoTls};

use crate::helpers::{TUESDAY_10AM, TestApp, issue, spawn_app_full, ticket_of};
use crate::postgres_server::PgServer;

const HALL: &str = "/api/v1/halls/qiaocheng";
const DAY: i64 = 86_400_000;

async fn pg(url: &str) -> Client {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match tokio_postgres::connect(url, NoTls).await {
            Ok((client, conn)) => {
                tokio::spawn(conn);
                return client;
            }
            Err(e) => {
                assert!(Instant::now() < deadline, "PostgreSQL does not answer: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn start(data: &std::path::Path, now: i64, archive: &str) -> TestApp {
    spawn_app_full(
        StoreUrl::File(data.to_path_buf()),
        now,
        hallcall::cli::ConnArgs::default(),
        5,
        &[],
        Some(archive),
    )
    .await
}

/// Waits until the archive holds every durable event of the hall.
async fn settled(app: &TestApp) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, st) = app.get(&format!("{HALL}/archive")).await;
        assert_eq!(s, 200, "{st}");
        if st["connected"] == true && st["behind_events"] == 0 && st["archived_seq"] == st["durable_seq"] {
            return st;
        }
        assert!(Instant::now() < deadline, "the archive did not catch up: {st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ok(app: &TestApp, cmd: Value) -> Value {
    let (s, r) = app.command(cmd.clone()).await;
    assert_eq!(s, 200, "{cmd}: {r}");
    r
}

/// A day's work at windows 1 and 2: `n` tickets, all called, most
/// finished, a pause, a skip, a cancellation, and ratings through the
/// citizen's page.
async fn work_a_day(app: &TestApp, n: usize) {
    for w in [1, 2] {
        ok(app, json!({"op": "open", "window": w, "staff": format!("w{w}")})).await;
        ok(app, json!({"op": "resume", "window": w})).await;
    }
    let mut tokens = Vec::new();
    for _ in 0..n {
        let body = json!({"zone": "general", "service": "social"});
        let (s, r) = app
            .post_as("qiaocheng", "guide", &format!("{HALL}/tickets"), Some(body))
            .await;
        assert_eq!(s, 201, "{r}");
        tokens.push(r["token"].as_str().unwrap().to_owned());
    }
    ok(app, json!({"op": "pause", "window": 2, "reason": "break"})).await;
    ok(app, json!({"op": "resume", "window": 2})).await;
    for i in 0..n {
        let w = 1 + (i % 2);
        ok(app, json!({"op": "call_next", "window": w})).await;
        if i == 1 {
            ok(app, json!({"op": "skip", "window": w})).await;
            continue;
        }
        ok(app, json!({"op": "start", "window": w})).await;
        ok(app, json!({"op": "finish", "window": w})).await;
    }
    let extra = ok(app, issue("general", "social")).await;
    let number = ticket_of(&extra);
    let (s, r) = app
        .post_as("qiaocheng", "guide", &format!("{HALL}/tickets/{number}/cancel"), None)
        .await;
    assert!(s == 200, "cancel {number}: {r}");
    // The first was served; the second skipped, perhaps called again.
    for (t, level) in tokens.iter().zip(["dissatisfied"]) {
        let res = app
            .client
            .post(app.url(&format!("/api/v1/tickets/{t}/rating")))
            .json(&json!({ "level": level }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{:?}", res.text().await);
    }
}

async fn report(app: &TestApp, from: &str, to: &str) -> Value {
    let (s, r) = app.get(&format!("{HALL}/report?from={from}&to={to}")).await;
    assert_eq!(s, 200, "{r}");
    r
}

async fn count(db: &Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).await.unwrap().get(0)
}

/// Every (hall, seq) from 1 to the last, once.
async fn assert_whole(db: &Client, durable: i64) {
    let row = db
        .query_one(
            "SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM hallcall.events WHERE hall = 'qiaocheng'",
            &[],
        )
        .await
        .unwrap();
    let (n, distinct, min, max): (i64, i64, i64, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(
        (n, distinct, min, max),
        (durable, durable, 1, durable),
        "events archived once each"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_once_tables_and_reports_of_days_the_store_lost() {
    let mut pgs = PgServer::start();
    let url = pgs.url();
    let data = tempfile::tempdir().unwrap();
    let app = start(data.path(), TUESDAY_10AM, &url).await;
    work_a_day(&app, 8).await;
    app.clock.fetch_add(DAY, std::sync::atomic::Ordering::SeqCst);
    app.forget_tokens().await;
    work_a_day(&app, 5).await;
    app.clock.fetch_add(DAY, std::sync::atomic::Ordering::SeqCst);
    app.forget_tokens().await;
    ok(&app, issue("general", "social")).await;
    let st = settled(&app).await;
    let db = pg(&url).await;
    assert_whole(&db, st["durable_seq"].as_i64().unwrap()).await;

    // The tables people query.
    let tickets = db
        .query(
            "SELECT day::text, count(*), count(*) FILTER (WHERE outcome = 'finished'),
                    count(*) FILTER (WHERE outcome = 'cancelled'), count(first_called_at),
                    count(*) FILTER (WHERE outcome = 'finished' AND staff IS NOT NULL AND finished_at >= started_at)
             FROM hallcall.tickets WHERE hall = 'qiaocheng' GROUP BY day ORDER BY day",
            &[],
        )
        .await
        .unwrap();
    let per_day: Vec<(String, i64, i64, i64, i64, i64)> = tickets
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect();
    // The same counts as the store's report of each day; every finished
    // visit with its staff and times.
    let mut expected = Vec::new();
    for day in ["2026-11-24", "2026-11-25", "2026-11-26"] {
        let t = &report(&app, day, day).await["total"];
        let n = |k: &str| t[k].as_i64().unwrap();
        expected.push((
            day.to_owned(),
            n("issued"),
            n("served"),
            n("cancelled"),
            n("called"),
            n("served"),
        ));
    }
    assert_eq!(per_day, expected);
    assert_eq!(expected[0].1, 9);
    assert_eq!(
        count(&db, "SELECT count(*) FROM hallcall.ratings WHERE bad").await,
        2,
        "one bad rating a day"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM hallcall.window_pauses WHERE reason = 'break' AND ended_at IS NOT NULL"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM hallcall.window_sessions WHERE closed_at IS NOT NULL"
        )
        .await,
        4,
        "both days' sessions ended with the day"
    );
    let served: i64 = db
        .query_one(
            "SELECT served FROM hallcall.figures_by_month WHERE hall = 'qiaocheng' AND grouped_by = 'hall'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(served, 11);

    // Day by day, the archive's figures are the store's.
    let cfg = hallcall::config::load(&crate::helpers::sample_config()).unwrap();
    let spec = cfg
        .halls
        .iter()
        .find(|h| h.spec.id.as_str() == "qiaocheng")
        .unwrap()
        .spec
        .clone();
    for day in ["2026-11-24", "2026-11-25"] {
        let from_store = report(&app, day, day).await;
        let d: jiff::civil::Date = day.parse().unwrap();
        let part: String = db
            .query_one(
                "SELECT part::text FROM hallcall.report_days WHERE hall = 'qiaocheng' AND day = $1::text::date",
                &[&day],
            )
            .await
            .unwrap()
            .get(0);
        let part: hallcall::report::Part = serde_json::from_str(&part).unwrap();
        let from_archive = serde_json::to_value(part.report(&spec, d, d)).unwrap();
        assert_eq!(from_archive, from_store, "{day}");
    }
    let both = report(&app, "2026-11-24", "2026-11-25").await;

    // PostgreSQL stopped while the hall works: operations go on, the
    // board and /metrics say the archive is behind, and it catches up.
    pgs.stop();
    for _ in 0..20 {
        ok(&app, issue("general", "social")).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, st) = app.get(&format!("{HALL}/archive")).await;
        if st["connected"] == false && st["behind_events"].as_u64() >= Some(20) {
            assert!(st["last_error"].is_string(), "{st}");
            break;
        }
        assert!(Instant::now() < deadline, "the archive did not notice: {st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("hallcall_archive_connected 0"), "{metrics}");
    let behind = metrics
        .lines()
        .find(|l| l.starts_with("hallcall_archive_behind_events{hall=\"qiaocheng\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap();
    assert!(behind >= 20, "{behind}");
    pgs.restart();
    for _ in 0..10 {
        ok(&app, issue("general", "social")).await;
    }
    let st = settled(&app).await;
    let db = pg(&url).await;
    assert_whole(&db, st["durable_seq"].as_i64().unwrap()).await;
    assert_eq!(
        count(&db, "SELECT count(*) FROM hallcall.tickets WHERE day = '2026-11-26'").await,
        31
    );
    app.shutdown().await;

    // A new store, the same archive (a store lost, or past its retention):
    // the days it does not have come from the archive, with the same
    // figures; the archived events of the old log are set aside, not lost.
    let fresh = tempfile::tempdir().unwrap();
    let app = start(fresh.path(), TUESDAY_10AM + 3 * DAY, &url).await;
    ok(&app, issue("general", "social")).await;
    settled(&app).await;
    let again = report(&app, "2026-11-24", "2026-11-25").await;
    assert_eq!(again, both);
    assert!(count(&db, "SELECT count(*) FROM hallcall.superseded_events").await > 100);
    let (s, doc) = app.get(&format!("{HALL}/report?from=2026-11-20&to=2026-11-25")).await;
    assert_eq!(s, 200, "{doc}");
    assert_eq!(doc["days"], json!(["2026-11-24", "2026-11-25"]));

    // With PostgreSQL away, a report that needs it says so.
    pgs.stop();
    let (s, doc) = app.get(&format!("{HALL}/report?from=2026-11-24&to=2026-11-25")).await;
    assert_eq!(
        (s, doc["error"]["code"].as_str()),
        (503, Some("archive_unavailable")),
        "{doc}"
    );
    pgs.restart();
    app.shutdown().await;
}

/// A store whose log went back to the middle of an archived page (a lost
/// Redis failover, or an older copy of a journal): the page keeps the
/// events up to the store's last, those after it are set aside, and what
/// the store writes next follows on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_gone_back_into_a_page_keeps_its_start_and_sets_the_rest_aside() {
    let pgs = PgServer::start();
    let url = pgs.url();
    let (behind, ahead) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let without_archive = |dir: std::path::PathBuf| async move {
        spawn_app_full(
            StoreUrl::File(dir),
            TUESDAY_10AM,
            hallcall::cli::ConnArgs::default(),
            5,
            &[],
            None,
        )
        .await
    };
    let issued = |app: TestApp, n: usize| async move {
        for _ in 0..n {
            ok(&app, issue("general", "social")).await;
        }
        let (s, st) = app.get(&format!("{HALL}/archive")).await;
        let durable = if s == 200 { st["durable_seq"].as_i64() } else { None };
        app.shutdown().await;
        durable
    };
    issued(without_archive(behind.path().to_path_buf()).await, 5).await;
    issued(without_archive(ahead.path().to_path_buf()).await, 20).await;
    // The archive catches up on the longer log in one run: one page.
    let app = start(ahead.path(), TUESDAY_10AM, &url).await;
    let long = settled(&app).await["durable_seq"].as_i64().unwrap();
    app.shutdown().await;
    let db = pg(&url).await;
    assert_whole(&db, long).await;
    // The first page holds at least the day's start and the 20 tickets
    // (the server's own start may come after it, on a page of its own).
    let first_page = "SELECT last_seq FROM hallcall.event_pages WHERE hall = 'qiaocheng' AND first_seq = 1";
    let first_page_ends = count(&db, first_page).await;
    assert!(first_page_ends >= 21, "{first_page_ends}");

    // The shorter log under the same archive, then one more ticket.
    let app = start(behind.path(), TUESDAY_10AM, &url).await;
    settled(&app).await;
    ok(&app, issue("general", "social")).await;
    let now = settled(&app).await["durable_seq"].as_i64().unwrap();
    app.shutdown().await;
    assert_whole(&db, now).await;
    let set_aside = db
        .query_one(
            "SELECT count(*), min(seq), max(seq) FROM hallcall.superseded_events WHERE hall = 'qiaocheng'",
            &[],
        )
        .await
        .unwrap();
    let (n, min, max): (i64, i64, i64) = (set_aside.get(0), set_aside.get(1), set_aside.get(2));
    // Where the shorter log ended when the archive met it.
    let short = min - 1;
    assert!(
        short > 5 && short < first_page_ends,
        "{short} inside the page 1..{first_page_ends}"
    );
    assert_eq!((n, max), (long - short, long), "the rest set aside, once each");
    // The page kept its start and says where it now ends.
    let kept = db
        .query_one(
            "SELECT last_seq, json_array_length(events::json) FROM hallcall.event_pages
             WHERE hall = 'qiaocheng' AND first_seq = 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((kept.get::<_, i64>(0), kept.get::<_, i32>(1) as i64), (short, short));
    // The day's visits were made again from what remains: six tickets.
    let tickets = "SELECT count(*) FROM hallcall.tickets WHERE hall = 'qiaocheng'";
    assert_eq!(count(&db, tickets).await, 6);
}

/// The real binary killed with SIGKILL again and again while it archives
/// and serves: afterwards every event is in the archive once, and every
/// acknowledged ticket has its row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_archiving_loses_and_doubles_nothing() {
    use crate::crash::{authed, config_near_noon, free_port, start_with};
    let pgs = PgServer::start();
    let url = pgs.url();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hall.toml");
    std::fs::write(&config, config_near_noon()).unwrap();
    let store = format!("file:{}", dir.path().join("data").display());
    let port = free_port();
    let env = [("HALLCALL_ARCHIVE", url.as_str())];
    let mut acked: Vec<String> = Vec::new();
    for round in 0..3 {
        let mut server = start_with(&config, &store, port, &env).await;
        let token = crate::helpers::login(&reqwest::Client::new(), &server.base, "crash", "admin").await;
        let client = authed(&token);
        for _ in 0..60 {
            let cmd = json!({"op": "issue", "zone": "general", "service": "apply",
                "lane": {"kind": "normal"}, "channel": "kiosk"});
            if let Some(r) = crate::crash::post(&client, &server.base, cmd).await {
                acked.push(ticket_of(&r));
            }
        }
        if round < 2 {
            // Killed at once, with the archive most likely mid-catch-up.
            server.child.kill().unwrap();
            server.child.wait().unwrap();
        } else {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let m = client.get(format!("{}/metrics", server.base)).send().await.unwrap();
                let text = m.text().await.unwrap();
                let behind: HashMap<&str, &str> = text
                    .lines()
                    .filter(|l| l.starts_with("hallcall_archive_behind_events{"))
                    .filter_map(|l| l.rsplit_once(' '))
                    .collect();
                if text.contains("hallcall_archive_connected 1") && behind.values().all(|v| *v == "0") {
                    break;
                }
                assert!(Instant::now() < deadline, "the archive did not catch up:\n{text}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let db = pg(&url).await;
    let row = db
        .query_one(
            "SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM hallcall.events WHERE hall = 'crash'",
            &[],
        )
        .await
        .unwrap();
    let (n, distinct, min, max): (i64, i64, i64, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!((n, distinct, min), (max, max, 1), "every event once");
    let numbers: Vec<String> = db
        .query("SELECT number FROM hallcall.tickets WHERE hall = 'crash'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for t in &acked {
        assert!(numbers.contains(t), "acknowledged {t} has no row");
    }
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM hallcall.events WHERE hall = 'crash' AND kind = 'TicketIssued'"
        )
        .await,
        numbers.len() as i64
    );
}

/// The server as `start` makes it, with `--archive-ca-file`.
async fn start_tls(data: &std::path::Path, archive: &str, ca: &std::path::Path) -> TestApp {
    let args = hallcall::cli::Args {
        archive: Some(archive.to_owned()),
        archive_ca_file: Some(ca.to_path_buf()),
        ..crate::helpers::args(StoreUrl::File(data.to_path_buf()))
    };
    crate::helpers::spawn_app_args(args, TUESDAY_10AM).await
}

#[tokio::test]
async fn an_archive_that_takes_only_tls_is_reached_over_tls_and_a_stranger_certificate_is_refused() {
    let mut pg = PgServer::start();
    let certs = tempfile::tempdir().unwrap();
    crate::ldap_server::write_certificates(certs.path());
    pg.require_tls(&certs.path().join("server.pem"), &certs.path().join("server.key"));
    // In clear, this PostgreSQL answers no one.
    let deadline = Instant::now() + Duration::from_secs(30);
    let refusal = loop {
        match tokio_postgres::connect(&pg.url(), NoTls).await {
            Ok(_) => panic!("PostgreSQL took a connection in clear"),
            // "the database system is starting up" is a database error
            // too: only the refusal ends the wait.
            Err(e) if e.as_db_error().is_some_and(|d| d.message().contains("pg_hba")) => {
                break e.as_db_error().unwrap().message().to_owned();
            }
            Err(e) => {
                assert!(Instant::now() < deadline, "PostgreSQL does not answer: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert!(refusal.contains("no encryption"), "{refusal}");

    let url = format!("{}?sslmode=require", pg.url());
    let dir = tempfile::tempdir().unwrap();
    let app = start_tls(dir.path(), &url, &certs.path().join("ca.pem")).await;
    for _ in 0..5 {
        ok(&app, issue("general", "social")).await;
    }
    let st = settled(&app).await;
    assert!(st["archived_seq"].as_u64().unwrap() > 5, "{st}");
    app.shutdown().await;

    // A certificate the given authority did not sign: nothing is sent,
    // and the status says why.
    let other = tempfile::tempdir().unwrap();
    let app = start_tls(other.path(), &url, &certs.path().join("other-ca.pem")).await;
    ok(&app, issue("general", "social")).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, st) = app.get(&format!("{HALL}/archive")).await;
        let error = st["last_error"].as_str().unwrap_or_default().to_lowercase();
        if error.contains("certificate") {
            assert_eq!(st["connected"], false, "{st}");
            break;
        }
        assert!(Instant::now() < deadline, "no certificate error: {st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.shutdown().await;
}

/// An archive made before event pages (migration 4) keeps every event: its
/// rows become pages, one per hall and day, and read back the same.
#[tokio::test]
async fn events_archived_a_row_each_become_pages_unchanged() {
    use hallcall::archive::schema::{MIGRATIONS, migrate};
    let pgs = PgServer::start();
    let mut db = pg(&pgs.url()).await;
    db.batch_execute(
        "CREATE SCHEMA hallcall;
         CREATE TABLE hallcall.migrations (version integer PRIMARY KEY, name text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .unwrap();
    for (version, name, sql) in MIGRATIONS.iter().take_while(|m| m.0 < 4) {
        db.batch_execute(sql).await.unwrap();
        db.execute(
            "INSERT INTO hallcall.migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await
        .unwrap();
    }
    db.batch_execute(
        r#"INSERT INTO hallcall.events (hall, seq, at_ms, at, day, kind, body)
           SELECT h, s, 1795485600000 + s * 1000, to_timestamp((1795485600000 + s * 1000) / 1000.0),
                  CASE WHEN s = 1 THEN NULL WHEN s < 6 THEN date '2026-11-24' ELSE date '2026-11-25' END,
                  'TicketIssued', jsonb_build_object('type', 'TicketIssued', 'n', s)
           FROM generate_series(1, 9) AS s, (VALUES ('a'), ('b')) AS x(h)"#,
    )
    .await
    .unwrap();
    let before = "SELECT hall, seq, at_ms, at, day::text, kind, body::text FROM hallcall.events ORDER BY hall, seq";
    let rows = |rs: Vec<tokio_postgres::Row>| {
        rs.iter()
            .map(|r| {
                let at: std::time::SystemTime = r.get(3);
                (
                    r.get::<_, String>(0),
                    r.get::<_, i64>(1),
                    r.get::<_, i64>(2),
                    at,
                    r.get::<_, Option<String>>(4),
                    r.get::<_, String>(5),
                    r.get::<_, String>(6),
                )
            })
            .collect::<Vec<_>>()
    };
    let was = rows(db.query(before, &[]).await.unwrap());
    assert_eq!(was.len(), 18);
    assert_eq!(migrate(&mut db).await.unwrap(), MIGRATIONS.last().unwrap().0);
    assert_eq!(rows(db.query(before, &[]).await.unwrap()), was);
    // Per hall: the events before the first day, and one page per day.
    assert_eq!(count(&db, "SELECT count(*) FROM hallcall.event_pages").await, 6);
}

/// A visit the archive takes for new (a plain insert, the fast way) that
/// someone archived already: the insert is refused, and the archive starts
/// over writing every visit as an update, losing and doubling nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_found_archived_already_is_written_over_not_lost() {
    let pgs = PgServer::start();
    let url = pgs.url();
    let data = tempfile::tempdir().unwrap();
    let app = start(data.path(), TUESDAY_10AM, &url).await;
    ok(&app, json!({"op": "open", "window": 1, "staff": "w1"})).await;
    ok(&app, json!({"op": "resume", "window": 1})).await;
    let first = ticket_of(&ok(&app, issue("general", "social")).await);
    settled(&app).await;
    // The next number of the same zone: the same letters, one more.
    let digits = first.chars().rev().take_while(char::is_ascii_digit).count();
    let (letters, n) = first.split_at(first.len() - digits);
    let next = format!("{letters}{:0digits$}", n.parse::<u32>().unwrap() + 1);
    let db = pg(&url).await;
    db.execute(
        "INSERT INTO hallcall.tickets (hall, day, number, zone, service, lane, channel, issued_at, outcome)
         SELECT hall, day, $1, 'stray', 'stray', 'normal', 'kiosk', now(), 'waiting'
         FROM hallcall.cursors WHERE hall = 'qiaocheng'",
        &[&next],
    )
    .await
    .unwrap();

    assert_eq!(ticket_of(&ok(&app, issue("general", "social")).await), next);
    // The first, then the second.
    for op in ["call_next", "start", "finish"].repeat(2) {
        ok(&app, json!({"op": op, "window": 1})).await;
    }
    let st = settled(&app).await;
    assert_whole(&db, st["durable_seq"].as_i64().unwrap()).await;
    let row = db
        .query_one(
            "SELECT zone, service, outcome, window_no FROM hallcall.tickets WHERE hall = 'qiaocheng' AND number = $1",
            &[&next],
        )
        .await
        .unwrap();
    let got: (String, String, String, Option<i32>) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(
        got,
        ("general".into(), "social".into(), "finished".into(), Some(1)),
        "the stray row written over by the visit"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM hallcall.tickets").await, 2);
}
