//! Answers kept for idempotency keys. A request that changes the hall may
//! carry a key; its answer is kept as one more event after the operation's,
//! so the two are durable together and a restart keeps both. A request
//! repeated with that key, within the business day, gets the kept answer
//! back instead of running again.
//!
//! The engine does not read the answers: a key, what identifies the first
//! request, and its HTTP status and body are opaque text to it. It keeps
//! them so they live and die with the hall's state (a new business day
//! forgets them) and are replayed like everything else.

use serde::{Deserialize, Serialize};

use super::error::EngineError;
use super::event::{Event, EventKind};
use super::hall::Hall;
use super::ids::Millis;

/// At most this many characters of key (the shell prefixes the client's
/// key with the account it came from).
pub const MAX_ANSWER_KEY: usize = 256;
/// An answer's body is at most this many bytes: larger ones are not kept,
/// and a repeat of their request runs again.
pub const MAX_ANSWER_BODY: usize = 64 * 1024;

/// The first answer to a request made with an idempotency key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptAnswer {
    /// What identifies the first request (its route and body): a repeat
    /// with a different request is refused, not answered.
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
    /// The sequence number of the event that kept it.
    pub seq: u64,
}

impl Hall {
    /// The answer kept for `key` today, if any.
    pub fn kept_answer(&self, key: &str) -> Option<&KeptAnswer> {
        self.st.answers.get(key)
    }

    /// Keeps the answer to a request made with `key`: an `AnswerKept` event
    /// to append after the request's own events.
    ///
    /// # Errors
    /// The key is empty, too long or already has an answer today, or the
    /// body is too large.
    pub fn keep_answer(
        &mut self,
        key: &str,
        fingerprint: &str,
        status: u16,
        body: &str,
        now: Millis,
    ) -> Result<Event, EngineError> {
        if key.is_empty() || key.chars().count() > MAX_ANSWER_KEY {
            return Err(EngineError::TooLong(MAX_ANSWER_KEY));
        }
        if body.len() > MAX_ANSWER_BODY {
            return Err(EngineError::TooLong(MAX_ANSWER_BODY));
        }
        if self.st.answers.contains_key(key) {
            return Err(EngineError::Inconsistent(format!(
                "an answer for key {key:?} is kept already"
            )));
        }
        let mut out = Vec::with_capacity(1);
        self.push(
            EventKind::AnswerKept {
                key: key.to_owned(),
                fingerprint: fingerprint.to_owned(),
                status,
                body: body.to_owned(),
            },
            now,
            &mut out,
        )?;
        out.pop()
            .ok_or_else(|| EngineError::Inconsistent("no event for a kept answer".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tests::{config, local, local_on};
    use crate::engine::{Channel, Command, Issue};

    fn hall() -> Hall {
        Hall::new(config())
    }

    fn issue(h: &mut Hall, now: Millis) -> Vec<Event> {
        let z = h.spec().zones[0].clone();
        h.execute(
            &Command::Issue(Issue::normal(z.id, z.services[0].id, Channel::Kiosk)),
            now,
        )
        .unwrap()
    }

    #[test]
    fn a_kept_answer_is_found_by_its_key_and_replays() {
        let mut h = hall();
        let mut events = issue(&mut h, local(9, 0));
        let kept = h.keep_answer("guide k1", "fp", 201, "{\"a\":1}", local(9, 0)).unwrap();
        assert_eq!(kept.seq, h.seq());
        events.push(kept);
        let found = h.kept_answer("guide k1").unwrap();
        assert_eq!(
            (found.status, found.body.as_str(), found.seq),
            (201, "{\"a\":1}", h.seq())
        );
        assert!(h.kept_answer("guide k2").is_none());

        let mut replayed = Hall::new(h.spec().clone());
        for e in &events {
            replayed.apply(e).unwrap();
        }
        assert_eq!(replayed, h);
        let restored = Hall::restore(h.spec().clone(), &h.snapshot()).unwrap();
        assert_eq!(restored, h);
        assert_eq!(restored.kept_answer("guide k1"), h.kept_answer("guide k1"));
    }

    #[test]
    fn a_key_keeps_one_answer_and_a_new_day_forgets_them() {
        let mut h = hall();
        issue(&mut h, local(9, 0));
        h.keep_answer("k", "fp", 200, "{}", local(9, 0)).unwrap();
        let seq = h.seq();
        assert!(matches!(
            h.keep_answer("k", "fp2", 200, "{}", local(9, 0)),
            Err(EngineError::Inconsistent(_))
        ));
        assert!(h.keep_answer("", "fp", 200, "{}", local(9, 0)).is_err());
        assert!(
            h.keep_answer(&"k".repeat(MAX_ANSWER_KEY + 1), "fp", 200, "{}", local(9, 0))
                .is_err()
        );
        assert!(
            h.keep_answer("big", "fp", 200, &" ".repeat(MAX_ANSWER_BODY + 1), local(9, 0))
                .is_err()
        );
        assert_eq!(h.seq(), seq, "a refused answer changes nothing");
        // The next business day.
        issue(&mut h, local_on(25, 9, 0));
        assert!(h.kept_answer("k").is_none());
    }
}
