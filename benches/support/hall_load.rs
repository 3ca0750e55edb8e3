//! The durable workload the store benchmarks share: copies of the sample
//! 谯城区 hall, guide desks issuing and every window calling, starting and
//! finishing, each operation counted once acknowledged durable.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hallcall::config::ServerConfig;
use hallcall::engine::{Channel, Command as Cmd, Issue, Millis};
use hallcall::service::Service;
use hallcall::shards::Halls;
use hallcall::store::journal::JournalOptions;
use hallcall::store::{Location, Store, StoreConfig, Stream};

/// 2026-11-24 10:00 in Asia/Shanghai: the sample halls are open.
pub const NOW: Millis = Millis(1_795_485_600_000);
pub const RUN: Duration = Duration::from_secs(5);
/// Halls served at once, one run each: copies of the sample 谯城区 hall
/// (a city's centres on one server), each with all 29 windows working.
/// More halls, more clients waiting at once, bigger group commits.
pub const HALLS: [usize; 3] = [1, 4, 16];
/// Guide desks and kiosks issuing per hall.
pub const ISSUERS: usize = 12;
/// Issuers pause while this many wait in a hall, as a real hall's queue
/// stays bounded (and so does the size of its snapshots).
pub const MAX_WAITING: i64 = 150;

pub fn sample(halls: usize) -> ServerConfig {
    let cfg = hallcall::config::parse(include_str!("../../config/hall.toml"), "hall.toml").expect("sample");
    let city = cfg.halls[0].clone();
    let halls = (1..=halls)
        .map(|i| {
            let mut hall = city.clone();
            let mut spec = (*hall.spec).clone();
            spec.id = hallcall::engine::Code::new(&format!("qiaocheng-{i}")).expect("id");
            hall.spec = Arc::new(spec);
            hall
        })
        .collect();
    ServerConfig { halls, directory: None }
}

pub async fn service(location: Location, halls: usize) -> Service {
    service_and_stream(location, halls).await.0
}

/// The service, and its store's durable event stream (for subscribers).
pub async fn service_and_stream(location: Location, halls: usize) -> (Service, Stream) {
    let config = sample(halls);
    let opened = Store::open(StoreConfig {
        location,
        journal: JournalOptions::default(),
        halls: config.halls.iter().map(|h| h.spec.clone()).collect(),
        retention_days: 30,
        metrics: None,
    })
    .await
    .expect("store opens");
    let service = Service {
        halls: Halls::from_halls(&config, opened.halls),
        store: opened.store,
        clock: Arc::new(|| NOW),
        slow: Arc::new(hallcall::service::SlowWrites::new(std::time::Duration::from_secs(60))),
    };
    (service, opened.stream)
}

pub struct Figures {
    pub ops: u64,
    pub secs: f64,
    pub p50_us: u128,
    pub p99_us: u128,
    pub clients: usize,
}

/// In every hall at once, guide desks issue and every window calls, starts
/// and finishes, for `RUN`; every counted operation was acknowledged durable.
pub async fn workload(svc: Service, halls: usize) -> Figures {
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for hall in sample(halls).halls {
        for w in &hall.spec.windows {
            svc.execute(
                hall.spec.id,
                Cmd::Open {
                    window: w.number,
                    staff: None,
                },
            )
            .await
            .expect("open");
            svc.execute(hall.spec.id, Cmd::Resume { window: w.number })
                .await
                .expect("resume");
        }
        let waiting = Arc::new(AtomicI64::new(0));
        for i in 0..ISSUERS {
            let (svc, stop, ops, hall, waiting) =
                (svc.clone(), stop.clone(), ops.clone(), hall.clone(), waiting.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut n = i;
                while !stop.load(Ordering::Relaxed) {
                    if waiting.load(Ordering::Relaxed) > MAX_WAITING {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    }
                    // Zones in proportion to their windows.
                    let w = &hall.spec.windows[n % hall.spec.windows.len()];
                    n += ISSUERS;
                    let zone = &hall.spec.zones[w.serves[0].zone];
                    let cmd = Cmd::Issue(Issue::normal(zone.id, zone.services[0].id, Channel::Kiosk));
                    let t = Instant::now();
                    if svc.execute(hall.spec.id, cmd).await.is_ok() {
                        lat.push(t.elapsed());
                        ops.fetch_add(1, Ordering::Relaxed);
                        waiting.fetch_add(1, Ordering::Relaxed);
                    } else {
                        // A refusal returns without awaiting anything: without
                        // a pause, issuers that keep failing starve the
                        // runtime and the run never reaches its end.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                lat
            }));
        }
        for w in hall.spec.windows.clone() {
            let (svc, stop, ops, hall, waiting) =
                (svc.clone(), stop.clone(), ops.clone(), hall.clone(), waiting.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let window = w.number;
                while !stop.load(Ordering::Relaxed) {
                    for cmd in [Cmd::CallNext { window }, Cmd::Start { window }, Cmd::Finish { window }] {
                        let calling = matches!(cmd, Cmd::CallNext { .. });
                        let t = Instant::now();
                        match svc.execute(hall.spec.id, cmd).await {
                            Ok(_) => {
                                lat.push(t.elapsed());
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
                lat
            }));
        }
    }
    let clients = tasks.len();
    let start = Instant::now();
    tokio::time::sleep(RUN).await;
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("task"));
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0, |d| d.as_micros())
    };
    Figures {
        ops: ops.load(Ordering::Relaxed),
        secs,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        clients,
    }
}
