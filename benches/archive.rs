//! The PostgreSQL archive measured in one run: how fast it copies events
//! beside the store's own durable write rate, how fast it catches up on a
//! year of a busy hall, and a year's report answered from it through the
//! HTTP route, beside the same year folded from the journal.
//!
//! Run: `cargo bench --bench archive` (`ARCHIVE_ONLY=live` or `=year`
//! for one part, `=catch-up` for the year's catch-up alone; needs PostgreSQL's `initdb`: it
//! starts its own on a free port with `fsync` on, as installed). Loopback
//! only, bounded in time. Figures: BENCHMARKS.md.

#[path = "support/busy_day.rs"]
mod busy_day;
#[path = "support/hall_load.rs"]
mod hall_load;
#[path = "../tests/support/postgres_server.rs"]
mod postgres_server;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use busy_day::{Lcg, day, local};
use hallcall::archive::Archive;
use hallcall::cli::{Args, StoreUrl};
use hallcall::config::HallSpec;
use hallcall::engine::{EventKind, Hall, Millis};
use hallcall::report::Folder;
use hallcall::startup::Application;
use hallcall::store::journal::{Journal, JournalOptions};
use hallcall::store::{Location, Store, StoreConfig};
use jiff::civil::{Date, date};
use postgres_server::PgServer;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Halls written at once while the archive follows: the busiest store
/// rate `benches/durable.rs` measures (the journal, 16 halls).
const LIVE_HALLS: usize = 16;
/// The year reported on.
const YEAR: i16 = 2026;
const RUNS: usize = 7;
/// However slow the archive, the run ends.
const CATCH_UP_WITHIN: Duration = Duration::from_secs(900);

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let pg = PgServer::start_durable();
    rt.block_on(create_databases(&pg, &["live", "again", "year"]));
    let pg_pid = pg.pid().expect("PostgreSQL runs");
    println!(
        "machine: {} cores; PostgreSQL {} on loopback, fsync on",
        std::thread::available_parallelism().map_or(0, usize::from),
        rt.block_on(pg_version(&pg))
    );
    let only = std::env::var("ARCHIVE_ONLY").unwrap_or_default();
    if only.is_empty() || only == "live" {
        rt.block_on(live(&pg.url_of("live"), &pg.url_of("again"), pg_pid));
    }
    if only.is_empty() || only == "year" || only == "catch-up" {
        year(&rt, &pg.url_of("year"), only != "catch-up");
    }
}

async fn client(url: &str) -> tokio_postgres::Client {
    let mut tries = 0;
    loop {
        match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
            Ok((client, conn)) => {
                tokio::spawn(conn);
                return client;
            }
            // Listening comes a moment before accepting queries.
            Err(e) if tries < 100 => {
                tries += 1;
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("cannot connect to PostgreSQL: {e}"),
        }
    }
}

async fn create_databases(pg: &PgServer, names: &[&str]) {
    let c = client(&pg.url()).await;
    for n in names {
        c.batch_execute(&format!("CREATE DATABASE {n}"))
            .await
            .expect("create database");
    }
}

async fn pg_version(pg: &PgServer) -> String {
    let c = client(&pg.url()).await;
    c.query_one("SHOW server_version", &[])
        .await
        .map(|r| r.get::<_, String>(0))
        .unwrap_or_default()
}

/// Events archived (the cursors' sum) and durable in the store.
fn progress(archive: &Archive) -> (u64, u64) {
    archive.halls().iter().fold((0, 0), |(a, d), (_, archived, behind)| {
        (a + archived, d + archived + behind)
    })
}

/// Waits for the archive to hold every durable event; how long it took.
async fn caught_up(archive: &Archive, since: Instant) -> Duration {
    loop {
        let (archived, durable) = progress(archive);
        if archived == durable && durable > 0 {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < CATCH_UP_WITHIN,
            "the archive is still {} events behind; last error: {:?}",
            durable - archived,
            archive.status.last_error()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The durable workload of `benches/durable.rs` (journal, 16 halls):
/// alone (the baseline), then with the archive following it, then the
/// same events archived again into an empty database with nothing else
/// running.
async fn live(url: &str, again: &str, pg_pid: u32) {
    let rate = |n: u64, t: Duration| n as f64 / t.as_secs_f64();
    let durable =
        |stream: &hallcall::store::Stream| -> u64 { stream.halls().filter_map(|h| stream.durable_seq(h)).sum() };
    let specs = || {
        hall_load::sample(LIVE_HALLS)
            .halls
            .iter()
            .map(|h| h.spec.clone())
            .collect::<Vec<_>>()
    };

    let alone = tempfile::tempdir().expect("tempdir");
    let (svc, busiest) = hall_load::service_and_stream(Location::Journal(alone.path().to_path_buf()), LIVE_HALLS).await;
    let started = Instant::now();
    let f = hall_load::workload(svc, LIVE_HALLS).await;
    let load = started.elapsed();
    let busiest_rate = rate(durable(&busiest), load);
    println!(
        "
{LIVE_HALLS} halls on the journal, {} clients, {:.1} s each:",
        f.clients,
        load.as_secs_f64()
    );
    println!(
        "  baseline: the store alone            {:>10.0} ops/s  {:>8.0} events/s  (p50 {} µs, p99 {} µs)",
        f.ops as f64 / f.secs,
        busiest_rate,
        f.p50_us,
        f.p99_us
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let (svc, stream) = hall_load::service_and_stream(Location::Journal(dir.path().to_path_buf()), LIVE_HALLS).await;
    let archive = Archive::start(url, &stream, specs()).expect("archive starts");
    let started = Instant::now();
    let f = hall_load::workload(svc, LIVE_HALLS).await;
    let load = started.elapsed();
    let (archived, total) = progress(&archive);
    let took = caught_up(&archive, started).await;
    println!(
        "  the store, archive following         {:>10.0} ops/s  {:>8.0} events/s  (p50 {} µs, p99 {} µs)",
        f.ops as f64 / f.secs,
        rate(total, load),
        f.p50_us,
        f.p99_us
    );
    println!(
        "  the archive meanwhile                                 {:>8.0} events/s  ({:.0}% of the store's; all {total} in {:.1} s, {:.1} s after the load)",
        rate(archived, load),
        100.0 * archived as f64 / total as f64,
        took.as_secs_f64(),
        (took - load).as_secs_f64()
    );

    drop(archive);
    drop(stream);

    // The baseline's own events, into an empty database, with nothing else
    // running: the archive's own rate beside the store's busiest. Its
    // tables are made first, as a running archive's are: the rate is of
    // copying, not of migrating.
    hallcall::archive::schema::migrate(&mut client(again).await)
        .await
        .expect("the archive's tables");
    let total = durable(&busiest);
    let cpu = Cpu::now(pg_pid);
    let started = Instant::now();
    let alone = Archive::start(again, &busiest, specs()).expect("archive starts");
    let took = caught_up(&alone, started).await;
    let used = Cpu::now(pg_pid).since(cpu);
    println!(
        "  the archive alone, the baseline's events              {:>8.0} events/s  ({:.0}% of the store's busiest; {total} in {:.1} s)",
        rate(total, took),
        100.0 * rate(total, took) / busiest_rate,
        took.as_secs_f64()
    );
    let per_event = |d: Duration| d.as_secs_f64() * 1e6 / total as f64;
    println!(
        "    CPU per event archived: hallcall {:.2} µs, PostgreSQL {:.2} µs, both {:.2} µs ({} cores)",
        per_event(used.ours),
        per_event(used.postgres),
        per_event(used.ours + used.postgres),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
}

/// CPU time used so far by this process and by PostgreSQL's (the
/// postmaster and its children): what the archive costs, steadier from
/// run to run than its rate on two shared cores, whose speed changes.
#[derive(Clone, Copy)]
struct Cpu {
    ours: Duration,
    postgres: Duration,
}

impl Cpu {
    fn now(postmaster: u32) -> Cpu {
        let mut postgres = Duration::ZERO;
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if let Some((parent, used)) = proc_stat(pid)
                && (pid == postmaster || parent == postmaster)
            {
                postgres += used;
            }
        }
        let ours = proc_stat(std::process::id()).map_or(Duration::ZERO, |(_, used)| used);
        Cpu { ours, postgres }
    }

    fn since(self, before: Cpu) -> Cpu {
        Cpu {
            ours: self.ours.saturating_sub(before.ours),
            postgres: self.postgres.saturating_sub(before.postgres),
        }
    }
}

/// A process's parent and CPU time (user and system) from `/proc/PID/stat`,
/// counted in USER_HZ (100 a second on Linux).
fn proc_stat(pid: u32) -> Option<(u32, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command's name (in parentheses, which may hold spaces).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let parent = fields.get(1)?.parse().ok()?;
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((parent, Duration::from_millis(ticks * 10)))
}

fn sample_spec() -> Arc<HallSpec> {
    hallcall::config::parse(include_str!("../config/hall.toml"), "hall.toml")
        .expect("sample")
        .halls
        .remove(0)
        .spec
}

/// Every business day of [`YEAR`] (and the first of the next, which ends
/// the last), simulated into a journal; the number of events and tickets.
fn simulate_year(dir: &Path, spec: &Arc<HallSpec>) -> (Vec<Date>, u64, u64) {
    let tz = spec.time_zone.clone();
    let mut journal = Journal::open(dir, JournalOptions::default()).expect("journal").journal;
    let mut hall = Hall::new(spec.clone());
    let mut rng = Lcg(YEAR as u64);
    let (mut events, mut tickets) = (0u64, 0u64);
    let mut days = Vec::new();
    let mut d = date(YEAR, 1, 1);
    loop {
        if d.weekday().to_monday_zero_offset() < 5 {
            let mut log = Vec::new();
            day(&mut hall, &tz, d, &mut rng, &mut log);
            events += log.len() as u64;
            if d.year() == YEAR {
                tickets += log
                    .iter()
                    .filter(|e| matches!(e.kind, EventKind::TicketIssued { .. }))
                    .count() as u64;
                days.push(d);
            }
            for chunk in log.chunks(2_000) {
                journal.append(&[(spec.id, chunk)]).expect("append");
            }
            if d.year() > YEAR {
                return (days, events, tickets);
            }
        }
        d = d.tomorrow().expect("a date");
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The year; `full`: with the journal's baseline and the report from the
/// archive, else the catch-up alone.
fn year(rt: &tokio::runtime::Runtime, url: &str, full: bool) {
    let spec = sample_spec();
    let tz = spec.time_zone.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let journal_dir = dir.path().join("year");
    let t = Instant::now();
    let (days, events, tickets) = simulate_year(&journal_dir, &spec);
    let (from, to) = (days[0], days[days.len() - 1]);
    println!(
        "\na year of the 谯城区 hall: {} business days ({from} to {to}), {tickets} tickets; {events} events with the next day's, simulated in {:.1} s",
        days.len(),
        t.elapsed().as_secs_f64()
    );
    let now = local(&tz, date(YEAR + 1, 1, 5), 9, 0, 0);

    // The baseline: the same year folded from the journal, as the route
    // does for the days the store keeps.
    let reader = Journal::open(&journal_dir, JournalOptions::default())
        .expect("journal")
        .journal
        .reader();
    let mut times = Vec::new();
    let mut from_journal = None;
    for _ in 0..if full { 3 } else { 1 } {
        let t = Instant::now();
        let mut folder = Folder::new(spec.clone(), from, to);
        reader
            .scan_days(spec.id, from, to, |e| folder.feed(&e).map_err(|e| e.to_string()))
            .expect("read");
        from_journal = Some(folder.finish(now));
        times.push(t.elapsed());
    }
    let from_journal = from_journal.expect("a report");
    assert_eq!(from_journal.total.issued, Some(tickets));
    println!(
        "  baseline: the year's report folded from the journal (median of 3)  {:>8.0} ms",
        median(times).as_secs_f64() * 1e3
    );

    // The archive catches up on the whole year.
    let archived_in = rt.block_on(async {
        let opened = Store::open(StoreConfig {
            location: Location::Journal(journal_dir.clone()),
            journal: JournalOptions::default(),
            halls: vec![spec.clone()],
            retention_days: 400,
            metrics: None,
        })
        .await
        .expect("the year's store opens");
        eprintln!("(catching up)");
        let t = Instant::now();
        let archive = Archive::start(url, &opened.stream, vec![spec.clone()]).expect("archive starts");
        let took = caught_up(&archive, t).await;
        archive.settle(Duration::from_secs(5)).await;
        took
    });
    println!(
        "  archive: catching up on the year ({events} events)                  {:>8.1} s  ({:.0} events/s)",
        archived_in.as_secs_f64(),
        events as f64 / archived_in.as_secs_f64()
    );

    if !full {
        return;
    }
    // A server whose store holds none of it reads the year from PostgreSQL.
    let empty = dir.path().join("empty");
    let (times, report) = rt.block_on(report_from_archive(url, &empty, now, from, to));
    assert_eq!(report["total"]["issued"], serde_json::json!(tickets));
    let journal_total = serde_json::to_value(&from_journal.total).expect("json");
    assert_eq!(
        report["total"], journal_total,
        "the archive's year equals the journal's"
    );
    let t = median(times);
    println!(
        "  the year's report from PostgreSQL: GET …/report?from={from}&to={to} (median of {RUNS})  {:>8.0} ms   target < 2000 ms",
        t.as_secs_f64() * 1e3
    );
}

/// Starts the server on an empty store with the archive; times the year's
/// report through HTTP as a supervisor's browser asks for it.
async fn report_from_archive(
    url: &str,
    data: &Path,
    now: Millis,
    from: Date,
    to: Date,
) -> (Vec<Duration>, serde_json::Value) {
    let args = Args {
        config: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/hall.toml"),
        listen: "127.0.0.1:0".parse().expect("an address"),
        store: StoreUrl::File(data.to_path_buf()),
        check_config: false,
        hash_password: false,
        public_url: None,
        sounds: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sounds"),
        retention_days: 30,
        archive: Some(url.to_owned()),
        archive_ca_file: None,
        connections: hallcall::cli::ConnArgs::default(),
        node: hallcall::cli::NodeArgs::default(),
        new_secret: false,
        demo: true,
        import_config: false,
        export_config: None,
        write_timeout_secs: 5,
        person_key_file: None,
        earlier_person_key_file: Vec::new(),
        notice_key_file: None,
    };
    let config = hallcall::config::load(&args.config).expect("the sample config");
    let clock = Arc::new(AtomicI64::new(now.0));
    let app = Application::build_with_clock(&args, &config, Arc::new(move || Millis(clock.load(Ordering::SeqCst))))
        .await
        .expect("the server builds");
    let addr = app.local_addr().expect("an address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let base = format!("http://{addr}/api/v1");
    let session: serde_json::Value = http
        .post(format!("{base}/login"))
        .json(&serde_json::json!({"hall": "qiaocheng", "user": "supervisor", "password": "hallcall-demo"}))
        .send()
        .await
        .expect("sign in")
        .json()
        .await
        .expect("a session");
    let token = session["token"].as_str().expect("a token").to_owned();
    // The new store's log starts again below the archive's cursor: the
    // archive sets the old events aside once (docs/archive.md) before the
    // timing starts.
    loop {
        let status: serde_json::Value = http
            .get(format!("{base}/halls/qiaocheng/archive"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json");
        if status["connected"] == true && status["behind_events"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut times = Vec::new();
    let mut last = serde_json::Value::Null;
    for _ in 0..RUNS {
        let t = Instant::now();
        let res = http
            .get(format!("{base}/halls/qiaocheng/report?from={from}&to={to}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("report");
        assert_eq!(res.status(), 200);
        last = res.json().await.expect("a report");
        times.push(t.elapsed());
    }
    let _ = stop.send(());
    let _ = server.await;
    (times, last)
}
