//! Unit tests: every operation and every refusal, on a small hall.

use std::sync::Arc;

use super::*;

/// The small hall every test runs on, built as the configuration would
/// build it from this TOML (`config::tests` checks that it does):
///
/// ```toml
/// [[hall]]
/// id = "test"
/// name = "测试大厅"
/// time_zone = "Asia/Shanghai"
/// day_reset = "03:00"
/// hours = { days = ["mon", "tue", "wed", "thu", "fri"], open = ["08:30-12:00", "14:00-17:30"] }
/// window = [
///   { number = 1, name = "综合", serves = ["general"] },
///   { number = 2, name = "综合户籍", serves = ["general", "police"] },
///   { number = 3, name = "户籍", serves = ["police/hukou"] },
///   { number = 4, name = "出件", serves = ["general/results"], results_only = true },
/// ]
/// [hall.policy]
/// priority_ratio = "1:2"
/// max_normal_wait_minutes = 30
/// skip_requeue_places = 2
/// max_skips = 1
/// recall_limit = 2
/// transfer_placement = "front"
/// open_paused = false
/// [[hall.category]]
/// id = "elderly"
/// name = "老年人"
/// [[hall.zone]]
/// id = "general"
/// name = "综合"
/// prefix = "A"
/// service = [{ id = "apply", name = "受理" }, { id = "results", name = "出件", results = true }]
/// [[hall.zone]]
/// id = "police"
/// name = "户籍"
/// prefix = "C"
/// service = [{ id = "hukou", name = "户籍" }, { id = "idcard", name = "身份证" }]
/// ```
pub(crate) fn spec() -> HallSpec {
    let t = |h: i8, m: i8| jiff::civil::Time::new(h, m, 0, 0).unwrap();
    let hours = Hours {
        days: [true, true, true, true, true, false, false],
        intervals: vec![(t(8, 30), t(12, 0)), (t(14, 0), t(17, 30))],
    };
    let service = |id: &str, name: &str, results: bool| ServiceSpec {
        id: code(id),
        name: name.into(),
        name_en: name.into(),
        results,
        retired: false,
    };
    let zone = |id: &str, name: &str, prefix: &str, services: Vec<ServiceSpec>| ZoneSpec {
        id: code(id),
        name: name.into(),
        name_en: name.into(),
        prefix: prefix.into(),
        hours: hours.clone(),
        services,
        default_service_secs: 600,
        alerts: AlertLimits::default(),
        retired: false,
    };
    let window = |number: WindowNo, name: &str, serves: &[(usize, u64)], results_only: bool| WindowSpec {
        number,
        name: name.into(),
        name_en: name.into(),
        serves: serves
            .iter()
            .map(|&(zone, mask)| Serve {
                zone,
                services: ServiceMask(mask),
            })
            .collect(),
        results_only,
        retired: false,
    };
    HallSpec {
        id: code("test"),
        name: "测试大厅".into(),
        name_en: String::new(),
        time_zone: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap(),
        time_zone_name: "Asia/Shanghai".into(),
        day_reset: t(3, 0),
        zones: vec![
            zone(
                "general",
                "综合",
                "A",
                vec![service("apply", "受理", false), service("results", "出件", true)],
            ),
            zone(
                "police",
                "户籍",
                "C",
                vec![service("hukou", "户籍", false), service("idcard", "身份证", false)],
            ),
        ],
        windows: vec![
            window(1, "综合", &[(0, 0b11)], false),
            window(2, "综合户籍", &[(0, 0b11), (1, 0b11)], false),
            window(3, "户籍", &[(1, 0b01)], false),
            window(4, "出件", &[(0, 0b10)], true),
        ],
        categories: vec![Category {
            id: code("elderly"),
            name: "老年人".into(),
            name_en: "老年人".into(),
        }],
        policy: Policy {
            skip_requeue_places: 2,
            recall_limit: 2,
            ..Policy::default()
        },
        special_days: Vec::new(),
    }
}

pub(crate) fn config() -> Arc<HallSpec> {
    Arc::new(spec())
}

/// Local time in the test hall (Asia/Shanghai) on 2026-11-24, a Tuesday.
pub(crate) fn local(h: i8, m: i8) -> Millis {
    local_on(24, h, m)
}

pub(crate) fn local_on(day: i8, h: i8, m: i8) -> Millis {
    let ts = jiff::tz::TimeZone::get("Asia/Shanghai")
        .unwrap()
        .to_timestamp(jiff::civil::date(2026, 11, day).at(h, m, 0, 0))
        .unwrap();
    Millis(ts.as_millisecond())
}

pub(crate) fn code(s: &str) -> Code {
    Code::new(s).unwrap()
}

fn num(s: &str) -> TicketNumber {
    s.parse().unwrap()
}

struct T {
    hall: Hall,
    now: Millis,
    log: Vec<Event>,
}

impl T {
    fn new() -> T {
        T {
            hall: Hall::new(config()),
            now: local(9, 0),
            log: Vec::new(),
        }
    }

    fn run(&mut self, cmd: Command) -> Result<Vec<EventKind>, EngineError> {
        let before = self.hall.clone();
        let res = self.hall.execute(&cmd, self.now);
        match &res {
            Ok(evs) => self.log.extend(evs.iter().cloned()),
            Err(_) => assert_eq!(self.hall, before, "a refusal changed the hall"),
        }
        res.map(|evs| evs.into_iter().map(|e| e.kind).collect())
    }

    fn ok(&mut self, cmd: Command) -> Vec<EventKind> {
        self.run(cmd.clone()).unwrap_or_else(|e| panic!("{cmd:?} refused: {e}"))
    }

    fn err(&mut self, cmd: Command) -> EngineError {
        self.run(cmd.clone()).expect_err("should be refused")
    }

    fn minutes(&mut self, m: i64) {
        self.now = self.now.plus_ms(m * Millis::MINUTE);
    }

    fn issue_as(&mut self, zone: &str, service: &str, lane: LaneRequest) -> TicketNumber {
        let evs = self.ok(issue(zone, service, lane, None));
        evs.iter()
            .find_map(|e| match e {
                EventKind::TicketIssued { ticket, .. } => Some(*ticket),
                _ => None,
            })
            .expect("a TicketIssued event")
    }

    fn issue(&mut self, zone: &str, service: &str) -> TicketNumber {
        self.issue_as(zone, service, LaneRequest::Normal)
    }

    fn priority(&mut self, zone: &str, service: &str) -> TicketNumber {
        self.issue_as(
            zone,
            service,
            LaneRequest::Priority {
                category: code("elderly"),
            },
        )
    }

    fn open(&mut self, window: WindowNo) {
        self.ok(Command::Open {
            window,
            staff: Some(format!("staff{window}")),
        });
    }

    fn call(&mut self, window: WindowNo) -> TicketNumber {
        match self.ok(Command::CallNext { window }).last() {
            Some(EventKind::TicketCalled { ticket, .. }) => *ticket,
            other => panic!("expected TicketCalled, got {other:?}"),
        }
    }

    fn state(&self, t: TicketNumber) -> TicketState {
        self.hall.ticket_view(t, self.now).unwrap().state
    }

    /// Serves every waiting ticket at `window`; the events of the last finish.
    fn serve_all(&mut self, window: WindowNo) -> Vec<EventKind> {
        let mut last = Vec::new();
        while self.run(Command::CallNext { window }).is_ok() {
            self.ok(Command::Start { window });
            last = self.ok(Command::Finish { window });
        }
        last
    }

    fn serve(&mut self, window: WindowNo) -> TicketNumber {
        let t = self.call(window);
        self.ok(Command::Start { window });
        self.ok(Command::Finish { window });
        t
    }
}

fn issue(zone: &str, service: &str, lane: LaneRequest, person: Option<PersonKey>) -> Command {
    Command::Issue(Issue {
        zone: code(zone),
        service: code(service),
        lane,
        channel: Channel::GuideDesk,
        person,
        number: None,
        notice: None,
    })
}

// ----- issuing -----------------------------------------------------------

#[test]
fn numbers_are_per_zone_and_padded() {
    let mut t = T::new();
    assert_eq!(t.issue("general", "apply"), num("A001"));
    assert_eq!(t.issue("general", "results"), num("A002"));
    assert_eq!(t.issue("police", "hukou"), num("C001"));
    assert_eq!(t.issue("general", "apply").to_string(), "A003");
}

#[test]
fn the_first_operation_of_a_day_starts_it() {
    let mut t = T::new();
    let evs = t.ok(issue("general", "apply", LaneRequest::Normal, None));
    assert!(matches!(evs[0], EventKind::DayStarted { day } if day == jiff::civil::date(2026, 11, 24)));
    assert!(matches!(evs[1], EventKind::TicketIssued { .. }));
    assert_eq!(t.log.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
}

#[test]
fn issuing_refuses_unknown_names() {
    let mut t = T::new();
    assert_eq!(
        t.err(issue("nope", "apply", LaneRequest::Normal, None)),
        EngineError::UnknownZone(code("nope"))
    );
    assert_eq!(
        t.err(issue("general", "hukou", LaneRequest::Normal, None)),
        EngineError::UnknownService {
            zone: code("general"),
            service: code("hukou")
        }
    );
    assert_eq!(
        t.err(issue(
            "general",
            "apply",
            LaneRequest::Priority { category: code("vip") },
            None
        )),
        EngineError::UnknownCategory(code("vip"))
    );
}

#[test]
fn issuing_outside_opening_hours_is_refused() {
    let mut t = T::new();
    let closed = |opens: &str| EngineError::ZoneClosed {
        zone: code("general"),
        opens: Some(opens.into()),
    };
    t.now = local(12, 30); // lunch
    let e = t.err(issue("general", "apply", LaneRequest::Normal, None));
    assert_eq!(e, closed("14:00"));
    assert!(e.to_string().ends_with("it opens at 14:00 (local time)"), "{e}");
    t.now = local(8, 29);
    assert_eq!(
        t.err(issue("general", "apply", LaneRequest::Normal, None)),
        closed("08:30")
    );
    t.now = local(8, 30);
    t.issue("general", "apply");
    t.now = local_on(28, 10, 0); // Saturday
    assert_eq!(
        t.err(issue("general", "apply", LaneRequest::Normal, None)),
        closed("2026-11-30 08:30"),
        "on Monday"
    );
}

#[test]
fn one_waiting_ticket_per_person_and_service() {
    let mut t = T::new();
    let me = Some(PersonKey(42));
    t.ok(issue("general", "apply", LaneRequest::Normal, me));
    assert_eq!(
        t.err(issue("general", "apply", LaneRequest::Normal, me)),
        EngineError::AlreadyWaiting(num("A001"))
    );
    t.ok(issue("general", "results", LaneRequest::Normal, me)); // another service is fine
    t.ok(issue("general", "apply", LaneRequest::Normal, Some(PersonKey(7)))); // another person too
    t.open(1);
    t.serve(1);
    t.ok(issue("general", "apply", LaneRequest::Normal, me)); // served: may queue again
}

#[test]
fn a_transferred_ticket_still_counts_for_its_person() {
    let mut t = T::new();
    let me = Some(PersonKey(42));
    t.ok(issue("general", "apply", LaneRequest::Normal, me));
    t.ok(Command::Move {
        ticket: num("A001"),
        to: Target::Zone {
            zone: code("police"),
            service: code("hukou"),
        },
    });
    assert_eq!(
        t.err(issue("general", "apply", LaneRequest::Normal, me)),
        EngineError::AlreadyWaiting(num("A001"))
    );
    t.ok(Command::Cancel { ticket: num("A001") });
    t.ok(issue("general", "apply", LaneRequest::Normal, me));
}

#[test]
fn appointments() {
    let mut t = T::new();
    let slot = |h, m| LaneRequest::Appointment {
        slot_start: local(h, m),
        slot_end: local(h, m + 30),
    };
    assert_eq!(
        t.err(issue(
            "general",
            "apply",
            LaneRequest::Appointment {
                slot_start: local(10, 0),
                slot_end: local(10, 0)
            },
            None
        )),
        EngineError::BadAppointment
    );
    let on_time = t.issue_as("general", "apply", slot(9, 0));
    t.now = local(9, 20); // grace is 15 minutes
    let late = t.issue_as("general", "apply", slot(9, 0));
    let v = t.hall.ticket_view(late, t.now).unwrap();
    assert_eq!(v.lane, Lane::Normal, "checked in after the grace period");
    assert!(matches!(
        t.hall.ticket_view(on_time, t.now).unwrap().lane,
        Lane::Appointment { .. }
    ));
}

#[test]
fn due_appointments_go_first_and_early_ones_wait() {
    let mut t = T::new();
    let normal = t.issue("general", "apply");
    let later = t.issue_as(
        "general",
        "apply",
        LaneRequest::Appointment {
            slot_start: local(11, 0),
            slot_end: local(11, 30),
        },
    );
    let now_due = t.issue_as(
        "general",
        "apply",
        LaneRequest::Appointment {
            slot_start: local(9, 10),
            slot_end: local(9, 40),
        },
    );
    t.open(1);
    assert_eq!(t.call(1), now_due, "due within the early margin");
    t.ok(Command::Start { window: 1 });
    t.ok(Command::Finish { window: 1 });
    assert_eq!(t.call(1), normal, "the 11:00 appointment is not due yet");
    t.ok(Command::Start { window: 1 });
    t.ok(Command::Finish { window: 1 });
    assert_eq!(t.err(Command::CallNext { window: 1 }), EngineError::QueueEmpty(1));
    t.now = local(10, 45);
    assert_eq!(t.call(1), later);
}

// ----- calling -----------------------------------------------------------

#[test]
fn fifo_within_a_lane() {
    let mut t = T::new();
    let a = t.issue("general", "apply");
    let b = t.issue("general", "results");
    let c = t.issue("general", "apply");
    t.open(1);
    assert_eq!([t.serve(1), t.serve(1), t.serve(1)], [a, b, c]);
}

#[test]
fn call_next_refusals() {
    let mut t = T::new();
    t.issue("general", "apply");
    assert_eq!(t.err(Command::CallNext { window: 99 }), EngineError::UnknownWindow(99));
    assert_eq!(t.err(Command::CallNext { window: 1 }), EngineError::WindowClosed(1));
    t.open(1);
    t.ok(Command::Pause {
        window: 1,
        reason: PauseReason::Lunch,
        minutes: None,
    });
    assert_eq!(t.err(Command::CallNext { window: 1 }), EngineError::WindowPaused(1));
    t.ok(Command::Resume { window: 1 });
    let a = t.call(1);
    assert_eq!(
        t.err(Command::CallNext { window: 1 }),
        EngineError::WindowBusy { window: 1, ticket: a }
    );
    t.open(3);
    assert_eq!(t.err(Command::CallNext { window: 3 }), EngineError::QueueEmpty(3));
}

#[test]
fn a_window_calls_in_its_preference_order() {
    let mut t = T::new();
    let police = t.issue("police", "hukou");
    let general = t.issue("general", "apply");
    t.open(2);
    assert_eq!(
        t.serve(2),
        general,
        "window 2 prefers general even though police came first"
    );
    assert_eq!(t.serve(2), police, "and falls back to police");
}

#[test]
fn service_filters_and_results_windows() {
    let mut t = T::new();
    let idcard = t.issue("police", "idcard");
    let hukou = t.issue("police", "hukou");
    let apply = t.issue("general", "apply");
    let results = t.issue("general", "results");
    t.open(3);
    t.open(4);
    assert_eq!(t.call(3), hukou, "window 3 serves hukou only");
    assert_eq!(t.call(4), results, "the results window only hands out results");
    assert_eq!(t.state(idcard), TicketState::Waiting);
    assert_eq!(t.state(apply), TicketState::Waiting);
    assert_eq!(
        t.err(Command::CallTicket {
            window: 1,
            ticket: idcard
        }),
        EngineError::WindowClosed(1)
    );
    t.open(1);
    assert_eq!(
        t.err(Command::CallTicket {
            window: 1,
            ticket: idcard
        }),
        EngineError::NotServedHere {
            window: 1,
            ticket: idcard
        }
    );
}

#[test]
fn priority_lane_follows_the_ratio() {
    let mut t = T::new();
    let p: Vec<_> = (0..4).map(|_| t.priority("general", "apply")).collect();
    let n: Vec<_> = (0..6).map(|_| t.issue("general", "apply")).collect();
    t.open(1);
    let order: Vec<_> = (0..10).map(|_| t.serve(1)).collect();
    // 1 priority : 2 normal while both wait, then what is left.
    assert_eq!(order, vec![p[0], n[0], n[1], p[1], n[2], n[3], p[2], n[4], n[5], p[3]]);
}

#[test]
fn a_normal_ticket_past_the_wait_bound_goes_first() {
    let mut t = T::new();
    let n = t.issue("general", "apply");
    t.minutes(31);
    let p = t.priority("general", "apply");
    t.open(1);
    assert_eq!(t.serve(1), n, "waited over 30 minutes");
    assert_eq!(t.serve(1), p);
}

#[test]
fn call_a_chosen_ticket() {
    let mut t = T::new();
    let _a = t.issue("general", "apply");
    let b = t.issue("general", "apply");
    t.open(1);
    t.open(2);
    let evs = t.ok(Command::CallTicket { window: 1, ticket: b });
    assert!(matches!(
        evs[0],
        EventKind::TicketCalled {
            how: CallKind::Chosen,
            ..
        }
    ));
    assert_eq!(t.state(b), TicketState::Called { window: 1 });
    assert_eq!(
        t.err(Command::CallTicket { window: 2, ticket: b }),
        EngineError::WrongState {
            ticket: b,
            state: "called",
            expected: "waiting"
        }
    );
    assert_eq!(
        t.err(Command::CallTicket {
            window: 2,
            ticket: num("A999")
        }),
        EngineError::UnknownTicket(num("A999"))
    );
}

#[test]
fn two_windows_never_get_the_same_ticket() {
    let mut t = T::new();
    let a = t.issue("general", "apply");
    let b = t.issue("general", "apply");
    t.open(1);
    t.open(2);
    assert_eq!((t.call(1), t.call(2)), (a, b));
    t.open(3);
    assert_eq!(t.err(Command::CallNext { window: 3 }), EngineError::QueueEmpty(3));
}

#[test]
fn recall_is_counted_and_limited() {
    let mut t = T::new();
    t.issue("general", "apply");
    t.open(1);
    assert_eq!(t.err(Command::Recall { window: 1 }), EngineError::NothingInHand(1));
    let a = t.call(1);
    assert_eq!(
        t.ok(Command::Recall { window: 1 }),
        vec![EventKind::TicketRecalled {
            ticket: a,
            window: 1,
            count: 1
        }]
    );
    t.ok(Command::Recall { window: 1 });
    assert_eq!(t.err(Command::Recall { window: 1 }), EngineError::RecallLimit(a));
    t.ok(Command::Start { window: 1 });
    t.ok(Command::Transfer {
        window: 1,
        to: Target::Window { window: 2 },
    });
    t.open(2);
    t.call(2);
    t.ok(Command::Recall { window: 2 }); // a new call has its own count
}

#[test]
fn recall_while_serving_is_refused() {
    let mut t = T::new();
    let a = t.issue("general", "apply");
    t.open(1);
    t.call(1);
    t.ok(Command::Start { window: 1 });
    assert_eq!(
        t.err(Command::Recall { window: 1 }),
        EngineError::WrongState {
            ticket: a,
            state: "serving",
            expected: "called"
        }
    );
}

#[test]
fn skip_requeues_then_makes_a_no_show() {
    let mut t = T::new();
    let tickets: Vec<_> = (0..5).map(|_| t.issue("general", "apply")).collect();
    t.open(1);
    assert_eq!(t.call(1), tickets[0]);
    assert_eq!(
        t.ok(Command::Skip { window: 1 }),
        vec![EventKind::TicketSkipped {
            ticket: tickets[0],
            window: 1,
            no_show: false
        }]
    );
    // Two places behind the front.
    let q = &t.hall.queues()[0].normal;
    assert_eq!(q, &vec![tickets[1], tickets[2], tickets[0], tickets[3], tickets[4]]);
    t.serve(1);
    t.serve(1);
    assert_eq!(t.call(1), tickets[0]);
    t.ok(Command::Skip { window: 1 });
    assert_eq!(t.state(tickets[0]), TicketState::NoShow { window: 1 });
    assert!(!t.hall.queues()[0].normal.contains(&tickets[0]));
}

#[test]
fn skip_refusals() {
    let mut t = T::new();
    let a = t.issue("general", "apply");
    t.open(1);
    assert_eq!(t.err(Command::Skip { window: 1 }), EngineError::NothingInHand(1));
    t.call(1);
    t.ok(Command::Start { window: 1 });
    assert_eq!(
        t.err(Command::Skip { window: 1 }),
        EngineError::WrongState {
            ticket: a,
            state: "serving",
            expected: "called"
        }
    );
}

#[test]
fn start_and_finish() {
    let mut t = T::new();
    let a = t.issue("general", "apply");
    t.open(1);
    assert_eq!(t.err(Command::Start { window: 1 }), EngineError::NothingInHand(1));
    assert_eq!(t.err(Command::Finish { window: 1 }), EngineError::NothingInHand(1));
    t.call(1);
    assert_eq!(
        t.err(Command::Finish { window: 1 }),
        EngineError::WrongState {
            ticket: a,
            state: "called",
            expected: "serving"
        }
    );
    t.ok(Command::Start { window: 1 });
    assert_eq!(
        t.err(Command::Start { window: 1 }),
        EngineError::WrongState {
            ticket: a,
            state: "serving",
            expected: "called"
        }
    );
    t.minutes(7);
    t.ok(Command::Finish { window: 1 });
    assert_eq!(t.state(a), TicketState::Finished { window: 1 });
    let w = &t.hall.windows()[0];
    assert_eq!((w.current, w.served_today), (None, 1));
    assert_eq!(t.hall.zone_summaries(t.now)[0].mean_service_ms, 7 * Millis::MINUTE);
}

#[test]
fn transfer_to_a_zone_keeps_number_and_turn() {
    let mut t = T::new();
    let a = t.issue("general", "apply");
    let c = t.issue("police", "hukou");
    t.open(1);
    t.call(1);
    t.ok(Command::Start { window: 1 });
    t.ok(Command::Transfer {
        window: 1,
        to: Target::Zone {
            zone: code("police"),
            service: code("hukou"),
        },
    });
    let v = t.hall.ticket_view(a, t.now).unwrap();
    assert_eq!(
        (v.number, v.zone, v.transfers, v.state),
        (a, code("police"), 1, TicketState::Waiting)
    );
    assert_eq!(t.hall.queues()[1].normal, vec![a, c], "placed at the front");
    assert_eq!(
        v.history.iter().map(|s| s.what).collect::<Vec<_>>(),
        vec![
            StepKind::Issued,
            StepKind::Called,
            StepKind::Started,
            StepKind::Transferred
        ]
    );
    t.open(3);
    assert_eq!(t.call(3), a);
}

#[test]
fn transfer_to_a_window_is_called_only_there_and_first() {
    let mut t = T::new();
    let a = t.issue("general", "apply");
    let b = t.issue("general", "apply");
    t.open(1);
    t.open(2);
    t.open(4);
    t.call(1);
    t.ok(Command::Transfer {
        window: 1,
        to: Target::Window { window: 4 },
    });
    assert_eq!(t.hall.windows()[3].own_queue, vec![a]);
    assert_eq!(t.call(2), b, "window 2 cannot take a ticket sent to window 4");
    assert_eq!(
        t.call(4),
        a,
        "the results window takes it although it serves results only"
    );
}

#[test]
fn transfer_refusals() {
    let mut t = T::new();
    let a = t.issue("general", "apply");
    t.open(1);
    let to = Target::Zone {
        zone: code("nope"),
        service: code("apply"),
    };
    assert_eq!(
        t.err(Command::Transfer { window: 1, to }),
        EngineError::NothingInHand(1)
    );
    t.call(1);
    assert_eq!(
        t.err(Command::Transfer { window: 1, to }),
        EngineError::UnknownZone(code("nope"))
    );
    let to = Target::Zone {
        zone: code("police"),
        service: code("nope"),
    };
    assert_eq!(
        t.err(Command::Transfer { window: 1, to }),
        EngineError::UnknownService {
            zone: code("police"),
            service: code("nope")
        }
    );
    assert_eq!(
        t.err(Command::Transfer {
            window: 1,
            to: Target::Window { window: 42 }
        }),
        EngineError::UnknownWindow(42)
    );
    t.ok(Command::Transfer {
        window: 1,
        to: Target::Window { window: 2 },
    });
    assert_eq!(
        t.err(Command::Move {
            ticket: a,
            to: Target::Window { window: 2 }
        }),
        EngineError::SameQueue(a)
    );
}

#[test]
fn hold_and_call_back() {
    let mut t = T::new();
    let a = t.issue("general", "apply");
    let b = t.issue("general", "apply");
    t.open(1);
    t.call(1);
    t.ok(Command::Start { window: 1 });
    t.ok(Command::Hold { window: 1 });
    assert_eq!(t.state(a), TicketState::Held { window: 1 });
    assert_eq!(t.hall.windows()[0].held, vec![a], "the window lists what it holds");
    assert_eq!(t.serve(1), b, "the window is free for the next citizen");
    t.open(3);
    assert_eq!(
        t.err(Command::CallBack { window: 3, ticket: a }),
        EngineError::NotServedHere { window: 3, ticket: a }
    );
    assert_eq!(
        t.err(Command::CallBack { window: 1, ticket: b }),
        EngineError::WrongState {
            ticket: b,
            state: "finished",
            expected: "held"
        }
    );
    assert_eq!(t.hall.windows()[0].held, vec![a]);
    let evs = t.ok(Command::CallBack { window: 1, ticket: a });
    assert!(t.hall.windows()[0].held.is_empty(), "a call-back takes it off the list");
    assert!(matches!(
        evs[0],
        EventKind::TicketCalled {
            how: CallKind::CallBack,
            window: 1,
            ..
        }
    ));
    t.ok(Command::Start { window: 1 });
    t.ok(Command::Finish { window: 1 });
    assert_eq!(t.state(a), TicketState::Finished { window: 1 });
}

#[test]
fn cancel() {
    let mut t = T::new();
    let a = t.issue("general", "apply");
    let b = t.issue("general", "apply");
    t.ok(Command::Cancel { ticket: a });
    assert_eq!(t.state(a), TicketState::Cancelled);
    assert_eq!(
        t.err(Command::Cancel { ticket: a }),
        EngineError::WrongState {
            ticket: a,
            state: "cancelled",
            expected: "active"
        }
    );
    t.open(1);
    t.call(1);
    t.ok(Command::Cancel { ticket: b });
    assert_eq!(t.hall.windows()[0].current, None, "cancelling frees the window");
}

#[test]
fn reactivate_a_no_show() {
    let mut t = T::new();
    let a = t.issue("general", "apply");
    let b = t.issue("general", "apply");
    assert_eq!(
        t.err(Command::Reactivate { ticket: a }),
        EngineError::WrongState {
            ticket: a,
            state: "waiting",
            expected: "no_show"
        }
    );
    t.open(1);
    t.call(1);
    t.ok(Command::Skip { window: 1 });
    t.ok(Command::CallTicket { window: 1, ticket: a });
    t.ok(Command::Skip { window: 1 });
    assert_eq!(t.state(a), TicketState::NoShow { window: 1 });
    t.ok(Command::Reactivate { ticket: a });
    assert_eq!(t.hall.queues()[0].normal, vec![b, a], "back at the end");
}

#[test]
fn move_a_waiting_ticket() {
    let mut t = T::new();
    let a = t.issue("general", "apply");
    t.ok(Command::Move {
        ticket: a,
        to: Target::Zone {
            zone: code("police"),
            service: code("idcard"),
        },
    });
    assert_eq!(t.hall.queues()[1].normal, vec![a]);
    assert!(t.hall.queues()[0].normal.is_empty());
    assert_eq!(
        t.err(Command::Move {
            ticket: a,
            to: Target::Zone {
                zone: code("police"),
                service: code("idcard")
            }
        }),
        EngineError::SameQueue(a)
    );
    t.open(1);
    t.open(2);
    t.call(2);
    assert_eq!(
        t.err(Command::Move {
            ticket: a,
            to: Target::Window { window: 1 }
        }),
        EngineError::WrongState {
            ticket: a,
            state: "called",
            expected: "waiting or held"
        }
    );
}

// ----- windows -----------------------------------------------------------

#[test]
fn open_close_pause_resume() {
    let mut t = T::new();
    assert_eq!(t.err(Command::Close { window: 1 }), EngineError::WindowClosed(1));
    assert_eq!(
        t.err(Command::Pause {
            window: 1,
            reason: PauseReason::Lunch,
            minutes: None
        }),
        EngineError::WindowClosed(1)
    );
    t.open(1);
    assert_eq!(
        t.err(Command::Open { window: 1, staff: None }),
        EngineError::WindowAlreadyOpen(1)
    );
    assert_eq!(t.err(Command::Resume { window: 1 }), EngineError::WindowNotPaused(1));
    t.ok(Command::Pause {
        window: 1,
        reason: PauseReason::Meeting,
        minutes: None,
    });
    assert_eq!(t.hall.windows()[0].paused, Some(PauseReason::Meeting));
    assert_eq!(
        t.err(Command::Pause {
            window: 1,
            reason: PauseReason::Lunch,
            minutes: None
        }),
        EngineError::WindowPaused(1)
    );
    t.ok(Command::Resume { window: 1 });
    let a = t.issue("general", "apply");
    t.call(1);
    assert_eq!(
        t.err(Command::Close { window: 1 }),
        EngineError::WindowBusy { window: 1, ticket: a }
    );
    t.ok(Command::Start { window: 1 });
    t.ok(Command::Pause {
        window: 1,
        reason: PauseReason::Fault,
        minutes: None,
    }); // may pause with someone in hand
    t.ok(Command::Finish { window: 1 });
    t.ok(Command::Close { window: 1 });
    assert!(!t.hall.windows()[0].open);
}

#[test]
fn a_hall_may_finish_straight_from_called_and_service_counts_from_the_call() {
    let mut t = T::new();
    let a = t.issue("general", "apply");
    t.open(1);
    t.call(1);
    assert_eq!(
        t.err(Command::Finish { window: 1 }),
        EngineError::WrongState {
            ticket: a,
            state: "called",
            expected: "serving"
        },
        "by default 办结 needs 开始办理 first"
    );

    let mut cfg = (*config()).clone();
    cfg.policy.finish_from_called = true;
    let mut t = T {
        hall: Hall::new(Arc::new(cfg)),
        ..T::new()
    };
    let a = t.issue("general", "apply");
    t.open(1);
    t.call(1);
    t.minutes(6);
    t.ok(Command::Finish { window: 1 });
    assert_eq!(t.state(a), TicketState::Finished { window: 1 });
    assert_eq!(t.hall.zone_summaries(t.now)[0].mean_service_ms, 6 * Millis::MINUTE);
    // A ticket held while serving and called back counts from the call back.
    let b = t.issue("general", "apply");
    t.call(1);
    t.ok(Command::Start { window: 1 });
    t.minutes(30);
    t.ok(Command::Hold { window: 1 });
    t.ok(Command::CallBack { window: 1, ticket: b });
    t.minutes(2);
    t.ok(Command::Finish { window: 1 });
    assert_eq!(t.hall.zone_summaries(t.now)[0].mean_service_ms, 4 * Millis::MINUTE);
    // Starting first still works, and counts from the start.
    let c = t.issue("general", "apply");
    t.call(1);
    t.minutes(1);
    t.ok(Command::Start { window: 1 });
    t.minutes(10);
    t.ok(Command::Finish { window: 1 });
    assert_eq!(t.state(c), TicketState::Finished { window: 1 });
    assert_eq!(t.hall.zone_summaries(t.now)[0].mean_service_ms, 6 * Millis::MINUTE);
    // Replay gives the same hall.
    let mut replayed = Hall::new(t.hall.spec().clone());
    for e in &t.log {
        replayed.apply(e).unwrap();
    }
    assert_eq!(replayed, t.hall);
}

#[test]
fn a_pause_may_say_when_it_ends_and_resuming_forgets_it() {
    let mut t = T::new();
    t.open(1);
    assert_eq!(
        t.err(Command::Pause {
            window: 1,
            reason: PauseReason::Lunch,
            minutes: Some(0),
        }),
        EngineError::BadPause(0)
    );
    assert_eq!(
        t.err(Command::Pause {
            window: 1,
            reason: PauseReason::Lunch,
            minutes: Some(MAX_PAUSE_MINUTES + 1),
        }),
        EngineError::BadPause(MAX_PAUSE_MINUTES + 1)
    );
    t.ok(Command::Pause {
        window: 1,
        reason: PauseReason::Lunch,
        minutes: Some(90),
    });
    let w = &t.hall.windows()[0];
    assert_eq!(
        (w.paused, w.resumes_at),
        (Some(PauseReason::Lunch), Some(local(10, 30)))
    );
    // Kept in a snapshot, through JSON.
    let snap: HallSnapshot = serde_json::from_str(&serde_json::to_string(&t.hall.snapshot()).unwrap()).unwrap();
    let back = Hall::restore(t.hall.spec().clone(), &snap).unwrap();
    assert_eq!(back, t.hall);
    assert_eq!(back.windows()[0].resumes_at, Some(local(10, 30)));
    t.ok(Command::Resume { window: 1 });
    assert_eq!(t.hall.windows()[0].resumes_at, None);
    // A pause without a time says none, also after one that had one.
    t.ok(Command::Pause {
        window: 1,
        reason: PauseReason::Break,
        minutes: None,
    });
    assert_eq!(t.hall.windows()[0].resumes_at, None);
}

#[test]
fn phone_tickets_are_capped_per_zone_and_a_supervisor_cancels_them_in_bulk() {
    let mut cfg = (*config()).clone();
    cfg.policy.mobile_waiting_per_zone = 2;
    let mut t = T {
        hall: Hall::new(Arc::new(cfg)),
        ..T::new()
    };
    let phone = |zone: &str, service: &str| Command::Issue(Issue::normal(code(zone), code(service), Channel::Mobile));
    t.ok(phone("general", "apply"));
    let desk = t.issue("general", "apply");
    t.ok(phone("general", "apply"));
    assert_eq!(
        t.err(phone("general", "apply")),
        EngineError::PhoneTicketsFull {
            zone: code("general"),
            limit: 2
        }
    );
    t.ok(phone("police", "hukou"));
    // Called ones no longer wait: room for one more.
    t.open(1);
    t.call(1);
    t.ok(phone("general", "apply"));
    // Cancelled in bulk: the waiting phone tickets of one zone, then all.
    assert_eq!(
        t.err(Command::CancelPhoneTickets {
            zone: Some(code("nowhere"))
        }),
        EngineError::UnknownZone(code("nowhere"))
    );
    let evs = t.ok(Command::CancelPhoneTickets {
        zone: Some(code("general")),
    });
    assert_eq!(evs.len(), 2, "{evs:?}");
    assert!(evs.iter().all(|e| matches!(e, EventKind::TicketCancelled { .. })));
    assert_eq!(t.state(desk), TicketState::Waiting, "the desk's ticket stays");
    let evs = t.ok(Command::CancelPhoneTickets { zone: None });
    assert_eq!(evs.len(), 1, "the police zone's");
    assert!(t.ok(Command::CancelPhoneTickets { zone: None }).is_empty());
    let mut replayed = Hall::new(t.hall.spec().clone());
    for e in &t.log {
        replayed.apply(e).unwrap();
    }
    assert_eq!(replayed, t.hall);
}

#[test]
fn windows_can_start_paused() {
    let mut cfg = (*config()).clone();
    cfg.policy.open_paused = true;
    let mut hall = Hall::new(Arc::new(cfg));
    hall.execute(&Command::Open { window: 1, staff: None }, local(9, 0))
        .unwrap();
    assert_eq!(hall.windows()[0].paused, Some(PauseReason::SignedIn));
}

#[test]
fn auto_call_takes_the_next_ticket_when_free() {
    let mut t = T::new();
    t.open(1);
    t.ok(Command::SetAutoCall { window: 1, on: true });
    assert!(
        t.ok(Command::SetAutoCall { window: 1, on: true }).is_empty(),
        "no change, no event"
    );
    let evs = t.ok(issue("general", "apply", LaneRequest::Normal, None));
    assert!(matches!(
        evs[1],
        EventKind::TicketCalled {
            how: CallKind::Auto,
            window: 1,
            ..
        }
    ));
    let b = t.issue("general", "apply");
    assert_eq!(t.state(b), TicketState::Waiting, "window 1 is busy");
    t.ok(Command::Start { window: 1 });
    let evs = t.ok(Command::Finish { window: 1 });
    assert!(matches!(evs[1], EventKind::TicketCalled { ticket, how: CallKind::Auto, .. } if ticket == b));
    // A paused window is never handed a ticket.
    t.ok(Command::Start { window: 1 });
    t.ok(Command::Pause {
        window: 1,
        reason: PauseReason::Break,
        minutes: None,
    });
    t.ok(Command::Finish { window: 1 });
    let c = t.issue("general", "apply");
    assert_eq!(t.state(c), TicketState::Waiting);
    let evs = t.ok(Command::Resume { window: 1 });
    assert!(matches!(evs[1], EventKind::TicketCalled { ticket, .. } if ticket == c));
    assert_eq!(
        t.err(Command::SetAutoCall { window: 2, on: true }),
        EngineError::WindowClosed(2)
    );
}

// ----- days ----------------------------------------------------------------

#[test]
fn a_new_business_day_resets_numbers_and_windows() {
    let mut t = T::new();
    let a = t.issue("general", "apply");
    t.open(1);
    t.now = local_on(25, 2, 59); // still the 24th's business day (reset 03:00)
    t.call(1);
    t.now = local_on(25, 9, 0);
    let evs = t.ok(issue("general", "apply", LaneRequest::Normal, None));
    assert!(matches!(evs[0], EventKind::DayStarted { day } if day == jiff::civil::date(2026, 11, 25)));
    assert!(
        matches!(evs[1], EventKind::TicketIssued { ticket, .. } if ticket == a),
        "numbering restarts at A001"
    );
    assert!(!t.hall.windows()[0].open, "staff sign in again each day");
    assert_eq!(
        t.hall.tickets(t.now).count(),
        1,
        "yesterday's tickets are gone from memory"
    );
}

#[test]
fn a_refused_command_does_not_roll_the_day_over() {
    let mut t = T::new();
    t.issue("general", "apply");
    t.now = local_on(25, 9, 0);
    let seq = t.hall.seq();
    t.err(Command::CallNext { window: 1 });
    assert_eq!(t.hall.seq(), seq);
    assert_eq!(t.hall.business_day(), Some(jiff::civil::date(2026, 11, 24)));
    assert_eq!(t.ok(Command::Tick).len(), 1);
    assert_eq!(t.hall.business_day(), Some(jiff::civil::date(2026, 11, 25)));
    assert!(t.ok(Command::Tick).is_empty());
}

// ----- queries ---------------------------------------------------------------

#[test]
fn people_ahead_and_estimated_waits() {
    let mut t = T::new();
    let n1 = t.issue("general", "apply");
    let n2 = t.issue("general", "apply");
    let p1 = t.priority("general", "apply");
    t.open(1);
    t.open(2);
    let view = |t: &T, x| t.hall.ticket_view(x, t.now).unwrap();
    // Priority ahead of the normal lane; default service time 10 minutes.
    assert_eq!(view(&t, p1).people_ahead, 0);
    assert_eq!(view(&t, n1).people_ahead, 1);
    assert_eq!(view(&t, n2).people_ahead, 2);
    // Two working windows share the two people ahead of n2.
    assert_eq!(view(&t, n2).estimated_wait_ms, 10 * Millis::MINUTE);
    let z = &t.hall.zone_summaries(t.now)[0];
    assert_eq!(
        (z.waiting, z.open_windows, z.estimated_wait_ms),
        (3, 2, 15 * Millis::MINUTE)
    );
    t.minutes(5);
    assert_eq!(t.hall.zone_summaries(t.now)[0].longest_wait_ms, 5 * Millis::MINUTE);
    t.call(1);
    assert_eq!(view(&t, p1).people_ahead, 0, "in hand: nobody ahead");
}

#[test]
fn the_forecast_plays_the_windows_forward_by_their_own_rules() {
    let mut t = T::new();
    let a = t.issue("general", "apply");
    let b = t.issue("general", "apply");
    let c = t.issue("general", "apply");
    let police = t.issue("police", "hukou");
    // An hour later: no arrivals expected at the pace of the last hour.
    t.minutes(61);
    // No window open: no forecast for anyone.
    assert_eq!(t.hall.forecast(t.now).wait_ms(a, t.now), None);
    t.open(1);
    assert_eq!(t.call(1), a);
    t.ok(Command::Start { window: 1 });
    let f = t.hall.forecast(t.now);
    // Window 1 finishes a after the zone's mean (10 minutes), calls b, and
    // c once b has walked up and been served.
    assert_eq!(f.wait_ms(b, t.now), Some(10 * Millis::MINUTE));
    assert_eq!(f.wait_ms(c, t.now), Some(20 * Millis::MINUTE + WALK_MS));
    // Window 1 does not serve the police zone: no number.
    assert_eq!(f.wait_ms(police, t.now), None);
    // Window 2 opens, serving the general zone before the police one: it
    // takes b now; window 1 takes c when a is done, so window 2 then finds
    // the general zone empty and takes the police ticket.
    t.open(2);
    let f = t.hall.forecast(t.now);
    assert_eq!(f.wait_ms(b, t.now), Some(0));
    assert_eq!(f.wait_ms(c, t.now), Some(10 * Millis::MINUTE));
    assert_eq!(f.wait_ms(police, t.now), Some(10 * Millis::MINUTE + WALK_MS));
    // A pause with its end said: the window is back then.
    t.ok(Command::Pause {
        window: 2,
        reason: PauseReason::Break,
        minutes: Some(30),
    });
    let f = t.hall.forecast(t.now);
    assert_eq!(f.wait_ms(b, t.now), Some(10 * Millis::MINUTE), "window 1, after a");
    assert_eq!(f.wait_ms(c, t.now), Some(20 * Millis::MINUTE + WALK_MS));
    assert_eq!(
        f.wait_ms(police, t.now),
        Some(30 * Millis::MINUTE),
        "window 2, back from its break"
    );
    // The play-forward leaves the hall as it was.
    assert_eq!(t.hall.ticket_view(b, t.now).unwrap().state, TicketState::Waiting);
}

#[test]
fn the_spread_forecast_expects_the_median_of_skewed_services() {
    let mut t = T::new();
    t.open(1);
    // Nine quick services and one long one: a mean of 7.6 minutes, though
    // nine in ten take 4.
    for m in [4, 4, 4, 4, 40, 4, 4, 4, 4, 4] {
        t.issue("general", "apply");
        t.call(1);
        t.ok(Command::Start { window: 1 });
        t.minutes(m);
        t.ok(Command::Finish { window: 1 });
    }
    // Past the hour: no arrivals expected, no walk-ups measured.
    t.minutes(61);
    let x = t.issue("general", "apply");
    let b = t.issue("general", "apply");
    assert_eq!(t.call(1), x);
    t.ok(Command::Start { window: 1 });
    // One play at the means: b when x has taken the mean.
    let mean = t.hall.forecast(t.now);
    assert_eq!(mean.wait_ms(b, t.now), Some(7 * Millis::MINUTE + 36_000));
    // Fifteen plays drawing x's time from the recent ones: b at their
    // median, as nine services in ten would have it.
    let spread = t.hall.forecast_spread(t.now, 15);
    assert_eq!(spread.wait_ms(b, t.now), Some(4 * Millis::MINUTE));
    // Seeded by the hall: the same hall, the same forecast; no plays, the
    // means.
    assert_eq!(t.hall.forecast_spread(t.now, 15), spread);
    assert_eq!(t.hall.forecast_spread(t.now, 0), mean);
    // The views show the spread forecast.
    t.hall.refresh_estimates(t.now, REFRESH_GAP_MS);
    let shown = t.hall.ticket_view(b, t.now).unwrap().wait_range.unwrap();
    assert_eq!(shown.expected_ms, 4 * Millis::MINUTE);
}

#[test]
fn a_big_halls_forecast_is_made_again_per_gap_and_sooner_for_a_new_ticket() {
    let mut t = T::new();
    t.open(1);
    t.issue("general", "apply");
    assert!(t.hall.refresh_estimates(t.now, REFRESH_GAP_MS), "the first");
    assert!(!t.hall.refresh_estimates(t.now, REFRESH_GAP_MS), "nothing changed");
    // Small: again after every change.
    t.issue("general", "apply");
    assert!(t.hall.refresh_estimates(t.now, REFRESH_GAP_MS));
    // Big: 70 tickets, times 15 plays, past SMALL_HALL.
    for _ in 0..68 {
        t.issue("general", "apply");
    }
    assert!(!t.hall.refresh_estimates(t.now, REFRESH_GAP_MS), "big now, and fresh");
    t.now = t.now.plus_ms(ISSUE_GAP_MS);
    assert!(t.hall.refresh_estimates(t.now, REFRESH_GAP_MS), "new tickets since");
    t.issue("general", "apply");
    assert!(
        !t.hall.refresh_estimates(t.now, REFRESH_GAP_MS),
        "a new ticket, but the forecast is fresh"
    );
    t.now = t.now.plus_ms(ISSUE_GAP_MS);
    assert!(
        t.hall.refresh_estimates(t.now, REFRESH_GAP_MS),
        "a new ticket half a second on"
    );
    t.now = t.now.plus_ms(ISSUE_GAP_MS);
    t.call(1);
    assert!(
        !t.hall.refresh_estimates(t.now, REFRESH_GAP_MS),
        "a call waits for the gap"
    );
    t.now = t.now.plus_ms(REFRESH_GAP_MS);
    assert!(t.hall.refresh_estimates(t.now, REFRESH_GAP_MS), "two seconds on");
}

#[test]
fn the_forecast_lets_the_priority_lane_cut_in_at_its_recent_pace() {
    let mut t = T::new();
    // Four priority tickets in the last hour (cancelled since): one
    // expected every 15 minutes from now.
    for _ in 0..4 {
        let p = t.priority("general", "apply");
        t.ok(Command::Cancel { ticket: p });
        t.minutes(1);
    }
    t.minutes(26);
    t.open(1);
    let first = t.issue("general", "apply");
    let a = t.issue("general", "apply");
    let b = t.issue("general", "apply");
    assert_eq!(t.call(1), first);
    t.ok(Command::Start { window: 1 });
    let f = t.hall.forecast(t.now);
    let step = 10 * Millis::MINUTE + WALK_MS;
    // a when first is done; then the priority ticket expected 15 minutes
    // from now has come and goes first (two normal calls were made); b
    // after it.
    assert_eq!(f.wait_ms(a, t.now), Some(10 * Millis::MINUTE));
    assert_eq!(f.wait_ms(b, t.now), Some(10 * Millis::MINUTE + 2 * step));
}

#[test]
fn the_forecast_lets_a_windows_first_zone_take_its_expected_arrivals_first() {
    let mut t = T::new();
    // 11:45, the zone closes at 12:00: six general tickets in the last
    // hour (five cancelled) make one expected every 10 minutes, and the
    // only one before the zone closes comes at 11:55.
    t.minutes(165);
    for _ in 0..5 {
        let g = t.issue("general", "apply");
        t.ok(Command::Cancel { ticket: g });
    }
    let g = t.issue("general", "apply");
    let p = t.issue("police", "hukou");
    t.open(2); // general first, then police
    assert_eq!(t.call(2), g);
    t.ok(Command::Start { window: 2 });
    let f = t.hall.forecast(t.now);
    // Window 2 is free at 11:55, when the expected general ticket has
    // come: it calls that one first, and the police ticket after it.
    assert_eq!(f.wait_ms(p, t.now), Some(20 * Millis::MINUTE + WALK_MS));
}

#[test]
fn the_forecast_foresees_an_appointment_that_falls_due_before_a_window_is_free() {
    let mut t = T::new();
    t.minutes(61); // no pace from earlier tickets
    t.open(3); // police (hukou)
    let first = t.issue("police", "hukou");
    let a = t.issue("police", "hukou");
    assert_eq!(t.call(3), first);
    t.ok(Command::Start { window: 3 });
    // Booked for a slot from 20 minutes on: called from 15 minutes before
    // it, so due in 5, before window 3 is free (in 10).
    t.ok(Command::Book {
        code: code("bk01"),
        zone: code("police"),
        service: code("hukou"),
        slot_start: t.now.plus_ms(20 * Millis::MINUTE),
        slot_end: t.now.plus_ms(50 * Millis::MINUTE),
        person: None,
    });
    let f = t.hall.forecast(t.now);
    // The appointment goes first when window 3 is free; a after its
    // service and walk-up.
    assert_eq!(f.wait_ms(a, t.now), Some(20 * Millis::MINUTE + WALK_MS));
}

#[test]
fn a_window_put_first_for_a_zone_calls_it_first_for_the_day_and_keeps_it_in_a_snapshot() {
    let mut t = T::new();
    t.open(2); // general first, then police
    let g = t.issue("general", "apply");
    let p = t.issue("police", "hukou");
    t.ok(Command::ServeFirst {
        window: 2,
        zone: Some(code("police")),
    });
    // Refused for an unknown zone, and a repeat changes nothing.
    t.err(Command::ServeFirst {
        window: 2,
        zone: Some(code("nowhere")),
    });
    assert!(
        t.ok(Command::ServeFirst {
            window: 2,
            zone: Some(code("police")),
        })
        .is_empty()
    );
    let restored = Hall::restore(config(), &t.hall.snapshot()).unwrap();
    assert_eq!(restored.snapshot(), t.hall.snapshot());
    assert_eq!(t.call(2), p, "police first now");
    t.ok(Command::Start { window: 2 });
    t.ok(Command::Finish { window: 2 });
    t.ok(Command::ServeFirst { window: 2, zone: None });
    let p2 = t.issue("police", "hukou");
    assert_eq!(t.call(2), g, "its own order again");
    // The next day starts from the configured order.
    t.now = t.now.plus_ms(24 * 60 * Millis::MINUTE);
    t.ok(Command::ServeFirst {
        window: 2,
        zone: Some(code("police")),
    });
    t.now = t.now.plus_ms(24 * 60 * Millis::MINUTE);
    t.ok(Command::Tick);
    assert!(t.hall.st.windows.iter().all(|w| w.first_zone.is_none()));
    let _ = p2;
}

#[test]
fn a_results_window_put_first_for_a_zone_still_hands_out_results_only() {
    let mut t = T::new();
    t.open(4); // 出件: the general zone's results only
    t.issue("general", "apply");
    t.ok(Command::ServeFirst {
        window: 4,
        zone: Some(code("general")),
    });
    assert_eq!(t.err(Command::CallNext { window: 4 }), EngineError::QueueEmpty(4));
    let r = t.issue("general", "results");
    assert_eq!(t.call(4), r);
}

#[test]
fn the_advice_gives_a_long_zone_a_window_that_shortens_its_wait_and_later_gives_it_back() {
    let mut t = T::new();
    t.open(1); // general
    t.open(2); // general first, then police
    t.open(3); // police (hukou)
    // Eleven police tickets, two general: windows 1 and 2 take the general
    // ones, and a police ticket taken now waits past the 30-minute target
    // behind window 3, with window 2's help only after its general ticket.
    let police: Vec<TicketNumber> = (0..11).map(|_| t.issue("police", "hukou")).collect();
    t.issue("general", "apply");
    t.issue("general", "apply");
    let advice = t.hall.advice(t.now);
    let a = advice
        .iter()
        .find(|a| a.zone == code("police"))
        .expect("advice for police");
    assert_eq!((a.action, a.window), (AdviceAction::ServeFirst, 2));
    assert!(
        a.wait_before_ms > 30 * Millis::MINUTE && a.wait_after_ms < a.wait_before_ms,
        "{a:?}"
    );
    // What it promises is what the forecast gives once it is followed.
    t.ok(Command::ServeFirst {
        window: 2,
        zone: Some(code("police")),
    });
    let followed = t.hall.forecast(t.now);
    let police_zone = t.hall.spec().zone_index(code("police")).unwrap();
    assert_eq!(
        followed.next_call(police_zone).map(|at| at.since(t.now)),
        Some(a.wait_after_ms)
    );
    assert!(
        !t.hall
            .advice(t.now)
            .iter()
            .any(|a| a.action == AdviceAction::ServeFirst && a.window == 2)
    );
    // The police queue gone, window 2 is proposed back to its own order.
    for p in police {
        t.ok(Command::Cancel { ticket: p });
    }
    let back = t.hall.advice(t.now);
    assert!(
        back.iter().any(|a| a.action == AdviceAction::Restore && a.window == 2),
        "{back:?}"
    );
}

// ----- replay and wire format -----------------------------------------------

#[test]
fn replaying_the_events_rebuilds_the_same_hall() {
    let mut t = T::new();
    t.open(1);
    t.open(2);
    t.ok(Command::SetAutoCall { window: 2, on: true });
    for _ in 0..3 {
        t.issue("general", "apply");
        t.priority("police", "hukou");
    }
    t.call(1);
    t.ok(Command::Skip { window: 1 });
    t.call(1);
    t.ok(Command::Start { window: 1 });
    t.ok(Command::Transfer {
        window: 1,
        to: Target::Window { window: 3 },
    });
    t.ok(Command::Start { window: 2 });
    t.ok(Command::Hold { window: 2 });
    t.minutes(3);
    t.issue("general", "apply");
    t.serve(1);
    t.now = local_on(25, 9, 0);
    t.issue("police", "hukou");
    let mut fresh = Hall::new(config());
    for e in &t.log {
        fresh.apply(e).unwrap();
    }
    assert_eq!(fresh, t.hall);
}

#[test]
fn events_survive_a_json_round_trip() {
    let mut t = T::new();
    t.open(1);
    t.issue_as(
        "general",
        "apply",
        LaneRequest::Appointment {
            slot_start: local(9, 0),
            slot_end: local(9, 30),
        },
    );
    t.ok(issue(
        "general",
        "apply",
        LaneRequest::Priority {
            category: code("elderly"),
        },
        Some(PersonKey(9)),
    ));
    t.call(1);
    t.ok(Command::Transfer {
        window: 1,
        to: Target::Zone {
            zone: code("police"),
            service: code("hukou"),
        },
    });
    t.ok(Command::Pause {
        window: 1,
        reason: PauseReason::Lunch,
        minutes: None,
    });
    for e in &t.log {
        let json = serde_json::to_string(e).unwrap();
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, e, "{json}");
    }
    let json = serde_json::to_string(&t.log[1]).unwrap();
    assert!(json.contains(r#""type":"WindowOpened""#), "{json}");
}

#[test]
fn foreign_events_are_refused_without_change() {
    let mut hall = Hall::new(config());
    let ev = |seq, kind| Event {
        seq,
        at: local(9, 0),
        kind,
    };
    let called = EventKind::TicketCalled {
        ticket: num("A001"),
        window: 1,
        how: CallKind::Next,
        contested: false,
    };
    let before = hall.clone();
    assert!(hall.apply(&ev(1, called)).is_err());
    assert!(
        hall.apply(&ev(
            5,
            EventKind::DayStarted {
                day: jiff::civil::date(2026, 11, 24)
            }
        ))
        .is_err()
    );
    assert_eq!(hall, before);
}

#[test]
fn a_tick_lets_auto_call_take_an_appointment_that_became_due() {
    let mut t = T::new();
    t.open(1);
    t.ok(Command::SetAutoCall { window: 1, on: true });
    let appt = t.issue_as(
        "general",
        "apply",
        LaneRequest::Appointment {
            slot_start: local(10, 0),
            slot_end: local(10, 30),
        },
    );
    assert_eq!(t.state(appt), TicketState::Waiting, "not due before 09:45");
    assert!(t.ok(Command::Tick).is_empty());
    t.now = local(9, 45);
    let evs = t.ok(Command::Tick);
    assert!(matches!(evs[..], [EventKind::TicketCalled { ticket, how: CallKind::Auto, .. }] if ticket == appt));
}

#[test]
fn numbers_allocated_outside_are_used_once() {
    let mut t = T::new();
    let with = |n| {
        Command::Issue(Issue {
            zone: code("general"),
            service: code("apply"),
            lane: LaneRequest::Normal,
            channel: Channel::Kiosk,
            person: None,
            number: Some(n),
            notice: None,
        })
    };
    assert!(matches!(t.ok(with(7))[1], EventKind::TicketIssued { ticket, .. } if ticket == num("A007")));
    assert_eq!(t.err(with(7)), EngineError::NumberTaken(num("A007")));
    assert_eq!(t.err(with(0)), EngineError::NumberTaken(num("A000")));
    assert!(matches!(t.ok(with(3))[0], EventKind::TicketIssued { ticket, .. } if ticket == num("A003")));
    assert_eq!(
        t.issue("general", "apply"),
        num("A008"),
        "the zone continues after the highest"
    );
}

#[test]
fn a_finished_service_is_rated_once_and_a_bad_rating_is_followed_up() {
    let mut t = T::new();
    let a = t.issue("general", "apply");
    let b = t.issue("general", "apply");
    t.open(1);
    let rate = |ticket, level| Command::Rate {
        ticket,
        level,
        comment: Some("窗口人员态度不好".into()),
    };
    // Only after its service.
    assert!(matches!(
        t.err(rate(a, Rating::Dissatisfied)),
        EngineError::WrongState { .. }
    ));
    assert_eq!(t.serve(1), a);
    let evs = t.ok(rate(a, Rating::Dissatisfied));
    match &evs[..] {
        [
            EventKind::TicketRated {
                window: 1,
                staff,
                level: Rating::Dissatisfied,
                comment,
                ..
            },
        ] => {
            assert_eq!(staff.as_deref(), Some("staff1"), "linked to who served");
            assert!(comment.is_some());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        t.err(rate(a, Rating::VerySatisfied)),
        EngineError::AlreadyRated(a),
        "one rating per ticket"
    );
    let long = Command::Rate {
        ticket: b,
        level: Rating::Satisfied,
        comment: Some("长".repeat(MAX_COMMENT + 1)),
    };
    assert!(
        matches!(t.err(long), EngineError::WrongState { .. }),
        "b is not finished yet"
    );

    // The follow-up of a bad rating: each step once.
    let step = |step| Command::FollowUp {
        ticket: a,
        step,
        note: "已核实".into(),
    };
    t.ok(step(FollowUpStep::Verified));
    assert!(matches!(
        t.err(step(FollowUpStep::Verified)),
        EngineError::FollowUpDone { .. }
    ));
    t.ok(step(FollowUpStep::Rectified));
    t.ok(step(FollowUpStep::CalledBack));
    let view = t.hall.ticket_view(a, t.now).unwrap();
    assert_eq!(view.rating.unwrap().level, Rating::Dissatisfied);
    assert_eq!(view.follow_ups.len(), 3);

    // A good rating has nothing to follow up.
    assert_eq!(t.serve(1), b);
    t.ok(Command::Rate {
        ticket: b,
        level: Rating::VerySatisfied,
        comment: None,
    });
    let no = Command::FollowUp {
        ticket: b,
        step: FollowUpStep::Verified,
        note: String::new(),
    };
    assert_eq!(t.err(no), EngineError::NoBadRating(b));

    // Ratings replay, and survive a snapshot.
    let mut replayed = Hall::new(config());
    for e in &t.log {
        replayed.apply(e).unwrap();
    }
    assert_eq!(replayed, t.hall);
    let restored = Hall::restore(config(), &t.hall.snapshot()).unwrap();
    assert_eq!(restored.ticket_view(a, t.now), t.hall.ticket_view(a, t.now));
}

#[test]
fn the_mean_wait_covers_the_calls_of_the_last_hour() {
    let mut t = T::new();
    let a = t.issue("general", "apply");
    t.minutes(5);
    let b = t.issue("general", "apply");
    t.open(1);
    t.minutes(10);
    assert_eq!(t.serve(1), a); // waited 15 minutes
    t.minutes(20);
    assert_eq!(t.serve(1), b); // waited 30 minutes
    let general = |t: &T| t.hall.zone_summaries(t.now).remove(0);
    let z = general(&t);
    assert_eq!(
        (z.called_last_hour, z.mean_wait_last_hour_ms),
        (2, (15 + 30) * Millis::MINUTE / 2)
    );
    // An hour after the first call only the second counts, then none.
    t.minutes(45);
    let z = general(&t);
    assert_eq!((z.called_last_hour, z.mean_wait_last_hour_ms), (1, 30 * Millis::MINUTE));
    t.minutes(30);
    assert_eq!(general(&t).called_last_hour, 0);
    // Kept through a snapshot.
    t.minutes(-60);
    let restored = Hall::restore(config(), &t.hall.snapshot()).unwrap();
    assert_eq!(restored.zone_summaries(t.now), t.hall.zone_summaries(t.now));
}

#[test]
fn alerts_are_raised_acknowledged_and_cleared_by_the_thresholds() {
    // [hall.alerts] wait_minutes = 10, queue_length = 2, service_minutes = 5, pause_minutes = 15
    let mut spec = spec();
    for z in &mut spec.zones {
        z.alerts = AlertLimits {
            wait_ms: Some(10 * 60_000),
            queue: Some(2),
            service_ms: Some(5 * 60_000),
        };
    }
    spec.policy.alert_pause_ms = Some(15 * 60_000);
    let cfg = Arc::new(spec);
    let mut t = T {
        hall: Hall::new(cfg.clone()),
        now: local(9, 0),
        log: Vec::new(),
    };
    let raised = |evs: &[EventKind]| -> Vec<(AlertKind, AlertTarget)> {
        evs.iter()
            .filter_map(|e| match e {
                EventKind::AlertRaised { alert, target, .. } => Some((*alert, *target)),
                _ => None,
            })
            .collect()
    };
    let general = AlertTarget::Zone { zone: code("general") };
    t.issue("general", "apply");
    t.issue("general", "apply");
    let evs = t.ok(issue("general", "apply", LaneRequest::Normal, None));
    assert_eq!(
        raised(&evs),
        [(AlertKind::LongQueue, general)],
        "3 waiting, more than 2"
    );
    t.minutes(11);
    let evs = t.ok(Command::Tick);
    assert_eq!(
        raised(&evs),
        [(AlertKind::LongWait, general)],
        "waited 11 minutes, more than 10"
    );
    assert!(t.ok(Command::Tick).is_empty(), "raised once");

    let ack = |by: &str| Command::AcknowledgeAlert {
        alert: AlertKind::LongWait,
        target: general,
        by: by.into(),
    };
    t.ok(ack("值班长"));
    assert_eq!(t.err(ack("值班长")), EngineError::AlreadyAcknowledged);
    let none = Command::AcknowledgeAlert {
        alert: AlertKind::LongPause,
        target: general,
        by: "x".into(),
    };
    assert_eq!(t.err(none), EngineError::NoSuchAlert);
    assert_eq!(t.hall.alerts()[1].acknowledged_by.as_deref(), Some("值班长"));

    // Serving clears the queue alert; the waits left are still long.
    t.open(1);
    let evs = t.ok(Command::CallNext { window: 1 });
    assert!(evs.contains(&EventKind::AlertCleared {
        alert: AlertKind::LongQueue,
        target: general
    }));
    t.ok(Command::Start { window: 1 });
    t.minutes(6);
    let evs = t.ok(Command::Tick);
    assert_eq!(
        raised(&evs),
        [(AlertKind::LongService, AlertTarget::Window { window: 1 })]
    );
    t.ok(Command::Finish { window: 1 });
    t.serve_all(1);
    // Waits and services are looked at on the tick.
    t.ok(Command::Tick);
    assert!(
        t.log.iter().any(|e| matches!(
            e.kind,
            EventKind::AlertCleared {
                alert: AlertKind::LongWait,
                ..
            }
        )),
        "nobody waiting, no long wait"
    );
    assert!(t.hall.alerts().is_empty(), "{:?}", t.hall.alerts());

    // A long pause.
    t.open(2);
    t.ok(Command::Pause {
        window: 2,
        reason: PauseReason::Lunch,
        minutes: None,
    });
    t.minutes(16);
    let evs = t.ok(Command::Tick);
    assert!(raised(&evs).contains(&(AlertKind::LongPause, AlertTarget::Window { window: 2 })));

    // Every step is in the log: replay and a snapshot give the same alerts.
    let mut replayed = Hall::new(cfg.clone());
    for e in &t.log {
        replayed.apply(e).unwrap();
    }
    assert_eq!(replayed, t.hall);
    let restored = Hall::restore(cfg, &t.hall.snapshot()).unwrap();
    assert_eq!(restored.alerts(), t.hall.alerts());
}

// ----- appointments booked ahead ---------------------------------------------

fn book(code_: &str, day: i8, h: i8, m: i8, person: Option<PersonKey>) -> Command {
    Command::Book {
        code: code(code_),
        zone: code("police"),
        service: code("hukou"),
        slot_start: local_on(day, h, m),
        slot_end: local_on(day, h, m + 30),
        person,
    }
}

fn check_in(code_: &str) -> Command {
    Command::CheckIn {
        code: code(code_),
        channel: Channel::Kiosk,
        number: None,
    }
}

#[test]
fn a_booking_is_checked_in_on_its_day_for_an_appointment_ticket() {
    let mut t = T::new();
    let evs = t.ok(book("20261125001", 25, 10, 0, None));
    assert!(
        matches!(evs.last(), Some(EventKind::AppointmentBooked { day, .. }) if *day == jiff::civil::date(2026, 11, 25))
    );
    // Not today: the 24th.
    assert_eq!(
        t.err(check_in("20261125001")),
        EngineError::NotBookingDay {
            code: code("20261125001"),
            day: jiff::civil::date(2026, 11, 25)
        }
    );
    // The booking survives the night; on the 25th at 9:50 it checks in.
    t.now = local_on(25, 9, 50);
    let evs = t.ok(check_in("20261125001"));
    let ticket = match evs.last() {
        Some(EventKind::TicketIssued {
            ticket,
            lane: Lane::Appointment { slot_start, .. },
            channel: Channel::Kiosk,
            booking: Some(b),
            ..
        }) if *b == code("20261125001") && *slot_start == local_on(25, 10, 0) => *ticket,
        other => panic!("expected an appointment ticket, got {other:?}"),
    };
    assert_eq!(ticket, num("C001"));
    let b = t.hall.booking(code("20261125001")).unwrap();
    assert_eq!(
        b.state,
        BookingState::CheckedIn {
            ticket,
            at: local_on(25, 9, 50)
        }
    );
    assert_eq!(
        t.err(check_in("20261125001")),
        EngineError::BookingClosed {
            code: code("20261125001"),
            state: "checked_in"
        },
        "once only"
    );
    assert_eq!(t.err(check_in("nope")), EngineError::UnknownBooking(code("nope")));
}

#[test]
fn bookings_are_checked_and_one_per_person_and_day() {
    let mut t = T::new();
    let p = Some(PersonKey(7));
    assert_eq!(
        t.err(book("a1", 24, 8, 0, None)),
        EngineError::BadAppointment,
        "already over"
    );
    assert_eq!(
        t.err(book("a1", 24, 12, 15, None)),
        EngineError::ZoneClosed {
            zone: code("police"),
            opens: None
        },
        "the lunch break"
    );
    assert_eq!(
        t.err(book("a1", 28, 10, 0, None)),
        EngineError::ZoneClosed {
            zone: code("police"),
            opens: None
        },
        "a Saturday"
    );
    t.ok(book("a1", 25, 10, 0, p));
    assert_eq!(
        t.err(book("a1", 26, 10, 0, None)),
        EngineError::BookingTaken(code("a1"))
    );
    assert_eq!(t.err(book("a2", 25, 15, 0, p)), EngineError::AlreadyBooked);
    t.ok(book("a2", 26, 15, 0, p));
    // Cancelled: it frees the day for the person and cannot be checked in.
    t.ok(Command::CancelBooking { code: code("a1") });
    t.ok(book("a3", 25, 15, 0, p));
    t.now = local_on(25, 14, 50);
    assert_eq!(
        t.err(check_in("a1")),
        EngineError::BookingClosed {
            code: code("a1"),
            state: "cancelled"
        }
    );
    let day = |d: i8| jiff::civil::date(2026, 11, d);
    let codes = |d| {
        t.hall
            .bookings_on(day(d))
            .iter()
            .map(|b| b.code.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(codes(25), ["a1", "a3"]);
    assert_eq!(codes(26), ["a2"]);
}

#[test]
fn bookings_not_checked_in_are_missed_and_forgotten_after_a_month() {
    let mut t = T::new();
    t.ok(book("m1", 24, 15, 0, None));
    t.ok(book("m2", 25, 15, 0, None));
    t.now = local_on(25, 9, 0);
    t.issue("general", "apply");
    let state = |t: &T, c: &str| t.hall.booking(code(c)).map(|b| b.state);
    assert_eq!(state(&t, "m1"), Some(BookingState::Missed));
    assert_eq!(state(&t, "m2"), Some(BookingState::Booked));
    // Replay and a snapshot keep bookings across days, missed ones too.
    let mut replayed = Hall::new(config());
    for e in &t.log {
        replayed.apply(e).unwrap();
    }
    assert_eq!(replayed, t.hall);
    let restored = Hall::restore(config(), &t.hall.snapshot()).unwrap();
    assert_eq!(restored.booking(code("m1")), t.hall.booking(code("m1")));
    assert_eq!(restored.booking(code("m2")), t.hall.booking(code("m2")));
    // A month after its day a booking is gone (and its code free again).
    t.now = Millis(local_on(25, 9, 0).0 + (booking_keep_days() + 1) * 86_400_000);
    t.ok(Command::Tick);
    assert_eq!(state(&t, "m2"), None);
}

fn booking_keep_days() -> i64 {
    super::booking::KEEP_DAYS
}

#[test]
fn the_latest_calls_are_kept_as_calls_are_made_and_rebuilt_from_a_snapshot() {
    let mut t = T::new();
    for _ in 0..30 {
        t.issue("general", "apply");
    }
    t.ok(Command::Open { window: 1, staff: None });
    let mut made = Vec::new();
    for i in 0..25 {
        t.minutes(1);
        t.ok(Command::CallNext { window: 1 });
        if i % 5 == 0 {
            t.minutes(1);
            t.ok(Command::Recall { window: 1 });
        }
        t.ok(Command::Skip { window: 1 });
    }
    for e in &t.log {
        match e.kind {
            EventKind::TicketCalled { ticket, window, .. } => made.push((ticket, window, 0)),
            EventKind::TicketRecalled { ticket, window, count } => made.push((ticket, window, count)),
            _ => {}
        }
    }
    let newest: Vec<_> = made[made.len() - RECENT_CALLS..].to_vec();
    let kept = |h: &Hall| {
        h.recent_calls()
            .map(|c| (c.ticket, c.window, c.recall))
            .collect::<Vec<_>>()
    };
    assert_eq!(kept(&t.hall), newest);
    let restored = Hall::restore(config(), &t.hall.snapshot()).unwrap();
    assert_eq!(kept(&restored), newest, "rebuilt from the histories");
    // A new day starts with none.
    let mut next = t.hall.clone();
    next.execute(&Command::Tick, local_on(25, 9, 0)).unwrap();
    assert_eq!(next.recent_calls().count(), 0);
}
