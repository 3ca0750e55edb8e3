//! A 30-day report over a busy hall (3,000 tickets a business day), side
//! by side with a plain replay of the same events, the floor a report
//! built from events stands on.
//!
//! Run: `cargo bench --bench report`. Builds the days in a temporary
//! journal, then times each step. Figures: BENCHMARKS.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hallcall::config::HallSpec;
use hallcall::engine::{
    Channel, Command, Event, EventKind, Hall, Issue, Millis, PauseReason, Rating, TicketNumber, business_date,
};
use hallcall::report::Folder;
use hallcall::store::journal::{Journal, JournalOptions};
use jiff::civil::{Date, date};
use jiff::tz::TimeZone;

const DAYS: usize = 30;
const TICKETS_PER_DAY: usize = 3_000;
const RUNS: usize = 7;
/// Zones and services issued, weighted roughly by the windows serving them.
const MIX: &[(&str, &str, u32)] = &[
    ("general", "social", 16),
    ("general", "agency", 8),
    ("general", "transport", 6),
    ("construction", "permit", 12),
    ("police", "hukou", 10),
    ("police", "id-card", 10),
    ("business", "register", 18),
    ("business", "licence", 12),
    ("culture", "culture", 3),
    ("legal-aid", "legal-aid", 2),
    ("farm-machinery", "farm-machinery", 3),
];

/// A small deterministic generator: the same hall every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn code(s: &str) -> hallcall::engine::Code {
    hallcall::engine::Code::new(s).expect("a code")
}

fn local(tz: &TimeZone, day: Date, h: i8, m: i8, s: i64) -> Millis {
    let ts = tz.to_timestamp(day.at(h, m, 0, 0)).expect("a time");
    Millis(ts.as_millisecond() + s * 1000)
}

enum Desk {
    Free,
    Called {
        since: Millis,
        walk: i64,
    },
    Serving {
        since: Millis,
        took: i64,
        ticket: TicketNumber,
    },
    Lunch,
}

/// One business day of the sample hall: every window open, 3,000 tickets
/// spread over the opening hours, calls, services of 1–3.5 minutes, 40% of
/// services rated, lunch pauses, windows closed at the end.
fn day(hall: &mut Hall, tz: &TimeZone, d: Date, rng: &mut Lcg, log: &mut Vec<Event>) {
    let mut run = |hall: &mut Hall, cmd: Command, at: Millis| -> Option<Vec<Event>> {
        let evs = hall.execute(&cmd, at).ok()?;
        log.extend(evs.iter().cloned());
        Some(evs)
    };
    let windows: Vec<u16> = hall.spec().windows.iter().map(|w| w.number).collect();
    let open = local(tz, d, 8, 30, 0);
    for &w in &windows {
        run(
            hall,
            Command::Open {
                window: w,
                staff: Some(format!("staff{w}")),
            },
            open,
        );
        run(hall, Command::Resume { window: w }, open.plus_ms(i64::from(w) * 10_000));
    }
    // Issue times over 08:30–12:00 and 14:00–17:30 (7 hours).
    let open_s = 7 * 3600;
    let mut issue_at: Vec<i64> = (0..TICKETS_PER_DAY).map(|_| rng.next(open_s) as i64).collect();
    issue_at.sort_unstable();
    let at_of = |s: i64| {
        if s < 3 * 3600 + 1800 {
            local(tz, d, 8, 30, s)
        } else {
            local(tz, d, 14, 0, s - 12_600)
        }
    };
    let weights: u32 = MIX.iter().map(|m| m.2).sum();
    let mut desks: Vec<Desk> = windows.iter().map(|_| Desk::Free).collect();
    let mut next = 0;
    let mut now = open;
    let end = local(tz, d, 17, 45, 0);
    while now.0 <= end.0 {
        while next < issue_at.len() && at_of(issue_at[next]).0 <= now.0 {
            let mut pick = rng.next(u64::from(weights)) as u32;
            let (zone, service, _) = MIX
                .iter()
                .find(|m| {
                    if pick < m.2 {
                        true
                    } else {
                        pick -= m.2;
                        false
                    }
                })
                .expect("a mix entry");
            run(
                hall,
                Command::Issue(Issue::normal(code(zone), code(service), Channel::Kiosk)),
                now,
            );
            next += 1;
        }
        let lunch = now.0 >= local(tz, d, 12, 0, 0).0 && now.0 < local(tz, d, 13, 0, 0).0;
        for (i, &w) in windows.iter().enumerate() {
            desks[i] = match std::mem::replace(&mut desks[i], Desk::Free) {
                Desk::Free if lunch && i % 2 == 0 => {
                    run(
                        hall,
                        Command::Pause {
                            window: w,
                            reason: PauseReason::Lunch,
                            minutes: None,
                        },
                        now,
                    );
                    Desk::Lunch
                }
                Desk::Lunch if !lunch => {
                    run(hall, Command::Resume { window: w }, now);
                    Desk::Free
                }
                Desk::Free => match run(hall, Command::CallNext { window: w }, now) {
                    Some(_) => Desk::Called {
                        since: now,
                        walk: 10_000 + rng.next(30_000) as i64,
                    },
                    None => Desk::Free,
                },
                Desk::Called { since, walk } if now.since(since) >= walk => {
                    let evs = run(hall, Command::Start { window: w }, now).expect("start");
                    let ticket = match evs.last().map(|e| &e.kind) {
                        Some(EventKind::ServiceStarted { ticket, .. }) => *ticket,
                        other => panic!("expected a start, got {other:?}"),
                    };
                    Desk::Serving {
                        since: now,
                        took: 60_000 + rng.next(150_000) as i64,
                        ticket,
                    }
                }
                Desk::Serving { since, took, ticket } if now.since(since) >= took => {
                    run(hall, Command::Finish { window: w }, now);
                    if rng.next(10) < 4 {
                        let level = [
                            Rating::VerySatisfied,
                            Rating::Satisfied,
                            Rating::Basic,
                            Rating::Dissatisfied,
                        ][rng.next(4) as usize];
                        run(
                            hall,
                            Command::Rate {
                                ticket,
                                level,
                                comment: None,
                            },
                            now,
                        );
                    }
                    Desk::Free
                }
                other => other,
            };
        }
        now = now.plus_ms(10_000);
    }
    for (i, &w) in windows.iter().enumerate() {
        if matches!(desks[i], Desk::Free | Desk::Lunch) {
            run(hall, Command::Close { window: w }, now);
        }
    }
}

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
