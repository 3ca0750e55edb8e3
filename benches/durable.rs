//! Durable throughput of the two stores, side by side with
//! `redis-benchmark -t incr` against the same Redis, and replay speed.
//!
//! Run: `cargo bench --bench durable` (needs redis-server and
//! redis-benchmark). Loopback only, bounded in time. Figures: BENCHMARKS.md.

#[path = "support/hall_load.rs"]
mod hall_load;
#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::process::Command;
use std::time::Instant;

use hall_load::{Figures, HALLS, NOW, sample, service, workload};
use hallcall::engine::{Channel, Command as Cmd, Issue, Millis};
use hallcall::store::Location;
use hallcall::store::journal::{Journal, JournalOptions};

/// The server's allocator (src/main.rs), so that this measures the path
/// of an operation as the server runs it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn redis_benchmark(port: u16) -> f64 {
    let out = Command::new("redis-benchmark")
        .args(["-p", &port.to_string(), "-t", "incr", "-n", "200000", "-q"])
        .output()
        .expect("redis-benchmark runs (apt-get install redis-tools)");
    let text = String::from_utf8_lossy(&out.stdout);
    // Progress lines end in \r; the result is "INCR: 87719.30 requests per second, …".
    text.split(['\r', '\n'])
        .find(|l| l.contains("requests per second"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read redis-benchmark output: {text}"))
}

fn report(name: &str, f: &Figures, baseline: f64) {
    let rate = f.ops as f64 / f.secs;
    println!(
        "{name:<34} {:>10.0} ops/s  p50 {:>6} µs  p99 {:>6} µs  ({:.2}× redis-benchmark INCR; {} clients)",
        rate,
        f.p50_us,
        f.p99_us,
        rate / baseline,
        f.clients
    );
}

/// Writes `days` busy hall days to a journal, then times reading it back
/// and rebuilding the hall.
fn replay(days: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = sample(1).halls.remove(0).spec;
    let mut hall = hallcall::engine::Hall::new(cfg.clone());
    let mut journal = Journal::open(dir.path(), JournalOptions::default())
        .expect("journal")
        .journal;
    let mut written = 0u64;
    for day in 0..days {
        let now = |m: i64| NOW.plus_ms(day as i64 * 86_400_000 + m * 1_000);
        let mut events = Vec::new();
        let mut run = |hall: &mut hallcall::engine::Hall, cmd: Cmd, t: Millis| {
            if let Ok(evs) = hall.execute(&cmd, t) {
                events.extend(evs);
            }
        };
        for w in &cfg.windows {
            run(
                &mut hall,
                Cmd::Open {
                    window: w.number,
                    staff: None,
                },
                now(0),
            );
            run(&mut hall, Cmd::Resume { window: w.number }, now(0));
        }
        for i in 0..3_000i64 {
            let w = &cfg.windows[i as usize % cfg.windows.len()];
            let zone = &cfg.zones[w.serves[0].zone];
            let issue = Cmd::Issue(Issue::normal(zone.id, zone.services[0].id, Channel::Kiosk));
            run(&mut hall, issue, now(i));
            for cmd in [
                Cmd::CallNext { window: w.number },
                Cmd::Start { window: w.number },
                Cmd::Finish { window: w.number },
            ] {
                run(&mut hall, cmd, now(i));
            }
        }
        written += events.len() as u64;
        for chunk in events.chunks(4_096) {
            journal.append(&[(cfg.id, chunk)]).expect("append");
        }
    }
    drop(journal);
    let start = Instant::now();
    let opened = Journal::open(dir.path(), JournalOptions::default()).expect("reopen");
    let read = start.elapsed();
    let rec = &opened.halls[&cfg.id];
    let rebuilt = hallcall::store::rebuild(cfg.clone(), rec).expect("rebuild");
    let total = start.elapsed();
    assert_eq!(rebuilt, hall, "replay rebuilds the live hall");
    println!(
        "replay (journal, {days} days)    {written} events: read+decode {:.0} ms, total {:.0} ms = {:.0} events/s",
        read.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3,
        written as f64 / total.as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would too: run only for bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // DURABLE_ONLY=journal or =redis measures one store alone, and
    // DURABLE_HALLS=16 one hall count (for profiling).
    let only = std::env::var("DURABLE_ONLY").ok();
    let only_journal = only.as_deref() == Some("journal");
    let only_redis = only.as_deref() == Some("redis");
    let halls_only: Option<usize> = std::env::var("DURABLE_HALLS").ok().and_then(|v| v.parse().ok());
    let redis = (!only_journal).then(|| redis_server::RedisServer::start(true));
    let baseline = redis.as_ref().map_or(1.0, |r| redis_benchmark(r.port()));
    println!(
        "machine: {} cores; Redis {} with appendonly yes, appendfsync always",
        num_cpus(),
        redis_version()
    );
    println!(
        "{:<34} {:>10.0} requests/s (-n 200000, 50 clients, no pipelining)",
        "redis-benchmark -t incr", baseline
    );
    for halls in HALLS.into_iter().filter(|h| halls_only.is_none_or(|o| o == *h)) {
        if !only_redis {
            let dir = tempfile::tempdir().expect("tempdir");
            let journal = Location::Journal(dir.path().to_path_buf());
            let f = rt.block_on(async { workload(service(journal, halls).await, halls).await });
            report(&format!("durable ops, journal, {halls} halls"), &f, baseline);
        }
        if let Some(redis) = &redis {
            let url = redis.url();
            rt.block_on(flush_redis(&url));
            let f = rt.block_on(async { workload(service(Location::Redis(url), halls).await, halls).await });
            report(&format!("durable ops, Redis, {halls} halls"), &f, baseline);
        }
    }
    if let Some(redis) = &redis {
        let again = redis_benchmark(redis.port());
        println!(
            "{:<34} {:>10.0} requests/s (again, after)",
            "redis-benchmark -t incr", again
        );
    }
    if only.is_none() {
        replay(30);
    }
}

/// Each run starts from an empty Redis.
async fn flush_redis(url: &str) {
    let client = redis::Client::open(url).expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.expect("flush");
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn redis_version() -> String {
    Command::new("redis-server")
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .nth(2)
                .unwrap_or("?")
                .trim_start_matches("v=")
                .to_owned()
        })
        .unwrap_or_default()
}
