//! Engine benchmarks: issue, call next, finish, and a mixed hall day on the
//! sample 谯城区 hall; one thread, and two threads over disjoint halls.
//!
//! Run: `cargo bench --bench engine`. Figures and method: BENCHMARKS.md.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hallcall::config::{HallConfig, ServerConfig};
use hallcall::engine::HallSpec;
use hallcall::engine::{Channel, Code, Command, Hall, Issue, LaneRequest, Millis, PauseReason, Target};
use hallcall::shards::Halls;

fn sample() -> HallConfig {
    let src = include_str!("../config/hall.toml");
    hallcall::config::parse(src, "hall.toml")
        .expect("sample config")
        .halls
        .remove(0)
}

/// 2026-11-24 08:30 in Asia/Shanghai (a Tuesday, the hall just opened).
const OPENING: Millis = Millis(1_795_480_200_000);

/// A small deterministic generator, so every run replays the same day.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A ticket for a zone picked in proportion to its windows (busy zones
/// have more desks), a random service, 10% priority, 3% appointments.
fn issue_cmd(cfg: &HallSpec, rng: &mut Rng, now: Millis) -> Command {
    let w = &cfg.windows[rng.below(cfg.windows.len() as u64) as usize];
    let zone = &cfg.zones[w.serves[0].zone];
    let service = zone.services[rng.below(zone.services.len() as u64) as usize].id;
    let lane = match rng.below(100) {
        0..=9 => LaneRequest::Priority {
            category: cfg.categories[rng.below(cfg.categories.len() as u64) as usize].id,
        },
        10..=12 => LaneRequest::Appointment {
            slot_start: now,
            slot_end: now.plus_ms(30 * Millis::MINUTE),
        },
        _ => LaneRequest::Normal,
    };
    Command::Issue(Issue {
        zone: zone.id,
        service,
        lane,
        channel: Channel::Kiosk,
        person: None,
        number: None,
        notice: None,
    })
}

/// Records a busy hall day: every window signs in, 3,000 tickets arrive,
/// windows call, recall, skip, start, finish, transfer and hold. Only
/// accepted commands are kept, so replaying the list is all real work.
fn hall_day(cfg: &Arc<HallSpec>) -> Vec<(Command, Millis)> {
    let mut hall = Hall::new(cfg.clone());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut now = OPENING;
    let mut out = Vec::new();
    let run = |hall: &mut Hall, cmd: Command, now: Millis, out: &mut Vec<(Command, Millis)>| {
        if hall.execute(&cmd, now).is_ok() {
            out.push((cmd, now));
        }
    };
    for w in &cfg.windows {
        run(
            &mut hall,
            Command::Open {
                window: w.number,
                staff: None,
            },
            now,
            &mut out,
        );
        run(&mut hall, Command::Resume { window: w.number }, now, &mut out);
    }
    let mut issued = 0;
    // Until the tickets are issued and served, or the evening: whatever is
    // left then would expire at the night's rollover.
    let evening = OPENING.plus_ms(12 * 60 * Millis::MINUTE);
    while (issued < 3_000 || hall.zone_summaries(now).iter().any(|z| z.waiting > 0)) && now < evening {
        now = now.plus_ms(1_000 + rng.below(4_000) as i64);
        if issued < 3_000 && rng.below(100) < 45 {
            run(&mut hall, issue_cmd(cfg, &mut rng, now), now, &mut out);
            issued += 1;
            continue;
        }
        let w = &cfg.windows[rng.below(cfg.windows.len() as u64) as usize];
        let view = hall
            .windows()
            .into_iter()
            .find(|v| v.number == w.number)
            .expect("window");
        let window = w.number;
        let cmd = match view.current.and_then(|t| hall.ticket_view(t, now)) {
            None if rng.below(200) == 0 => Command::Pause {
                window,
                reason: PauseReason::Break,
                minutes: None,
            },
            None if view.paused.is_some() => Command::Resume { window },
            None => Command::CallNext { window },
            Some(t) if matches!(t.state, hallcall::engine::TicketState::Called { .. }) => match rng.below(100) {
                0..=4 => Command::Recall { window },
                5..=8 => Command::Skip { window },
                _ => Command::Start { window },
            },
            Some(_) => match rng.below(100) {
                0..=2 => Command::Transfer {
                    window,
                    to: Target::Zone {
                        zone: cfg.zones[0].id,
                        service: cfg.zones[0].services[0].id,
                    },
                },
                3 => Command::Hold { window },
                _ => Command::Finish { window },
            },
        };
        run(&mut hall, cmd, now, &mut out);
    }
    out
}

fn replay_day(hall: &mut Hall, day: &[(Command, Millis)]) {
    for (cmd, now) in day {
        black_box(hall.execute(cmd, *now).expect("recorded commands succeed"));
    }
}

fn single_ops(c: &mut Criterion) {
    let cfg = sample().spec;
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(1));

    g.bench_function("issue", |b| {
        let mut rng = Rng(7);
        let cmds: Vec<Command> = (0..5_000).map(|_| issue_cmd(&cfg, &mut rng, OPENING)).collect();
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters as usize;
            while left > 0 {
                let n = left.min(cmds.len());
                let mut hall = Hall::new(cfg.clone());
                let start = Instant::now();
                for cmd in &cmds[..n] {
                    black_box(hall.execute(cmd, OPENING).expect("issue"));
                }
                total += start.elapsed();
                left -= n;
            }
            total
        });
    });

    // Halls with every window open and plenty waiting; the timed part is
    // one call (or one finish) at each of the 29 windows.
    let windows: Vec<u16> = cfg.windows.iter().map(|w| w.number).collect();
    let ready_hall = || {
        let mut hall = Hall::new(cfg.clone());
        let mut rng = Rng(11);
        for _ in 0..2_000 {
            hall.execute(&issue_cmd(&cfg, &mut rng, OPENING), OPENING)
                .expect("issue");
        }
        for &window in &windows {
            hall.execute(&Command::Open { window, staff: None }, OPENING)
                .expect("open");
            hall.execute(&Command::Resume { window }, OPENING).expect("resume");
        }
        hall
    };
    // Only operations that succeed are counted: a window whose zones ran
    // dry would otherwise add cheap refusals and flatter the figure. The
    // hall is rebuilt (untimed) as soon as any window finds nobody waiting.
    let per_window = |b: &mut criterion::Bencher, timed_finish: bool| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0u64;
            let mut hall = ready_hall();
            while done < iters {
                let mut dry = false;
                if timed_finish {
                    for &window in &windows {
                        dry |= hall.execute(&Command::CallNext { window }, OPENING).is_err();
                        let _ = hall.execute(&Command::Start { window }, OPENING);
                    }
                    let start = Instant::now();
                    for &window in &windows {
                        done += u64::from(black_box(hall.execute(&Command::Finish { window }, OPENING)).is_ok());
                    }
                    total += start.elapsed();
                } else {
                    let start = Instant::now();
                    for &window in &windows {
                        let ok = black_box(hall.execute(&Command::CallNext { window }, OPENING)).is_ok();
                        done += u64::from(ok);
                        dry |= !ok;
                    }
                    total += start.elapsed();
                    for &window in &windows {
                        let _ = hall.execute(&Command::Start { window }, OPENING);
                        let _ = hall.execute(&Command::Finish { window }, OPENING);
                    }
                }
                if dry {
                    hall = ready_hall();
                }
            }
            // Scale to exactly `iters` operations.
            total.mul_f64(iters as f64 / done as f64)
        });
    };
    g.bench_function("call_next", |b| per_window(b, false));
    g.bench_function("finish", |b| per_window(b, true));
    g.finish();
}

fn mixed(c: &mut Criterion) {
    let config = sample();
    let cfg = config.spec.clone();
    let day = hall_day(&cfg);
    let mut g = c.benchmark_group("hall_day");
    g.sample_size(20);
    g.throughput(Throughput::Elements(day.len() as u64));
    g.bench_function("engine_1_thread", |b| {
        b.iter(|| {
            let mut hall = Hall::new(cfg.clone());
            replay_day(&mut hall, &day);
        })
    });

    // Through the sharded `Halls` (locking included): one thread on one
    // hall, then two threads each on its own hall, doing twice the work.
    let mut twin = config.clone();
    let mut twin_spec = (*twin.spec).clone();
    twin_spec.id = Code::new("qiaocheng-2").expect("id");
    twin.spec = Arc::new(twin_spec);
    let server = ServerConfig {
        halls: vec![config, twin],
        directory: None,
    };
    let ids = [cfg.id, Code::new("qiaocheng-2").expect("id")];
    let run_threads = |threads: usize, iters: u64| {
        let halls = Halls::new(&server);
        let barrier = Arc::new(Barrier::new(threads + 1));
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let (halls, barrier, day, id) = (halls.clone(), barrier.clone(), day.clone(), ids[i]);
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..iters {
                        // Start each repetition from a fresh day.
                        let cfg = halls.lock(id).expect("hall").spec().clone();
                        *halls.lock(id).expect("hall") = Hall::new(cfg);
                        for (cmd, now) in &day {
                            black_box(halls.execute(id, cmd, *now).expect("recorded commands succeed"));
                        }
                    }
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for h in handles {
            h.join().expect("bench thread");
        }
        start.elapsed()
    };
    g.bench_function("sharded_1_thread", |b| b.iter_custom(|iters| run_threads(1, iters)));
    g.throughput(Throughput::Elements(2 * day.len() as u64));
    g.bench_function("sharded_2_threads_disjoint_halls", |b| {
        b.iter_custom(|iters| run_threads(2, iters))
    });
    g.finish();
    eprintln!("hall_day: {} operations per replayed day", day.len());
}

/// The floor under any queue operation: push and pop on a `VecDeque`
/// behind an uncontended `std::sync::Mutex`, as one operation.
fn baseline(c: &mut Criterion) {
    let mut g = c.benchmark_group("baseline");
    g.throughput(Throughput::Elements(1));
    let q = std::sync::Mutex::new(std::collections::VecDeque::<u64>::with_capacity(1024));
    for i in 0..512 {
        q.lock().expect("uncontended").push_back(i);
    }
    g.bench_function("mutex_vecdeque_push_pop", |b| {
        b.iter(|| {
            let mut q = q.lock().expect("uncontended");
            let x = q.pop_front().unwrap_or_default();
            q.push_back(black_box(x));
        })
    });
    g.finish();
}

/// Commands of the recorded day the estimates are timed over.
const MORNING: usize = 2000;

/// The forecast behind every wait a view shows: one play-forward of the
/// recorded day's hall as it stood with about 25, 100 and 400 waiting,
/// and the views' forecast of [`PLAYS`](hallcall::engine::PLAYS) plays;
/// then the day's first [`MORNING`] commands with the server's refresh
/// after every command against the same without it (side by side).
fn forecasts(c: &mut Criterion) {
    let cfg = sample().spec;
    let day = hall_day(&cfg);
    let waiting = |hall: &Hall, now: Millis| hall.zone_summaries(now).iter().map(|z| z.waiting).sum::<usize>();
    let mut g = c.benchmark_group("forecast");
    g.sample_size(20);
    for target in [25, 100, 400] {
        let mut hall = Hall::new(cfg.clone());
        let mut at = OPENING;
        for (cmd, now) in &day {
            hall.execute(cmd, *now).expect("recorded commands succeed");
            at = *now;
            if waiting(&hall, at) >= target {
                break;
            }
        }
        let n = waiting(&hall, at);
        g.bench_function(
            format!("play_forward_{n}_waiting_{}_tickets", hall.ticket_count()),
            |b| b.iter(|| black_box(hall.forecast(at))),
        );
        let plays = hallcall::engine::PLAYS;
        g.bench_function(
            format!("spread_{plays}_plays_{n}_waiting_{}_tickets", hall.ticket_count()),
            |b| b.iter(|| black_box(hall.forecast_spread(at, plays))),
        );
    }
    // The morning: the whole day with a forecast after nearly every
    // command takes minutes an iteration.
    let morning = &day[..day.len().min(MORNING)];
    g.sample_size(10);
    g.throughput(Throughput::Elements(morning.len() as u64));
    g.bench_function(format!("first_{MORNING}_commands_without_estimates"), |b| {
        b.iter(|| {
            let mut hall = Hall::new(cfg.clone());
            replay_day(&mut hall, morning);
        })
    });
    g.bench_function(format!("first_{MORNING}_commands_with_estimates_after_each"), |b| {
        b.iter(|| {
            let mut hall = Hall::new(cfg.clone());
            for (cmd, now) in morning {
                black_box(hall.execute(cmd, *now).expect("recorded commands succeed"));
                hall.refresh_estimates(*now, hallcall::engine::REFRESH_GAP_MS);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, baseline, single_ops, mixed, forecasts);
criterion_main!(benches);
