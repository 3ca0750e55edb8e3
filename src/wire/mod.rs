//! What leaves the process: every document HTTP and WebSocket clients
//! receive (and the bodies they send), defined here apart from the
//! engine's types and built from them by naming each field that may go
//! out. A field the engine gains reaches nobody until a type here names
//! it, and a variant it gains does not compile until one here decides
//! where it goes.
//!
//! Per audience:
//!
//! - **staff** (guide desk, window consoles, supervisors, administrators):
//!   the hall as staff work with it, without a person's key or an
//!   appointment's code on the live feed;
//! - **display** (hall and window screens, LED boards, anything signed in
//!   as a `display`): what a public screen shows, no more: no priority
//!   group (why someone is in the green channel), no ratings, comments,
//!   follow-ups or alerts, no channel, no call mechanics;
//! - **citizen** (the ticket page behind a slip's QR code): their own
//!   ticket, without staff's notes on it.
//!
//! - `vocab`: the small enums (lanes, states, reasons, ratings) as words;
//! - `view`: zones, queues, windows, tickets, alerts, ratings, bookings;
//! - `event`: events, per audience;
//! - `live`: the live protocol's messages (docs/protocol.md);
//! - `input`: the bodies clients send, whitelisted the same way;
//! - `schema`: how ids and instants appear in the OpenAPI document.

pub mod event;
pub mod input;
pub mod live;
pub mod schema;
pub mod view;
pub mod vocab;

use serde::Serialize;

use crate::config::Role;

#[cfg(test)]
mod tests;

/// Who a document is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    Staff,
    Display,
}

impl Audience {
    /// The audience of a signed-in account.
    pub fn of(role: Role) -> Audience {
        match role {
            // Kiosks and evaluators stand in the public hall: they read
            // what a public screen reads.
            Role::Display | Role::Kiosk | Role::Evaluator => Audience::Display,
            Role::Admin | Role::Supervisor | Role::Guide | Role::Window => Audience::Staff,
        }
    }
}

/// The JSON text of a wire document.
pub fn to_json<T: Serialize>(v: &T) -> String {
    // Wire documents hold strings, numbers and ids only: no map with
    // non-string keys, no failing Serialize impl.
    serde_json::to_string(v).expect("wire documents serialize")
}
