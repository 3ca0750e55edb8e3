use super::feed::{Feed, RING, Render, Resume};
use super::scope::{Format, Scope};
use crate::engine::tests::{code, config, local};
use crate::engine::{Channel, Command, Event, Hall, HallId, Issue, PersonKey};
use crate::store::{Epoch, Stream};
use crate::wire::Audience;

/// A live hall beside the durable event stream and the hall's feed, as the
/// writer commits its batches and the hub's task publishes them.
struct Rig {
    live: Hall,
    stream: Stream,
    feed: Feed,
}

impl Rig {
    fn new() -> Rig {
        let hall = Hall::new(config());
        let stream = Stream::for_tests(vec![hall.clone()]);
        Rig {
            feed: Feed::new(stream.clone(), hall.spec().id),
            stream,
            live: hall,
        }
    }

    fn id(&self) -> HallId {
        self.live.spec().id
    }

    /// The last durable sequence number.
    fn seq(&self) -> u64 {
        self.stream.durable_seq(self.id()).unwrap()
    }

    /// Commits and publishes events already applied to the live hall.
    fn publish(&self, events: Vec<Event>) {
        let batch = self
            .stream
            .commit(self.id(), events)
            .expect("the batch continues the log");
        self.feed.publish(&batch);
    }

    fn run(&mut self, cmd: Command) -> Vec<Event> {
        let events = self.live.execute(&cmd, local(10, 0)).expect("the command succeeds");
        self.publish(events.clone());
        events
    }

    fn issue(&mut self, zone: &str, service: &str) -> Vec<Event> {
        self.run(Command::Issue(Issue::normal(code(zone), code(service), Channel::Kiosk)))
    }
}

fn resume(since: u64) -> Resume {
    Resume { since, epoch: None }
}

fn text(r: Render) -> Option<String> {
    match r {
        Render::Send(t) => Some(crate::ws::text_payload(&t).to_owned()),
        Render::Skip => None,
        Render::Resnapshot => Some("RESNAPSHOT".into()),
    }
}

#[tokio::test]
async fn a_delta_names_what_it_touched_and_never_a_person() {
    let mut rig = Rig::new();
    let start = rig
        .feed
        .subscribe(Scope::Hall, Format::Json, Audience::Staff, None, local(10, 0))
        .await
        .unwrap();
    assert!(crate::ws::text_payload(&start.first[0]).contains(r#""type":"snapshot""#));
    let mut rx = start.rx;
    let issue = Issue {
        person: Some(PersonKey(0xfeed_beef)),
        ..Issue::normal(code("police"), code("hukou"), Channel::Mobile)
    };
    rig.run(Command::Issue(issue));
    let frame = rx.recv().await.unwrap();
    // The first batch of the day holds its rollover: subscribers take a snapshot.
    assert!(frame.reset);
    rig.issue("police", "hukou");
    let frame = rx.recv().await.unwrap();
    assert!(!frame.reset);
    assert_eq!(frame.zones, vec![1], "the police zone only");
    assert_eq!(frame.tickets.len(), 1);
    assert!(
        !crate::ws::text_payload(frame.staff.as_ref().unwrap()).contains("person")
            && !crate::ws::text_payload(frame.staff.as_ref().unwrap()).contains("feedbeef"),
        "{}",
        crate::ws::text_payload(frame.staff.as_ref().unwrap())
    );
    assert!(
        crate::ws::text_payload(frame.staff.as_ref().unwrap()).contains(r#""normal":["C001","C002"]"#),
        "{}",
        crate::ws::text_payload(frame.staff.as_ref().unwrap())
    );

    // Scopes see what concerns them.
    assert!(
        text(
            rig.feed
                .render(&frame, 0, Scope::Zone(1), Format::Json, Audience::Staff, &[])
        )
        .is_some()
    );
    assert!(
        text(
            rig.feed
                .render(&frame, 0, Scope::Zone(0), Format::Json, Audience::Staff, &[])
        )
        .is_none()
    );
    assert!(
        text(
            rig.feed
                .render(&frame, 0, Scope::Window(2, 3), Format::Json, Audience::Staff, &[1])
        )
        .is_some(),
        "window 3 serves police"
    );
    assert!(
        text(
            rig.feed
                .render(&frame, 0, Scope::Window(0, 1), Format::Json, Audience::Staff, &[0])
        )
        .is_none()
    );
    assert!(
        text(
            rig.feed
                .render(&frame, 0, Scope::Hall, Format::Led, Audience::Staff, &[])
        )
        .is_none(),
        "no call, no LED line"
    );
}

#[tokio::test]
async fn a_ticket_called_back_elsewhere_leaves_the_held_list_of_the_window_that_held_it() {
    let mut rig = Rig::new();
    let start = rig
        .feed
        .subscribe(Scope::Hall, Format::Json, Audience::Staff, None, local(10, 0))
        .await
        .unwrap();
    let mut rx = start.rx;
    rig.issue("general", "apply");
    for n in [1, 2] {
        rig.run(Command::Open { window: n, staff: None });
    }
    rig.run(Command::CallNext { window: 1 });
    rig.run(Command::Hold { window: 1 });
    let ticket = rig.live.windows()[0].held[0];
    rig.run(Command::CallBack { window: 2, ticket });
    let mut last = None;
    while let Ok(frame) = rx.try_recv() {
        last = Some(frame);
    }
    let frame = last.expect("frames were published");
    assert_eq!(frame.windows, vec![0, 1], "the holding window and the calling one");
    let json = crate::ws::text_payload(frame.staff.as_ref().unwrap()).to_owned();
    assert!(
        json.contains(r#""number":1,"#) && json.contains(r#""held":[]"#),
        "{json}"
    );
}

#[tokio::test]
async fn calls_become_led_lines_for_the_hall_the_zone_and_the_window() {
    let mut rig = Rig::new();
    rig.issue("general", "apply");
    rig.run(Command::Open { window: 2, staff: None });
    let rx_start = rig
        .feed
        .subscribe(Scope::Hall, Format::Json, Audience::Staff, None, local(10, 0))
        .await
        .unwrap();
    let mut rx = rx_start.rx;
    rig.run(Command::CallNext { window: 2 });
    let frame = rx.recv().await.unwrap();
    assert_eq!(
        text(
            rig.feed
                .render(&frame, 0, Scope::Hall, Format::Led, Audience::Staff, &[])
        )
        .unwrap(),
        "A001 2号窗口"
    );
    assert_eq!(
        text(
            rig.feed
                .render(&frame, 0, Scope::Zone(0), Format::Led, Audience::Staff, &[])
        )
        .unwrap(),
        "A001 2号窗口"
    );
    assert!(
        text(
            rig.feed
                .render(&frame, 0, Scope::Zone(1), Format::Led, Audience::Staff, &[])
        )
        .is_none()
    );
    assert_eq!(
        text(
            rig.feed
                .render(&frame, 0, Scope::Window(1, 2), Format::Led, Audience::Staff, &[0, 1])
        )
        .unwrap(),
        "A001 2号窗口"
    );
    rig.run(Command::Start { window: 2 });
    rig.run(Command::Finish { window: 2 });
    let _start = rx.recv().await.unwrap();
    let finish = rx.recv().await.unwrap();
    assert_eq!(
        text(
            rig.feed
                .render(&finish, 0, Scope::Window(1, 2), Format::Led, Audience::Staff, &[0, 1])
        )
        .unwrap(),
        "2号窗口 空闲"
    );
    // The LED snapshot of the hall is its latest call.
    let (_, line) = rig
        .feed
        .snapshot(Scope::Hall, Format::Led, Audience::Staff, local(10, 0))
        .unwrap();
    assert_eq!(crate::ws::text_payload(&line), "A001 2号窗口");
    // A new hall subscriber's snapshot lists the call with its window's name.
    let (_, snap) = rig
        .feed
        .snapshot(Scope::Hall, Format::Json, Audience::Staff, local(10, 0))
        .unwrap();
    let snap = crate::ws::text_payload(&snap);
    assert!(
        snap.contains(r#""calls":[{"ticket":"A001","window":2,"window_name":"综合户籍""#),
        "{}",
        snap
    );
}

#[tokio::test]
async fn a_client_resumes_from_the_ring_or_else_gets_a_snapshot() {
    let mut rig = Rig::new();
    // Staff follow the hall, so its frames carry their deltas.
    let _console = rig
        .feed
        .subscribe(Scope::Hall, Format::Json, Audience::Staff, None, local(10, 0))
        .await
        .unwrap();
    rig.issue("general", "apply");
    let since = rig.seq();
    rig.issue("general", "apply");
    rig.issue("police", "hukou");
    let start = rig
        .feed
        .subscribe(
            Scope::Hall,
            Format::Json,
            Audience::Staff,
            Some(resume(since)),
            local(10, 0),
        )
        .await
        .unwrap();
    assert_eq!(start.first.len(), 3);
    assert!(crate::ws::text_payload(&start.first[0]).contains(r#""type":"resumed""#));
    assert!(
        crate::ws::text_payload(&start.first[1]).contains(r#""type":"delta""#)
            && crate::ws::text_payload(&start.first[2]).contains("C001")
    );
    // No display followed the hall: its frames have no display delta, and
    // a display resuming is caught up from the stream (one delta here).
    let start = rig
        .feed
        .subscribe(
            Scope::Hall,
            Format::Json,
            Audience::Display,
            Some(resume(since)),
            local(10, 0),
        )
        .await
        .unwrap();
    assert_eq!(start.first.len(), 2);
    let caught_up = crate::ws::text_payload(&start.first[1]);
    assert!(caught_up.contains("A002") && caught_up.contains("C001"), "{caught_up}");
    // A zone subscriber resuming gets only its zone's frames.
    let start = rig
        .feed
        .subscribe(
            Scope::Zone(1),
            Format::Json,
            Audience::Staff,
            Some(resume(since)),
            local(10, 0),
        )
        .await
        .unwrap();
    assert_eq!(start.first.len(), 2);
    // Up to date: just the confirmation.
    let start = rig
        .feed
        .subscribe(
            Scope::Hall,
            Format::Json,
            Audience::Staff,
            Some(resume(rig.seq())),
            local(10, 0),
        )
        .await
        .unwrap();
    assert_eq!(start.first.len(), 1);
    // Ahead of the hall (a store that was wiped): a snapshot.
    let start = rig
        .feed
        .subscribe(
            Scope::Hall,
            Format::Json,
            Audience::Staff,
            Some(resume(10_000)),
            local(10, 0),
        )
        .await
        .unwrap();
    assert!(crate::ws::text_payload(&start.first[0]).contains(r#""type":"snapshot""#));
    // From another incarnation of the log: a snapshot; from this one, or
    // one it continues, a resume.
    let other = Resume {
        since,
        epoch: Some(Epoch(99)),
    };
    let start = rig
        .feed
        .subscribe(Scope::Hall, Format::Json, Audience::Staff, Some(other), local(10, 0))
        .await
        .unwrap();
    assert!(crate::ws::text_payload(&start.first[0]).contains(r#""type":"snapshot""#));
    let this = Resume {
        since,
        epoch: Some(Epoch(1)),
    };
    let start = rig
        .feed
        .subscribe(Scope::Hall, Format::Json, Audience::Staff, Some(this), local(10, 0))
        .await
        .unwrap();
    let resumed = crate::ws::text_payload(&start.first[0]);
    assert!(
        resumed.contains(r#""type":"resumed""#) && resumed.contains(r#""epoch":"0000000000001""#),
        "{resumed}"
    );

    // Beyond the ring: caught up from the stream, every event after
    // `since` in deltas of bounded size, the last with the hall as it
    // stands.
    for _ in 0..RING {
        rig.issue("general", "apply");
    }
    let start = rig
        .feed
        .subscribe(
            Scope::Hall,
            Format::Json,
            Audience::Staff,
            Some(resume(since)),
            local(10, 0),
        )
        .await
        .unwrap();
    assert_eq!(start.seq, rig.seq());
    assert!(crate::ws::text_payload(&start.first[0]).contains(r#""type":"resumed""#));
    let deltas: Vec<serde_json::Value> = start.first[1..]
        .iter()
        .map(|b| serde_json::from_str(crate::ws::text_payload(b)).unwrap())
        .collect();
    assert_eq!(
        deltas.len(),
        (rig.seq() - since).div_ceil(super::frame::CATCH_UP_EVENTS as u64) as usize
    );
    let seqs: Vec<u64> = deltas
        .iter()
        .flat_map(|d| {
            d["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(
        seqs,
        ((since + 1)..=rig.seq()).collect::<Vec<_>>(),
        "every event once, in order"
    );
    let last = deltas.last().unwrap();
    assert_eq!(last["seq"].as_u64(), Some(rig.seq()));
    assert_eq!(last["zones"][0]["waiting"].as_u64(), Some(RING as u64 + 2));
    assert!(
        deltas[0]["zones"].as_array().unwrap().is_empty(),
        "only the last carries the state"
    );

    // Beyond what the stream keeps (nothing is behind its tail here): a
    // snapshot.
    for _ in 0..crate::store::stream::TAIL_EVENTS {
        rig.issue("general", "apply");
    }
    let start = rig
        .feed
        .subscribe(
            Scope::Hall,
            Format::Json,
            Audience::Staff,
            Some(resume(since)),
            local(10, 0),
        )
        .await
        .unwrap();
    assert_eq!(start.first.len(), 1);
    assert!(crate::ws::text_payload(&start.first[0]).contains(r#""type":"snapshot""#));
}

#[tokio::test]
async fn a_slow_subscriber_lags_instead_of_growing_memory() {
    let mut rig = Rig::new();
    let rx_start = rig
        .feed
        .subscribe(Scope::Hall, Format::Json, Audience::Staff, None, local(10, 0))
        .await
        .unwrap();
    let mut rx = rx_start.rx;
    for _ in 0..RING + 10 {
        rig.issue("general", "apply");
    }
    assert!(matches!(
        rx.recv().await,
        Err(tokio::sync::broadcast::error::RecvError::Lagged(_))
    ));
}

#[tokio::test]
async fn a_ticket_subscriber_hears_of_changes_in_its_queue() {
    let mut rig = Rig::new();
    rig.issue("general", "apply");
    rig.issue("general", "apply");
    let mine = "A002".parse().unwrap();
    let start = rig
        .feed
        .subscribe(Scope::Ticket(mine), Format::Json, Audience::Staff, None, local(10, 0))
        .await
        .unwrap();
    assert!(
        crate::ws::text_payload(&start.first[0]).contains(r#""people_ahead":1"#),
        "{}",
        crate::ws::text_payload(&start.first[0])
    );
    let mut rx = start.rx;
    rig.issue("police", "hukou");
    let other_zone = rx.recv().await.unwrap();
    assert!(
        text(
            rig.feed
                .render(&other_zone, 0, Scope::Ticket(mine), Format::Json, Audience::Staff, &[])
        )
        .is_none()
    );
    rig.run(Command::Open { window: 1, staff: None });
    rig.run(Command::CallNext { window: 1 });
    let _open = rx.recv().await.unwrap();
    let call = rx.recv().await.unwrap();
    assert_eq!(
        text(
            rig.feed
                .render(&call, 0, Scope::Ticket(mine), Format::Json, Audience::Staff, &[])
        )
        .unwrap(),
        "RESNAPSHOT"
    );
    let (_, now) = rig
        .feed
        .snapshot(Scope::Ticket(mine), Format::Json, Audience::Staff, local(10, 0))
        .unwrap();
    let now = crate::ws::text_payload(&now);
    assert!(now.contains(r#""people_ahead":0"#), "{now}");
    assert!(
        rig.feed
            .subscribe(
                Scope::Ticket("A999".parse().unwrap()),
                Format::Json,
                Audience::Display,
                None,
                local(10, 0)
            )
            .await
            .is_none()
    );
}

#[tokio::test]
async fn a_batch_with_more_calls_than_the_recent_list_sends_them_all() {
    let mut rig = Rig::new();
    rig.issue("police", "hukou"); // the day's rollover
    rig.run(Command::Open { window: 2, staff: None });
    let n = crate::engine::RECENT_CALLS + 5;
    for _ in 0..n {
        rig.issue("police", "hukou");
    }
    let rx_start = rig
        .feed
        .subscribe(Scope::Hall, Format::Json, Audience::Staff, None, local(10, 0))
        .await
        .unwrap();
    let mut rx = rx_start.rx;
    // Calls and skips applied to the live hall, then published as one
    // durable batch, as the writer joins a flush's appends.
    let mut batch = Vec::new();
    for _ in 0..n {
        for cmd in [Command::CallNext { window: 2 }, Command::Skip { window: 2 }] {
            batch.extend(rig.live.execute(&cmd, local(10, 1)).unwrap());
        }
    }
    let (from, seq) = (batch[0].seq, batch[batch.len() - 1].seq);
    rig.publish(batch);
    let frame = rx.recv().await.unwrap();
    assert_eq!((frame.from, frame.seq), (from, seq));
    assert_eq!(frame.calls.len(), n, "every call of the batch");
    let json = crate::ws::text_payload(frame.staff.as_ref().unwrap());
    let calls = &json[json.find(r#""calls":["#).unwrap()..json.find(r#""zones":["#).unwrap()];
    assert_eq!(calls.matches(r#""ticket":"#).count(), n, "{calls}");
}

#[tokio::test]
async fn a_public_screen_never_receives_who_a_citizen_is_how_they_rated_or_what_staff_noted() {
    let mut rig = Rig::new();
    let secret = "SECRET-FOR-STAFF";
    let display_start = rig
        .feed
        .subscribe(Scope::Hall, Format::Json, Audience::Display, None, local(10, 0))
        .await
        .unwrap();
    let mut display = display_start.rx;
    let staff_start = rig
        .feed
        .subscribe(Scope::Hall, Format::Json, Audience::Staff, None, local(10, 0))
        .await
        .unwrap();
    let mut staff = staff_start.rx;
    rig.issue("police", "hukou"); // the day's start: a reset, not a delta
    // An elderly citizen, known by a person's key, served and rating it
    // badly with a comment; a supervisor follows it up with a note.
    let issue = Issue {
        person: Some(PersonKey(0x5ec2_e700_0000_0000_0000_0000_0000_0001)),
        lane: crate::engine::LaneRequest::Priority {
            category: code("elderly"),
        },
        ..Issue::normal(code("general"), code("apply"), Channel::Mobile)
    };
    rig.run(Command::Issue(issue));
    rig.run(Command::Open {
        window: 1,
        staff: Some("张三".into()),
    });
    rig.run(Command::Pause {
        window: 1,
        reason: crate::engine::PauseReason::Meeting,
        minutes: None,
    });
    rig.run(Command::Resume { window: 1 });
    rig.run(Command::CallNext { window: 1 });
    rig.run(Command::Start { window: 1 });
    rig.run(Command::Finish { window: 1 });
    let ticket = "A001".parse().unwrap();
    rig.run(Command::Rate {
        ticket,
        level: crate::engine::Rating::VeryDissatisfied,
        comment: Some(secret.into()),
    });
    rig.run(Command::FollowUp {
        ticket,
        step: crate::engine::FollowUpStep::Verified,
        note: secret.into(),
    });
    let mut sent_to_display = Vec::new();
    let mut sent_to_staff = Vec::new();
    while let Ok(f) = display.try_recv() {
        if let Render::Send(b) = rig
            .feed
            .render(&f, 0, Scope::Hall, Format::Json, Audience::Display, &[])
        {
            sent_to_display.push(crate::ws::text_payload(&b).to_owned());
        }
    }
    while let Ok(f) = staff.try_recv() {
        if let Render::Send(b) = rig.feed.render(&f, 0, Scope::Hall, Format::Json, Audience::Staff, &[]) {
            sent_to_staff.push(crate::ws::text_payload(&b).to_owned());
        }
    }
    // A screen that connects now, or catches up from the stream.
    let (_, snap) = rig
        .feed
        .snapshot(Scope::Hall, Format::Json, Audience::Display, local(10, 0))
        .unwrap();
    sent_to_display.push(crate::ws::text_payload(&snap).to_owned());
    let start = rig
        .feed
        .subscribe(
            Scope::Hall,
            Format::Json,
            Audience::Display,
            Some(resume(1)),
            local(10, 0),
        )
        .await
        .unwrap();
    sent_to_display.extend(start.first.iter().map(|b| crate::ws::text_payload(b).to_owned()));
    assert!(sent_to_display.len() > 8);
    for m in &sent_to_display {
        for no in [secret, "5ec2e700", "elderly", "mobile", "follow", "rating", "alerts"] {
            assert!(!m.contains(no), "a display was sent {no:?}: {m}");
        }
    }
    // The kind of pause is shown on the window display (暂停服务 · 会议).
    assert!(
        sent_to_display
            .iter()
            .any(|m| m.contains(r#""pause_reason":"meeting""#))
    );
    assert!(
        sent_to_display.iter().any(|m| m.contains("张三")),
        "window screens show who staffs the window"
    );
    // Staff do see the rating and its follow-up (so the check above can
    // fail), never the person's key.
    let all_staff = sent_to_staff.concat();
    assert!(all_staff.contains(secret) && all_staff.contains("elderly") && all_staff.contains("meeting"));
    assert!(!all_staff.contains("5ec2e700"));
}

#[test]
fn a_halls_batches_waiting_together_become_one_frame_and_a_reset_keeps_its_place() {
    use crate::store::{Batch, Change};
    let ev = |seq: u64| Event {
        seq,
        at: local(10, 0),
        kind: crate::engine::EventKind::WindowClosed { window: 1 },
    };
    let (a, b) = (code("a"), code("b"));
    let batch = |hall, from: u64, to: u64| {
        Change::Batch(std::sync::Arc::new(Batch {
            hall,
            events: (from..=to).map(ev).collect(),
        }))
    };
    let got = super::joined(vec![
        batch(a, 1, 2),
        batch(b, 7, 7),
        batch(a, 3, 5),
        Change::Reset(a),
        batch(a, 9, 9),
        batch(b, 8, 8),
    ]);
    let shape: Vec<String> = got
        .iter()
        .map(|c| match c {
            Change::Batch(b) => format!("{}:{}-{}", b.hall, b.from(), b.seq()),
            Change::Reset(h) => format!("{h}:reset"),
        })
        .collect();
    assert_eq!(shape, ["a:1-5", "b:7-8", "a:reset", "a:9-9"]);
}

#[tokio::test]
async fn a_client_holding_the_first_part_of_a_frame_is_sent_the_rest_only() {
    let mut rig = Rig::new();
    let _console = rig
        .feed
        .subscribe(Scope::Hall, Format::Json, Audience::Staff, None, local(10, 0))
        .await
        .unwrap();
    rig.issue("general", "apply"); // the day's start
    // Three issues the hub joins into one frame (it was behind); a client
    // caught up to the middle of them, from the stream.
    let mut events = Vec::new();
    for _ in 0..3 {
        let cmd = Command::Issue(Issue::normal(code("general"), code("apply"), Channel::Kiosk));
        events.extend(rig.live.execute(&cmd, local(10, 0)).unwrap());
    }
    let middle = events[1].seq;
    let mut rx = _console.rx.resubscribe();
    rig.publish(events.clone());
    // A live subscriber whose snapshot was taken in the middle of them.
    let frame = rx.recv().await.unwrap();
    assert_eq!((frame.from, frame.seq), (events[0].seq, events[2].seq));
    let Render::Send(rest) = rig
        .feed
        .render(&frame, middle, Scope::Hall, Format::Json, Audience::Staff, &[])
    else {
        panic!("the rest of the frame is sent");
    };
    let rest: serde_json::Value = serde_json::from_str(crate::ws::text_payload(&rest)).unwrap();
    assert_eq!(rest["from"].as_u64(), Some(middle + 1));
    assert_eq!(rest["events"].as_array().unwrap().len(), 1);
    let start = rig
        .feed
        .subscribe(
            Scope::Hall,
            Format::Json,
            Audience::Staff,
            Some(resume(middle)),
            local(10, 0),
        )
        .await
        .unwrap();
    assert_eq!(start.first.len(), 2, "resumed, then the rest of the frame");
    let rest: serde_json::Value = serde_json::from_str(crate::ws::text_payload(&start.first[1])).unwrap();
    assert_eq!(rest["from"].as_u64(), Some(middle + 1));
    let seqs: Vec<u64> = rest["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![events[2].seq], "only what the client does not have");
    assert_eq!(
        rest["queues"][0]["normal"].as_array().unwrap().len(),
        4,
        "and the state as it stands"
    );
}
