//! What clients send that reaches the engine as it is: the administrator's
//! generic command. Named field by field like what goes out, so the
//! engine's own fields that must never come from outside (a person's key,
//! which comes only from a hashed ID number; a ticket number, which comes
//! from the store) cannot be sent.

use serde::Deserialize;
use utoipa::ToSchema;

use super::vocab::{AlertKind, AlertTarget, Channel, FollowUpStep, PauseReason, Rating, Target};
use crate::engine::{self, CategoryId, Code, Millis, ServiceId, TicketNumber, WindowNo, ZoneId};

/// The lane asked for when issuing.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LaneRequest {
    Normal,
    Priority {
        #[schema(value_type = super::schema::Id)]
        category: CategoryId,
    },
    Appointment {
        #[schema(value_type = super::schema::Instant)]
        slot_start: Millis,
        #[schema(value_type = super::schema::Instant)]
        slot_end: Millis,
    },
}

impl From<LaneRequest> for engine::LaneRequest {
    fn from(l: LaneRequest) -> engine::LaneRequest {
        match l {
            LaneRequest::Normal => engine::LaneRequest::Normal,
            LaneRequest::Priority { category } => engine::LaneRequest::Priority { category },
            LaneRequest::Appointment { slot_start, slot_end } => {
                engine::LaneRequest::Appointment { slot_start, slot_end }
            }
        }
    }
}

/// Any operation on a hall, tagged by `op` (administrators: scripts and
/// repairs; the per-resource routes are what pages use).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    Issue {
        #[schema(value_type = super::schema::Id)]
        zone: ZoneId,
        #[schema(value_type = super::schema::Id)]
        service: ServiceId,
        lane: LaneRequest,
        channel: Channel,
    },
    CallNext {
        window: WindowNo,
    },
    CallTicket {
        window: WindowNo,
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
    },
    Recall {
        window: WindowNo,
    },
    Skip {
        window: WindowNo,
    },
    Start {
        window: WindowNo,
    },
    Finish {
        window: WindowNo,
    },
    Transfer {
        window: WindowNo,
        to: Target,
    },
    Hold {
        window: WindowNo,
    },
    CallBack {
        window: WindowNo,
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
    },
    Cancel {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
    },
    Reactivate {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
    },
    Move {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        to: Target,
    },
    Pause {
        window: WindowNo,
        reason: PauseReason,
        /// Expected length in minutes (1 to 480), if staff say.
        #[serde(default)]
        minutes: Option<u16>,
    },
    Resume {
        window: WindowNo,
    },
    Open {
        window: WindowNo,
        #[serde(default)]
        staff: Option<String>,
    },
    Close {
        window: WindowNo,
    },
    SetAutoCall {
        window: WindowNo,
        on: bool,
    },
    Rate {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        level: Rating,
        #[serde(default)]
        comment: Option<String>,
    },
    FollowUp {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        step: FollowUpStep,
        note: String,
    },
    AcknowledgeAlert {
        alert: AlertKind,
        target: AlertTarget,
        by: String,
    },
    Book {
        #[schema(value_type = super::schema::Id)]
        code: Code,
        #[schema(value_type = super::schema::Id)]
        zone: ZoneId,
        #[schema(value_type = super::schema::Id)]
        service: ServiceId,
        #[schema(value_type = super::schema::Instant)]
        slot_start: Millis,
        #[schema(value_type = super::schema::Instant)]
        slot_end: Millis,
    },
    CancelBooking {
        #[schema(value_type = super::schema::Id)]
        code: Code,
    },
    CheckIn {
        #[schema(value_type = super::schema::Id)]
        code: Code,
        channel: Channel,
    },
    /// The passing of time (the day's rollover, due appointments).
    Tick,
}

impl From<Command> for engine::Command {
    fn from(c: Command) -> engine::Command {
        use engine::Command as C;
        match c {
            Command::Issue {
                zone,
                service,
                lane,
                channel,
            } => C::Issue(engine::Issue {
                zone,
                service,
                lane: lane.into(),
                channel: channel.into(),
                person: None,
                number: None,
                notice: None,
            }),
            Command::CallNext { window } => C::CallNext { window },
            Command::CallTicket { window, ticket } => C::CallTicket { window, ticket },
            Command::Recall { window } => C::Recall { window },
            Command::Skip { window } => C::Skip { window },
            Command::Start { window } => C::Start { window },
            Command::Finish { window } => C::Finish { window },
            Command::Transfer { window, to } => C::Transfer { window, to: to.into() },
            Command::Hold { window } => C::Hold { window },
            Command::CallBack { window, ticket } => C::CallBack { window, ticket },
            Command::Cancel { ticket } => C::Cancel { ticket },
            Command::Reactivate { ticket } => C::Reactivate { ticket },
            Command::Move { ticket, to } => C::Move { ticket, to: to.into() },
            Command::Pause {
                window,
                reason,
                minutes,
            } => C::Pause {
                window,
                reason: reason.into(),
                minutes,
            },
            Command::Resume { window } => C::Resume { window },
            Command::Open { window, staff } => C::Open { window, staff },
            Command::Close { window } => C::Close { window },
            Command::SetAutoCall { window, on } => C::SetAutoCall { window, on },
            Command::Rate { ticket, level, comment } => C::Rate {
                ticket,
                level: level.into(),
                comment,
            },
            Command::FollowUp { ticket, step, note } => C::FollowUp {
                ticket,
                step: step.into(),
                note,
            },
            Command::AcknowledgeAlert { alert, target, by } => C::AcknowledgeAlert {
                alert: alert.into(),
                target: target.into(),
                by,
            },
            Command::Book {
                code,
                zone,
                service,
                slot_start,
                slot_end,
            } => C::Book {
                code,
                zone,
                service,
                slot_start,
                slot_end,
                person: None,
            },
            Command::CancelBooking { code } => C::CancelBooking { code },
            Command::CheckIn { code, channel } => C::CheckIn {
                code,
                channel: channel.into(),
                number: None,
            },
            Command::Tick => C::Tick,
        }
    }
}
