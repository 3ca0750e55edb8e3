//! The stream alone, with the engine's test hall and nothing behind the
//! tails: subscribers see every change once and in order, however far
//! behind; readers resume only within the history they share.

use super::*;
use crate::engine::tests::{code, config, local};
use crate::engine::{Channel, Command, Issue};

struct Rig {
    live: Hall,
    stream: Stream,
}

impl Rig {
    fn new() -> Rig {
        let live = Hall::new(config());
        Rig {
            stream: Stream::for_tests(vec![live.clone()]),
            live,
        }
    }

    fn id(&self) -> HallId {
        self.live.spec().id
    }

    /// One issue, committed and published as the writer does.
    fn issue(&mut self) -> Vec<Event> {
        let cmd = Command::Issue(Issue::normal(code("general"), code("apply"), Channel::Kiosk));
        let events = self.live.execute(&cmd, local(10, 0)).unwrap();
        let batch = self.stream.commit(self.id(), events.clone()).unwrap();
        self.stream.publish([batch]);
        events
    }
}

async fn events_of(sub: &mut Subscription, want: usize) -> Vec<Event> {
    let mut got = Vec::new();
    while got.len() < want {
        match sub.recv().await.unwrap() {
            Change::Batch(b) => got.extend(b.events.iter().cloned()),
            Change::Reset(h) => panic!("a reset of {h}"),
        }
    }
    got
}

#[tokio::test]
async fn a_subscriber_far_behind_the_channel_still_gets_every_event_once_in_order() {
    let mut rig = Rig::new();
    let mut sub = rig.stream.subscribe();
    let mut all = Vec::new();
    // More changes than the channel keeps: the subscriber lags, and reads
    // what it missed from the hall's tail.
    for _ in 0..CHANNEL + 100 {
        all.extend(rig.issue());
    }
    assert!(all.len() <= TAIL_EVENTS + CHANNEL + 200);
    let got = events_of(&mut sub, all.len()).await;
    assert_eq!(got, all);
}

#[tokio::test]
async fn a_subscriber_behind_what_is_kept_is_told_to_start_over() {
    let mut rig = Rig::new();
    let mut sub = rig.stream.subscribe();
    // Beyond the channel and the tail, and nothing behind them here.
    for _ in 0..CHANNEL + TAIL_EVENTS {
        rig.issue();
    }
    match sub.recv().await.unwrap() {
        Change::Reset(h) => assert_eq!(h, rig.id()),
        Change::Batch(b) => panic!("a batch from {}", b.from()),
    }
    // And carries on from the hall as it stands.
    let next = rig.issue();
    assert_eq!(events_of(&mut sub, next.len()).await, next);
}

#[tokio::test]
async fn readers_catch_up_from_the_tail_within_the_day() {
    let mut rig = Rig::new();
    let first = rig.issue(); // the day's start and A001
    let since = first.last().unwrap().seq;
    let more: Vec<Event> = (0..5).flat_map(|_| rig.issue()).collect();
    let read = rig
        .stream
        .read_since(rig.id(), since, |hall, epoch, events| (hall.seq(), epoch, events))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.0, more.last().unwrap().seq);
    assert_eq!(read.1, Some(Epoch(1)));
    assert_eq!(read.2, more);
    // Up to date: nothing to read, but a consistent point all the same.
    let read = rig
        .stream
        .read_since(rig.id(), read.0, |_, _, events| events.len())
        .await
        .unwrap();
    assert_eq!(read, Some(0));
    // From before the day's start: a fresh start instead.
    let read = rig.stream.read_since(rig.id(), 0, |_, _, _| ()).await.unwrap();
    assert_eq!(read, None);
}

#[test]
fn an_epoch_covers_what_its_log_still_shares() {
    let (a, b, c) = (Epoch(0xa), Epoch(0xb), Epoch(0xc));
    // `a` wrote 1..=40, `b` 41..=99, `c` from 100 on; the log is at 120.
    let epochs = Epochs(vec![(a, 1), (b, 41), (c, 100)]);
    assert!(epochs.contains(a, 40, 120));
    assert!(epochs.contains(a, 12, 120));
    assert!(
        !epochs.contains(a, 41, 120),
        "a reader saw 41 under `a`: another history"
    );
    assert!(epochs.contains(b, 99, 120));
    assert!(!epochs.contains(b, 100, 120));
    assert!(epochs.contains(c, 120, 120));
    assert!(!epochs.contains(c, 121, 120), "further than the log goes");
    assert!(
        !epochs.contains(Epoch(0xd), 5, 120),
        "an incarnation this log never had"
    );
    let mut long = Epochs::default();
    for i in 0..EPOCHS_KEPT as u64 + 10 {
        long.begin(Epoch(i), i * 10 + 1);
    }
    assert_eq!(long.0.len(), EPOCHS_KEPT);
    assert_eq!(long.current(), Some(Epoch(EPOCHS_KEPT as u64 + 9)));
    assert_eq!("00000000000ff".parse::<Epoch>().unwrap(), Epoch(0xff));
    assert_eq!(Epoch(0xff).to_string(), "00000000000ff");
}

#[tokio::test]
async fn a_replaced_log_starts_a_new_epoch_and_resets_subscribers() {
    let mut rig = Rig::new();
    let kept = rig.issue();
    let older = Hall::new(config());
    let mut restored = older.clone();
    for e in &kept {
        restored.apply(e).unwrap();
    }
    let seen = rig.issue().last().unwrap().seq;
    let mut sub = rig.stream.subscribe();
    // The store went back to `restored` (a backup): what was seen after
    // it is no longer history.
    rig.stream.replace(restored.clone(), Epoch(2));
    assert!(matches!(sub.recv().await, Some(Change::Reset(_))));
    assert_eq!(rig.stream.durable_seq(rig.id()), Some(restored.seq()));
    assert_eq!(rig.stream.epoch(rig.id()), Some(Epoch(2)));
    assert!(!rig.stream.continues(rig.id(), Epoch(1), seen));
    assert!(rig.stream.continues(rig.id(), Epoch(1), restored.seq()));
    assert!(rig.stream.continues(rig.id(), Epoch(2), restored.seq()));
}
