use std::collections::HashMap;
use std::io::Write;

use super::*;
use crate::engine::{Code, EventKind, Millis};

fn hall(s: &str) -> HallId {
    Code::new(s).unwrap()
}

fn ev(seq: u64) -> Event {
    Event {
        seq,
        at: Millis(1_795_480_200_000 + seq as i64),
        kind: EventKind::WindowOpened {
            window: (seq % 7) as u16 + 1,
            staff: Some(format!("工号{seq}")),
            paused: false,
        },
    }
}

fn events(range: std::ops::RangeInclusive<u64>) -> Vec<Event> {
    range.map(ev).collect()
}

fn open(dir: &Path) -> Opened {
    Journal::open(dir, JournalOptions::default()).unwrap()
}

fn seqs(halls: &HashMap<HallId, Recovered>, h: &str) -> Vec<u64> {
    halls
        .get(&hall(h))
        .map_or(vec![], |r| r.events.iter().map(|e| e.seq).collect())
}

fn snapshot(h: &str, seq: u64) -> HallSnapshot {
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
        day: None,
        day_seq: None,
        tickets: vec![],
        zones: vec![],
        windows: vec![],
    }
}

#[test]
fn appended_batches_read_back_per_hall() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path()).journal;
    j.append(&[(hall("a"), &events(1..=3)), (hall("b"), &events(1..=2))])
        .unwrap();
    j.append(&[(hall("a"), &events(4..=4))]).unwrap();
    drop(j);
    let o = open(dir.path());
    assert_eq!(seqs(&o.halls, "a"), vec![1, 2, 3, 4]);
    assert_eq!(seqs(&o.halls, "b"), vec![1, 2]);
    assert_eq!(o.halls[&hall("a")].events[1], ev(2));
    assert!(o.repaired.is_none());
}

#[test]
fn a_torn_last_record_is_cut_off_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path()).journal;
    j.append(&[(hall("a"), &events(1..=2))]).unwrap();
    j.append(&[(hall("a"), &events(3..=3))]).unwrap();
    drop(j);
    let seg = segment_path(dir.path(), 1);
    let full = fs::metadata(&seg).unwrap().len();
    // Cut the last record mid-write.
    OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(full - 5)
        .unwrap();
    let o = open(dir.path());
    assert_eq!(seqs(&o.halls, "a"), vec![1, 2]);
    let note = o.repaired.expect("the repair is reported");
    assert!(
        note.contains("journal-00000001.log") && note.contains("torn record"),
        "{note}"
    );
    // Appending after the repair continues cleanly.
    let mut j = o.journal;
    j.append(&[(hall("a"), &events(3..=3))]).unwrap();
    drop(j);
    let o = open(dir.path());
    assert_eq!(seqs(&o.halls, "a"), vec![1, 2, 3]);
    assert!(o.repaired.is_none());
}

#[test]
fn a_cut_header_or_zero_fill_is_torn_too() {
    for tail in [&[7u8, 0, 0][..], &[0u8; 64][..]] {
        let dir = tempfile::tempdir().unwrap();
        let mut j = open(dir.path()).journal;
        j.append(&[(hall("a"), &events(1..=2))]).unwrap();
        drop(j);
        let seg = segment_path(dir.path(), 1);
        OpenOptions::new()
            .append(true)
            .open(&seg)
            .unwrap()
            .write_all(tail)
            .unwrap();
        let o = open(dir.path());
        assert_eq!(seqs(&o.halls, "a"), vec![1, 2]);
        assert!(o.repaired.is_some());
    }
}

#[test]
fn corruption_before_the_end_names_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path()).journal;
    j.append(&[(hall("a"), &events(1..=3))]).unwrap();
    drop(j);
    let seg = segment_path(dir.path(), 1);
    let mut bytes = fs::read(&seg).unwrap();
    let first_payload = MAGIC.len() + HEADER + 3;
    bytes[first_payload] ^= 0x20;
    fs::write(&seg, &bytes).unwrap();
    let err = Journal::open(dir.path(), JournalOptions::default())
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(
        text.contains(&format!("journal-00000001.log offset {}", MAGIC.len())),
        "{text}"
    );
    assert!(text.contains("checksum mismatch"), "{text}");
}

#[test]
fn foreign_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(segment_path(dir.path(), 1), b"PK\x03\x04 not ours").unwrap();
    let err = Journal::open(dir.path(), JournalOptions::default())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("not a hallcall journal"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let mut bytes = MAGIC.to_vec();
    let payload = br#"{"something":"else"}"#;
    bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(&bytes.clone()[MAGIC.len()..]);
    fs::write(segment_path(dir.path(), 1), &bytes).unwrap();
    let err = Journal::open(dir.path(), JournalOptions::default())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("not a hallcall event"), "{err}");
}

#[test]
fn a_gap_in_a_halls_sequence_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path()).journal;
    j.append(&[(hall("a"), &events(1..=2)), (hall("a"), &events(4..=4))])
        .unwrap();
    drop(j);
    let err = Journal::open(dir.path(), JournalOptions::default())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("hall a: event 4 follows event 2"), "{err}");
}

#[test]
fn snapshots_bound_what_is_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path()).journal;
    j.append(&[(hall("a"), &events(1..=3)), (hall("b"), &events(1..=1))])
        .unwrap();
    j.write_snapshot(&snapshot("a", 3)).unwrap();
    j.append(&[(hall("a"), &events(4..=5))]).unwrap();
    assert_eq!(
        j.load(hall("a"))
            .unwrap()
            .events
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>(),
        vec![4, 5]
    );
    drop(j);
    let o = open(dir.path());
    let a = &o.halls[&hall("a")];
    assert_eq!(a.snapshot.as_ref().map(|s| s.seq), Some(3));
    assert_eq!(seqs(&o.halls, "a"), vec![4, 5]);
    assert_eq!(a.last_seq(), 5);
    assert_eq!(seqs(&o.halls, "b"), vec![1]);
}

#[test]
fn a_corrupt_snapshot_is_replaced_by_the_journal_while_it_reaches_back_and_named_when_not() {
    // The journal holds every event of the hall: replayed, and said so.
    let dir = tempfile::tempdir().unwrap();
    {
        let mut j = open(dir.path()).journal;
        j.append(&[(hall("a"), &events(1..=3))]).unwrap();
    }
    fs::write(dir.path().join("snapshots/a.json"), b"{oops").unwrap();
    let o = Journal::open(dir.path(), JournalOptions::default()).expect("replayed instead");
    let a = &o.halls[&hall("a")];
    assert!(a.snapshot.is_none());
    assert_eq!(a.events.len(), 3);
    let note = o.repaired.clone().expect("said so");
    assert!(note.contains("snapshots/a.json") && note.contains("replayed"), "{note}");
    assert!(dir.path().join("snapshots/a.json.unreadable").exists(), "kept aside");
    drop(o);

    // The journal no longer reaches back to the first event: refused, named.
    let dir = tempfile::tempdir().unwrap();
    {
        let mut j = open(dir.path()).journal;
        j.append(&[(hall("a"), &events(5..=6))]).unwrap();
    }
    fs::write(dir.path().join("snapshots/a.json"), b"{oops").unwrap();
    let err = Journal::open(dir.path(), JournalOptions::default())
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(
        text.contains("snapshots/a.json") && text.contains("restore it from a backup"),
        "{text}"
    );
    assert!(dir.path().join("snapshots/a.json").exists(), "left where it was");
}

#[test]
fn segments_rotate_and_old_ones_are_pruned_once_snapshotted() {
    let dir = tempfile::tempdir().unwrap();
    let opts = JournalOptions {
        segment_bytes: 1_000,
        retention: Duration::ZERO,
    };
    let mut j = Journal::open(dir.path(), opts.clone()).unwrap().journal;
    for seq in 1..=40 {
        j.append(&[(hall("a"), &events(seq..=seq))]).unwrap();
    }
    let before = segments(dir.path()).unwrap();
    assert!(before.len() > 3, "{before:?}");
    drop(j);
    let o = Journal::open(dir.path(), opts.clone()).unwrap();
    assert_eq!(
        seqs(&o.halls, "a"),
        (1..=40).collect::<Vec<_>>(),
        "reads across segments"
    );
    let mut j = o.journal;
    j.write_snapshot(&snapshot("a", 40)).unwrap();
    for seq in 41..=60 {
        j.append(&[(hall("a"), &events(seq..=seq))]).unwrap();
    }
    let after = segments(dir.path()).unwrap();
    assert!(after[0] > before[0], "segments before the snapshot are gone: {after:?}");
    drop(j);
    let o = Journal::open(dir.path(), opts).unwrap();
    assert_eq!(seqs(&o.halls, "a"), (41..=60).collect::<Vec<_>>());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, ..Default::default() })]

    /// Wherever a crash cuts the file, opening keeps a clean prefix of what
    /// was written: never an error, never a half record.
    #[test]
    fn any_cut_leaves_a_clean_prefix(sizes in proptest::collection::vec(1..5u64, 1..12), cut in 0.0..1.0f64) {
        let dir = tempfile::tempdir().unwrap();
        let mut j = open(dir.path()).journal;
        let mut seq = 0;
        for n in &sizes {
            j.append(&[(hall("a"), &events(seq + 1..=seq + n))]).unwrap();
            seq += n;
        }
        drop(j);
        let seg = segment_path(dir.path(), 1);
        let full = fs::metadata(&seg).unwrap().len();
        let keep = MAGIC.len() as u64 + ((full - MAGIC.len() as u64) as f64 * cut) as u64;
        OpenOptions::new().write(true).open(&seg).unwrap().set_len(keep).unwrap();
        let o = open(dir.path());
        let got = seqs(&o.halls, "a");
        proptest::prop_assert_eq!(got.clone(), (1..=got.len() as u64).collect::<Vec<_>>());
        proptest::prop_assert!(got.len() as u64 <= seq);
        // And the journal takes appends again after the repair.
        let mut j = o.journal;
        let next = got.len() as u64 + 1;
        j.append(&[(hall("a"), &events(next..=next))]).unwrap();
        drop(j);
        proptest::prop_assert_eq!(seqs(&open(dir.path()).halls, "a").len() as u64, next);
    }
}

/// Three days of hall `a` (events 1–30, a day every 10) interleaved with
/// hall `b`, across segment rotations.
fn three_days(j: &mut Journal) {
    let day = |d: i8| jiff::civil::date(2026, 11, d);
    for seq in 1..=30u64 {
        let mut e = ev(seq);
        if seq % 10 == 1 {
            e.kind = EventKind::DayStarted {
                day: day(23 + (seq / 10) as i8),
            };
        }
        j.append(&[(hall("a"), &[e]), (hall("b"), &events(seq..=seq))]).unwrap();
    }
}

#[test]
fn past_days_read_back_by_day_across_segments_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let opts = JournalOptions {
        segment_bytes: 700,
        retention: Duration::from_secs(3600),
    };
    let day = |d: i8| jiff::civil::date(2026, 11, d);
    let seqs_of = |evs: Vec<Event>| evs.iter().map(|e| e.seq).collect::<Vec<_>>();
    let mut j = Journal::open(dir.path(), opts.clone()).unwrap().journal;
    three_days(&mut j);
    assert!(segments(dir.path()).unwrap().len() > 3, "the days span segments");
    for reader in [j.reader(), {
        drop(j);
        Journal::open(dir.path(), opts).unwrap().journal.reader()
    }] {
        let a = hall("a");
        assert_eq!(
            seqs_of(reader.read_days(a, day(23), day(23)).unwrap()),
            (1..=10).collect::<Vec<_>>()
        );
        assert_eq!(
            seqs_of(reader.read_days(a, day(24), day(25)).unwrap()),
            (11..=30).collect::<Vec<_>>()
        );
        assert_eq!(
            seqs_of(reader.read_days(a, day(1), day(30)).unwrap()),
            (1..=30).collect::<Vec<_>>()
        );
        assert!(reader.read_days(a, day(26), day(28)).unwrap().is_empty());
        assert!(
            reader.read_days(hall("b"), day(23), day(25)).unwrap().is_empty(),
            "b never started a day"
        );
    }
}

#[test]
fn a_corrupt_record_in_a_past_day_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path()).journal;
    three_days(&mut j);
    let reader = j.reader();
    drop(j);
    let path = segment_path(dir.path(), 1);
    let mut bytes = fs::read(&path).unwrap();
    let at = MAGIC.len() + HEADER + 3;
    bytes[at] ^= 0x55;
    fs::write(&path, bytes).unwrap();
    let day = jiff::civil::date(2026, 11, 23);
    let err = reader.read_days(hall("a"), day, day).unwrap_err().to_string();
    assert!(err.contains("journal-00000001.log offset"), "{err}");
}

#[test]
fn a_record_checked_once_is_checked_again_by_its_own_hall_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path()).journal;
    three_days(&mut j);
    let reader = j.reader();
    drop(j);
    let (a, b) = (hall("a"), hall("b"));
    let all = usize::MAX;
    assert_eq!(reader.read_since(a, 0, all).unwrap().map(|e| e.len()), Some(30));
    // Damage the body of b's first record, read over once already.
    let path = segment_path(dir.path(), 1);
    let mut bytes = fs::read(&path).unwrap();
    let mut at = MAGIC.len();
    let damaged = loop {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if bytes[at + HEADER..].starts_with(br#"{"hall":"b""#) {
            break at + HEADER + len - 3;
        }
        at += HEADER + len;
    };
    bytes[damaged] ^= 0x01;
    fs::write(&path, bytes).unwrap();
    // a's reader goes over it without its checksum again; b's does not.
    assert_eq!(reader.read_since(a, 0, all).unwrap().map(|e| e.len()), Some(30));
    let err = reader.read_since(b, 0, all).unwrap_err().to_string();
    assert!(
        err.contains("checksum mismatch") && err.contains("journal-00000001.log offset"),
        "{err}"
    );
    // Opened again, the journal checks every record: the damage is named.
    let reopened = Journal::open(dir.path(), JournalOptions::default()).map(|_| ());
    assert!(reopened.is_err_and(|e| e.to_string().contains("offset")));
}

#[test]
fn what_a_reader_missed_reads_back_from_the_start_of_its_day() {
    let dir = tempfile::tempdir().unwrap();
    let opts = JournalOptions {
        segment_bytes: 700,
        retention: Duration::from_secs(3600),
    };
    let seqs_of = |evs: Option<Vec<Event>>| evs.map(|evs| evs.iter().map(|e| e.seq).collect::<Vec<_>>());
    let mut j = Journal::open(dir.path(), opts.clone()).unwrap().journal;
    three_days(&mut j); // hall a: days start at 1, 11 and 21
    for reader in [j.reader(), {
        drop(j);
        Journal::open(dir.path(), opts).unwrap().journal.reader()
    }] {
        let a = hall("a");
        let all = usize::MAX;
        assert_eq!(
            seqs_of(reader.read_since(a, 24, all).unwrap()),
            Some((25..=30).collect())
        );
        assert_eq!(
            seqs_of(reader.read_since(a, 20, all).unwrap()),
            Some((21..=30).collect())
        );
        // Across days, for subscribers that must see every event.
        assert_eq!(seqs_of(reader.read_since(a, 3, all).unwrap()), Some((4..=30).collect()));
        assert_eq!(seqs_of(reader.read_since(a, 30, all).unwrap()), Some(vec![]));
        // A backlog a few days at a time: up to the first day that starts
        // past `enough`, each read going on from the last.
        assert_eq!(seqs_of(reader.read_since(a, 3, 5).unwrap()), Some((4..=10).collect()));
        assert_eq!(seqs_of(reader.read_since(a, 3, 8).unwrap()), Some((4..=20).collect()));
        assert_eq!(seqs_of(reader.read_since(a, 10, 1).unwrap()), Some((11..=20).collect()));
        assert_eq!(seqs_of(reader.read_since(a, 20, 1).unwrap()), Some((21..=30).collect()));
        assert_eq!(
            seqs_of(reader.read_since(hall("b"), 3, all).unwrap()),
            Some((4..=30).collect()),
            "b has no day, but its first record is a mark to read from"
        );
    }
}

#[test]
fn a_long_day_reads_back_in_parts_from_its_marks() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (hall("a"), hall("b"));
    let last = 3 * history::MARK_EVERY + 500;
    let mut j = open(dir.path()).journal;
    let mut start = ev(1);
    start.kind = EventKind::DayStarted {
        day: jiff::civil::date(2026, 12, 7),
    };
    j.append(&[(a, &[start]), (b, &events(1..=1))]).unwrap();
    let mut from = 2;
    while from <= last {
        let to = (from + 999).min(last);
        let mut of_a = events(from..=to);
        if from == 2002 {
            // Larger than a read's buffer: read across several.
            of_a[0] = Event {
                kind: EventKind::WindowOpened {
                    window: 1,
                    staff: Some("长".repeat(600_000)),
                    paused: false,
                },
                ..of_a[0].clone()
            };
        }
        j.append(&[(a, &of_a), (b, &events(from..=to))]).unwrap();
        from = to + 1;
    }
    for reader in [j.reader(), {
        drop(j);
        open(dir.path()).journal.reader()
    }] {
        // Parts of at least what was asked for and at most a mark's span
        // (and a batch) more, each going on from the last: none missed.
        let (mut since, mut parts) = (0, 0);
        while since < last {
            let part = reader.read_since(a, since, 1_000).unwrap().expect("held");
            let seqs: Vec<u64> = part.iter().map(|e| e.seq).collect();
            let want: Vec<u64> = (since + 1..=since + seqs.len() as u64).collect();
            assert_eq!(seqs, want, "a part after {since} goes on from it, in order");
            assert!(
                seqs.len() as u64 >= 1_000.min(last - since),
                "after {since}: {}",
                seqs.len()
            );
            assert!(
                seqs.len() as u64 <= 2_000 + history::MARK_EVERY,
                "after {since}: {}",
                seqs.len()
            );
            since = *seqs.last().unwrap();
            parts += 1;
        }
        assert!(parts >= 3, "{parts} parts: one a mark");
        // From the middle of the day, the read starts at a mark near it.
        let late = reader.read_since(a, last - 10, usize::MAX).unwrap().expect("held");
        assert_eq!(
            late.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (last - 9..=last).collect::<Vec<_>>()
        );
        let all_b = reader.read_since(b, 1, usize::MAX).unwrap().expect("held");
        assert_eq!(all_b.len() as u64, last - 1, "hall b's records, read between a's");
    }
}

#[test]
fn epochs_are_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path()).journal;
    assert!(j.epochs().unwrap().is_empty());
    let mut e = crate::store::stream::Epochs::default();
    e.begin(crate::store::Epoch(7), 1);
    e.begin(crate::store::Epoch(8), 40);
    j.stage_epochs(hall("a"), e.clone());
    j.flush_epochs().unwrap();
    drop(j);
    let j = open(dir.path()).journal;
    assert_eq!(j.epochs().unwrap().get(&hall("a")), Some(&e));
}
