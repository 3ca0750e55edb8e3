//! Each test runs its own redis-server (never the one on 6379).

use std::future::Future;
use std::time::{Duration, Instant};

use jiff::civil::{Date, date};
use redis::aio::MultiplexedConnection;

use super::*;
use crate::engine::{Code, Millis};
use crate::store::test_redis::RedisServer;

fn hall(s: &str) -> HallId {
    Code::new(s).unwrap()
}

fn ev(seq: u64) -> Event {
    Event {
        seq,
        at: Millis(1_795_480_200_000 + seq as i64),
        kind: EventKind::WindowOpened {
            window: 1,
            staff: None,
            paused: false,
        },
    }
}

fn day_started(seq: u64, day: Date) -> Event {
    Event {
        seq,
        at: Millis(1_795_480_200_000 + seq as i64),
        kind: EventKind::DayStarted { day },
    }
}

fn evs(range: std::ops::RangeInclusive<u64>) -> Vec<Event> {
    range.map(ev).collect()
}

fn snapshot(h: &str, seq: u64, day: Option<Date>) -> HallSnapshot {
    HallSnapshot {
        alerts: Vec::new(),
        answers: Default::default(),
        devices: Vec::new(),
        signed_out: Vec::new(),
        config: None,
        outbox: None,
        bookings: Vec::new(),
        hall: hall(h),
        seq,
        day,
        day_seq: None,
        tickets: vec![],
        zones: vec![],
        windows: vec![],
    }
}

fn seqs(events: &[Event]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

async fn store(server: &RedisServer) -> RedisStore {
    RedisStore::connect(&server.url(), DEFAULT_PREFIX).await.unwrap()
}

async fn raw(server: &RedisServer) -> MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn stream_ids(conn: &mut MultiplexedConnection, key: &str) -> Vec<String> {
    let reply: Value = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query_async(conn)
        .await
        .unwrap();
    let Value::Array(entries) = reply else {
        panic!("XRANGE answered {reply:?}")
    };
    entries.into_iter().map(|e| split_entry(e).unwrap().0).collect()
}

async fn exists(conn: &mut MultiplexedConnection, key: &str) -> bool {
    redis::cmd("EXISTS").arg(key).query_async::<i64>(conn).await.unwrap() == 1
}

/// Retries `f` for up to 5 s (a restarted Redis takes a call or two to be
/// reconnected to).
async fn within_5s<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{what}: still failing after 5 s: {e}"),
        }
    }
}

fn assert_corrupt_at(result: Result<impl std::fmt::Debug, StoreError>, place_start: &str) {
    match result {
        Err(StoreError::Corrupt { place, problem }) => {
            assert!(
                place.starts_with(place_start),
                "corruption reported at {place:?} ({problem}), expected {place_start:?}"
            );
        }
        other => panic!("expected Corrupt at {place_start}, got {other:?}"),
    }
}

#[tokio::test]
async fn several_halls_round_trip_in_one_batch() {
    let server = RedisServer::start(false);
    let store = store(&server).await;
    let day = date(2026, 11, 3);
    let mut a = vec![day_started(1, day)];
    a.extend(evs(2..=4));
    let b = evs(1..=2);
    store.append(&[(hall("a"), &a), (hall("b"), &b)]).await.unwrap();
    store
        .append(&[(hall("a"), &evs(5..=6)), (hall("c"), &[])])
        .await
        .unwrap();
    // The same hall twice in one batch, continuing itself.
    store
        .append(&[(hall("b"), &evs(3..=3)), (hall("b"), &evs(4..=5))])
        .await
        .unwrap();

    let got_a = store.load(hall("a")).await.unwrap();
    assert!(got_a.snapshot.is_none());
    let mut want_a = a.clone();
    want_a.extend(evs(5..=6));
    assert_eq!(got_a.events, want_a);
    assert_eq!(got_a.last_seq(), 6);
    assert_eq!(seqs(&store.load(hall("b")).await.unwrap().events), vec![1, 2, 3, 4, 5]);
    let empty = store.load(hall("c")).await.unwrap();
    assert!(empty.snapshot.is_none() && empty.events.is_empty());

    let mut conn = raw(&server).await;
    // One entry per hall per batch (a hall's appends joined), named by its
    // last event.
    assert_eq!(stream_ids(&mut conn, "hallcall:{a}:events").await, vec!["4-0", "6-0"]);
    assert_eq!(stream_ids(&mut conn, "hallcall:{b}:events").await, vec!["2-0", "5-0"]);
    // Joined appends that leave a gap are refused whole.
    let gap = store
        .append(&[(hall("b"), &evs(6..=6)), (hall("b"), &evs(8..=8))])
        .await;
    assert!(
        matches!(gap, Err(StoreError::OutOfOrder { last: 6, got: 8, .. })),
        "{gap:?}"
    );
    assert_eq!(seqs(&store.load(hall("b")).await.unwrap().events), vec![1, 2, 3, 4, 5]);
    let last: String = redis::cmd("GET")
        .arg("hallcall:{a}:last")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(last, "6");
    let first_of_day: String = redis::cmd("HGET")
        .arg("hallcall:{a}:days")
        .arg("2026-11-03")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(first_of_day, "1");
    assert!(!exists(&mut conn, "hallcall:{c}:events").await);
}

#[tokio::test]
async fn snapshot_bounds_load_and_trimming_keeps_retained_days() {
    let server = RedisServer::start(false);
    let store = store(&server).await.with_retention_days(2);
    let (d1, d2, d3) = (date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4));
    // Day 1: events 1..=4, day 2: 5..=8, day 3: 9..=12.
    for (first, day) in [(1, d1), (5, d2), (9, d3)] {
        let mut events = vec![day_started(first, day)];
        events.extend(evs(first + 1..=first + 3));
        store.append(&[(hall("a"), &events)]).await.unwrap();
    }

    store.write_snapshot(&snapshot("a", 10, Some(d3))).await.unwrap();
    store.append(&[(hall("a"), &evs(13..=14))]).await.unwrap();

    let got = store.load(hall("a")).await.unwrap();
    assert_eq!(got.snapshot, Some(snapshot("a", 10, Some(d3))));
    assert_eq!(seqs(&got.events), vec![11, 12, 13, 14]);
    assert_eq!(got.last_seq(), 14);

    // Two days retained (days 2 and 3): day 1 is trimmed, day 2 kept
    // although the snapshot covers it.
    let mut conn = raw(&server).await;
    let ids = stream_ids(&mut conn, "hallcall:{a}:events").await;
    assert_eq!(ids, vec!["8-0", "12-0", "14-0"], "day 2's entry and later kept");
    let days: Vec<String> = redis::cmd("HKEYS")
        .arg("hallcall:{a}:days")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut days = days;
    days.sort();
    assert_eq!(days, vec!["2026-11-03", "2026-11-04"]);
}

#[tokio::test]
async fn past_days_read_back_by_day_even_behind_the_snapshot() {
    let server = RedisServer::start(false);
    let store = store(&server).await.with_retention_days(2);
    let (d1, d2, d3) = (date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4));
    // Day 1: events 1..=4, day 2: 5..=8 (in two entries, the first
    // straddling days 1 and 2), day 3: 9..=12.
    store.append(&[(hall("a"), &[day_started(1, d1)])]).await.unwrap();
    let mut straddle = evs(2..=4);
    straddle.push(day_started(5, d2));
    straddle.push(ev(6));
    store.append(&[(hall("a"), &straddle)]).await.unwrap();
    store.append(&[(hall("a"), &evs(7..=8))]).await.unwrap();
    let mut third = vec![day_started(9, d3)];
    third.extend(evs(10..=12));
    store.append(&[(hall("a"), &third)]).await.unwrap();

    let read = |from, to| {
        let store = store.clone();
        async move { seqs(&store.read_days(hall("a"), from, to).await.unwrap()) }
    };
    assert_eq!(read(d1, d1).await, (1..=4).collect::<Vec<_>>());
    assert_eq!(read(d2, d2).await, (5..=8).collect::<Vec<_>>());
    assert_eq!(read(d2, d3).await, (5..=12).collect::<Vec<_>>());
    assert_eq!(read(d1, d3).await, (1..=12).collect::<Vec<_>>());
    assert!(read(date(2026, 11, 5), date(2026, 11, 9)).await.is_empty());

    // A snapshot trims day 1 (two days retained); days 2 and 3 still read.
    store.write_snapshot(&snapshot("a", 12, Some(d3))).await.unwrap();
    assert!(read(d1, d1).await.is_empty(), "day 1 is past retention");
    assert_eq!(read(d2, d3).await, (5..=12).collect::<Vec<_>>());
}

#[tokio::test]
async fn trimming_never_passes_the_snapshot() {
    let server = RedisServer::start(false);
    let store = store(&server).await.with_retention_days(1);
    let (d1, d2) = (date(2026, 11, 2), date(2026, 11, 3));
    let mut events = vec![day_started(1, d1)];
    events.extend(evs(2..=5));
    events.push(day_started(6, d2));
    events.extend(evs(7..=8));
    // One event per append, so each is an entry and trimming shows per event.
    for e in &events {
        store.append(&[(hall("a"), std::slice::from_ref(e))]).await.unwrap();
    }

    // An old snapshot (event 3) while day 2 is the newest day: day 1 is
    // past retention, but only events up to the snapshot may go.
    store.write_snapshot(&snapshot("a", 3, Some(d1))).await.unwrap();
    let mut conn = raw(&server).await;
    assert_eq!(
        stream_ids(&mut conn, "hallcall:{a}:events").await,
        (4..=8).map(|s| format!("{s}-0")).collect::<Vec<_>>()
    );
    let got = store.load(hall("a")).await.unwrap();
    assert_eq!(seqs(&got.events), vec![4, 5, 6, 7, 8]);

    // Snapshot at the end of day 2: day 2 (from event 6) is retained.
    store.write_snapshot(&snapshot("a", 8, Some(d2))).await.unwrap();
    assert_eq!(
        stream_ids(&mut conn, "hallcall:{a}:events").await,
        (6..=8).map(|s| format!("{s}-0")).collect::<Vec<_>>()
    );
    // Two days later nothing is retained: the stream may be emptied, and
    // appends continue after the snapshot.
    store
        .write_snapshot(&snapshot("a", 8, Some(date(2026, 11, 5))))
        .await
        .unwrap();
    assert!(stream_ids(&mut conn, "hallcall:{a}:events").await.is_empty());
    assert!(!exists(&mut conn, "hallcall:{a}:days").await);
    let got = store.load(hall("a")).await.unwrap();
    assert_eq!(got.last_seq(), 8);
    assert!(got.events.is_empty());
    store.append(&[(hall("a"), &evs(9..=9))]).await.unwrap();
    assert_eq!(seqs(&store.load(hall("a")).await.unwrap().events), vec![9]);

    // With the default retention nothing of a young hall is trimmed.
    let default = RedisStore::connect(&server.url(), DEFAULT_PREFIX).await.unwrap();
    let mut b = vec![day_started(1, d1)];
    b.extend(evs(2..=6));
    default.append(&[(hall("b"), &b)]).await.unwrap();
    default.write_snapshot(&snapshot("b", 6, Some(d2))).await.unwrap();
    assert_eq!(stream_ids(&mut conn, "hallcall:{b}:events").await, vec!["6-0"]);
}

#[test]
fn trim_plan_picks_the_older_bound() {
    let (d1, d2, d3) = (date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4));
    let days = vec![
        (d1, 1, "2026-11-02".to_owned()),
        (d2, 5, "2026-11-03".to_owned()),
        (d3, 9, "2026-11-04".to_owned()),
    ];
    let plan = trim_plan(&snapshot("a", 10, Some(d3)), &days, 1);
    assert_eq!(plan.min_id, 9);
    assert_eq!(plan.old_days, vec!["2026-11-02", "2026-11-03"]);
    let plan = trim_plan(&snapshot("a", 7, Some(d3)), &days, 1);
    assert_eq!(plan.min_id, 8, "never past the snapshot");
    let plan = trim_plan(&snapshot("a", 10, Some(d3)), &days, 30);
    assert_eq!(plan.min_id, 1);
    assert!(plan.old_days.is_empty());
    let plan = trim_plan(&snapshot("a", 10, None), &[], 30);
    assert_eq!(plan.min_id, 11, "no days recorded: keep what follows the snapshot");
}

#[tokio::test]
async fn out_of_order_appends_are_refused_and_write_nothing() {
    let server = RedisServer::start(false);
    let store = store(&server).await;
    store.append(&[(hall("a"), &evs(1..=3))]).await.unwrap();
    let mut conn = raw(&server).await;

    // b is fine, a skips event 4: neither is written.
    let b = vec![day_started(1, date(2026, 11, 3)), ev(2)];
    let err = store
        .append(&[(hall("b"), &b), (hall("a"), &evs(5..=6))])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::OutOfOrder { hall: h, last: 3, got: 5 } if h == hall("a")),
        "{err:?}"
    );
    for key in ["hallcall:{b}:events", "hallcall:{b}:last", "hallcall:{b}:days"] {
        assert!(!exists(&mut conn, key).await, "{key} was written");
    }
    assert_eq!(seqs(&store.load(hall("a")).await.unwrap().events), vec![1, 2, 3]);

    // Replaying old events, starting at 0, or a gap inside the batch.
    let err = store.append(&[(hall("a"), &evs(2..=4))]).await.unwrap_err();
    assert!(matches!(err, StoreError::OutOfOrder { last: 3, got: 2, .. }), "{err:?}");
    let err = store.append(&[(hall("a"), &[ev(0)])]).await.unwrap_err();
    assert!(matches!(err, StoreError::OutOfOrder { .. }), "{err:?}");
    let err = store.append(&[(hall("a"), &[ev(4), ev(6)])]).await.unwrap_err();
    assert!(matches!(err, StoreError::OutOfOrder { last: 4, got: 6, .. }), "{err:?}");
    // A new hall must start at event 1.
    let err = store.append(&[(hall("c"), &evs(2..=3))]).await.unwrap_err();
    assert!(matches!(err, StoreError::OutOfOrder { last: 0, got: 2, .. }), "{err:?}");

    // Two processes on one hall: the second append of event 4 is refused.
    let other = RedisStore::connect(&server.url(), DEFAULT_PREFIX).await.unwrap();
    store.append(&[(hall("a"), &evs(4..=4))]).await.unwrap();
    let err = other.append(&[(hall("a"), &evs(4..=5))]).await.unwrap_err();
    assert!(matches!(err, StoreError::OutOfOrder { last: 4, got: 4, .. }), "{err:?}");
    assert_eq!(seqs(&store.load(hall("a")).await.unwrap().events), vec![1, 2, 3, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_never_hand_out_the_same_number() {
    let server = RedisServer::start(false);
    let one = store(&server).await;
    let two = store(&server).await;
    let key = NumberKey {
        hall: hall("a"),
        day: date(2026, 11, 3),
        zone: Code::new("z1").unwrap(),
    };
    let mut tasks = Vec::new();
    for i in 0..400 {
        let s = if i % 2 == 0 { one.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move { s.allocate_number(key).await }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap().unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=400).collect::<Vec<u32>>());

    // Another zone and another day count on their own.
    let other_zone = NumberKey {
        zone: Code::new("z2").unwrap(),
        ..key
    };
    assert_eq!(one.allocate_number(other_zone).await.unwrap(), 1);
    let next_day = NumberKey {
        day: date(2026, 11, 4),
        ..key
    };
    assert_eq!(two.allocate_number(next_day).await.unwrap(), 1);

    let mut conn = raw(&server).await;
    let ttl: i64 = redis::cmd("TTL")
        .arg("hallcall:{a}:num:2026-11-03:z1")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 3 * 24 * 3600, "ttl {ttl}");
}

#[tokio::test]
async fn appends_survive_a_restart_from_the_aof() {
    let mut server = RedisServer::start(true);
    let store = store(&server).await;
    let mut a = vec![day_started(1, date(2026, 11, 3))];
    a.extend(evs(2..=50));
    store
        .append(&[(hall("a"), &a), (hall("b"), &evs(1..=3))])
        .await
        .unwrap();
    store.write_snapshot(&snapshot("b", 2, None)).await.unwrap();
    let number = NumberKey {
        hall: hall("a"),
        day: date(2026, 11, 3),
        zone: Code::new("z1").unwrap(),
    };
    assert_eq!(store.allocate_number(number).await.unwrap(), 1);

    server.restart();

    let got = within_5s("load after restart", || store.load(hall("a"))).await;
    assert_eq!(got.events, a);
    let b = store.load(hall("b")).await.unwrap();
    assert_eq!(b.snapshot, Some(snapshot("b", 2, None)));
    assert_eq!(seqs(&b.events), vec![3]);
    assert_eq!(store.allocate_number(number).await.unwrap(), 2);
}

#[tokio::test]
async fn a_stopped_redis_fails_calls_and_a_restarted_one_works_again() {
    let mut server = RedisServer::start(true);
    let store = store(&server).await;
    store.append(&[(hall("a"), &evs(1..=2))]).await.unwrap();

    server.stop();
    let err = store.append(&[(hall("a"), &evs(3..=3))]).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let err = store.load(hall("a")).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(matches!(store.ping().await, Err(StoreError::Unavailable(_))));

    server.restart();
    within_5s("ping after restart", || store.ping()).await;
    store.append(&[(hall("a"), &evs(3..=3))]).await.unwrap();
    assert_eq!(seqs(&store.load(hall("a")).await.unwrap().events), vec![1, 2, 3]);
}

#[tokio::test]
async fn connecting_to_nothing_is_unavailable() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = RedisStore::connect(&format!("redis://127.0.0.1:{port}/"), DEFAULT_PREFIX)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let err = RedisStore::connect("not a url", DEFAULT_PREFIX).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn foreign_data_is_reported_as_corrupt_with_its_key() {
    let server = RedisServer::start(false);
    let store = store(&server).await;
    let mut conn = raw(&server).await;
    let set = |key: &'static str, value: &'static str| redis::cmd("SET").arg(key).arg(value).to_owned();

    // The events key is a string.
    set("hallcall:{a}:events", "hello").exec_async(&mut conn).await.unwrap();
    assert_corrupt_at(store.load(hall("a")).await, "hallcall:{a}:events");
    assert_corrupt_at(store.append(&[(hall("a"), &evs(1..=1))]).await, "hallcall:{a}:events");

    // An entry whose `e` is not an event.
    store.append(&[(hall("b"), &evs(1..=2))]).await.unwrap();
    redis::cmd("XADD")
        .arg("hallcall:{b}:events")
        .arg("3-0")
        .arg("e")
        .arg("{not json")
        .exec_async(&mut conn)
        .await
        .unwrap();
    assert_corrupt_at(store.load(hall("b")).await, "hallcall:{b}:events entry 3-0");

    // An entry without `e`.
    store.append(&[(hall("c"), &evs(1..=1))]).await.unwrap();
    redis::cmd("XADD")
        .arg("hallcall:{c}:events")
        .arg("2-0")
        .arg("x")
        .arg("1")
        .exec_async(&mut conn)
        .await
        .unwrap();
    assert_corrupt_at(store.load(hall("c")).await, "hallcall:{c}:events entry 2-0");
    // Appending after it is refused before anything is written (the stream
    // is past what `last` records), not half done.
    assert_corrupt_at(store.append(&[(hall("c"), &evs(2..=2))]).await, "hallcall:{c}:events");

    // An entry id that is not SEQ-0, and a gap.
    redis::cmd("XADD")
        .arg("hallcall:{d}:events")
        .arg("1-5")
        .arg("e")
        .arg(serde_json::to_string(&[ev(1)]).unwrap())
        .exec_async(&mut conn)
        .await
        .unwrap();
    assert_corrupt_at(store.load(hall("d")).await, "hallcall:{d}:events entry 1-5");
    for seq in [1, 3] {
        redis::cmd("XADD")
            .arg("hallcall:{e}:events")
            .arg(format!("{seq}-0"))
            .arg("e")
            .arg(serde_json::to_string(&[ev(seq)]).unwrap())
            .exec_async(&mut conn)
            .await
            .unwrap();
    }
    assert_corrupt_at(store.load(hall("e")).await, "hallcall:{e}:events entry 3-0");

    // An entry whose events do not end at its id.
    redis::cmd("XADD")
        .arg("hallcall:{i}:events")
        .arg("5-0")
        .arg("e")
        .arg(serde_json::to_string(&[ev(1)]).unwrap())
        .exec_async(&mut conn)
        .await
        .unwrap();
    assert_corrupt_at(store.load(hall("i")).await, "hallcall:{i}:events entry 5-0");

    // Events lost behind `last`.
    store.append(&[(hall("f"), &evs(1..=3))]).await.unwrap();
    redis::cmd("XDEL")
        .arg("hallcall:{f}:events")
        .arg("3-0")
        .exec_async(&mut conn)
        .await
        .unwrap();
    assert_corrupt_at(store.load(hall("f")).await, "hallcall:{f}:last");

    // A snapshot that is not one, or another hall's.
    set("hallcall:{g}:snapshot", "[]").exec_async(&mut conn).await.unwrap();
    assert_corrupt_at(store.load(hall("g")).await, "hallcall:{g}:snapshot");
    redis::cmd("SET")
        .arg("hallcall:{h}:snapshot")
        .arg(serde_json::to_string(&snapshot("x", 1, None)).unwrap())
        .exec_async(&mut conn)
        .await
        .unwrap();
    assert_corrupt_at(store.load(hall("h")).await, "hallcall:{h}:snapshot");

    // `last` and `days` of the wrong kind, and a number counter that is not a number.
    set("hallcall:{i}:last", "seven").exec_async(&mut conn).await.unwrap();
    assert_corrupt_at(store.load(hall("i")).await, "hallcall:{i}:last");
    assert_corrupt_at(store.append(&[(hall("i"), &evs(1..=1))]).await, "hallcall:{i}:last");
    set("hallcall:{j}:days", "x").exec_async(&mut conn).await.unwrap();
    assert_corrupt_at(store.append(&[(hall("j"), &evs(1..=1))]).await, "hallcall:{j}:days");
    assert_corrupt_at(store.write_snapshot(&snapshot("j", 0, None)).await, "hallcall:{j}:days");
    set("hallcall:{k}:num:2026-11-03:z1", "abc")
        .exec_async(&mut conn)
        .await
        .unwrap();
    let number = NumberKey {
        hall: hall("k"),
        day: date(2026, 11, 3),
        zone: Code::new("z1").unwrap(),
    };
    assert_corrupt_at(store.allocate_number(number).await, "hallcall:{k}:num:2026-11-03:z1");
}

#[tokio::test]
async fn persistence_warning_follows_the_server_settings() {
    let volatile = RedisServer::start(false);
    let warning = store(&volatile).await.persistence_warning().await.unwrap();
    let warning = warning.expect("appendonly no and save \"\" must be warned about");
    assert!(warning.contains("appendonly"), "{warning}");

    let durable = RedisServer::start(true);
    let store = store(&durable).await;
    assert_eq!(store.persistence_warning().await.unwrap(), None);

    let mut conn = raw(&durable).await;
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendfsync")
        .arg("everysec")
        .exec_async(&mut conn)
        .await
        .unwrap();
    let warning = store.persistence_warning().await.unwrap().unwrap();
    assert!(warning.contains("appendfsync always"), "{warning}");
}

#[test]
fn persistence_sentences() {
    assert!(persistence_sentence("yes", "always", "").is_none());
    assert!(persistence_sentence("yes", "always", "3600 1").is_none());
    assert!(
        persistence_sentence("no", "always", "")
            .unwrap()
            .contains("nothing on disk")
    );
    assert!(persistence_sentence("no", "always", "3600 1").unwrap().contains("RDB"));
    assert!(
        persistence_sentence("yes", "no", "")
            .unwrap()
            .contains("appendfsync always")
    );
}

#[test]
fn urls_lose_their_credentials_in_messages() {
    assert_eq!(redacted("redis://:secret@db:6379/0"), "redis://***@db:6379/0");
    assert_eq!(redacted("redis://127.0.0.1/"), "redis://127.0.0.1/");
}

#[tokio::test]
async fn what_a_reader_missed_reads_back_unless_trimmed() {
    let server = RedisServer::start(false);
    let store = store(&server).await.with_retention_days(1);
    let (d1, d2) = (date(2026, 11, 2), date(2026, 11, 3));
    store.append(&[(hall("a"), &[day_started(1, d1)])]).await.unwrap();
    store.append(&[(hall("a"), &evs(2..=4))]).await.unwrap();
    let mut second = vec![day_started(5, d2)];
    second.extend(evs(6..=8));
    store.append(&[(hall("a"), &second)]).await.unwrap();
    let read = |since| {
        let store = store.clone();
        async move {
            store
                .read_since(hall("a"), since, usize::MAX)
                .await
                .unwrap()
                .map(|e| seqs(&e))
        }
    };
    // From the middle of an entry, from its start, and up to date.
    assert_eq!(read(2).await, Some((3..=8).collect::<Vec<_>>()));
    assert_eq!(read(1).await, Some((2..=8).collect::<Vec<_>>()));
    assert_eq!(read(8).await, Some(vec![]));
    assert_eq!(read(0).await, Some((1..=8).collect::<Vec<_>>()));
    // A backlog in parts: `enough` events, then the rest.
    let part = store.read_since(hall("a"), 1, 3).await.unwrap().map(|e| seqs(&e));
    assert_eq!(part, Some((2..=4).collect::<Vec<_>>()));
    let rest = store.read_since(hall("a"), 4, 3).await.unwrap().map(|e| seqs(&e));
    assert_eq!(rest, Some((5..=7).collect::<Vec<_>>()));
    // A snapshot trims day 1: what was in it can no longer be read.
    store.write_snapshot(&snapshot("a", 8, Some(d2))).await.unwrap();
    assert_eq!(read(2).await, None);
    assert_eq!(read(4).await, Some((5..=8).collect::<Vec<_>>()));
}

#[tokio::test]
async fn epochs_keep_the_latest_in_order() {
    let server = RedisServer::start(false);
    let store = store(&server).await;
    assert!(store.epochs(hall("a")).await.unwrap().0.is_empty());
    for i in 0..crate::store::stream::EPOCHS_KEPT as u64 + 3 {
        store
            .begin_epoch(hall("a"), crate::store::Epoch(i), i * 10 + 1)
            .await
            .unwrap();
    }
    let e = store.epochs(hall("a")).await.unwrap();
    assert_eq!(e.0.len(), crate::store::stream::EPOCHS_KEPT);
    assert_eq!(e.0.first(), Some(&(crate::store::Epoch(3), 31)));
    assert_eq!(
        e.current(),
        Some(crate::store::Epoch(crate::store::stream::EPOCHS_KEPT as u64 + 2))
    );
}

#[tokio::test]
async fn keys_written_before_hash_tags_are_renamed_once() {
    let server = RedisServer::start(false);
    let store = store(&server).await;
    store.append(&[(hall("a"), &evs(1..=3))]).await.unwrap();
    let key = NumberKey {
        hall: hall("a"),
        day: date(2026, 11, 3),
        zone: Code::new("z1").unwrap(),
    };
    assert_eq!(store.allocate_number(key).await.unwrap(), 1);
    // Put the keys back under the names of a store from before.
    let mut conn = raw(&server).await;
    for what in ["events", "last", "num:2026-11-03:z1"] {
        let _: () = redis::cmd("RENAME")
            .arg(format!("hallcall:{{a}}:{what}"))
            .arg(format!("hallcall:a:{what}"))
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    assert!(store.load(hall("a")).await.unwrap().events.is_empty());

    assert_eq!(store.rename_legacy_keys(&[hall("a"), hall("b")]).await.unwrap(), 3);
    assert_eq!(seqs(&store.load(hall("a")).await.unwrap().events), vec![1, 2, 3]);
    assert_eq!(store.allocate_number(key).await.unwrap(), 2);
    assert!(!exists(&mut conn, "hallcall:a:events").await);
    // A second start finds nothing to rename.
    assert_eq!(store.rename_legacy_keys(&[hall("a")]).await.unwrap(), 0);

    // Both names at once is two versions writing: refused, not merged.
    let _: () = redis::cmd("SET")
        .arg("hallcall:a:last")
        .arg("9")
        .query_async(&mut conn)
        .await
        .unwrap();
    let err = store.rename_legacy_keys(&[hall("a")]).await.unwrap_err();
    assert!(
        err.to_string().contains("both hallcall:a:last and hallcall:{a}:last"),
        "{err}"
    );
}

#[tokio::test]
async fn a_redis_cluster_keeps_each_hall_in_one_slot() {
    let cluster = crate::store::test_redis::RedisCluster::start(3, false);
    let store = RedisStore::connect(&cluster.url(), DEFAULT_PREFIX).await.unwrap();
    assert!(store.is_cluster());
    let day = date(2026, 11, 3);
    // Halls whose keys land on different primaries.
    let halls = ["a", "b", "c", "qiaocheng", "guoyang", "lixin"].map(hall);
    for h in halls {
        let mut first = vec![day_started(1, day)];
        first.extend(evs(2..=4));
        store.append(&[(h, &first)]).await.unwrap();
        store.append(&[(h, &evs(5..=7))]).await.unwrap();
        store.begin_epoch(h, Epoch(7), 8).await.unwrap();
        store.write_snapshot(&snapshot(h.as_str(), 5, Some(day))).await.unwrap();
        let key = NumberKey {
            hall: h,
            day,
            zone: Code::new("z1").unwrap(),
        };
        assert_eq!(store.allocate_number(key).await.unwrap(), 1);
    }
    for h in halls {
        let got = store.load(h).await.unwrap();
        assert_eq!(got.snapshot.map(|s| s.seq), Some(5));
        assert_eq!(seqs(&got.events), vec![6, 7]);
        assert_eq!(
            seqs(&store.read_days(h, day, day).await.unwrap()),
            (1..=7).collect::<Vec<_>>()
        );
        assert_eq!(store.epochs(h).await.unwrap().current(), Some(Epoch(7)));
        // A gap is refused as on a single Redis.
        assert!(matches!(
            store.append(&[(h, &evs(9..=9))]).await,
            Err(StoreError::OutOfOrder { last: 7, got: 9, .. })
        ));
    }
    // Two halls in one call would cross slots: refused before anything is sent.
    assert!(
        store
            .append(&[(halls[0], &evs(8..=8)), (halls[1], &evs(8..=8))])
            .await
            .is_err()
    );

    // Every key of a hall hashes to one slot, and the halls spread over
    // more than one primary.
    let mut conn = store.connection();
    let mut slots = std::collections::BTreeSet::new();
    for h in halls {
        let mut of_hall = std::collections::BTreeSet::new();
        for what in ["events", "last", "days", "snapshot", "epochs", "num:2026-11-03:z1"] {
            let slot: i64 = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(store.key(h, what))
                .query_async(&mut conn)
                .await
                .unwrap();
            of_hall.insert(slot);
        }
        assert_eq!(of_hall.len(), 1, "{h}: {of_hall:?}");
        slots.extend(of_hall);
    }
    let ranges_per_node = 16384 / 3;
    let primaries: std::collections::BTreeSet<i64> = slots.iter().map(|s| s / (ranges_per_node + 1)).collect();
    assert!(primaries.len() > 1, "every hall on one primary: {slots:?}");
}

#[tokio::test]
async fn a_counter_behind_the_log_is_moved_past_it() {
    let server = RedisServer::start(false);
    let store = store(&server).await;
    let key = NumberKey {
        hall: hall("a"),
        day: date(2026, 11, 3),
        zone: Code::new("z1").unwrap(),
    };
    for n in 1..=3 {
        assert_eq!(store.allocate_number_after(key, n - 1).await.unwrap(), n);
    }
    // A failover to a replica that had numbers 1..=1 only: the counter says
    // 1, but the hall's log already holds 3.
    let mut conn = raw(&server).await;
    let _: () = redis::cmd("SET")
        .arg(store.key(key.hall, "num:2026-11-03:z1"))
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(store.allocate_number_after(key, 3).await.unwrap(), 4);
    assert_eq!(store.allocate_number_after(key, 4).await.unwrap(), 5);
    // A counter ahead of the log (numbers taken by requests that then
    // failed) is left alone: gaps are fine, repeats are not.
    assert_eq!(store.allocate_number_after(key, 2).await.unwrap(), 6);
    let ttl: i64 = redis::cmd("TTL")
        .arg(store.key(key.hall, "num:2026-11-03:z1"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0, "the repaired counter still expires: {ttl}");
}
