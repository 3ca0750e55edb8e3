//! Screens never miss a call: the real binary under load with hall screens
//! subscribed, SIGKILLed at random moments and restarted on the same store,
//! while the screens reconnect with `since` and `epoch` as
//! `displays/assets/live.js` does. Taken together, the frames each screen
//! received hold every event of the log after its first snapshot exactly
//! once and in order, so every acknowledged call; and no screen needed a
//! second snapshot. One screen is away (disconnected) at each kill and
//! comes back only after the restart.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::crash::{Server, authed, config_near_noon, post, start_on};

/// Kills per store: "several", each at a random moment of a busy spell.
const KILLS: usize = 3;
const SCREENS: usize = 4;

/// What one screen has seen.
#[derive(Debug, Default)]
struct Seen {
    /// The `seq` of each snapshot received.
    snapshots: Vec<u64>,
    /// Every event received in deltas, by sequence number, in arrival order.
    events: Vec<(u64, Value)>,
    /// The screen's position, as live.js keeps it.
    seq: Option<u64>,
    epoch: Option<String>,
    /// Connections made (the first and each reconnect).
    connects: usize,
}

type Shared = Arc<Mutex<Seen>>;

/// A tiny xorshift: random kill moments, repeatable from the printed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One hall screen: connects, follows, and reconnects with its position
/// until `stop`; while `away` is true it stays disconnected.
async fn screen(port: u16, token: String, seen: Shared, mut away: watch::Receiver<bool>, stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        if *away.borrow() {
            let _ = away.changed().await;
            continue;
        }
        let mut url = format!("ws://127.0.0.1:{port}/api/v1/halls/crash/live?scope=hall");
        {
            let s = seen.lock().unwrap();
            if let Some(seq) = s.seq {
                url.push_str(&format!("&since={seq}"));
                if let Some(e) = &s.epoch {
                    url.push_str(&format!("&epoch={e}"));
                }
            }
        }
        // A program (not a browser) signs in with the header.
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = url.into_client_request().expect("a WebSocket request");
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("a header value"),
        );
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(req).await else {
            // The server is down: try again shortly, as live.js does.
            tokio::time::sleep(Duration::from_millis(30)).await;
            continue;
        };
        seen.lock().unwrap().connects += 1;
        loop {
            let msg = tokio::select! {
                m = ws.next() => m,
                _ = away.changed() => {
                    if *away.borrow() {
                        let _ = ws.close(None).await;
                        break;
                    }
                    continue;
                }
            };
            let Some(Ok(Message::Text(text))) = msg else {
                if matches!(msg, Some(Ok(_))) {
                    continue; // pings and the like
                }
                break; // the server went away
            };
            let m: Value = serde_json::from_str(&text).unwrap();
            let mut s = seen.lock().unwrap();
            match m["type"].as_str() {
                Some("snapshot") => {
                    let seq = m["seq"].as_u64().unwrap();
                    s.snapshots.push(seq);
                    s.seq = Some(seq);
                    s.epoch = m["epoch"].as_str().map(str::to_owned);
                }
                Some("resumed") => {
                    // Not a position: the deltas up to it follow.
                    s.epoch = m["epoch"].as_str().map(str::to_owned);
                }
                Some("delta") => {
                    let seq = m["seq"].as_u64().unwrap();
                    assert!(
                        s.seq.is_none_or(|q| seq > q),
                        "a delta ending at {seq} after {:?}",
                        s.seq
                    );
                    for e in m["events"].as_array().unwrap() {
                        s.events.push((e["seq"].as_u64().unwrap(), e.clone()));
                    }
                    s.seq = Some(seq);
                }
                other => panic!("unexpected message {other:?}: {m}"),
            }
        }
    }
}

/// Acknowledged calls: sequence number → (ticket, window).
type Calls = Arc<Mutex<BTreeMap<u64, (String, u64)>>>;

fn record_calls(calls: &Calls, reply: &Value) {
    for e in reply["events"].as_array().into_iter().flatten() {
        if e["kind"]["type"] == "TicketCalled" {
            calls.lock().unwrap().insert(
                e["seq"].as_u64().unwrap(),
                (
                    e["kind"]["ticket"].as_str().unwrap().to_owned(),
                    e["kind"]["window"].as_u64().unwrap(),
                ),
            );
        }
    }
}

/// A busy spell: desks issuing and four windows calling, starting and
/// finishing, until the server stops answering.
fn load(client: &reqwest::Client, base: &str, calls: &Calls) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for zone in ["general", "police"] {
        let (client, base) = (client.clone(), base.to_owned());
        let service = if zone == "general" { "apply" } else { "hukou" };
        tasks.push(tokio::spawn(async move {
            let cmd = json!({"op": "issue", "zone": zone, "service": service,
                             "lane": {"kind": "normal"}, "channel": "kiosk"});
            while post(&client, &base, cmd.clone()).await.is_some() {}
        }));
    }
    for w in 1..=4 {
        let (client, base, calls) = (client.clone(), base.to_owned(), calls.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                for op in ["call_next", "start", "finish"] {
                    if let Some(r) = post(&client, &base, json!({"op": op, "window": w})).await {
                        record_calls(&calls, &r);
                    }
                }
                if client.get(format!("{base}/healthz")).send().await.is_err() {
                    return;
                }
            }
        }));
    }
    tasks
}

async fn open_windows(client: &reqwest::Client, base: &str) {
    for w in 1..=4 {
        // Already open after a restart: refused, which is fine.
        let _ = post(client, base, json!({"op": "open", "window": w})).await;
    }
}

async fn hall_seq(client: &reqwest::Client, base: &str) -> u64 {
    let v: Value = client
        .get(format!("{base}/api/v1/halls/crash"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["seq"].as_u64().unwrap()
}

async fn screens_miss_no_call_across_crashes(store: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hall.toml");
    std::fs::write(&config, config_near_noon()).unwrap();
    let port = crate::crash::free_port();
    let mut server: Server = start_on(&config, store, port).await;
    let token = crate::helpers::login(&reqwest::Client::new(), &server.base, "crash", "admin").await;
    let client = authed(&token);
    open_windows(&client, &server.base).await;

    let (stop_tx, stop) = watch::channel(false);
    let mut screens = Vec::new();
    let mut away_switches = Vec::new();
    for _ in 0..=SCREENS {
        let seen = Shared::default();
        let (away_tx, away) = watch::channel(false);
        screens.push((
            seen.clone(),
            tokio::spawn(screen(port, token.clone(), seen, away, stop.clone())),
        ));
        away_switches.push(away_tx);
    }
    // The last screen is the one away at each kill.
    let away = away_switches.pop().unwrap();
    let seed = jiff::Timestamp::now().as_nanosecond() as u64 | 1;
    eprintln!("resume test seed {seed}");
    let mut rng = Rng(seed);
    let calls = Calls::default();
    for kill in 0..KILLS {
        let tasks = load(&client, &server.base, &calls);
        // Busy for a random while; the away screen leaves a random while
        // before the kill and so misses what happens in between.
        let busy = 300 + rng.below(900);
        let leave = rng.below(busy);
        tokio::time::sleep(Duration::from_millis(leave)).await;
        away.send_replace(true);
        tokio::time::sleep(Duration::from_millis(busy - leave)).await;
        server.child.kill().expect("SIGKILL");
        server.child.wait().unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        server = start_on(&config, store, port).await;
        open_windows(&client, &server.base).await;
        away.send_replace(false);
        eprintln!("kill {} after {busy} ms", kill + 1);
    }
    // A last busy spell with no kill, then quiet.
    let tasks = load(&client, &server.base, &calls);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let final_seq = {
        // The server stays up; its clients stop.
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        hall_seq(&client, &server.base).await
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    for (seen, _) in &screens {
        while seen.lock().unwrap().seq != Some(final_seq) {
            assert!(
                Instant::now() < deadline,
                "a screen is stuck at {:?} of {final_seq}",
                seen.lock().unwrap().seq
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    stop_tx.send_replace(true);
    let calls = calls.lock().unwrap().clone();
    assert!(
        calls.len() >= 20 * KILLS,
        "only {} calls were acknowledged",
        calls.len()
    );
    for (i, (seen, task)) in screens.into_iter().enumerate() {
        task.abort();
        let seen = seen.lock().unwrap();
        assert!(seen.connects > KILLS, "screen {i} reconnected {} times", seen.connects);
        assert_eq!(
            seen.snapshots.len(),
            1,
            "screen {i} was sent a snapshot after a reconnect (at {:?}): it should have resumed",
            seen.snapshots
        );
        // Every event after the first snapshot, once and in order.
        let first = seen.snapshots[0];
        let seqs: Vec<u64> = seen.events.iter().map(|(s, _)| *s).collect();
        let want: Vec<u64> = (first + 1..=final_seq).collect();
        if seqs != want {
            let missing: Vec<&u64> = want.iter().filter(|s| !seqs.contains(s)).take(10).collect();
            panic!(
                "screen {i}: {} events for {} expected; missing e.g. {missing:?}",
                seqs.len(),
                want.len()
            );
        }
        // So every acknowledged call, as it was made.
        let received: BTreeMap<u64, &Value> = seen.events.iter().map(|(s, e)| (*s, e)).collect();
        for (seq, (ticket, window)) in calls.range(first + 1..) {
            let e = received[seq];
            assert_eq!(e["kind"]["type"], "TicketCalled", "screen {i}, event {seq}");
            assert_eq!(e["kind"]["ticket"].as_str(), Some(ticket.as_str()));
            assert_eq!(e["kind"]["window"].as_u64(), Some(*window));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screens_miss_no_call_when_the_server_is_killed_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    screens_miss_no_call_across_crashes(&format!("file:{}", dir.path().join("data").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screens_miss_no_call_when_the_server_is_killed_and_restarted_on_redis() {
    let redis = crate::redis_server::RedisServer::start(true);
    screens_miss_no_call_across_crashes(&redis.url()).await;
}
