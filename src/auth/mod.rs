//! Who may do what. Staff sign in with a password (kept only as an argon2
//! hash in the hall config) and receive a signed token; a citizen's ticket
//! is reached through its own unguessable token; ID and phone numbers are
//! reduced to keyed hashes before they reach the engine.
//!
//! Every token is an HMAC under the server's secret, so nothing needs to be
//! stored per session and tokens survive a restart (the secret is kept in
//! the store: a file beside the journal, or one Redis key that every
//! process shares).

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

/// The server's secret, from which every signing key is derived.
#[derive(Clone)]
pub struct Keys {
    session: [u8; 32],
    ticket: [u8; 32],
    person: [u8; 32],
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
            person: mac(secret, &[b"hallcall person v1"]),
        }
    }

    /// A signed token for `claims`, bound to the account's password hash:
    /// a new password (a changed configuration) voids every token the
    /// account had, sessions and paired devices alike.
    pub fn sign(&self, claims: &Claims, password_hash: &str) -> String {
        // Claims hold a string, an id and a number: serializing cannot fail.
        let payload = serde_json::to_vec(claims).expect("claims serialize");
        let sig = mac(&self.session, &[&payload, password_hash.as_bytes()]);
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
        let account = cfg.account(&claims.user).ok_or(TokenError::NoAccount)?;
        if !same(&mac(&self.session, &[&payload, account.password_hash.as_bytes()]), &sig) {
            return Err(TokenError::BadSignature);
        }
        if claims.expires != 0 && claims.expires <= now.0 {
            return Err(TokenError::Expired);
        }
        // A device account's token names its device, a person's never does
        // (a token from before device sign-ins, or a role changed since).
        if account.role.is_device() != claims.device.is_some() {
            return Err(TokenError::DeviceRevoked);
        }
        Ok(Principal {
            hall: cfg.spec.id,
            user: account.user.clone(),
            role: account.role,
            windows: account.windows.clone(),
            device: claims.device,
            session_started: (claims.expires != 0).then(|| Millis(claims.expires - STAFF_SESSION_MS)),
        })
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
        let normal: String = id
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let m = mac(&self.person, &[normal.as_bytes()]);
        let mut k = [0u8; 16];
        k.copy_from_slice(&m[..16]);
        PersonKey(u128::from_le_bytes(k))
    }
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
