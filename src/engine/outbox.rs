//! What the outbox has done with the hall's events, kept in the hall's own
//! log so that it is as durable as the events, moves with the hall to
//! another node, and needs no store of its own.
//!
//! The outbox (the shell's `outbox`) makes messages to the outside world
//! from the durable event stream. Here it records:
//!
//! - how far it has delivered (`through`): every message made from the
//!   events up to it was delivered or set aside. A restart starts after it
//!   (from the start of that business day, `day_from`, which it replays
//!   for the records it makes);
//! - the messages that kept failing (set aside, with their last error),
//!   until a supervisor sends them again.
//!
//! The engine only keeps the record: it never delivers anything.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::EngineError;
use super::event::EventKind;
use super::hall::Hall;
use super::ids::Millis;

/// Messages set aside kept at most; past it the oldest are dropped (and
/// counted), so that a receiver gone for good cannot grow the hall.
pub const MAX_SET_ASIDE: usize = 2_000;
/// A message's body, as kept when set aside, is at most this long.
pub const MAX_SET_ASIDE_BODY: usize = 64 * 1024;
const MAX_KEY: usize = 200;
const MAX_ERROR: usize = 500;

/// A message the outbox gave up retrying.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAside {
    /// Its idempotency key: the same message sent again has the same one.
    pub key: String,
    /// Where it goes (`webhook:NAME`, `platform`).
    pub sink: String,
    /// The event it was made from.
    pub seq: u64,
    /// What it is (an event's type, `visit`, `rating`).
    pub kind: String,
    /// The message as sent. Never a citizen's contact details: those are
    /// looked up when it is sent.
    pub body: String,
    pub attempts: u32,
    /// The last failure, as the receiver or the network gave it.
    pub error: String,
    /// When it was first tried.
    pub first_at: Millis,
}

impl SetAside {
    fn check(&self) -> Result<(), EngineError> {
        let bad = |what: &str| Err(EngineError::BadOutbox(what.to_owned()));
        if self.key.is_empty() || self.key.len() > MAX_KEY {
            return bad("a message's key is 1 to 200 bytes");
        }
        if self.sink.is_empty() || self.sink.len() > MAX_KEY || self.kind.len() > MAX_KEY {
            return bad("a message's sink and kind are 1 to 200 bytes");
        }
        if self.body.len() > MAX_SET_ASIDE_BODY {
            return bad("a message set aside is at most 64 KiB");
        }
        if self.error.len() > MAX_ERROR * 4 {
            return bad("an error is at most 500 characters");
        }
        Ok(())
    }
}

/// Cuts an error to what a set-aside message keeps.
pub fn short_error(e: &str) -> String {
    e.chars().take(MAX_ERROR).collect()
}

/// The outbox's record in a hall; kept across days.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct OutboxState {
    /// Every message made from events up to this one is delivered or set
    /// aside.
    pub through: u64,
    /// The `DayStarted` of the business day `through` is in (0: none).
    pub day_from: u64,
    /// By key.
    pub set_aside: BTreeMap<String, SetAside>,
    /// Set-aside messages dropped for room, ever.
    pub dropped: u64,
}

impl OutboxState {
    /// The set-aside messages, oldest first.
    pub fn set_aside(&self) -> Vec<&SetAside> {
        let mut v: Vec<&SetAside> = self.set_aside.values().collect();
        v.sort_by_key(|s| (s.first_at, s.seq));
        v
    }
}

impl Hall {
    pub fn outbox(&self) -> &OutboxState {
        &self.st.outbox
    }

    pub(super) fn decide_progress(&self, through: u64, day_from: u64) -> Result<Option<EventKind>, EngineError> {
        if through > self.st.seq || day_from > through {
            return Err(EngineError::BadOutbox(format!(
                "progress to event {through} (day from {day_from}) past the hall's last, {}",
                self.st.seq
            )));
        }
        // Behind what is recorded (a slower node's late word): nothing.
        if through <= self.st.outbox.through {
            return Ok(None);
        }
        Ok(Some(EventKind::OutboxProgressed { through, day_from }))
    }

    pub(super) fn decide_set_aside(&self, items: &[SetAside]) -> Result<Option<EventKind>, EngineError> {
        if items.is_empty() {
            return Ok(None);
        }
        for i in items {
            i.check()?;
        }
        Ok(Some(EventKind::OutboxSetAside { items: items.to_vec() }))
    }

    pub(super) fn decide_resend(&self, keys: &[String], by: &str) -> Result<EventKind, EngineError> {
        if keys.is_empty() {
            return Err(EngineError::BadOutbox("no message named to send again".into()));
        }
        let mut items = Vec::with_capacity(keys.len());
        for k in keys {
            let item = self
                .st
                .outbox
                .set_aside
                .get(k)
                .ok_or_else(|| EngineError::BadOutbox(format!("no message {k:?} is set aside")))?;
            if !items.iter().any(|i: &SetAside| i.key == *k) {
                items.push(item.clone());
            }
        }
        Ok(EventKind::OutboxResent {
            items,
            by: by.to_owned(),
        })
    }

    pub(super) fn apply_outbox(&mut self, kind: &EventKind) -> Result<(), String> {
        let ob = &mut self.st.outbox;
        match kind {
            EventKind::OutboxProgressed { through, day_from } => {
                if *through > self.st.seq {
                    return Err(format!("outbox progress to {through}, past the hall's last event"));
                }
                ob.through = ob.through.max(*through);
                if ob.through == *through {
                    ob.day_from = *day_from;
                }
            }
            EventKind::OutboxSetAside { items } => {
                for i in items {
                    ob.set_aside.insert(i.key.clone(), i.clone());
                }
                while ob.set_aside.len() > MAX_SET_ASIDE {
                    let oldest = ob
                        .set_aside
                        .values()
                        .min_by_key(|s| (s.first_at, s.seq))
                        .map(|s| s.key.clone());
                    if let Some(k) = oldest {
                        ob.set_aside.remove(&k);
                        ob.dropped += 1;
                    }
                }
            }
            EventKind::OutboxResent { items, .. } => {
                for i in items {
                    ob.set_aside.remove(&i.key);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Command;
    use crate::engine::tests::{config, local};

    fn hall() -> Hall {
        Hall::new(config())
    }

    fn now() -> Millis {
        local(9, 0)
    }

    fn item(key: &str, at: i64) -> SetAside {
        SetAside {
            key: key.into(),
            sink: "webhook:erp".into(),
            seq: 1,
            kind: "TicketCalled".into(),
            body: "{}".into(),
            attempts: 3,
            error: "connection refused".into(),
            first_at: Millis(at),
        }
    }

    #[test]
    fn progress_only_goes_forward_and_never_past_the_log() {
        let mut h = hall();
        let t = now();
        h.execute(&Command::Tick, t).unwrap();
        let last = h.seq();
        assert!(
            h.execute(
                &Command::OutboxProgress {
                    through: last + 5,
                    day_from: 1
                },
                t
            )
            .is_err()
        );
        let ev = h
            .execute(
                &Command::OutboxProgress {
                    through: last,
                    day_from: 1,
                },
                t,
            )
            .unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(h.outbox().through, last);
        // A late word from behind changes nothing.
        assert!(
            h.execute(
                &Command::OutboxProgress {
                    through: 1,
                    day_from: 1
                },
                t
            )
            .unwrap()
            .is_empty()
        );
        assert_eq!(h.outbox().through, last);
    }

    #[test]
    fn set_aside_is_bounded_and_resent_by_key() {
        let mut h = hall();
        let t = now();
        let items: Vec<SetAside> = (0..MAX_SET_ASIDE as i64 + 3)
            .map(|i| item(&format!("k{i}"), i))
            .collect();
        h.execute(&Command::OutboxSetAside { items }, t).unwrap();
        assert_eq!(h.outbox().set_aside.len(), MAX_SET_ASIDE);
        assert_eq!(h.outbox().dropped, 3);
        assert!(!h.outbox().set_aside.contains_key("k0"), "the oldest go first");
        let unknown = h.execute(
            &Command::OutboxResend {
                keys: vec!["k1".into()],
                by: "sup".into(),
            },
            t,
        );
        assert!(matches!(unknown, Err(EngineError::BadOutbox(_))));
        let ev = h
            .execute(
                &Command::OutboxResend {
                    keys: vec!["k5".into(), "k5".into(), "k6".into()],
                    by: "sup".into(),
                },
                t,
            )
            .unwrap();
        match &ev[0].kind {
            EventKind::OutboxResent { items, by } => {
                assert_eq!(items.len(), 2);
                assert_eq!(by, "sup");
            }
            other => panic!("{other:?}"),
        }
        assert!(!h.outbox().set_aside.contains_key("k5"));
        let too_big = SetAside {
            body: "x".repeat(MAX_SET_ASIDE_BODY + 1),
            ..item("big", 1)
        };
        assert!(h.execute(&Command::OutboxSetAside { items: vec![too_big] }, t).is_err());
    }

    #[test]
    fn the_record_survives_a_new_day_and_a_snapshot() {
        let mut h = hall();
        let t = now();
        h.execute(&Command::Tick, t).unwrap();
        h.execute(
            &Command::OutboxSetAside {
                items: vec![item("a", 1)],
            },
            t,
        )
        .unwrap();
        let through = h.seq();
        h.execute(&Command::OutboxProgress { through, day_from: 1 }, t).unwrap();
        h.execute(&Command::Tick, Millis(t.0 + 86_400_000)).unwrap();
        assert_eq!(h.outbox().through, through);
        assert!(h.outbox().set_aside.contains_key("a"));
        let back = Hall::restore(h.spec().clone(), &h.snapshot()).unwrap();
        assert_eq!(back.outbox(), h.outbox());
    }
}
