//! Who may do what. Staff sign in with a password (kept only as an argon2
//! hash in the hall config) and receive a signed token; a citizen's ticket
//! is reached through its own unguessable token; ID and phone numbers are
//! reduced to keyed hashes before they reach the engine.
//!
//! Every token is an HMAC under the server's secret, so nothing needs to be
//! stored per session and tokens survive a restart (the secret is kept in
//! the store: a file beside the journal, or one Redis key that every
//! process shares).

mod challenge;
pub mod directory;
mod gate;
mod limits;
mod pairing;
mod password;
mod secret;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub use challenge::{CHALLENGE_MS, ChallengeError, UsedChallenges, solve, solves};
pub use gate::{FREE_TRIES, Lockouts, NotChecked, PasswordChecks};
pub use limits::{RateLimiter, Rates};
pub use pairing::{Approved, PAIRING_MS, PairingError, Pairings, Poll};
pub use password::{SAMPLE_HASH, hash_password, verify_password};
pub use secret::load_or_create_secret;

use crate::config::{HallConfig, Role};
use crate::engine::{HallId, Millis, PersonKey, TicketNumber, WindowNo};

type HmacSha256 = Hmac<Sha256>;

/// How long a staff sign-in lasts: one working day with margin. Display
/// devices sign in once and stay signed in.
pub const STAFF_SESSION_MS: i64 = 16 * 3_600_000;

/// How long a pass lasts: long enough to open a WebSocket or fetch one
/// announcement with it, short enough that an address kept in a proxy's
/// log is worth nothing.
pub const PASS_MS: i64 = 60_000;

/// The server's secret, from which every signing key is derived.
#[derive(Clone)]
pub struct Keys {
    session: [u8; 32],
    ticket: [u8; 32],
    /// Signs the proof-of-work challenges phones are given.
    challenge: [u8; 32],
    /// Hashes ID and phone numbers: from a key kept outside the store
    /// when one is given (see [`PersonKeys`]), else from the secret.
    person: [u8; 32],
    /// Keys person hashes were made with before a rotation: a person known
    /// under one of them keeps that hash, so today's tickets and booked
    /// appointments still count as theirs.
    earlier_person: Vec<[u8; 32]>,
}

/// The keys for hashing ID and phone numbers, read at start from files
/// outside the store (`--person-key-file`, `--earlier-person-key-file`).
#[derive(Clone, Default)]
pub struct PersonKeys {
    pub current: Option<Vec<u8>>,
    pub earlier: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // An HMAC takes a key of any length: `new_from_slice` cannot fail.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    for p in parts {
        m.update(&(p.len() as u32).to_le_bytes());
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Compares in time independent of where the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A signed-in account, as carried by its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(rename = "h")]
    pub hall: HallId,
    #[serde(rename = "u")]
    pub user: String,
    /// Expiry in Unix milliseconds; 0 never expires.
    #[serde(rename = "x")]
    pub expires: i64,
    /// A device's id: the token is good while the hall keeps that device
    /// (see `engine::devices`).
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// A pass (see [`Keys::pass`]): a short-lived token that may travel in
    /// an address, where a sign-in token may not.
    #[serde(rename = "p", default, skip_serializing_if = "std::ops::Not::not")]
    pub pass: bool,
    /// For a pass: when the session it was made from began (none for a
    /// device), so signing out voids its passes too.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub started: Option<i64>,
    /// A directory sign-in: what the directory's groups granted, as no
    /// local account says it (see [`directory`]).
    #[serde(rename = "g", default, skip_serializing_if = "Option::is_none")]
    pub granted: Option<Granted>,
}

/// What a directory sign-in was granted in a hall when it signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Granted {
    #[serde(rename = "r")]
    pub role: Role,
    #[serde(rename = "w", default)]
    pub windows: Vec<WindowNo>,
    /// How the window and reports name the person (李明（工号0305）).
    #[serde(rename = "l")]
    pub label: String,
}

/// An account after its token was checked against the current configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub hall: HallId,
    pub user: String,
    pub role: Role,
    pub windows: Vec<WindowNo>,
    /// The device it signed in as, for a device account; the caller checks
    /// that the hall still keeps it.
    pub device: Option<String>,
    /// When a person's session began (devices have none): void if the
    /// account signed out everywhere since.
    pub session_started: Option<Millis>,
    /// Signed in with a pass rather than a sign-in token.
    pub by_pass: bool,
    /// How the window and reports name whoever this is.
    pub label: String,
    /// Signed in through the directory rather than a local account.
    pub from_directory: bool,
}

impl Principal {
    pub fn may_operate(&self, window: WindowNo) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Window => self.windows.contains(&window),
            _ => false,
        }
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature does not match (or the account's password has changed since): sign in again")]
    BadSignature,
    #[error("the sign-in has expired: sign in again")]
    Expired,
    #[error("the token is for another hall")]
    OtherHall,
    #[error("the account no longer exists")]
    NoAccount,
    #[error("this device's sign-in is no longer valid: sign it in again")]
    DeviceRevoked,
    #[error("signed out: sign in again")]
    SignedOut,
}

impl Keys {
    pub fn from_secret(secret: &[u8]) -> Keys {
        Keys {
            session: mac(secret, &[b"hallcall session v1"]),
            ticket: mac(secret, &[b"hallcall ticket v1"]),
            challenge: mac(secret, &[b"hallcall challenge v1"]),
            person: mac(secret, &[b"hallcall person v1"]),
            earlier_person: Vec::new(),
        }
    }

    /// As [`Keys::from_secret`], with ID and phone numbers hashed under a
    /// key kept outside the store when `person` names one. The key derived
    /// from the secret (what a store made before had) then stays an earlier
    /// key, so an upgrade keeps today's tickets and booked appointments.
    pub fn with_person_keys(secret: &[u8], person: &PersonKeys) -> Keys {
        let mut keys = Keys::from_secret(secret);
        if let Some(current) = &person.current {
            let derived = keys.person;
            keys.person = mac(current, &[b"hallcall person v2"]);
            keys.earlier_person = person
                .earlier
                .iter()
                .map(|k| mac(k, &[b"hallcall person v2"]))
                .chain(std::iter::once(derived))
                .collect();
        }
        keys
    }

    /// Whether ID and phone numbers are hashed under a key kept outside
    /// the store.
    pub fn person_key_is_external(&self) -> bool {
        !self.earlier_person.is_empty()
    }

    /// A signed token for `claims`, bound to the account's password hash
    /// (or for a directory sign-in, the hall's group mappings): a new
    /// password (a changed configuration) voids every token the account
    /// had, sessions and paired devices alike.
    pub fn sign(&self, claims: &Claims, binding: &str) -> String {
        // Claims hold a string, an id and a number: serializing cannot fail.
        let payload = serde_json::to_vec(claims).expect("claims serialize");
        let sig = mac(&self.session, &[&payload, binding.as_bytes()]);
        format!("{}.{}", B64.encode(&payload), B64.encode(sig))
    }

    /// Checks a token's signature and expiry, and that its account still
    /// exists in `cfg` (its role and windows come from the configuration,
    /// not from the token).
    ///
    /// # Errors
    /// Why the token is not accepted.
    pub fn verify(&self, token: &str, cfg: &HallConfig, now: Millis) -> Result<Principal, TokenError> {
        let (p, s) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let payload = B64.decode(p).map_err(|_| TokenError::Malformed)?;
        let sig = B64.decode(s).map_err(|_| TokenError::Malformed)?;
        // Read before it is checked, to find the account whose password
        // the signature is bound to; nothing else is trusted until then.
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        if claims.hall != cfg.spec.id {
            return Err(TokenError::OtherHall);
        }
        // A local account always wins over a directory person of that name.
        let (role, windows, label, binding) = match (&claims.granted, cfg.account(&claims.user)) {
            (None, Some(a)) => (
                a.role,
                a.windows.clone(),
                a.card.label(&a.user),
                a.password_hash.clone(),
            ),
            (Some(g), None) if !cfg.directory_groups.is_empty() => {
                (g.role, g.windows.clone(), g.label.clone(), cfg.directory_binding())
            }
            _ => return Err(TokenError::NoAccount),
        };
        if !same(&mac(&self.session, &[&payload, binding.as_bytes()]), &sig) {
            return Err(TokenError::BadSignature);
        }
        if claims.expires != 0 && claims.expires <= now.0 {
            return Err(TokenError::Expired);
        }
        // A device account's token names its device, a person's never does
        // (a token from before device sign-ins, or a role changed since).
        if role.is_device() != claims.device.is_some() {
            return Err(TokenError::DeviceRevoked);
        }
        Ok(Principal {
            hall: cfg.spec.id,
            user: claims.user,
            role,
            windows,
            session_started: if claims.pass {
                claims.started.map(Millis)
            } else {
                (claims.expires != 0).then(|| Millis(claims.expires - STAFF_SESSION_MS))
            },
            device: claims.device,
            by_pass: claims.pass,
            label,
            from_directory: claims.granted.is_some(),
        })
    }

    /// A pass for `p`'s session: good for [`PASS_MS`] from `now`, for
    /// what the session may do, and void with it (a new password, a
    /// sign-out, a revoked device).
    ///
    /// # Errors
    /// The account is gone from `cfg`.
    pub fn pass(&self, p: &Principal, cfg: &HallConfig, now: Millis) -> Result<String, TokenError> {
        let (granted, binding) = if p.from_directory {
            let granted = Granted {
                role: p.role,
                windows: p.windows.clone(),
                label: p.label.clone(),
            };
            (Some(granted), cfg.directory_binding())
        } else {
            let account = cfg.account(&p.user).ok_or(TokenError::NoAccount)?;
            (None, account.password_hash.clone())
        };
        Ok(self.sign(
            &Claims {
                hall: p.hall,
                user: p.user.clone(),
                expires: now.0 + PASS_MS,
                device: p.device.clone(),
                pass: true,
                started: p.session_started.map(|m| m.0),
                granted,
            },
            &binding,
        ))
    }

    /// The citizen's token for one ticket: names it and proves it was
    /// handed out by this server.
    pub fn ticket_token(&self, hall: HallId, day: jiff::civil::Date, number: TicketNumber) -> String {
        let body = format!("{hall}.{}.{number}", day.strftime("%Y%m%d"));
        let sig = mac(&self.ticket, &[body.as_bytes()]);
        format!("{body}.{}", B64.encode(&sig[..16]))
    }

    /// The ticket a citizen's token names, if its signature is right.
    pub fn open_ticket_token(&self, token: &str) -> Option<TicketRef> {
        let (body, sig) = token.rsplit_once('.')?;
        let sig = B64.decode(sig).ok()?;
        if !same(&mac(&self.ticket, &[body.as_bytes()])[..16], &sig) {
            return None;
        }
        let mut parts = body.split('.');
        let hall = HallId::new(parts.next()?).ok()?;
        let day = jiff::civil::Date::strptime("%Y%m%d", parts.next()?).ok()?;
        let number = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(TicketRef { hall, day, number })
    }

    /// A person's key: a keyed hash of an ID or phone number, so the number
    /// itself is never stored and cannot be recovered from a stolen store
    /// without the secret.
    pub fn person_key(&self, id: &str) -> PersonKey {
        person_hash(&self.person, &normal_id(id))
    }

    /// The person's hash under each earlier key, newest first (see
    /// [`Keys::with_person_keys`]).
    pub fn earlier_person_keys(&self, id: &str) -> Vec<PersonKey> {
        let normal = normal_id(id);
        self.earlier_person.iter().map(|k| person_hash(k, &normal)).collect()
    }
}

fn normal_id(id: &str) -> String {
    id.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn person_hash(key: &[u8], normal: &str) -> PersonKey {
    let m = mac(key, &[normal.as_bytes()]);
    let mut k = [0u8; 16];
    k.copy_from_slice(&m[..16]);
    PersonKey(u128::from_le_bytes(k))
}

/// A ticket named by a citizen's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketRef {
    pub hall: HallId,
    pub day: jiff::civil::Date,
    pub number: TicketNumber,
}

#[cfg(test)]
mod tests;
