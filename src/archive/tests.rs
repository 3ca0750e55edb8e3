//! The rows a run of events makes, read off a scripted day and the start
//! of the next.

use super::rows::{Day, Rows};
use crate::engine::tests::{code, config, local, local_on};
use crate::engine::{Channel, Command, Event, Hall, Issue, Millis, PauseReason, model_tests};

fn run(hall: &mut Hall, log: &mut Vec<Event>, at: Millis, cmd: Command) {
    let evs = hall.execute(&cmd, at).unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    log.extend(evs);
}

#[test]
fn a_day_makes_its_visits_spells_and_report_facts() {
    let mut hall = Hall::new(config());
    let mut log = Vec::new();
    let issue = || Command::Issue(Issue::normal(code("general"), code("apply"), Channel::Kiosk));
    run(
        &mut hall,
        &mut log,
        local(9, 0),
        Command::Open {
            window: 1,
            staff: Some("li".into()),
        },
    );
    run(&mut hall, &mut log, local(9, 1), issue());
    run(&mut hall, &mut log, local(9, 2), issue());
    run(&mut hall, &mut log, local(9, 5), Command::CallNext { window: 1 });
    run(&mut hall, &mut log, local(9, 6), Command::Start { window: 1 });
    run(&mut hall, &mut log, local(9, 16), Command::Finish { window: 1 });
    let lunch = Command::Pause {
        window: 1,
        reason: PauseReason::Lunch,
        minutes: None,
    };
    run(&mut hall, &mut log, local(12, 0), lunch);
    // The next morning's first ticket ends the day.
    run(&mut hall, &mut log, local_on(25, 9, 0), issue());

    let mut day = Day::new(config());
    let mut rows = Rows::default();
    for e in &log {
        day.feed(e, &mut rows).unwrap();
    }
    assert_eq!(rows.events.len(), log.len());
    assert!(rows.events.iter().all(|e| e.day.is_some()), "every event is of a day");
    let kinds: Vec<&str> = rows.events.iter().map(|e| e.kind()).collect();
    let named: Vec<String> = log
        .iter()
        .map(|e| {
            serde_json::to_value(&e.kind).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds, named, "each event's kind is its type");
    let first = jiff::civil::date(2026, 11, 24);
    let a1 = &rows.tickets[&(first, "A001".parse().unwrap())];
    assert_eq!(
        (
            a1.outcome,
            a1.calls,
            a1.first_called_at,
            a1.finished_at,
            a1.staff.as_deref(),
            a1.window
        ),
        (
            "finished",
            1,
            Some(local(9, 5)),
            Some(local(9, 16)),
            Some("li"),
            Some(1)
        )
    );
    assert_eq!(rows.tickets[&(first, "A002".parse().unwrap())].outcome, "left_waiting");
    let next = jiff::civil::date(2026, 11, 25);
    assert_eq!(rows.tickets[&(next, "A001".parse().unwrap())].outcome, "waiting");

    let session = rows.sessions.values().next().unwrap();
    assert_eq!(
        (session.from, session.until),
        (local(9, 0), Some(local(12, 0))),
        "ends at the day's last event"
    );
    let lunch = rows.pauses.values().find(|p| p.reason == Some("lunch")).unwrap();
    assert_eq!((lunch.from, lunch.until), (local(12, 0), Some(local(12, 0))));

    assert_eq!(rows.days.len(), 1, "only the day that ended");
    let (d, part) = &rows.days[0];
    assert_eq!((*d, part.total.served, part.total.issued), (first, 1, 2));
    assert_eq!(day.started().map(|(d, _)| d), Some(next));

    // Read in two runs, the rows say the same.
    let mut again = Day::new(config());
    let (mut one, mut two) = (Rows::default(), Rows::default());
    for (i, e) in log.iter().enumerate() {
        again.feed(e, if i < 4 { &mut one } else { &mut two }).unwrap();
    }
    let a1_split = &two.tickets[&(first, "A001".parse().unwrap())];
    assert_eq!(a1_split.finished_at, a1.finished_at);
    // New to the archive in the run that first has it, and only there.
    assert!(a1.fresh && one.tickets[&(first, "A001".parse().unwrap())].fresh);
    assert!(!a1_split.fresh, "the second run updates the row the first made");
    assert!(
        rows.tickets[&(next, "A001".parse().unwrap())].fresh,
        "a new day's A001 is another visit"
    );
    assert_eq!(one.tickets[&(first, "A001".parse().unwrap())].calls + a1_split.calls, 1);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 1_000, ..Default::default() })]

    /// Random days of every command the engine takes: the rows look only
    /// at the windows an event names or that hold its ticket, and (in a
    /// debug build) `Day::feed` checks that no other window changed; the
    /// last rows of the day's visits agree with the hall.
    #[test]
    fn rows_follow_every_window_an_event_changes(
        ops in proptest::collection::vec(model_tests::op(), 1..80),
        finish_from_called in proptest::prelude::any::<bool>(),
    ) {
        let cfg = model_tests::config_with(finish_from_called);
        let mut hall = Hall::new(cfg.clone());
        let mut now = local(9, 0);
        let mut log = Vec::new();
        for op in &ops {
            match op {
                model_tests::Op::Advance(m) => now = now.plus_ms(i64::from(*m) * Millis::MINUTE),
                model_tests::Op::NextDay => now = now.plus_ms(24 * 60 * Millis::MINUTE),
                _ => {}
            }
            if let Ok(evs) = hall.execute(&model_tests::command(&hall, op, now), now) {
                log.extend(evs);
            }
        }
        let mut day = Day::new(cfg);
        let mut rows = Rows::default();
        for e in &log {
            day.feed(e, &mut rows).unwrap();
        }
        if let Some((today, _)) = day.started() {
            for tk in &hall.st.tickets {
                let row = &rows.tickets[&(today, tk.number)];
                proptest::prop_assert_eq!(row.outcome, tk.state.name(), "{}", tk.number);
                proptest::prop_assert_eq!(row.window, tk.state.window(), "{}", tk.number);
            }
            for (w, ws) in hall.st.windows.iter().enumerate() {
                let number = hall.spec().windows[w].number;
                let open = rows.sessions.values().filter(|s| s.window == number && s.until.is_none()).count();
                proptest::prop_assert_eq!(open, usize::from(ws.open), "window {}'s session", number);
                let paused = rows.pauses.values().filter(|s| s.window == number && s.until.is_none()).count();
                proptest::prop_assert_eq!(paused, usize::from(ws.paused.is_some()), "window {}'s pause", number);
            }
        }
    }
}
