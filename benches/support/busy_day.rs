//! One busy business day of the sample 谯城区 hall, simulated through the
//! engine (the report and archive benchmarks share it): every window open,
//! 3,000 tickets spread over the opening hours, calls, services of 1–3.5
//! minutes, 40% rated, lunch pauses, windows closed at the end.
#![allow(dead_code)]

use hallcall::engine::{Channel, Command, Event, EventKind, Hall, Issue, Millis, PauseReason, Rating, TicketNumber};
use jiff::civil::Date;
use jiff::tz::TimeZone;

pub const TICKETS_PER_DAY: usize = 3_000;
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
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

pub fn code(s: &str) -> hallcall::engine::Code {
    hallcall::engine::Code::new(s).expect("a code")
}

pub fn local(tz: &TimeZone, day: Date, h: i8, m: i8, s: i64) -> Millis {
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
pub fn day(hall: &mut Hall, tz: &TimeZone, d: Date, rng: &mut Lcg, log: &mut Vec<Event>) {
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
