//! Pairing a device that has no keyboard worth the name (an LED strip, a
//! wall screen): it asks for a pairing, shows the short code it gets, and
//! waits; someone signed in on the supervisor board types that code and
//! chooses the device account it acts as; the device's next poll receives
//! its sign-in. The code is useless without a signed-in supervisor, and the
//! device's poll is by a long secret only it holds.
//!
//! Pending pairings live in this process only and for minutes: after a
//! restart a device simply shows a new code. Times are given by the
//! caller, so this is tested without a clock.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::engine::{HallId, Millis};

/// How long a code can be entered after the device asked for it.
pub const PAIRING_MS: i64 = 10 * 60_000;
/// At most this many pairings wait per hall at once.
pub const MAX_PENDING: usize = 32;

/// What a device receives once its pairing is approved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approved<T> {
    pub device: String,
    pub session: T,
}

#[derive(Debug)]
struct Pending<T> {
    hall: HallId,
    code: String,
    name: String,
    asked_at: Millis,
    approved: Option<Approved<T>>,
}

/// What a device's poll learns.
#[derive(Debug, PartialEq, Eq)]
pub enum Poll<T> {
    /// Still waiting for its code to be entered, until `expires_at`.
    Waiting { code: String, expires_at: Millis },
    /// Approved: the sign-in, handed over once.
    Approved(Approved<T>),
    /// Expired, handed over already, or never asked for.
    Unknown,
}

/// Why a pairing could not start or be approved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairingError {
    #[error("too many devices are waiting to be paired in this hall: try again in a few minutes")]
    Full,
    #[error("no device is waiting with code {0}: check the code on the device's screen")]
    NoSuchCode(String),
    #[error("no randomness for a pairing: {0}")]
    NoRandomness(String),
}

/// Pending pairings, by the device's secret.
#[derive(Debug)]
pub struct Pairings<T> {
    pending: Mutex<HashMap<String, Pending<T>>>,
}

impl<T> Default for Pairings<T> {
    fn default() -> Self {
        Pairings {
            pending: Mutex::new(HashMap::new()),
        }
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N], PairingError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| PairingError::NoRandomness(e.to_string()))?;
    Ok(b)
}

impl<T: Clone> Pairings<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending<T>>> {
        // A panic while holding this lock leaves a map of plain values.
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A device of `hall` asks to be paired: its code (six digits, to show)
    /// and its secret (to poll with).
    ///
    /// # Errors
    /// Too many pairings wait in the hall.
    pub fn start(&self, hall: HallId, name: &str, now: Millis) -> Result<(String, String), PairingError> {
        let mut pending = self.lock();
        pending.retain(|_, p| now.0 < p.asked_at.0 + PAIRING_MS);
        if pending.values().filter(|p| p.hall == hall).count() >= MAX_PENDING {
            return Err(PairingError::Full);
        }
        // The hall leads the secret, so any node of several can pass the
        // device's poll to the node that holds the pairing (the hall's).
        let random: String = random_bytes::<24>()?.iter().map(|b| format!("{b:02x}")).collect();
        let secret = format!("{hall}.{random}");
        let code = loop {
            let n = u32::from_le_bytes(random_bytes::<4>()?) % 1_000_000;
            let code = format!("{n:06}");
            if !pending.values().any(|p| p.hall == hall && p.code == code) {
                break code;
            }
        };
        pending.insert(
            secret.clone(),
            Pending {
                hall,
                code: code.clone(),
                name: name.to_owned(),
                asked_at: now,
                approved: None,
            },
        );
        Ok((code, secret))
    }

    /// The device's name, for the waiting pairing with `code` in `hall`.
    ///
    /// # Errors
    /// No such code is waiting (never, expired, or approved already).
    pub fn waiting(&self, hall: HallId, code: &str, now: Millis) -> Result<String, PairingError> {
        self.lock()
            .values()
            .find(|p| p.hall == hall && p.code == code && p.approved.is_none() && now.0 < p.asked_at.0 + PAIRING_MS)
            .map(|p| p.name.clone())
            .ok_or_else(|| PairingError::NoSuchCode(code.to_owned()))
    }

    /// Hands `approved` to the device waiting with `code`.
    ///
    /// # Errors
    /// No such code is waiting any more.
    pub fn approve(&self, hall: HallId, code: &str, approved: Approved<T>, now: Millis) -> Result<(), PairingError> {
        let mut pending = self.lock();
        let p = pending
            .values_mut()
            .find(|p| p.hall == hall && p.code == code && p.approved.is_none() && now.0 < p.asked_at.0 + PAIRING_MS)
            .ok_or_else(|| PairingError::NoSuchCode(code.to_owned()))?;
        p.approved = Some(approved);
        Ok(())
    }

    /// What the device with `secret` learns now; an approval is handed
    /// over once.
    pub fn poll(&self, secret: &str, now: Millis) -> Poll<T> {
        let mut pending = self.lock();
        let Some(p) = pending.get(secret) else {
            return Poll::Unknown;
        };
        // An approved sign-in waits for its device a little longer than a
        // code does, so one approved at the last second still arrives.
        let expires_at = Millis(p.asked_at.0 + PAIRING_MS);
        match &p.approved {
            None if now < expires_at => Poll::Waiting {
                code: p.code.clone(),
                expires_at,
            },
            Some(_) if now.0 < expires_at.0 + PAIRING_MS => match pending.remove(secret).and_then(|p| p.approved) {
                Some(a) => Poll::Approved(a),
                None => Poll::Unknown,
            },
            _ => {
                pending.remove(secret);
                Poll::Unknown
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hall(s: &str) -> HallId {
        HallId::new(s).unwrap()
    }

    fn approved(device: &str) -> Approved<&'static str> {
        Approved {
            device: device.into(),
            session: "token",
        }
    }

    #[test]
    fn a_code_entered_in_time_hands_the_sign_in_to_its_device_once() {
        let p = Pairings::default();
        let (code, secret) = p.start(hall("a"), "东门 LED", Millis(0)).unwrap();
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        assert!(secret.starts_with("a.") && secret.len() == 2 + 48, "{secret}");
        assert_eq!(
            p.poll(&secret, Millis(1_000)),
            Poll::Waiting {
                code: code.clone(),
                expires_at: Millis(PAIRING_MS)
            }
        );
        // Another hall's supervisor cannot approve it.
        assert!(p.waiting(hall("b"), &code, Millis(1)).is_err());
        assert_eq!(p.waiting(hall("a"), &code, Millis(1)).unwrap(), "东门 LED");
        p.approve(hall("a"), &code, approved("dev-1"), Millis(2_000)).unwrap();
        // Approved once: the code cannot be used again.
        assert!(p.approve(hall("a"), &code, approved("dev-2"), Millis(2_000)).is_err());
        assert_eq!(p.poll(&secret, Millis(3_000)), Poll::Approved(approved("dev-1")));
        assert_eq!(p.poll(&secret, Millis(3_000)), Poll::Unknown);
        assert_eq!(p.poll("guess", Millis(3_000)), Poll::Unknown);
    }

    #[test]
    fn a_code_expires_and_a_hall_has_a_bounded_number_waiting() {
        let p = Pairings::default();
        let (code, secret) = p.start(hall("a"), "", Millis(0)).unwrap();
        assert!(p.approve(hall("a"), &code, approved("d"), Millis(PAIRING_MS)).is_err());
        assert_eq!(p.poll(&secret, Millis(PAIRING_MS)), Poll::Unknown);

        for _ in 0..MAX_PENDING {
            p.start(hall("a"), "", Millis(PAIRING_MS)).unwrap();
        }
        assert_eq!(p.start(hall("a"), "", Millis(PAIRING_MS)), Err(PairingError::Full));
        // Other halls are not affected, and expired ones make room.
        p.start(hall("b"), "", Millis(PAIRING_MS)).unwrap();
        p.start(hall("a"), "", Millis(2 * PAIRING_MS)).unwrap();
    }
}
