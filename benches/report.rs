//! A 30-day report over a busy hall (3,000 tickets a business day), side
//! by side with a plain replay of the same events, the floor a report
//! built from events stands on.
//!
//! Run: `cargo bench --bench report`. Builds the days in a temporary
//! journal, then times each step. Figures: BENCHMARKS.md.

#[path = "support/busy_day.rs"]
mod busy_day;

use std::sync::Arc;
use std::time::{Duration, Instant};

use busy_day::{Lcg, day, local};
use hallcall::config::HallSpec;
use hallcall::engine::{EventKind, Hall, business_date};
use hallcall::report::Folder;
use hallcall::store::journal::{Journal, JournalOptions};
use jiff::civil::{Date, date};

const DAYS: usize = 30;
const RUNS: usize = 7;

fn timed<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed());
    }
    times.sort();
    (times[runs / 2], last.expect("at least one run"))
}

fn main() {
    let cfg: Arc<HallSpec> = hallcall::config::parse(include_str!("../config/hall.toml"), "hall.toml")
        .expect("sample")
        .halls
        .remove(0)
        .spec;
    let tz = cfg.time_zone.clone();
    let mut hall = Hall::new(cfg.clone());
    let mut rng = Lcg(2026);
    let mut log = Vec::new();
    let mut days = Vec::new();
    let mut d = date(2026, 10, 12);
    let generated = Instant::now();
    while days.len() < DAYS {
        if d.weekday().to_monday_zero_offset() < 5 {
            day(&mut hall, &tz, d, &mut rng, &mut log);
            days.push(d);
        }
        d = d.tomorrow().expect("a date");
    }
    let (from, to) = (days[0], days[DAYS - 1]);
    let issued = log
        .iter()
        .filter(|e| matches!(e.kind, EventKind::TicketIssued { .. }))
        .count();
    let served = log
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ServiceFinished { .. }))
        .count();
    println!(
        "generated {DAYS} business days ({from} to {to}): {} events, {issued} tickets, {served} served, in {:.1} s",
        log.len(),
        generated.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut journal = Journal::open(dir.path(), JournalOptions::default())
        .expect("journal")
        .journal;
    for chunk in log.chunks(2_000) {
        journal.append(&[(cfg.id, chunk)]).expect("append");
    }
    let reader = journal.reader();
    let bytes: u64 = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!("journal: {:.1} MiB", bytes as f64 / (1 << 20) as f64);
    // The day after the range, so every day is over.
    let now = local(&tz, to.tomorrow().expect("a date"), 9, 0, 0);
    assert_eq!(business_date(&cfg, now), to.tomorrow().expect("a date"));

    println!("\nmedian of {RUNS} runs:");
    let (t_replay, _) = timed(RUNS, || {
        let mut h = Hall::new(cfg.clone());
        for e in &log {
            h.apply(e).expect("replays");
        }
        h.seq()
    });
    let per_s = |t: Duration| log.len() as f64 / t.as_secs_f64();
    println!(
        "  baseline: replay {} events into a hall          {:>8.1} ms  ({:.2} M events/s)",
        log.len(),
        t_replay.as_secs_f64() * 1e3,
        per_s(t_replay) / 1e6
    );
    let (t_fold, report) = timed(RUNS, || {
        hallcall::report::build(cfg.clone(), from, to, &log, now).expect("report")
    });
    println!(
        "  report from events in memory                    {:>8.1} ms  ({:.2} M events/s)",
        t_fold.as_secs_f64() * 1e3,
        per_s(t_fold) / 1e6
    );
    let (t_read, events) = timed(RUNS, || reader.read_days(cfg.id, from, to).expect("read"));
    assert_eq!(events.len(), log.len());
    println!(
        "  read the 30 days from the journal               {:>8.1} ms",
        t_read.as_secs_f64() * 1e3
    );
    // As served: each event folded as it is read, none held.
    let served = |from: Date, to: Date| {
        let mut folder = Folder::new(cfg.clone(), from, to);
        reader
            .scan_days(cfg.id, from, to, |e| folder.feed(&e).map_err(|e| e.to_string()))
            .expect("read");
        folder.finish(now)
    };
    let (t_all, full) = timed(RUNS, || served(from, to));
    assert_eq!(full, report);
    println!(
        "  30-day report: read and fold (as served)        {:>8.1} ms   target < 1000 ms",
        t_all.as_secs_f64() * 1e3
    );
    let (t_day, _) = timed(RUNS, || served(to, to));
    println!(
        "  one day's report: read and fold                 {:>8.1} ms",
        t_day.as_secs_f64() * 1e3
    );
    let csv = hallcall::report::to_csv(&report);
    println!(
        "\nreport: {} days, {} issued, {} served, mean wait {} s, p90 {} s; JSON {} KiB, CSV {} KiB",
        report.days.len(),
        report.total.issued.unwrap_or(0),
        report.total.served,
        report.total.wait.mean_ms.unwrap_or(0) / 1000,
        report.total.wait.p90_ms.unwrap_or(0) / 1000,
        serde_json::to_vec(&report).map(|v| v.len()).unwrap_or(0) / 1024,
        csv.len() / 1024
    );
}
