//! Who did what, for the supervisor's audit log: sign-ins (refused ones
//! counted together), sign-outs and revocations, and the supervisor's
//! actions on tickets and windows. The engine keeps nothing of a note: it
//! is an event in the hall's log, durable with the action it records (the
//! shell appends it to the same batch) and read back by day.

use serde::{Deserialize, Serialize};

use super::error::EngineError;
use super::event::{Event, EventKind};
use super::hall::Hall;
use super::ids::Millis;

/// Longest name, address or target a note keeps.
pub const MAX_AUDIT_TEXT: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    SignedIn,
    /// Wrong passwords (or unknown names) from one address for one name,
    /// counted over a minute.
    SignInRefused,
    SignedOut,
    /// An administrator ended an account's sessions.
    AccountSignedOut,
    DevicePaired,
    DeviceRevoked,
    TicketCancelled,
    TicketReactivated,
    TicketMoved,
    PhoneTicketsCancelled,
    WindowClosed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditNote {
    pub action: AuditAction,
    /// The account that acted; for a refused sign-in, the name tried.
    pub who: String,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// What it acted on: a ticket, a window, an account, a device, a zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// How many times (refused sign-ins); 1 otherwise.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_one(n: &u32) -> bool {
    *n == 1
}

impl AuditNote {
    pub fn new(action: AuditAction, who: &str, address: Option<String>, target: Option<String>) -> AuditNote {
        AuditNote {
            action,
            who: who.to_owned(),
            address,
            target,
            count: 1,
        }
    }

    pub(super) fn check(&self) -> Result<(), EngineError> {
        let long = |s: &str| s.chars().count() > MAX_AUDIT_TEXT || super::text::first_forbidden(s).is_some();
        if self.who.is_empty()
            || long(&self.who)
            || self.address.as_deref().is_some_and(long)
            || self.target.as_deref().is_some_and(long)
            || self.count == 0
        {
            return Err(EngineError::TooLong(MAX_AUDIT_TEXT));
        }
        Ok(())
    }
}

impl Hall {
    /// The event that records `note`, to append after the events of the
    /// action it is about (or alone, for a sign-in).
    ///
    /// # Errors
    /// A name, address or target that is empty, too long or holds
    /// characters free text may not.
    pub fn audit(&mut self, note: AuditNote, now: Millis) -> Result<Event, EngineError> {
        note.check()?;
        let mut out = Vec::with_capacity(1);
        self.push(EventKind::Audited(note), now, &mut out)?;
        out.pop()
            .ok_or_else(|| EngineError::Inconsistent("no audit event was made".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_bounded_and_plain_text() {
        let ok = AuditNote::new(AuditAction::SignedIn, "w1", Some("10.0.0.7".into()), None);
        assert!(ok.check().is_ok());
        for bad in [
            AuditNote::new(AuditAction::SignedIn, "", None, None),
            AuditNote::new(AuditAction::SignedIn, &"x".repeat(65), None, None),
            AuditNote::new(AuditAction::SignInRefused, "a\u{202E}b", None, None),
            AuditNote { count: 0, ..ok.clone() },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        let json = serde_json::to_string(&ok).unwrap();
        assert_eq!(json, r#"{"action":"signed_in","who":"w1","address":"10.0.0.7"}"#);
        let back: AuditNote = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ok);
    }
}
