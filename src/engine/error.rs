//! The engine's refusals. Each is a domain answer ("that window is paused"),
//! cheap to build and matched by the HTTP layer to a 4xx status.

use super::ids::{Code, TicketNumber, WindowNo, ZoneId};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// A configuration change that cannot be made now, and why.
    #[error("{0}")]
    ConfigRefused(String),
    #[error("unknown zone {0}")]
    UnknownZone(Code),
    #[error("zone {zone} has no service {service}")]
    UnknownService { zone: Code, service: Code },
    #[error("unknown priority category {0}")]
    UnknownCategory(Code),
    #[error("unknown window {0}")]
    UnknownWindow(WindowNo),
    #[error("no ticket {0} today")]
    UnknownTicket(TicketNumber),
    #[error("zone {zone} is not issuing tickets now{}", opens.as_ref().map_or_else(
        || " (outside its opening hours)".to_owned(),
        |o| format!("; it opens at {o} (local time)")
    ))]
    ZoneClosed {
        zone: Code,
        /// When it next opens, local time: `HH:MM` later the same business
        /// day, else `YYYY-MM-DD HH:MM`; none within two weeks: `None`.
        opens: Option<String>,
    },
    #[error("this person already has a ticket waiting for that service ({0})")]
    AlreadyWaiting(TicketNumber),
    #[error("appointment slot ends before it starts, or is already over")]
    BadAppointment,
    #[error("window {0} is closed")]
    WindowClosed(WindowNo),
    #[error("window {0} is already open")]
    WindowAlreadyOpen(WindowNo),
    #[error("window {0} is paused")]
    WindowPaused(WindowNo),
    #[error("window {0} is not paused")]
    WindowNotPaused(WindowNo),
    #[error("a pause lasts 1 to {max} minutes, not {0}", max = super::window::MAX_PAUSE_MINUTES)]
    BadPause(u16),
    #[error("window {window} already has ticket {ticket} in hand")]
    WindowBusy { window: WindowNo, ticket: TicketNumber },
    #[error("window {0} has no ticket in hand")]
    NothingInHand(WindowNo),
    #[error("nobody is waiting for window {0}")]
    QueueEmpty(WindowNo),
    #[error("no such alert is up")]
    NoSuchAlert,
    #[error("the alert was already acknowledged")]
    AlreadyAcknowledged,
    #[error("ticket {0} has already been rated")]
    AlreadyRated(TicketNumber),
    #[error("ticket {0} has no bad rating to follow up")]
    NoBadRating(TicketNumber),
    #[error("the follow-up step {step} of ticket {ticket} is already recorded")]
    FollowUpDone { ticket: TicketNumber, step: &'static str },
    #[error("zone {zone} has {limit} phone tickets waiting, as many as it takes: take one at the hall")]
    PhoneTicketsFull { zone: ZoneId, limit: u32 },
    #[error("a comment or note is at most {0} characters")]
    TooLong(usize),
    #[error("text may not hold the character U+{:04X} (control, bidirectional or zero-width)", *.0 as u32)]
    BadText(char),
    #[error("ticket {ticket} is {state}, not {expected}")]
    WrongState {
        ticket: TicketNumber,
        state: &'static str,
        expected: &'static str,
    },
    #[error("window {window} does not serve ticket {ticket}")]
    NotServedHere { window: WindowNo, ticket: TicketNumber },
    #[error("ticket {0} has been recalled the maximum number of times")]
    RecallLimit(TicketNumber),
    #[error("ticket {0} is already in that queue")]
    SameQueue(TicketNumber),
    #[error("ticket number {0} is already taken today")]
    NumberTaken(TicketNumber),
    #[error("no appointment {0}")]
    UnknownBooking(Code),
    #[error("appointment code {0} is already taken")]
    BookingTaken(Code),
    #[error("this person already has an appointment that day")]
    AlreadyBooked,
    #[error("appointment {code} is {state}")]
    BookingClosed { code: Code, state: &'static str },
    #[error("appointment {code} is for {day}, not today")]
    NotBookingDay { code: Code, day: jiff::civil::Date },
    /// An engine bug: a decided event did not apply. Nothing was changed.
    #[error("{0}")]
    BadDevice(String),
    #[error("no device {0} is signed in")]
    UnknownDevice(String),
    #[error("a hall keeps at most {0} devices signed in: revoke some first")]
    TooManyDevices(usize),
    /// The outbox's record cannot take this (see `outbox`).
    #[error("{0}")]
    BadOutbox(String),
    #[error("internal inconsistency: {0}")]
    Inconsistent(String),
}

impl EngineError {
    /// A stable, machine-readable name for the refusal.
    /// When a closed zone opens again, if the refusal says.
    pub fn opens(&self) -> Option<&str> {
        match self {
            EngineError::ZoneClosed { opens, .. } => opens.as_deref(),
            _ => None,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            EngineError::ConfigRefused(_) => "config_refused",
            EngineError::UnknownZone(_) => "unknown_zone",
            EngineError::UnknownService { .. } => "unknown_service",
            EngineError::UnknownCategory(_) => "unknown_category",
            EngineError::UnknownWindow(_) => "unknown_window",
            EngineError::UnknownTicket(_) => "unknown_ticket",
            EngineError::ZoneClosed { .. } => "zone_closed",
            EngineError::AlreadyWaiting(_) => "already_waiting",
            EngineError::BadAppointment => "bad_appointment",
            EngineError::WindowClosed(_) => "window_closed",
            EngineError::WindowAlreadyOpen(_) => "window_already_open",
            EngineError::WindowPaused(_) => "window_paused",
            EngineError::WindowNotPaused(_) => "window_not_paused",
            EngineError::BadPause(_) => "bad_pause",
            EngineError::WindowBusy { .. } => "window_busy",
            EngineError::NothingInHand(_) => "nothing_in_hand",
            EngineError::QueueEmpty(_) => "queue_empty",
            EngineError::WrongState { .. } => "wrong_state",
            EngineError::AlreadyRated(_) => "already_rated",
            EngineError::NoSuchAlert => "no_such_alert",
            EngineError::AlreadyAcknowledged => "already_acknowledged",
            EngineError::NoBadRating(_) => "no_bad_rating",
            EngineError::FollowUpDone { .. } => "follow_up_done",
            EngineError::TooLong(_) => "too_long",
            EngineError::BadText(_) => "bad_text",
            EngineError::PhoneTicketsFull { .. } => "phone_tickets_full",
            EngineError::NotServedHere { .. } => "not_served_here",
            EngineError::RecallLimit(_) => "recall_limit",
            EngineError::SameQueue(_) => "same_queue",
            EngineError::NumberTaken(_) => "number_taken",
            EngineError::UnknownBooking(_) => "unknown_booking",
            EngineError::BookingTaken(_) => "booking_taken",
            EngineError::AlreadyBooked => "already_booked",
            EngineError::BookingClosed { .. } => "booking_closed",
            EngineError::NotBookingDay { .. } => "not_booking_day",
            EngineError::BadDevice(_) => "bad_device",
            EngineError::UnknownDevice(_) => "unknown_device",
            EngineError::TooManyDevices(_) => "too_many_devices",
            EngineError::BadOutbox(_) => "bad_outbox",
            EngineError::Inconsistent(_) => "inconsistent",
        }
    }
}

/// An event that does not fit the state it is applied to: only possible for
/// events that did not come from this engine (a corrupt or foreign store).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("event {seq} cannot be applied: {problem}")]
pub struct ReplayError {
    pub seq: u64,
    pub problem: String,
}
