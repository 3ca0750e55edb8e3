//! A proof of work a hall can ask of phones before it issues them a
//! ticket (`policy.phone_challenge_bits`): each ticket then costs the
//! phone about a second of hashing, and a script that floods a queue a
//! second per fake ticket. The challenge is signed by the server (nothing
//! kept until it is used), names its hall and expires; used once, it is
//! remembered until it expires so it cannot buy a second ticket.
//!
//! The work: find a `nonce` (any text of up to 64 characters) such that
//! SHA-256 of `challenge ":" nonce` begins with `bits` zero bits.

use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use dashmap::DashMap;
use sha2::{Digest, Sha256};

use super::{Keys, mac, same};
use crate::engine::{HallId, Millis};

/// How long a challenge may be answered.
pub const CHALLENGE_MS: i64 = 5 * 60_000;
/// Longest nonce looked at.
const MAX_NONCE: usize = 64;
/// Challenges remembered as used before old ones are dropped early.
const MAX_USED: usize = 200_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    #[error("the challenge is malformed or was not made by this server")]
    Forged,
    #[error("the challenge is for another hall")]
    OtherHall,
    #[error("the challenge has expired: ask for a new one")]
    Expired,
    #[error("the nonce does not solve the challenge")]
    Unsolved,
    #[error("the challenge was used already: ask for a new one")]
    Used,
}

impl Keys {
    /// A fresh challenge for `hall`, good until the time returned.
    ///
    /// # Errors
    /// No randomness from the system.
    pub fn challenge(&self, hall: HallId, now: Millis) -> Result<(String, Millis), getrandom::Error> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce)?;
        let until = now.0 + CHALLENGE_MS;
        let body = format!("{hall}.{until}.{}", B64.encode(nonce));
        let sig = mac(&self.challenge, &[body.as_bytes()]);
        Ok((format!("{body}.{}", B64.encode(&sig[..16])), Millis(until)))
    }

    /// Checks that `challenge` was made here for `hall` and is still good.
    fn open_challenge(&self, challenge: &str, hall: HallId, now: Millis) -> Result<Millis, ChallengeError> {
        let (body, sig) = challenge.rsplit_once('.').ok_or(ChallengeError::Forged)?;
        let sig = B64.decode(sig).map_err(|_| ChallengeError::Forged)?;
        if !same(&mac(&self.challenge, &[body.as_bytes()])[..16], &sig) {
            return Err(ChallengeError::Forged);
        }
        let mut parts = body.split('.');
        let named = parts.next().ok_or(ChallengeError::Forged)?;
        let until: i64 = parts
            .next()
            .and_then(|u| u.parse().ok())
            .ok_or(ChallengeError::Forged)?;
        if named != hall.as_str() {
            return Err(ChallengeError::OtherHall);
        }
        if until <= now.0 {
            return Err(ChallengeError::Expired);
        }
        Ok(Millis(until))
    }
}

/// Whether `nonce` solves `challenge` at `bits`.
pub fn solves(challenge: &str, nonce: &str, bits: u8) -> bool {
    if nonce.len() > MAX_NONCE {
        return false;
    }
    let digest = Sha256::new()
        .chain_update(challenge.as_bytes())
        .chain_update(b":")
        .chain_update(nonce.as_bytes())
        .finalize();
    leading_zero_bits(&digest) >= u32::from(bits)
}

fn leading_zero_bits(bytes: &[u8]) -> u32 {
    let mut n = 0;
    for b in bytes {
        if *b == 0 {
            n += 8;
        } else {
            return n + b.leading_zeros();
        }
    }
    n
}

/// Finds a nonce for `challenge` (what a phone does; tests and the load
/// tool use it).
pub fn solve(challenge: &str, bits: u8) -> String {
    (0u64..)
        .map(|i| i.to_string())
        .find(|n| solves(challenge, n, bits))
        .unwrap_or_default()
}

/// Challenges used, each with what used it, until they expire.
#[derive(Debug, Default)]
pub struct UsedChallenges {
    used: DashMap<String, (Millis, String)>,
}

impl UsedChallenges {
    /// Accepts `nonce` for `challenge` from `requester` (the person and the
    /// request's idempotency key): a retry of the same request passes
    /// again, anyone else is refused.
    ///
    /// # Errors
    /// Why the answer is not accepted.
    pub fn accept(
        &self,
        keys: &Keys,
        (hall, bits): (HallId, u8),
        (challenge, nonce): (&str, &str),
        requester: &str,
        now: Millis,
    ) -> Result<(), ChallengeError> {
        let until = keys.open_challenge(challenge, hall, now)?;
        if !solves(challenge, nonce, bits) {
            return Err(ChallengeError::Unsolved);
        }
        if self.used.len() >= MAX_USED {
            let started = Instant::now();
            self.used.retain(|_, (u, _)| u.0 > now.0);
            tracing::debug!(ms = started.elapsed().as_millis() as u64, "expired challenges dropped");
        }
        match self.used.entry(challenge.to_owned()) {
            dashmap::Entry::Occupied(e) if e.get().1 == requester => Ok(()),
            dashmap::Entry::Occupied(_) => Err(ChallengeError::Used),
            dashmap::Entry::Vacant(e) => {
                e.insert((until, requester.to_owned()));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_is_solved_once_for_its_hall_before_it_expires() {
        let keys = Keys::from_secret(b"0123456789abcdef0123456789abcdef");
        let hall = HallId::new("qiaocheng").unwrap();
        let other = HallId::new("elsewhere").unwrap();
        let now = Millis(1_000_000);
        let (c, until) = keys.challenge(hall, now).unwrap();
        assert_eq!(until.0, now.0 + CHALLENGE_MS);
        let nonce = solve(&c, 12);
        assert!(solves(&c, &nonce, 12));
        let used = UsedChallenges::default();
        let accept = |c: &str, n: &str, who: &str, h: HallId, at: Millis| used.accept(&keys, (h, 12), (c, n), who, at);
        assert_eq!(accept(&c, "not it", "a", hall, now), Err(ChallengeError::Unsolved));
        assert_eq!(accept(&c, &nonce, "a", other, now), Err(ChallengeError::OtherHall));
        assert_eq!(accept(&c, &nonce, "a", hall, until), Err(ChallengeError::Expired));
        let forged = c.replacen("qiaocheng", "qiaochenh", 1);
        assert_eq!(accept(&forged, &nonce, "a", hall, now), Err(ChallengeError::Forged));
        assert_eq!(accept(&c, &nonce, "a", hall, now), Ok(()));
        assert_eq!(accept(&c, &nonce, "a", hall, now), Ok(()), "the same request again");
        assert_eq!(accept(&c, &nonce, "b", hall, now), Err(ChallengeError::Used));
    }

    #[test]
    fn zero_bits_are_counted_across_bytes() {
        assert_eq!(leading_zero_bits(&[0, 0, 0x10, 0xff]), 19);
        assert_eq!(leading_zero_bits(&[0x80]), 0);
        assert_eq!(leading_zero_bits(&[0, 0]), 16);
    }
}
