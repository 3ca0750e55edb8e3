//! What a subscriber watches, and in which format.

use crate::engine::HallSpec;
use crate::engine::{TicketNumber, WindowNo};

/// The part of a hall a connection receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything: hall screens and the supervisor.
    Hall,
    /// One zone (by index): its figures, queue, calls and windows.
    Zone(usize),
    /// One window (by index and number): window screens and LED strips.
    Window(usize, WindowNo),
    /// One ticket: the citizen's page.
    Ticket(TicketNumber),
}

/// How frames are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON documents (docs/protocol.md).
    Json,
    /// Short plain-text lines for LED controllers: `A023 5号窗口`.
    Led,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope {0:?} is not hall, zone:ID or window:N")]
    Malformed(String),
    #[error("no zone {0:?} in this hall")]
    UnknownZone(String),
    #[error("no window {0:?} in this hall")]
    UnknownWindow(String),
    #[error("format {0:?} is not json or led")]
    Format(String),
}

impl Scope {
    /// Parses `hall`, `zone:ID` or `window:N` against the hall's configuration.
    ///
    /// # Errors
    /// Malformed, or naming a zone or window the hall does not have.
    pub fn parse(s: &str, cfg: &HallSpec) -> Result<Scope, ScopeError> {
        match s.split_once(':') {
            None if s == "hall" || s.is_empty() => Ok(Scope::Hall),
            Some(("zone", id)) => crate::engine::ZoneId::new(id)
                .ok()
                .and_then(|z| cfg.zone_index(z))
                .map(Scope::Zone)
                .ok_or_else(|| ScopeError::UnknownZone(id.to_owned())),
            Some(("window", n)) => n
                .parse::<WindowNo>()
                .ok()
                .and_then(|n| cfg.window_index(n).map(|i| Scope::Window(i, n)))
                .ok_or_else(|| ScopeError::UnknownWindow(n.to_owned())),
            _ => Err(ScopeError::Malformed(s.to_owned())),
        }
    }
}

impl Format {
    /// # Errors
    /// Neither `json` nor `led`.
    pub fn parse(s: &str) -> Result<Format, ScopeError> {
        match s {
            "" | "json" => Ok(Format::Json),
            "led" => Ok(Format::Led),
            _ => Err(ScopeError::Format(s.to_owned())),
        }
    }
}
