//! The outbox against a receiver of the test's own that checks every
//! signature: each message arrives once, a receiver away for a while gets
//! everything when back, refused messages wait for a supervisor, and
//! neither a restart nor a SIGKILL mid-delivery loses one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, args, spawn_app_args};
use crate::webhook_receiver::{Receiver, Taken};
use hallcall::cli::StoreUrl;

const HALL: &str = "crash";
const WAIT: Duration = Duration::from_secs(30);

/// The crash tests' hall (open around the clock) sending some event types
/// to `/erp` and its records to `/platform` of `receiver`.
fn config(dir: &std::path::Path, receiver: &Receiver) -> std::path::PathBuf {
    let secret = dir.join("receiver.secret");
    std::fs::write(&secret, &receiver.secret).unwrap();
    let text = format!(
        r#"{base}
[[hall.webhook]]
name = "erp"
url = "{url}/erp"
secret_file = "{secret}"
events = ["TicketIssued", "TicketCalled", "ServiceFinished"]

[hall.platform]
url = "{url}/platform"
secret_file = "{secret}"
hall_code = "341602-01"
"#,
        base = crate::crash::config_near_noon(),
        url = receiver.url,
        secret = secret.display(),
    );
    let path = dir.join("hall.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn app(dir: &std::path::Path, receiver: &Receiver) -> TestApp {
    let config = config(dir, receiver);
    let a = hallcall::cli::Args {
        config,
        ..args(StoreUrl::File(dir.join("data")))
    };
    spawn_app_args(a, crate::helpers::TUESDAY_10AM).await
}

async fn ok(app: &TestApp, cmd: Value) -> Value {
    let (status, body) = app.command_in(HALL, cmd.clone()).await;
    assert_eq!(status, 200, "{cmd}: {body}");
    body
}

fn issue() -> Value {
    crate::helpers::issue("general", "apply")
}

fn ids(taken: &[Taken]) -> Vec<&str> {
    taken.iter().map(|t| t.id.as_str()).collect()
}

fn unique(taken: &[Taken]) -> BTreeSet<String> {
    taken.iter().map(|t| t.id.clone()).collect()
}

async fn outbox(app: &TestApp) -> Value {
    let (status, body) = app.get(&format!("/api/v1/halls/{HALL}/outbox")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits until the outbox's progress reaches the hall's last event.
async fn settled(app: &TestApp) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let o = outbox(app).await;
        if o["pending"] == 0 && o["through"].as_u64() >= Some(1) {
            return o;
        }
        assert!(tokio::time::Instant::now() < deadline, "the outbox did not settle: {o}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_and_the_platform_get_each_message_signed_once() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), &receiver).await;
    ok(&app, json!({"op": "open", "window": 1})).await;
    for _ in 0..3 {
        ok(&app, issue()).await;
    }
    for op in ["call_next", "start", "finish"] {
        ok(&app, json!({"op": op, "window": 1})).await;
    }
    let taken = receiver.until(WAIT, |t| t.len() >= 6).await;
    assert_eq!(receiver.forged(), 0, "every signature checks");
    assert_eq!(unique(&taken).len(), taken.len(), "nothing twice: {:?}", ids(&taken));
    let erp: Vec<&str> = taken
        .iter()
        .filter(|t| t.path == "/erp")
        .map(|t| t.body["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        erp,
        [
            "TicketIssued",
            "TicketIssued",
            "TicketIssued",
            "TicketCalled",
            "ServiceFinished"
        ]
    );
    for t in &taken {
        assert_eq!(t.body["id"], t.id.as_str(), "the body names its own key");
        assert_eq!(t.body["hall"], HALL);
    }
    let visit = taken.iter().find(|t| t.path == "/platform").expect("a visit record");
    let v = &visit.body;
    assert_eq!(
        (v["record"].as_str(), v["hall_code"].as_str()),
        (Some("visit"), Some("341602-01"))
    );
    assert_eq!((v["ticket"].as_str(), v["window"].as_u64()), (Some("A001"), Some(1)));
    assert_eq!(v["calls"], 1);
    for field in [
        "issued_at",
        "first_called_at",
        "started_at",
        "finished_at",
        "service_name",
    ] {
        assert!(v[field].is_string(), "{field} in {v}");
    }
    let o = settled(&app).await;
    let delivered: BTreeMap<&str, u64> = o["receivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["sink"].as_str().unwrap(), r["delivered"].as_u64().unwrap()))
        .collect();
    assert_eq!(delivered, BTreeMap::from([("platform", 1), ("webhook:erp", 5)]));
    assert_eq!(o["set_aside"], json!([]));

    // A past day's records again, with their first keys.
    let day = v["day"].as_str().unwrap();
    let (status, body) = app
        .post_as(
            HALL,
            "admin",
            &format!("/api/v1/halls/{HALL}/outbox/replay"),
            Some(json!({"day": day})),
        )
        .await;
    assert_eq!((status, body["records"].as_u64()), (200, Some(1)), "{body}");
    let again = receiver.until(WAIT, |t| t.len() >= 7).await;
    assert_eq!(again[6].id, visit.id, "the same record, the same key");
    let (status, body) = app
        .post_as(
            HALL,
            "admin",
            &format!("/api/v1/halls/{HALL}/outbox/replay"),
            Some(json!({"day": "yesterday"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_date")),
        "{body}"
    );

    // What reaches /metrics.
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"hallcall_outbox_delivered_total{hall="crash",sink="webhook:erp"} 5"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_away_for_a_while_gets_everything_when_back_and_a_restart_loses_nothing() {
    let receiver = Receiver::start().await;
    receiver.answer(503);
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), &receiver).await;
    ok(&app, json!({"op": "open", "window": 1})).await;
    for _ in 0..4 {
        ok(&app, issue()).await;
    }
    // Away: the board says why, and nothing is lost.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let o = outbox(&app).await;
        let failing = o["receivers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["sink"] == "webhook:erp")
            .and_then(|r| r["failing"].as_str().map(str::to_owned));
        if let Some(f) = failing
            && o["pending"] == 4
        {
            assert!(f.contains("503"), "{f}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no failure shown: {o}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Stopped while the receiver is away, started again after two more.
    let data = dir.path().join("data");
    app.shutdown().await;
    let app = spawn_app_args(
        hallcall::cli::Args {
            config: dir.path().join("hall.toml"),
            ..args(StoreUrl::File(data))
        },
        crate::helpers::TUESDAY_10AM,
    )
    .await;
    ok(&app, issue()).await;
    ok(&app, json!({"op": "call_next", "window": 1})).await;
    receiver.answer(0);
    let taken = receiver.until(WAIT, |t| unique(t).len() >= 6).await;
    assert_eq!(receiver.forged(), 0);
    let tickets: Vec<(String, String)> = taken
        .iter()
        .map(|t| {
            (
                t.body["type"].as_str().unwrap().to_owned(),
                t.body["event"]["ticket"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = ["A001", "A002", "A003", "A004", "A005"]
        .iter()
        .map(|n| ("TicketIssued".to_owned(), (*n).to_owned()))
        .chain([("TicketCalled".to_owned(), "A001".to_owned())])
        .collect();
    assert_eq!(tickets, want, "every message, in order, once");
    assert!(receiver.turned_away() > 0);
    settled(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_messages_wait_set_aside_until_a_supervisor_sends_them_again() {
    let receiver = Receiver::start().await;
    receiver.answer(400);
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), &receiver).await;
    ok(&app, issue()).await;
    ok(&app, issue()).await;
    let o = {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let o = outbox(&app).await;
            if o["set_aside"].as_array().unwrap().len() == 2 && o["pending"] == 0 {
                break o;
            }
            assert!(tokio::time::Instant::now() < deadline, "not set aside: {o}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let keys: Vec<String> = o["set_aside"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert!(s["error"].as_str().unwrap().contains("400"), "{s}");
            assert_eq!(s["sink"], "webhook:erp");
            s["key"].as_str().unwrap().to_owned()
        })
        .collect();
    // Set aside counts as handled: progress goes past them.
    assert!(o["through"].as_u64().unwrap() >= 2, "{o}");
    let resend = format!("/api/v1/halls/{HALL}/outbox/resend");
    let (status, body) = app
        .post_as(HALL, "admin", &resend, Some(json!({"keys": ["no-such-key"]})))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("bad_outbox")),
        "{body}"
    );
    receiver.answer(0);
    let (status, body) = app.post_as(HALL, "admin", &resend, Some(json!({"all": true}))).await;
    assert_eq!((status, body["resent"].as_u64()), (200, Some(2)), "{body}");
    let taken = receiver.until(WAIT, |t| t.len() >= 2).await;
    assert_eq!(
        unique(&taken),
        keys.iter().cloned().collect::<BTreeSet<_>>(),
        "sent again with their first keys"
    );
    let o = settled(&app).await;
    assert_eq!(o["set_aside"], json!([]));
}

/// The real binary, killed while a slow receiver takes its messages, then
/// started again on the same store: every acknowledged ticket's message
/// arrives, and any sent twice carries the same key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_delivery_loses_no_message() {
    let receiver = Receiver::start().await;
    receiver.delay(Duration::from_millis(40));
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &receiver);
    let store = format!("file:{}", dir.path().join("data").display());
    let port = crate::crash::free_port();
    let mut server = crate::crash::start_on(&config, &store, port).await;
    let token = crate::helpers::login(&reqwest::Client::new(), &server.base, HALL, "admin").await;
    let client = crate::crash::authed(&token);
    let mut acked = BTreeSet::new();
    for _ in 0..40 {
        let r = crate::crash::post(&client, &server.base, issue())
            .await
            .expect("issued");
        acked.insert(crate::helpers::ticket_of(&r));
    }
    receiver.until(WAIT, |t| t.len() >= 5).await;
    server.child.kill().expect("SIGKILL");
    server.child.wait().unwrap();
    let before = receiver.taken().len();
    assert!(before < 40, "killed mid-delivery ({before} of 40 taken)");
    receiver.delay(Duration::ZERO);
    let _server = crate::crash::start_on(&config, &store, port).await;
    let taken = receiver
        .until(WAIT, |t| {
            t.iter()
                .filter_map(|m| m.body["event"]["ticket"].as_str())
                .collect::<BTreeSet<_>>()
                .len()
                >= 40
        })
        .await;
    assert_eq!(receiver.forged(), 0);
    eprintln!("{before} taken before the kill; {} in all for 40 tickets", taken.len());
    let mut key_of: BTreeMap<String, String> = BTreeMap::new();
    for t in &taken {
        let ticket = t.body["event"]["ticket"].as_str().unwrap().to_owned();
        if let Some(k) = key_of.insert(ticket.clone(), t.id.clone()) {
            assert_eq!(k, t.id, "{ticket} sent twice under two keys");
        }
    }
    assert_eq!(
        key_of.keys().cloned().collect::<BTreeSet<_>>(),
        acked,
        "every acknowledged ticket's message"
    );
}
