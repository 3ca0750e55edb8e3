//! A scripted day whose figures were worked out by hand (the comments give
//! the arithmetic), replayed into a report.

use jiff::civil::date;

use super::*;
use crate::engine::tests::{code, config, local, local_on};
use crate::engine::{
    Channel, Command, Event, FollowUpStep, Hall, Issue, Millis, PauseReason, Rating, Target, TicketNumber, WindowNo,
};

const MIN: i64 = Millis::MINUTE;

struct Day {
    hall: Hall,
    log: Vec<Event>,
}

impl Day {
    fn at(&mut self, h: i8, m: i8, cmd: Command) {
        let evs = self
            .hall
            .execute(&cmd, local(h, m))
            .unwrap_or_else(|e| panic!("{cmd:?} at {h}:{m}: {e}"));
        self.log.extend(evs);
    }

    fn issue(&mut self, h: i8, m: i8, zone: &str, service: &str) {
        self.at(
            h,
            m,
            Command::Issue(Issue::normal(code(zone), code(service), Channel::GuideDesk)),
        );
    }
}

fn w(n: u16) -> WindowNo {
    n
}

fn t(s: &str) -> TicketNumber {
    s.parse().unwrap()
}

/// The day of 2026-11-24 at the test hall (windows 1 "li" and 2 "wang";
/// window 1 serves `general`, window 2 `general` then `police`).
fn scripted_day() -> Day {
    let mut d = Day {
        hall: Hall::new(config()),
        log: Vec::new(),
    };
    for (n, who) in [(1, "li"), (2, "wang")] {
        d.at(
            8,
            30,
            Command::Open {
                window: w(n),
                staff: Some(who.into()),
            },
        );
    }
    d.issue(8, 40, "general", "apply"); // A001: windows 1 and 2 idle from 8:40
    d.issue(8, 45, "general", "apply"); // A002
    d.issue(8, 50, "police", "hukou"); // C001
    d.at(9, 0, Command::CallNext { window: w(1) }); // A001 waited 20 min; w1 idle 20 min
    d.at(9, 2, Command::Start { window: w(1) }); // walk 2 min
    d.at(9, 5, Command::CallNext { window: w(2) }); // A002 waited 20 min; w2 idle 25 min
    d.at(9, 6, Command::Skip { window: w(2) }); // A002 back in the queue; w2 idle again
    d.at(9, 10, Command::CallNext { window: w(2) }); // A002 again (no new wait); w2 idle +4
    d.at(9, 11, Command::Skip { window: w(2) }); // A002 a no-show; w2 idle again (C001 waits)
    d.at(9, 12, Command::Finish { window: w(1) }); // A001 served in 10 min
    d.at(9, 15, Command::CallNext { window: w(2) }); // C001 waited 25 min; w2 idle +4
    d.at(9, 16, Command::Start { window: w(2) }); // walk 1 min
    d.at(
        9,
        20,
        Command::Rate {
            ticket: t("A001"),
            level: Rating::VeryDissatisfied,
            comment: Some("太慢".into()),
        },
    );
    d.at(
        9,
        21,
        Command::FollowUp {
            ticket: t("A001"),
            step: FollowUpStep::Verified,
            note: "核实".into(),
        },
    );
    d.at(
        9,
        30,
        Command::Transfer {
            window: w(2),
            to: Target::Zone {
                zone: code("general"),
                service: code("apply"),
            },
        },
    ); // C001 to general: windows 1 and 2 idle from 9:30
    d.at(9, 35, Command::CallNext { window: w(1) }); // C001 (not a first call); both idle +5
    d.at(9, 37, Command::Start { window: w(1) }); // walk 2 min
    d.at(9, 50, Command::Finish { window: w(1) }); // C001 served in 13 min
    d.at(
        10,
        0,
        Command::Pause {
            window: w(2),
            reason: PauseReason::Lunch,
            minutes: None,
        },
    );
    d.issue(10, 5, "general", "apply"); // A003: w1 idle from 10:05
    d.at(10, 6, Command::Cancel { ticket: t("A003") }); // w1 idle +1
    d.at(10, 30, Command::Resume { window: w(2) }); // lunch 30 min
    d.issue(10, 40, "police", "idcard"); // C002: w2 idle from 10:40
    d.at(10, 45, Command::CallNext { window: w(2) }); // C002 waited 5 min; w2 idle +5
    d.at(10, 46, Command::Start { window: w(2) }); // walk 1 min; still serving at close
    d.issue(10, 50, "general", "apply"); // A004: w1 idle from 10:50, left waiting
    d.at(11, 0, Command::Close { window: w(1) }); // w1 idle +10
    d
}

fn stat(count: u64, mean: i64, p90: i64, max: i64) -> Stat {
    Stat {
        count,
        mean_ms: Some(mean),
        p90_ms: Some(p90),
        max_ms: Some(max),
    }
}

fn report(d: &Day, now: Millis) -> Report {
    let day = date(2026, 11, 24);
    build(config(), day, day, &d.log, now).unwrap()
}

#[test]
fn a_scripted_day_gives_the_hand_worked_figures() {
    let d = scripted_day();
    let r = report(&d, local_on(25, 9, 0));
    assert_eq!(r.days, vec![date(2026, 11, 24)]);
    assert_eq!(r.running, None);

    let h = &r.total;
    assert_eq!(h.issued, Some(6));
    assert_eq!(
        (h.called, h.served, h.no_shows, h.cancelled, h.transfers),
        (4, 2, 1, 1, 1)
    );
    // A002 was 过号 twice: back in the queue, then for good.
    assert_eq!(h.skips, 2);
    // Waits 20, 20, 25 and 5 min: mean 17.5, p90 the 4th of 4.
    assert_eq!(h.wait, stat(4, 1_050_000, 25 * MIN, 25 * MIN));
    // Services 10 and 13 min.
    assert_eq!(h.service, stat(2, 690_000, 13 * MIN, 13 * MIN));
    // Walks 2, 1, 2 and 1 min.
    assert_eq!(h.walk, stat(4, 90_000, 2 * MIN, 2 * MIN));
    // Window 1: 20 + 5 + 1 + 10; window 2: 25 + 4 + 4 + 5 + 5.
    assert_eq!(h.idle_ms, Some(36 * MIN + 43 * MIN));
    let pause = h.pause.clone().unwrap();
    assert_eq!(
        (pause.total_ms, pause.lunch_ms, pause.signed_in_ms),
        (30 * MIN, 30 * MIN, 0)
    );
    assert_eq!((h.unfinished_at_close, h.left_waiting), (1, Some(1)));
    let g = &h.ratings;
    assert_eq!((g.very_dissatisfied, g.rated, g.bad, g.rate_pct), (1, 1, 1, Some(50.0)));
    assert_eq!(
        r.follow_ups,
        FollowUps {
            bad: 1,
            verified: 1,
            rectified: 0,
            called_back: 0
        }
    );

    let general = &r.zones[0];
    assert_eq!((general.key.as_str(), general.issued), ("general", Some(4)));
    // C001 was first called in police and finished in general.
    assert_eq!(
        (general.called, general.served, general.no_shows, general.cancelled),
        (2, 2, 1, 1)
    );
    assert_eq!(general.wait, stat(2, 20 * MIN, 20 * MIN, 20 * MIN));
    assert_eq!(general.walk, stat(2, 2 * MIN, 2 * MIN, 2 * MIN));
    assert_eq!(
        (general.transfers, general.unfinished_at_close, general.left_waiting),
        (0, 0, Some(1))
    );
    assert_eq!((general.idle_ms, general.pause.is_none()), (None, true));
    let police = &r.zones[1];
    assert_eq!(
        (police.issued, police.called, police.served, police.transfers),
        (Some(2), 2, 0, 1)
    );
    assert_eq!(police.wait, stat(2, 15 * MIN, 25 * MIN, 25 * MIN));
    assert_eq!((police.unfinished_at_close, police.ratings.rate_pct), (1, None));

    let apply = r.services.iter().find(|s| s.key == "general/apply").unwrap();
    assert_eq!((apply.issued, apply.served), (Some(4), 2));
    let idcard = r.services.iter().find(|s| s.key == "police/idcard").unwrap();
    assert_eq!((idcard.issued, idcard.unfinished_at_close), (Some(1), 1));

    let (w1, w2) = (&r.windows[0], &r.windows[1]);
    assert_eq!((w1.key.as_str(), w1.issued, w1.called, w1.served), ("1", None, 1, 2));
    assert_eq!((w1.idle_ms, w1.walk.count, w1.ratings.bad), (Some(36 * MIN), 2, 1));
    assert_eq!((w2.called, w2.served, w2.no_shows, w2.transfers), (3, 0, 1, 1));
    // Waits 20 (A002), 25 (C001) and 5 (C002) min.
    assert_eq!(w2.wait, stat(3, 1_000_000, 25 * MIN, 25 * MIN));
    assert_eq!(
        (w2.idle_ms, w2.pause.clone().unwrap().lunch_ms),
        (Some(43 * MIN), 30 * MIN)
    );
    assert_eq!(w2.unfinished_at_close, 1);
    assert_eq!(r.windows[2].idle_ms, Some(0));

    let staff: Vec<&str> = r.staff.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(staff, ["li", "wang"]);
    assert_eq!(
        (r.staff[0].served, r.staff[0].idle_ms),
        (w1.served, w1.idle_ms),
        "li staffed window 1 all day"
    );
    assert_eq!(r.staff[1].pause, w2.pause);

    // Arrivals 3 at 8h and 3 at 10h; the 8h ones waited 20, 20 and 25 min.
    let hour = |h: usize| &r.hours[h];
    assert_eq!((hour(8).arrivals, hour(10).arrivals, hour(9).served), (3, 3, 2));
    assert_eq!(hour(8).wait, stat(3, 1_300_000, 25 * MIN, 25 * MIN));
    assert_eq!(hour(10).wait, stat(1, 5 * MIN, 5 * MIN, 5 * MIN));
}

#[test]
fn a_running_day_counts_open_spells_up_to_now_and_nothing_unfinished() {
    let d = scripted_day();
    // At 11:30 window 2 is still serving C002 and A004 still waits.
    let r = report(&d, local(11, 30));
    assert_eq!(r.running, Some(date(2026, 11, 24)));
    assert_eq!((r.total.unfinished_at_close, r.total.left_waiting), (0, Some(0)));
    // Window 1 closed at 11:00, so its idle time is the same as above.
    assert_eq!(r.windows[0].idle_ms, Some(36 * MIN));
}

#[test]
fn the_next_day_ends_the_first_and_a_range_sums_both() {
    let mut d = scripted_day();
    // 25 Nov: a quick ticket at window 3.
    let at = |m: i8| local_on(25, 9, m);
    let mut next = |cmd: Command, when: Millis| {
        let evs = d.hall.execute(&cmd, when).unwrap();
        d.log.extend(evs);
    };
    next(
        Command::Open {
            window: w(3),
            staff: Some("zhao".into()),
        },
        at(0),
    );
    next(
        Command::Issue(Issue::normal(code("police"), code("hukou"), Channel::Kiosk)),
        at(1),
    );
    next(Command::CallNext { window: w(3) }, at(4));
    next(Command::Start { window: w(3) }, at(5));
    next(Command::Finish { window: w(3) }, at(9));

    let first = report(&d, local_on(26, 9, 0));
    let day = date(2026, 11, 24);
    let only = build(config(), day, day, &d.log, local_on(26, 9, 0)).unwrap();
    assert_eq!(first, only);
    assert_eq!(only.total.unfinished_at_close, 1, "the 24th ended with C002 in hand");

    let both = build(config(), day, date(2026, 11, 25), &d.log, local_on(26, 9, 0)).unwrap();
    assert_eq!(both.days, vec![day, date(2026, 11, 25)]);
    assert_eq!((both.total.issued, both.total.served), (Some(7), 3));
    // Waits 20, 20, 25, 5 and 3 min: mean 14.6, p90 the 5th of 5.
    assert_eq!(both.total.wait, stat(5, 876_000, 25 * MIN, 25 * MIN));
    assert_eq!(
        both.staff.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(),
        ["li", "wang", "zhao"]
    );

    let second = build(
        config(),
        date(2026, 11, 25),
        date(2026, 11, 25),
        &d.log,
        local_on(26, 9, 0),
    )
    .unwrap();
    assert_eq!((second.total.issued, second.total.unfinished_at_close), (Some(1), 0));
    assert_eq!(second.windows[2].walk, stat(1, MIN, MIN, MIN));
}

/// What the archive does: one part per day, kept as JSON, merged.
#[test]
fn the_days_parts_kept_as_json_and_merged_give_the_ranges_report() {
    let mut d = scripted_day();
    let evs = d
        .hall
        .execute(
            &Command::Issue(Issue::normal(code("police"), code("hukou"), Channel::Kiosk)),
            local_on(25, 9, 1),
        )
        .unwrap();
    d.log.extend(evs);
    let now = local_on(26, 9, 0);
    let (first, second) = (date(2026, 11, 24), date(2026, 11, 25));
    let range = build(config(), first, second, &d.log, now).unwrap();

    let part_of = |day| {
        let mut f = Folder::new(config(), day, day);
        for e in &d.log {
            f.feed(e).unwrap();
        }
        let kept = serde_json::to_string(&f.part(now)).unwrap();
        serde_json::from_str::<Part>(&kept).unwrap()
    };
    // Merged in either order.
    let mut merged = part_of(second);
    merged.merge(part_of(first));
    assert_eq!(merged.report(&config(), first, second), range);
    assert_eq!(range.days, vec![first, second]);
    assert!(range.total.wait.count > 0 && range.total.service.count > 0);
}

#[test]
fn the_report_equals_a_replay_and_the_csv_equals_the_json() {
    let d = scripted_day();
    let r = report(&d, local_on(25, 9, 0));
    // What the live hall counted agrees with the report built from its log.
    let live = d.hall.rating_summary();
    assert_eq!(live.finished as u64, r.total.served);
    assert_eq!(live.bad as u64, r.total.ratings.bad);
    let served: u32 = d.hall.windows().iter().map(|w| w.served_today).sum();
    assert_eq!(u64::from(served), r.total.served);

    let text = to_csv(&r);
    let rows = csv_rows(&text);
    assert_eq!(rows[0], super::csv::COLUMNS);
    let hall = &rows[1];
    let col = |row: &Vec<String>, name: &str| row[super::csv::COLUMNS.iter().position(|c| *c == name).unwrap()].clone();
    assert_eq!(col(hall, "issued"), "6");
    assert_eq!(col(hall, "wait_mean_ms"), "1050000");
    assert_eq!(col(hall, "rating_rate_pct"), "50");
    assert_eq!(col(hall, "follow_up_verified"), "1");
    assert_eq!(
        rows.len(),
        1 + 1 + r.zones.len() + r.services.len() + r.windows.len() + r.staff.len() + 24
    );
    let w2 = rows.iter().find(|x| x[0] == "window" && x[1] == "2").unwrap();
    assert_eq!(col(w2, "pause_lunch_ms"), (30 * MIN).to_string());
    assert_eq!(col(w2, "issued"), "", "windows issue nothing");
    let nine = rows.iter().find(|x| x[0] == "hour" && x[1] == "8").unwrap();
    assert_eq!(
        (col(nine, "arrivals"), col(nine, "wait_count")),
        ("3".into(), "3".into())
    );
}

/// Parses CSV text with the `csv` crate (BOM stripped).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let body = text.strip_prefix('\u{feff}').expect("a byte-order mark");
    ::csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[test]
fn names_with_commas_and_quotes_are_quoted() {
    let mut r = report(&scripted_day(), local_on(25, 9, 0));
    r.staff[0].name = "李, \"小\"".into();
    let rows = csv_rows(&to_csv(&r));
    assert!(rows.iter().any(|x| x[0] == "staff" && x[2] == "李, \"小\""));
}

#[test]
fn a_cell_a_spreadsheet_would_run_as_a_formula_is_kept_as_text() {
    let mut r = report(&scripted_day(), local_on(25, 9, 0));
    r.staff[0].name = "=HYPERLINK(\"http://evil\",\"点我\")".into();
    r.staff[1].name = "@SUM(1)".into();
    let csv = to_csv(&r);
    let rows = csv_rows(&csv);
    let names: Vec<&str> = rows.iter().filter(|x| x[0] == "staff").map(|x| x[2].as_str()).collect();
    assert_eq!(names, ["'=HYPERLINK(\"http://evil\",\"点我\")", "'@SUM(1)"]);
    assert!(
        !rows.iter().flatten().any(|c| c.starts_with(['=', '+', '@'])),
        "no cell starts a formula"
    );
    // Figures stay figures.
    assert!(
        rows.iter()
            .any(|x| x[0] == "hall" && x.iter().skip(3).any(|c| c.parse::<u64>().is_ok()))
    );
}

#[test]
fn a_visit_finished_straight_from_called_is_served_for_the_time_since_the_call() {
    let mut cfg = (*config()).clone();
    cfg.policy.finish_from_called = true;
    let cfg = std::sync::Arc::new(cfg);
    let mut d = Day {
        hall: Hall::new(cfg.clone()),
        log: Vec::new(),
    };
    d.at(
        9,
        0,
        Command::Open {
            window: w(1),
            staff: None,
        },
    );
    d.issue(9, 0, "general", "apply");
    d.at(9, 10, Command::CallNext { window: w(1) });
    d.at(9, 16, Command::Finish { window: w(1) });
    let day = date(2026, 11, 24);
    let r = build(cfg, day, day, &d.log, local(12, 0)).unwrap();
    assert_eq!(r.total.served, 1);
    assert_eq!(r.total.service, stat(1, 6 * MIN, 6 * MIN, 6 * MIN));
    assert_eq!(r.total.walk.count, 0, "no start, no walk to the window");
}
