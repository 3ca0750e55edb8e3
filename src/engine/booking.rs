//! Appointments (预约) booked ahead by an online booking system or at the
//! desk, and checked in by their code on the day for a ticket in the
//! appointment lane. Unlike tickets they outlive the business day: a hall
//! keeps them from booking until a month after their day.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::ids::{Code, Millis, PersonKey, ServiceId, TicketNumber, ZoneId};

/// Bookings are kept this many days after their day, then forgotten.
pub const KEEP_DAYS: i64 = 31;

/// One appointment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    pub code: Code,
    /// The business day of its slot.
    pub day: Date,
    pub zone: ZoneId,
    pub service: ServiceId,
    pub slot_start: Millis,
    pub slot_end: Millis,
    /// The keyed hash of the citizen's ID or phone number: one booking per
    /// person and day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<PersonKey>,
    pub booked_at: Millis,
    pub state: BookingState,
}

/// Where a booking is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BookingState {
    Booked,
    CheckedIn {
        ticket: TicketNumber,
        at: Millis,
    },
    Cancelled {
        at: Millis,
    },
    /// Its day ended without a check-in (recorded at the next day's start).
    Missed,
}

impl BookingState {
    pub fn name(&self) -> &'static str {
        match self {
            BookingState::Booked => "booked",
            BookingState::CheckedIn { .. } => "checked_in",
            BookingState::Cancelled { .. } => "cancelled",
            BookingState::Missed => "missed",
        }
    }
}

/// A booking as staff see it (without the person's key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BookingView {
    pub code: Code,
    pub day: Date,
    pub zone: ZoneId,
    pub service: ServiceId,
    pub slot_start: Millis,
    pub slot_end: Millis,
    pub booked_at: Millis,
    #[serde(flatten)]
    pub state: BookingState,
}

impl From<&Booking> for BookingView {
    fn from(b: &Booking) -> BookingView {
        BookingView {
            code: b.code,
            day: b.day,
            zone: b.zone,
            service: b.service,
            slot_start: b.slot_start,
            slot_end: b.slot_end,
            booked_at: b.booked_at,
            state: b.state,
        }
    }
}
