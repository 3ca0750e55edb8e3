//! The outbox measured in one run, on the durable workload of the sample
//! 谯城区 hall (12 issuers, all 29 windows calling, starting, finishing):
//!
//! 1. the workload with no outbox configured: the baseline;
//! 2. the same with every ticket asking for notices (its contact sealed and
//!    kept before the ticket, as the route does) and a webhook taking every
//!    event: issuing and operations beside the baseline, and the time from
//!    a ticket's acknowledgement to its "issued" notice reaching a local
//!    receiver (p50, p99);
//! 3. a backlog: the receiver refuses while the workload runs, then takes
//!    everything: messages per second as the outbox drains it.
//!
//! Run: `cargo bench --bench outbox`. Loopback only, bounded in time.
//! Figures: BENCHMARKS.md.

#[path = "support/hall_load.rs"]
mod hall_load;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hallcall::config::ServerConfig;
use hallcall::engine::{Channel, Command as Cmd, Issue, NoticeRef};
use hallcall::notices::{Contact, Contacts, Kit, Sealer};
use hallcall::outbox::{Extras, Outbox};
use hallcall::service::Service;
use hallcall::shards::Halls;
use hallcall::store::journal::JournalOptions;
use hallcall::store::{Location, Store, StoreConfig};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RUN: Duration = Duration::from_secs(6);
const ISSUERS: usize = 12;
const MAX_WAITING: i64 = 150;
const DRAIN_WITHIN: Duration = Duration::from_secs(120);

/// A receiver that takes (or refuses) every POST and notes when each
/// issued notice arrived, by ticket number.
struct Receiver {
    url: String,
    answer: Arc<AtomicU16>,
    taken: Arc<AtomicU64>,
    issued_at: Arc<Mutex<HashMap<String, Instant>>>,
}

async fn receiver() -> Receiver {
    let answer = Arc::new(AtomicU16::new(204));
    let taken = Arc::new(AtomicU64::new(0));
    let issued_at = Arc::new(Mutex::new(HashMap::new()));
    let (a, t, i) = (answer.clone(), taken.clone(), issued_at.clone());
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
        let (a, t, i) = (a.clone(), t.clone(), i.clone());
        async move {
            let status = a.load(Ordering::Relaxed);
            if status == 204 {
                t.fetch_add(1, Ordering::Relaxed);
                if uri.path() == "/notify" {
                    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                    if v["notice"] == "issued" {
                        if let Some(n) = v["values"]["number"].as_str() {
                            i.lock().unwrap().entry(n.to_owned()).or_insert_with(Instant::now);
                        }
                    }
                }
            }
            axum::http::StatusCode::from_u16(status).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        url,
        answer,
        taken,
        issued_at,
    }
}

/// What a run sends.
#[derive(Clone, Copy, PartialEq)]
enum Sends {
    Nothing,
    /// Every ticket's notices, to the hall's own gateway.
    Notices,
    /// Every event, to a webhook.
    Webhook,
}

/// The sample hall, sending to `url` as `sends` says.
fn config(dir: &std::path::Path, url: &str, sends: Sends) -> ServerConfig {
    let mut text = include_str!("../config/hall.toml").to_owned();
    // The city hall alone: cut at the second hall.
    let second = text.match_indices("[[hall]]").nth(1).map_or(text.len(), |(i, _)| i);
    text.truncate(second);
    let secret = dir.join("secret");
    std::fs::write(&secret, "a bench secret of enough bytes").unwrap();
    let s = secret.display();
    match sends {
        Sends::Nothing => {}
        Sends::Notices => text.push_str(&format!(
            "\n[hall.notices]\n[hall.notices.webhook]\nurl = \"{url}/notify\"\nsecret_file = \"{s}\"\n"
        )),
        Sends::Webhook => text.push_str(&format!(
            "\n[[hall.webhook]]\nname = \"all\"\nurl = \"{url}/hook\"\nsecret_file = \"{s}\"\nevents = [\"*\"]\n"
        )),
    }
    hallcall::config::parse(&text, "hall.toml").expect("the bench's configuration")
}

async fn service(dir: &std::path::Path, config: &ServerConfig) -> (Service, hallcall::store::Stream) {
    let opened = Store::open(StoreConfig {
        location: Location::Journal(dir.join("data")),
        journal: JournalOptions::default(),
        halls: config.halls.iter().map(|h| h.spec.clone()).collect(),
        retention_days: 30,
        metrics: None,
    })
    .await
    .expect("store opens");
    let service = Service {
        halls: Halls::from_halls(config, opened.halls),
        store: opened.store,
        clock: Arc::new(|| hall_load::NOW),
        slow: Arc::new(hallcall::service::SlowWrites::new(Duration::from_secs(60))),
    };
    (service, opened.stream)
}

struct Run {
    issued: u64,
    ops: u64,
    secs: f64,
    issue_p50_us: u128,
    issue_p99_us: u128,
    /// Per ticket: when its issue was acknowledged.
    acked: HashMap<String, Instant>,
}

fn pct(v: &[Duration], p: f64) -> u128 {
    v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1)))
        .map_or(0, Duration::as_micros)
}

/// The hall-day workload for `RUN`; with `kit`, every ticket asks for
/// notices.
async fn workload(svc: &Service, config: &ServerConfig, kit: Option<Kit>) -> Run {
    let hall = config.halls[0].clone();
    let id = hall.spec.id;
    for w in &hall.spec.windows {
        // Open already from an earlier run on the same store: fine.
        let _ = svc
            .execute(
                id,
                Cmd::Open {
                    window: w.number,
                    staff: None,
                },
            )
            .await;
        let _ = svc.execute(id, Cmd::Resume { window: w.number }).await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let waiting = Arc::new(AtomicI64::new(0));
    let day = hallcall::engine::business_date(&hall.spec, hall_load::NOW);
    let mut issuers = Vec::new();
    for i in 0..ISSUERS {
        let (svc, stop, ops, hall, waiting, kit) = (
            svc.clone(),
            stop.clone(),
            ops.clone(),
            hall.clone(),
            waiting.clone(),
            kit.clone(),
        );
        issuers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut acked = HashMap::new();
            let mut n = i;
            while !stop.load(Ordering::Relaxed) {
                if waiting.load(Ordering::Relaxed) > MAX_WAITING {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
                let w = &hall.spec.windows[n % hall.spec.windows.len()];
                n += ISSUERS;
                let zone = &hall.spec.zones[w.serves[0].zone];
                let t = Instant::now();
                let mut issue = Issue::normal(zone.id, zone.services[0].id, Channel::Kiosk);
                if let Some(kit) = &kit {
                    // As the route does: the contact, sealed and kept, first.
                    let mut raw = [0u8; 16];
                    getrandom::fill(&mut raw).unwrap();
                    let r = NoticeRef(raw);
                    let c = Contact {
                        phone: Some("13800138000".into()),
                        wechat: None,
                    };
                    let sealed = kit.sealer.seal(hall.spec.id, day, r, &c);
                    let ends = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
                    kit.contacts
                        .put(hall.spec.id, day, r, sealed, ends)
                        .await
                        .expect("contact kept");
                    issue.notice = Some(r);
                }
                match svc.execute(hall.spec.id, Cmd::Issue(issue)).await {
                    Ok(events) => {
                        lat.push(t.elapsed());
                        ops.fetch_add(1, Ordering::Relaxed);
                        waiting.fetch_add(1, Ordering::Relaxed);
                        let number = events.iter().find_map(|e| match &e.kind {
                            hallcall::engine::EventKind::TicketIssued { ticket, .. } => Some(ticket.to_string()),
                            _ => None,
                        });
                        if let Some(number) = number {
                            acked.insert(number, Instant::now());
                        }
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
                }
            }
            (lat, acked)
        }));
    }
    let mut windows = Vec::new();
    for w in hall.spec.windows.clone() {
        let (svc, stop, ops, waiting) = (svc.clone(), stop.clone(), ops.clone(), waiting.clone());
        windows.push(tokio::spawn(async move {
            let window = w.number;
            while !stop.load(Ordering::Relaxed) {
                for cmd in [Cmd::CallNext { window }, Cmd::Start { window }, Cmd::Finish { window }] {
                    let calling = matches!(cmd, Cmd::CallNext { .. });
                    match svc.execute(id, cmd).await {
                        Ok(_) => {
                            ops.fetch_add(1, Ordering::Relaxed);
                            if calling {
                                waiting.fetch_sub(1, Ordering::Relaxed);
                            }
                        }
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            break;
                        }
                    }
                }
            }
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(RUN).await;
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    let mut acked = HashMap::new();
    for t in issuers {
        let (l, a) = t.await.expect("issuer");
        lat.extend(l);
        acked.extend(a);
    }
    for t in windows {
        t.await.expect("window");
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    Run {
        issued: lat.len() as u64,
        ops: ops.load(Ordering::Relaxed),
        secs,
        issue_p50_us: pct(&lat, 0.5),
        issue_p99_us: pct(&lat, 0.99),
        acked,
    }
}

/// Tickets at 20 a second for `RUN`, each asking for notices, nobody
/// calling; when each was acknowledged.
async fn paced(svc: &Service, config: &ServerConfig, kit: &Kit) -> HashMap<String, Instant> {
    let hall = &config.halls[0].spec;
    let day = hallcall::engine::business_date(hall, hall_load::NOW);
    let zone = &hall.zones[0];
    let mut acked = HashMap::new();
    let mut every = tokio::time::interval(Duration::from_millis(50));
    let start = Instant::now();
    while start.elapsed() < RUN {
        every.tick().await;
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).unwrap();
        let r = NoticeRef(raw);
        let c = Contact {
            phone: Some("13800138000".into()),
            wechat: None,
        };
        let ends = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
        kit.contacts
            .put(hall.id, day, r, kit.sealer.seal(hall.id, day, r, &c), ends)
            .await
            .expect("contact kept");
        let mut issue = Issue::normal(zone.id, zone.services[0].id, Channel::Kiosk);
        issue.notice = Some(r);
        if let Ok(events) = svc.execute(hall.id, Cmd::Issue(issue)).await {
            let now = Instant::now();
            for e in events {
                if let hallcall::engine::EventKind::TicketIssued { ticket, .. } = e.kind {
                    acked.insert(ticket.to_string(), now);
                }
            }
        }
    }
    acked
}

fn print_run(name: &str, r: &Run) {
    println!(
        "{name:<34} {:>9.0} issues/s {:>9.0} ops/s   issue p50 {:>6} µs  p99 {:>6} µs",
        r.issued as f64 / r.secs,
        r.ops as f64 / r.secs,
        r.issue_p50_us,
        r.issue_p99_us
    );
}

async fn key_kit(dir: &std::path::Path) -> Kit {
    let key = dir.join("notice.key");
    std::fs::write(&key, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff").unwrap();
    Kit {
        contacts: Contacts::Dir(dir.join("data")),
        sealer: Sealer::read(&key).unwrap(),
    }
}

/// The outbox of a run's service.
fn outbox(svc: &Service, stream: &hallcall::store::Stream, kit: Option<Kit>) -> Outbox {
    Outbox::start(
        svc,
        stream,
        Extras {
            notices: kit,
            keys: Arc::new(hallcall::auth::Keys::from_secret(&[7u8; 32])),
            public_url: None,
        },
    )
    .expect("outbox")
}

async fn drained(outbox: &Outbox, hall: hallcall::engine::HallId) -> Duration {
    let t = Instant::now();
    while outbox.status.hall(hall).pending > 0 && t.elapsed() < DRAIN_WITHIN {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    t.elapsed()
}

fn beside(name: &str, r: &Run, base: &Run) {
    println!(
        "  {name} beside the baseline: issues {:+.1}%, all operations {:+.1}%",
        (r.issued as f64 / r.secs) / (base.issued as f64 / base.secs) * 100.0 - 100.0,
        (r.ops as f64 / r.secs) / (base.ops as f64 / base.secs) * 100.0 - 100.0
    );
}

async fn run_all() {
    println!(
        "machine: {} cores; the sample 谯城区 hall, {ISSUERS} issuers and 29 windows, {} s a run",
        std::thread::available_parallelism().map_or(0, usize::from),
        RUN.as_secs()
    );
    let rx = receiver().await;
    // 1. The baseline: no outbox configured.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &rx.url, Sends::Nothing);
    let (svc, stream) = service(dir.path(), &cfg).await;
    let ob = outbox(&svc, &stream, None);
    let base = workload(&svc, &cfg, None).await;
    print_run("baseline: nothing sent", &base);
    ob.stop(Duration::from_secs(2)).await;
    drop(svc);

    // 2. Notices for every ticket: its contact sealed and kept first, then
    // the issued, near and called notices to the hall's gateway.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &rx.url, Sends::Notices);
    let hall = cfg.halls[0].spec.id;
    let (svc, stream) = service(dir.path(), &cfg).await;
    let kit = key_kit(dir.path()).await;
    let ob = outbox(&svc, &stream, Some(kit.clone()));
    let on = workload(&svc, &cfg, Some(kit.clone())).await;
    print_run("notices for every ticket", &on);
    let left = drained(&ob, hall).await;
    let mut lat: Vec<Duration> = {
        let arrived = rx.issued_at.lock().unwrap();
        on.acked
            .iter()
            .filter_map(|(n, acked)| arrived.get(n).map(|at| at.saturating_duration_since(*acked)))
            .collect()
    };
    lat.sort_unstable();
    println!(
        "  issued notice after its ticket's acknowledgement: {} of {}; p50 {:.1} ms, p99 {:.1} ms \
         (the last {:.2} s after the run)",
        lat.len(),
        on.acked.len(),
        pct(&lat, 0.5) as f64 / 1000.0,
        pct(&lat, 0.99) as f64 / 1000.0,
        left.as_secs_f64()
    );
    beside("notices", &on, &base);
    ob.stop(Duration::from_secs(2)).await;
    drop(svc);

    // 2b. The same at a busy hall's pace, not saturated: 20 tickets a
    // second, each asking for notices, for RUN; how long each ticket's
    // issued notice takes to reach the gateway.
    let dir = tempfile::tempdir().unwrap();
    let (svc, stream) = service(dir.path(), &cfg).await;
    let kit = key_kit(dir.path()).await;
    let ob = outbox(&svc, &stream, Some(kit.clone()));
    rx.issued_at.lock().unwrap().clear();
    let acked = paced(&svc, &cfg, &kit).await;
    drained(&ob, hall).await;
    let mut lat: Vec<Duration> = {
        let arrived = rx.issued_at.lock().unwrap();
        acked
            .iter()
            .filter_map(|(n, a)| arrived.get(n).map(|at| at.saturating_duration_since(*a)))
            .collect()
    };
    lat.sort_unstable();
    println!(
        "paced, 20 tickets/s with notices: issued notice after its ticket's acknowledgement, {} of {}: \
         p50 {:.2} ms, p99 {:.2} ms",
        lat.len(),
        acked.len(),
        pct(&lat, 0.5) as f64 / 1000.0,
        pct(&lat, 0.99) as f64 / 1000.0
    );
    ob.stop(Duration::from_secs(2)).await;
    drop(svc);

    // 3. Every event to a webhook, live; then a backlog: the receiver away
    // for a run, then back.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &rx.url, Sends::Webhook);
    let (svc, stream) = service(dir.path(), &cfg).await;
    let ob = outbox(&svc, &stream, None);
    let before = rx.taken.load(Ordering::Relaxed);
    let hooked = workload(&svc, &cfg, None).await;
    print_run("webhook of every event", &hooked);
    let left = drained(&ob, hall).await;
    println!(
        "  {} events delivered; the last {:.2} s after the run",
        rx.taken.load(Ordering::Relaxed) - before,
        left.as_secs_f64()
    );
    beside("webhook", &hooked, &base);
    ob.stop(Duration::from_secs(2)).await;
    drop(svc);
    // On a store of its own: a second saturated run on the same day's
    // store is a different measurement (twice the day's tickets).
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &rx.url, Sends::Webhook);
    let (svc, stream) = service(dir.path(), &cfg).await;
    let ob = outbox(&svc, &stream, None);
    rx.answer.store(503, Ordering::Relaxed);
    let away = workload(&svc, &cfg, None).await;
    print_run("webhook, receiver away (a backlog)", &away);
    beside("receiver away", &away, &base);
    let backlog = ob.status.hall(hall).pending;
    let before = rx.taken.load(Ordering::Relaxed);
    rx.answer.store(204, Ordering::Relaxed);
    // Timed from the first message taken: before it, the outbox waits out
    // the backoff in force when the receiver came back.
    let back = Instant::now();
    while rx.taken.load(Ordering::Relaxed) == before && back.elapsed() < DRAIN_WITHIN {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let first = rx.taken.load(Ordering::Relaxed);
    let waited = back.elapsed();
    let secs = drained(&ob, hall).await.as_secs_f64();
    let delivered = rx.taken.load(Ordering::Relaxed) - first;
    println!(
        "  backlog of {backlog}: the first taken {:.1} s after the receiver came back (the backoff), \
         the rest in {secs:.2} s: {:.0} messages/s",
        waited.as_secs_f64(),
        delivered as f64 / secs
    );
    ob.stop(Duration::from_secs(2)).await;
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run_all());
}
