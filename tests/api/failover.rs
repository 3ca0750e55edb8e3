//! Three real hallcall processes on one Redis, under load: the owner of a
//! busy hall is killed (SIGKILL) or paused (SIGSTOP) past its lease, and
//! another node takes the hall over. Nothing acknowledged is lost, no
//! number is issued twice, and every screen on the surviving nodes saw
//! every acknowledged call.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::crash::{Server, authed, config_near_noon, free_port};

/// The hall's owner is pinned to `n1` while it lives.
async fn node(config: &std::path::Path, store: &str, id: &str) -> Server {
    let env = [("HALLCALL_NODE_ID", id)];
    crate::crash::start_args(config, store, free_port(), &env, &["--pin", "crash=n1"]).await
}

/// Every ticket's furthest acknowledged step (issued 0, called 1), the
/// calls acknowledged, and each ticket's issues (a reused number shows as
/// two).
#[derive(Default)]
struct Acked {
    issued: HashMap<String, usize>,
    calls: HashSet<String>,
}

fn record(acked: &Mutex<Acked>, reply: &Value) {
    let mut acked = acked.lock().unwrap();
    for e in reply["events"].as_array().into_iter().flatten() {
        let kind = &e["kind"];
        let Some(ticket) = kind["ticket"].as_str() else {
            continue;
        };
        match kind["type"].as_str() {
            Some("TicketIssued") => *acked.issued.entry(ticket.to_owned()).or_default() += 1,
            Some("TicketCalled") => {
                acked.calls.insert(ticket.to_owned());
            }
            _ => {}
        }
    }
}

async fn command(client: &reqwest::Client, base: &str, cmd: &Value) -> Result<Value, (u16, String)> {
    let res = client
        .post(format!("{base}/api/v1/halls/crash/commands"))
        .json(cmd)
        .send()
        .await
        .map_err(|e| (0, e.to_string()))?;
    let status = res.status().as_u16();
    let body: Value = res.json().await.map_err(|e| (status, e.to_string()))?;
    if status == 200 {
        Ok(body)
    } else {
        Err((status, body["error"]["code"].as_str().unwrap_or("").to_owned()))
    }
}

/// A hall screen on `base`, collecting every ticket it is shown called.
async fn screen(
    client: &reqwest::Client,
    base: &str,
    seen: Arc<Mutex<HashSet<String>>>,
) -> tokio::task::JoinHandle<()> {
    let res = client
        .post(format!("{base}/api/v1/halls/crash/passes"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a pass");
    let pass: Value = res.json().await.unwrap();
    let url = format!(
        "{}/api/v1/halls/crash/live?pass={}",
        base.replace("http://", "ws://"),
        pass["pass"].as_str().unwrap()
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("a screen connects");
    tokio::spawn(async move {
        while let Some(Ok(m)) = ws.next().await {
            let tokio_tungstenite::tungstenite::Message::Text(t) = m else {
                continue;
            };
            let v: Value = serde_json::from_str(&t).unwrap();
            let mut seen = seen.lock().unwrap();
            for c in v["calls"].as_array().into_iter().flatten() {
                if let Some(t) = c["ticket"].as_str() {
                    seen.insert(t.to_owned());
                }
            }
        }
    })
}

/// Load through `bases` (each client on one node) until `stop`.
fn load(
    client: &reqwest::Client,
    bases: &[String],
    acked: &Arc<Mutex<Acked>>,
    stop: &Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for (i, base) in bases.iter().enumerate() {
        let (client, base, acked, stop) = (client.clone(), base.clone(), acked.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let issue = json!({"op": "issue", "zone": "general", "service": "apply",
                               "lane": {"kind": "normal"}, "channel": "kiosk"});
            let window = i as u64 % 2 + 1;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(r) = command(&client, &base, &issue).await {
                    record(&acked, &r);
                }
                for op in ["call_next", "start", "finish"] {
                    if let Ok(r) = command(&client, &base, &json!({"op": op, "window": window})).await {
                        record(&acked, &r);
                    }
                }
            }
        }));
    }
    tasks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_owner_is_replaced_and_nothing_acknowledged_is_lost() {
    let redis = crate::redis_server::RedisServer::start(true);
    killed_owner(&redis.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_redis_cluster_a_killed_owner_is_replaced_too() {
    let cluster = crate::redis_server::RedisCluster::start(3, true);
    killed_owner(&cluster.url()).await;
}

async fn killed_owner(store: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hall.toml");
    std::fs::write(&config, config_near_noon()).unwrap();
    let mut n1 = node(&config, store, "n1").await;
    let n2 = node(&config, store, "n2").await;
    let n3 = node(&config, store, "n3").await;
    let token = crate::helpers::login(&reqwest::Client::new(), &n2.base, "crash", "admin").await;
    let client = authed(&token);
    for w in [1, 2] {
        command(&client, &n3.base, &json!({"op": "open", "window": w}))
            .await
            .expect("window opens");
    }
    let seen2 = Arc::new(Mutex::new(HashSet::new()));
    let seen3 = Arc::new(Mutex::new(HashSet::new()));
    let screens = [
        screen(&client, &n2.base, seen2.clone()).await,
        screen(&client, &n3.base, seen3.clone()).await,
    ];
    let acked: Arc<Mutex<Acked>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tasks = load(
        &client,
        &[n2.base.clone(), n3.base.clone(), n2.base.clone()],
        &acked,
        &stop,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().issued.len() < 100 {
        assert!(Instant::now() < deadline, "no load acknowledged");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The owner dies mid-flight.
    n1.child.kill().expect("SIGKILL");
    n1.child.wait().unwrap();
    let killed = Instant::now();
    let before = acked.lock().unwrap().issued.len();
    while acked.lock().unwrap().issued.len() < before + 50 {
        assert!(
            killed.elapsed() < Duration::from_secs(3 + 5 + 5),
            "no node took the hall over"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "served again through the other nodes {:?} after the SIGKILL",
        killed.elapsed()
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for s in screens {
        s.abort();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    // Every acknowledged ticket is there, on either surviving node.
    for ticket in acked.issued.keys() {
        for base in [&n2.base, &n3.base] {
            let res = client
                .get(format!("{base}/api/v1/halls/crash/tickets/{ticket}"))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "acknowledged ticket {ticket} is gone at {base}");
        }
    }
    let reused: Vec<_> = acked.issued.iter().filter(|(_, n)| **n > 1).collect();
    assert!(reused.is_empty(), "numbers issued twice: {reused:?}");
    for (name, seen) in [("n2", seen2), ("n3", seen3)] {
        let seen = seen.lock().unwrap();
        let missed: Vec<_> = acked.calls.difference(&seen).collect();
        assert!(
            missed.is_empty(),
            "the screen on {name} missed acknowledged calls {missed:?}"
        );
    }
    assert!(acked.calls.len() > 10, "calls were made: {}", acked.calls.len());
}

fn signal(server: &Server, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &server.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {sig}");
}

fn ticket_of(reply: &Value) -> Option<String> {
    reply["events"]
        .as_array()?
        .iter()
        .find_map(|e| (e["kind"]["type"] == "TicketIssued").then(|| e["kind"]["ticket"].as_str().map(str::to_owned))?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_owner_is_fenced_off_and_lets_the_hall_go() {
    let redis = crate::redis_server::RedisServer::start(true);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hall.toml");
    std::fs::write(&config, config_near_noon()).unwrap();
    let n1 = node(&config, &redis.url(), "n1").await;
    let n2 = node(&config, &redis.url(), "n2").await;
    let token = crate::helpers::login(&reqwest::Client::new(), &n2.base, "crash", "admin").await;
    let client = authed(&token);
    let issue = json!({"op": "issue", "zone": "general", "service": "apply",
                       "lane": {"kind": "normal"}, "channel": "kiosk"});
    let mut acked = Vec::new();
    for _ in 0..5 {
        acked.push(ticket_of(&command(&client, &n2.base, &issue).await.expect("issued through n2")).unwrap());
    }

    // n1 is paused past its lease. A request sent to it meanwhile waits in
    // its socket.
    signal(&n1, "-STOP");
    let paused = Instant::now();
    let late = {
        let (client, base, issue) = (client.clone(), n1.base.clone(), issue.clone());
        tokio::spawn(async move { command(&client, &base, &issue).await })
    };
    // n2 takes the hall once the lease has ended.
    let taken = loop {
        match command(&client, &n2.base, &issue).await {
            Ok(r) => break r,
            Err((503, code)) => assert_eq!(code, "hall_moving"),
            // Passed to n1, which took it and never answered.
            Err((502, code)) => assert_eq!(code, "owner_unconfirmed"),
            Err(other) => panic!("while n1 is paused: {other:?}"),
        }
        assert!(
            paused.elapsed() < Duration::from_secs(3 + 5 + 2),
            "n2 did not take the hall over"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("n2 served the hall {:?} after n1 was paused", paused.elapsed());
    acked.push(ticket_of(&taken).unwrap());
    for _ in 0..3 {
        acked.push(ticket_of(&command(&client, &n2.base, &issue).await.expect("issued by n2")).unwrap());
    }

    // n1 wakes: its late request is either refused (the fence) or, if it
    // noticed first that the hall is gone, passed on to n2. Never both.
    signal(&n1, "-CONT");
    match tokio::time::timeout(Duration::from_secs(10), late)
        .await
        .unwrap()
        .unwrap()
    {
        Ok(r) => acked.push(ticket_of(&r).unwrap()),
        Err((status, code)) => assert!(status == 503, "the late request: {status} {code}"),
    }
    // n1 has let the hall go and answers through n2 from now on.
    let woke = Instant::now();
    let after = loop {
        if let Ok(r) = command(&client, &n1.base, &issue).await {
            break r;
        }
        assert!(
            woke.elapsed() < Duration::from_secs(5),
            "n1 did not come back to the hall"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    acked.push(ticket_of(&after).unwrap());

    // Every acknowledged ticket is there, once; every number between them
    // that nobody was told of (a refused write's) is not.
    let numbers: Vec<u32> = acked.iter().map(|t| t[1..].parse().unwrap()).collect();
    let unique: HashSet<u32> = numbers.iter().copied().collect();
    assert_eq!(unique.len(), numbers.len(), "a number issued twice: {acked:?}");
    for n in 1..=*numbers.iter().max().unwrap() {
        let ticket = format!("A{n:03}");
        let res = client
            .get(format!("{}/api/v1/halls/crash/tickets/{ticket}", n2.base))
            .send()
            .await
            .unwrap();
        let want = if unique.contains(&n) { 200 } else { 404 };
        assert_eq!(res.status(), want, "{ticket} (acknowledged: {acked:?})");
    }
}
