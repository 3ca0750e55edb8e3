//! The writer against a real redis-server of its own: batches that are in
//! flight together keep their order, and one refused batch does not take
//! the next one down.

use std::time::Duration;

use crate::store::test_redis::RedisServer;

use super::*;
use crate::engine::{Channel, Command, Issue, Millis};
use crate::store::Change;

/// 2026-11-24 10:00 in Asia/Shanghai: the sample halls are open.
const NOW: Millis = Millis(1_795_485_600_000);
/// Long enough that every append below is sent while Redis holds writes.
const PAUSE_MS: u64 = 400;

fn sample() -> Vec<Arc<crate::engine::HallSpec>> {
    let cfg = crate::config::parse(include_str!("../../../config/hall.toml"), "hall.toml").unwrap();
    cfg.halls.into_iter().map(|h| h.spec).collect()
}

async fn open(redis: &RedisServer) -> OpenedStore {
    open_at(&redis.url()).await
}

/// The sample halls on the Redis (or Redis Cluster) at `url`.
async fn open_at(url: &str) -> OpenedStore {
    Store::open(StoreConfig {
        location: Location::Redis(url.to_owned()),
        journal: crate::store::journal::JournalOptions::default(),
        halls: sample(),
        retention_days: 30,
        metrics: None,
    })
    .await
    .unwrap()
}

/// The events of one more ticket in `hall`'s first zone.
fn issue(hall: &mut Hall) -> Vec<Event> {
    let zone = hall.spec().zones[0].clone();
    let cmd = Command::Issue(Issue::normal(zone.id, zone.services[0].id, Channel::Kiosk));
    hall.execute(&cmd, NOW).unwrap()
}

async fn raw(redis: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Makes Redis hold every write for a while, so that appends queue up in
/// flight behind one another.
async fn hold_writes(conn: &mut redis::aio::MultiplexedConnection) {
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(PAUSE_MS)
        .arg("WRITE")
        .query_async(conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn batches_in_flight_together_are_stored_in_order() {
    let redis = RedisServer::start(true);
    let opened = open(&redis).await;
    let store = opened.store;
    let mut halls = opened.halls;
    let mut conn = raw(&redis).await;
    hold_writes(&mut conn).await;
    // Each append reaches the writer on its own, while the ones before it
    // wait in Redis.
    let mut acks = Vec::new();
    for round in 0..4 {
        for hall in &mut halls {
            let events = issue(hall);
            acks.push((round, hall.spec().id, store.append(hall.spec().id, events).unwrap()));
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    for (round, hall, ack) in acks {
        assert!(matches!(ack.await, Ok(Ok(()))), "round {round} of {hall} not stored");
    }
    // What Redis holds rebuilds each hall exactly, and so does the stream.
    for live in &halls {
        let hall = live.spec().id;
        let stored = store.reload(hall).await.unwrap();
        assert_eq!(stored.snapshot(), live.snapshot(), "{hall} from Redis");
        let durable = store.durable(hall).await.unwrap();
        assert_eq!(durable.snapshot(), live.snapshot(), "{hall} from the stream");
    }
}

#[tokio::test]
async fn a_refused_batch_does_not_take_the_one_behind_it_down() {
    let redis = RedisServer::start(true);
    let opened = open(&redis).await;
    let store = opened.store;
    let mut halls = opened.halls;
    let (first, second) = (halls[0].spec().id, halls[1].spec().id);
    let mut conn = raw(&redis).await;
    // Another writer got to the first hall's log.
    let _: () = redis::cmd("SET")
        .arg(crate::store::redis_store::hall_key("hallcall", first, "last"))
        .arg("999")
        .query_async(&mut conn)
        .await
        .unwrap();
    hold_writes(&mut conn).await;
    let refused = store.append(first, issue(&mut halls[0])).unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let behind = store.append(second, issue(&mut halls[1])).unwrap();

    let got = refused.await.unwrap();
    assert!(
        matches!(got, Err(StoreError::OutOfOrder { hall, last: 999, got: 1 }) if hall == first),
        "{got:?}"
    );
    assert!(matches!(behind.await, Ok(Ok(()))));
    // The second hall goes on where it was, in Redis and in the stream.
    let more = store.append(second, issue(&mut halls[1])).unwrap();
    assert!(matches!(more.await, Ok(Ok(()))));
    let stored = store.reload(second).await.unwrap();
    assert_eq!(stored.snapshot(), halls[1].snapshot());
    assert_eq!(store.durable(second).await.unwrap().snapshot(), halls[1].snapshot());
    // The first hall's durable copy holds nothing that was refused.
    assert_eq!(store.durable(first).await.unwrap().seq(), 0);
}

#[tokio::test]
async fn on_a_redis_cluster_each_hall_is_written_apart_and_fails_apart() {
    let cluster = crate::store::test_redis::RedisCluster::start(3, false);
    let opened = open_at(&cluster.url()).await;
    let store = opened.store;
    let mut halls = opened.halls;
    assert!(halls.len() >= 2);
    let (first, second) = (halls[0].spec().id, halls[1].spec().id);
    // Another writer got to the first hall's log.
    let redis = crate::store::redis_store::RedisStore::connect(&cluster.url(), "hallcall")
        .await
        .unwrap();
    let mut conn = redis.connection();
    let _: () = redis::cmd("SET")
        .arg(redis.key(first, "last"))
        .arg("999")
        .query_async(&mut conn)
        .await
        .unwrap();
    // Appends of every hall queued together reach the writer as one batch.
    let mut acks = Vec::new();
    for _ in 0..3 {
        for hall in &mut halls {
            let events = issue(hall);
            acks.push((hall.spec().id, store.append(hall.spec().id, events).unwrap()));
        }
    }
    for (hall, ack) in acks {
        let got = ack.await.unwrap();
        if hall == first {
            assert!(got.is_err(), "{hall}: {got:?}");
        } else {
            assert!(got.is_ok(), "{hall}: {got:?}");
        }
    }
    for live in &halls[1..] {
        let hall = live.spec().id;
        assert_eq!(store.reload(hall).await.unwrap().snapshot(), live.snapshot(), "{hall}");
        assert_eq!(store.durable(hall).await.unwrap().snapshot(), live.snapshot(), "{hall}");
    }
    assert_eq!(store.durable(first).await.unwrap().seq(), 0);
    assert_eq!(store.durable(second).await.unwrap().seq(), halls[1].seq());
}

#[test]
fn a_batch_reaches_the_stream_as_one_run_of_events_per_hall() {
    let first = sample().remove(0);
    let mut second = (*first).clone();
    second.id = HallId::new("second").unwrap();
    let (mut a, mut b) = (Hall::new(first), Hall::new(Arc::new(second)));
    let (a1, b1, a2, a3, b2) = (
        issue(&mut a),
        issue(&mut b),
        issue(&mut a),
        issue(&mut a),
        issue(&mut b),
    );
    let seqs = |events: &[Event]| events.iter().map(|e| e.seq).collect::<Vec<_>>();
    let want_a: Vec<u64> = [&a1, &a2, &a3].iter().flat_map(|e| seqs(e)).collect();
    let want_b: Vec<u64> = [&b1, &b2].iter().flat_map(|e| seqs(e)).collect();
    let (ida, idb) = (a.spec().id, b.spec().id);
    let joined = per_hall(vec![(ida, a1), (idb, b1), (ida, a2), (ida, a3), (idb, b2)]);
    assert_eq!(joined.len(), 2, "one entry per hall");
    assert_eq!((joined[0].0, seqs(&joined[0].1)), (ida, want_a.clone()));
    assert_eq!((joined[1].0, seqs(&joined[1].1)), (idb, want_b));
    assert!(want_a.windows(2).all(|w| w[1] == w[0] + 1), "consecutive: {want_a:?}");
}

#[tokio::test]
async fn the_stream_has_each_batch_before_its_callers_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let opened = Store::open(StoreConfig {
        location: Location::Journal(dir.path().to_path_buf()),
        journal: crate::store::journal::JournalOptions::default(),
        halls: sample(),
        retention_days: 30,
        metrics: None,
    })
    .await
    .unwrap();
    let mut live = opened.halls[0].clone();
    let id = live.spec().id;
    let mut changes = opened.stream.subscribe();
    let mut acked = Vec::new();
    for _ in 0..200 {
        let events = issue(&mut live);
        let seq = events.last().unwrap().seq;
        let ack = opened.store.append(id, events.clone()).unwrap();
        ack.await.unwrap().unwrap();
        // Whoever is answered and opens a screen then starts from here.
        assert_eq!(
            opened.stream.durable_seq(id),
            Some(seq),
            "answered before the stream had it"
        );
        assert_eq!(opened.stream.hall(id).unwrap().seq(), seq);
        acked.extend(events);
    }
    // Subscribers get every event, in order, once.
    let mut published = Vec::new();
    while published.len() < acked.len() {
        match changes.recv().await.unwrap() {
            crate::store::Change::Batch(b) if b.hall == id => published.extend(b.events.iter().cloned()),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(published, acked);
    // The stream's copy is what a failed write rolls back to.
    let durable = opened.store.durable(id).await.unwrap();
    assert_eq!(durable.snapshot(), live.snapshot());
}

#[tokio::test]
async fn a_reload_publishes_what_was_stored_unseen_and_a_log_gone_back_is_a_new_epoch() {
    let redis = RedisServer::start(true);
    let opened = open(&redis).await;
    let (store, stream) = (opened.store, opened.stream);
    let mut live = opened.halls[0].clone();
    let id = live.spec().id;
    let mut changes = stream.subscribe();
    for _ in 0..3 {
        store.append(id, issue(&mut live)).unwrap().await.unwrap().unwrap();
    }
    let published = stream.durable_seq(id).unwrap();
    let first_epoch = stream.epoch(id).unwrap();
    for _ in 0..3 {
        assert!(matches!(changes.recv().await, Some(Change::Batch(_))));
    }

    // Stored, but never answered as such (a write that timed out after
    // Redis had run it; here, written by another handle): a reload finds
    // it and publishes it, so subscribers miss nothing.
    let other = crate::store::redis_store::RedisStore::connect(&redis.url(), "hallcall")
        .await
        .unwrap();
    let unseen = issue(&mut live);
    other.append(&[(id, &unseen)]).await.unwrap();
    let reloaded = store.reload(id).await.unwrap();
    assert_eq!(reloaded.snapshot(), live.snapshot());
    match changes.recv().await {
        Some(Change::Batch(b)) => assert_eq!(b.events, unseen),
        other => panic!("{other:?}"),
    }
    assert_eq!(stream.epoch(id), Some(first_epoch), "the same log, continued");

    // Redis lost the hall (restarted without its data): the log went back.
    let mut conn = raw(&redis).await;
    let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();
    let reloaded = store.reload(id).await.unwrap();
    assert_eq!(reloaded.seq(), 0);
    assert!(matches!(changes.recv().await, Some(Change::Reset(h)) if h == id));
    let epoch = stream.epoch(id).unwrap();
    assert_ne!(epoch, first_epoch);
    assert!(
        !stream.continues(id, first_epoch, published),
        "what screens saw is not this log's"
    );
    assert_eq!(
        other.epochs(id).await.unwrap().current(),
        Some(epoch),
        "the new epoch is stored"
    );
    // And the hall goes on from there.
    let mut fresh = reloaded;
    store.append(id, issue(&mut fresh)).unwrap().await.unwrap().unwrap();
    assert_eq!(stream.durable_seq(id), Some(fresh.seq()));
}

#[tokio::test]
async fn snapshots_are_written_beside_the_writer_and_a_flush_waits_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Store::open(StoreConfig {
            location: Location::Journal(dir.path().to_path_buf()),
            journal: crate::store::journal::JournalOptions::default(),
            halls: sample(),
            retention_days: 30,
            metrics: None,
        })
    };
    let opened = open().await.unwrap();
    let mut live = opened.halls[0].clone();
    let id = live.spec().id;
    for _ in 0..50 {
        opened
            .store
            .append(id, issue(&mut live))
            .unwrap()
            .await
            .unwrap()
            .unwrap();
    }
    opened.store.snapshot(live.snapshot()).unwrap();
    // Appends go on while it is written.
    opened
        .store
        .append(id, issue(&mut live))
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    opened.store.flush().await;
    assert!(dir.path().join("snapshots").join(format!("{id}.json")).exists());
    drop(opened);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let reopened = open().await.unwrap();
    let again = reopened.halls.iter().find(|h| h.spec().id == id).unwrap();
    assert_eq!(again.snapshot(), live.snapshot(), "the snapshot and the event after it");
}

#[tokio::test]
async fn a_subscriber_days_behind_reads_its_backlog_in_parts_of_whole_days() {
    let dir = tempfile::tempdir().unwrap();
    let spec = sample()[0].clone();
    let id = spec.id;
    // A second hall, two days behind, waits its turn while the first is
    // read (and is read ahead meanwhile).
    let mut other = (*spec).clone();
    other.id = HallId::new("second").unwrap();
    let other = Arc::new(other);
    let mut second = Hall::new(other.clone());
    let mut all_second = Vec::new();
    // Sixteen business days in the journal (from Tuesday 24 November):
    // more than a part and the tail kept in memory together.
    let mut live = Hall::new(spec.clone());
    let mut all = Vec::new();
    {
        let opts = crate::store::journal::JournalOptions::default();
        let mut journal = crate::store::journal::Journal::open(dir.path(), opts).unwrap().journal;
        let weekdays = (0..).filter(|d: &i64| !matches!(d % 7, 4 | 5));
        for day in weekdays.take(16) {
            for i in 0..3_500i64 {
                let zone = &spec.zones[(i as usize) % spec.zones.len()];
                let cmd = Command::Issue(Issue::normal(zone.id, zone.services[0].id, Channel::Kiosk));
                let at = Millis(NOW.0 + day * 86_400_000 + i * 1_000);
                let events = live.execute(&cmd, at).unwrap();
                journal.append(&[(id, &events)]).unwrap();
                all.extend(events);
                if day < 2 {
                    let events = second.execute(&cmd, at).unwrap();
                    journal.append(&[(other.id, &events)]).unwrap();
                    all_second.extend(events);
                }
            }
        }
    }
    assert!(all.len() > super::super::stream::CATCH_UP_PART + super::super::stream::TAIL_EVENTS);
    let opened = Store::open(StoreConfig {
        location: Location::Journal(dir.path().to_path_buf()),
        journal: crate::store::journal::JournalOptions::default(),
        halls: vec![spec, other.clone()],
        retention_days: 30,
        metrics: None,
    })
    .await
    .unwrap();
    assert_eq!(opened.stream.durable_seq(id), all.last().map(|e| e.seq));
    let mut sub = opened.stream.subscribe_after(&[(id, 0), (other.id, 0)].into()).await;
    let mut got = Vec::new();
    let mut got_second = Vec::new();
    let mut parts = Vec::new();
    while got.len() < all.len() || got_second.len() < all_second.len() {
        match sub.recv().await.unwrap() {
            Change::Batch(b) if b.hall == other.id => {
                assert_eq!(b.events[0].seq, got_second.len() as u64 + 1, "in order, none twice");
                got_second.extend(b.events.iter().cloned());
            }
            Change::Batch(b) => {
                assert_eq!(b.events[0].seq, got.len() as u64 + 1, "in order, none twice");
                assert!(
                    matches!(b.events[0].kind, crate::engine::EventKind::DayStarted { .. }),
                    "each part starts a day"
                );
                parts.push(b.events.len());
                got.extend(b.events.iter().cloned());
            }
            Change::Reset(h) => panic!("a reset of {h}"),
        }
    }
    assert_eq!(got, all);
    assert_eq!(got_second, all_second);
    assert!(parts.len() >= 2, "read in parts: {parts:?}");
    assert!(
        parts.iter().all(|&n| n <= super::super::stream::CATCH_UP_PART + 3_501),
        "no part more than a day past enough: {parts:?}"
    );
}
