//! Events as each audience receives them. Staff get every event that
//! changes what they work with, without a person's key or an
//! appointment's code; a public screen gets the queue's and the windows'
//! flow and nothing about who a citizen is, how they rated or what staff
//! noted. Bookings reach no one live: they change nothing on a screen
//! until checked in, and their codes check them in.

use serde::Serialize;
use utoipa::ToSchema;

use super::vocab::{
    AlertKind, AlertTarget, CallKind, Channel, FollowUpStep, Lane, LaneKind, PauseReason, Placement, Rating, Target,
};
use crate::engine::{self, EventKind as E, Millis, ServiceId, TicketNumber, WindowNo, ZoneId};

/// One event with its sequence number and time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Event<K> {
    pub seq: u64,
    #[schema(value_type = super::schema::Instant)]
    pub at: Millis,
    pub kind: K,
}

/// What happened, as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "type")]
pub enum StaffKind {
    DayStarted {
        #[schema(value_type = String, format = Date)]
        day: jiff::civil::Date,
    },
    /// The hall runs a new configuration version: fetch the hall again
    /// (`GET /api/v1/halls`) for its zones, windows and names.
    ConfigChanged {
        version: u32,
    },
    TicketIssued {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        #[schema(value_type = super::schema::Id)]
        zone: ZoneId,
        #[schema(value_type = super::schema::Id)]
        service: ServiceId,
        lane: Lane,
        channel: Channel,
    },
    TicketCalled {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        window: WindowNo,
        how: CallKind,
        contested: bool,
    },
    TicketRecalled {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        window: WindowNo,
        count: u32,
    },
    TicketSkipped {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        window: WindowNo,
        no_show: bool,
    },
    ServiceStarted {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        window: WindowNo,
    },
    ServiceFinished {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        window: WindowNo,
    },
    TicketTransferred {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        #[serde(skip_serializing_if = "Option::is_none")]
        from_window: Option<WindowNo>,
        to: Target,
        placement: Placement,
    },
    TicketHeld {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        window: WindowNo,
    },
    TicketCancelled {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
    },
    TicketReactivated {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
    },
    WindowOpened {
        window: WindowNo,
        #[serde(skip_serializing_if = "Option::is_none")]
        staff: Option<String>,
        paused: bool,
    },
    WindowClosed {
        window: WindowNo,
    },
    WindowPaused {
        window: WindowNo,
        reason: PauseReason,
        /// When staff expect to be back, if they said.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<super::schema::Instant>)]
        until: Option<Millis>,
    },
    WindowResumed {
        window: WindowNo,
    },
    AutoCallChanged {
        window: WindowNo,
        on: bool,
    },
    /// 潮汐窗口: the window takes this zone first for the rest of the day
    /// (none: its own order again).
    WindowServesFirst {
        window: WindowNo,
        #[schema(value_type = Option<super::schema::Id>)]
        zone: Option<ZoneId>,
    },
    TicketRated {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        window: WindowNo,
        #[serde(skip_serializing_if = "Option::is_none")]
        staff: Option<String>,
        level: Rating,
        #[serde(skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    FollowUpRecorded {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        step: FollowUpStep,
        note: String,
    },
    AlertRaised {
        alert: AlertKind,
        target: AlertTarget,
        value: i64,
        limit: i64,
    },
    AlertAcknowledged {
        alert: AlertKind,
        target: AlertTarget,
        by: String,
    },
    AlertCleared {
        alert: AlertKind,
        target: AlertTarget,
    },
}

/// An engine event as staff receive it; `None` for what they are not sent.
pub fn staff(e: &engine::Event) -> Option<Event<StaffKind>> {
    // Checked before the clone below: a kept answer carries a whole body.
    if matches!(e.kind, E::AnswerKept { .. }) {
        return None;
    }
    let kind = match e.kind.clone() {
        E::DayStarted { day } => StaffKind::DayStarted { day },
        E::ConfigChanged { version, .. } => StaffKind::ConfigChanged { version },
        // Not the person's key, nor the booking's code.
        E::TicketIssued {
            ticket,
            zone,
            service,
            lane,
            channel,
            person: _,
            booking: _,
            notice: _,
        } => StaffKind::TicketIssued {
            ticket,
            zone,
            service,
            lane: lane.into(),
            channel: channel.into(),
        },
        E::TicketCalled {
            ticket,
            window,
            how,
            contested,
        } => StaffKind::TicketCalled {
            ticket,
            window,
            how: how.into(),
            contested,
        },
        E::TicketRecalled { ticket, window, count } => StaffKind::TicketRecalled { ticket, window, count },
        E::TicketSkipped {
            ticket,
            window,
            no_show,
        } => StaffKind::TicketSkipped {
            ticket,
            window,
            no_show,
        },
        E::ServiceStarted { ticket, window } => StaffKind::ServiceStarted { ticket, window },
        E::ServiceFinished { ticket, window } => StaffKind::ServiceFinished { ticket, window },
        E::TicketTransferred {
            ticket,
            from_window,
            to,
            placement,
        } => StaffKind::TicketTransferred {
            ticket,
            from_window,
            to: to.into(),
            placement: placement.into(),
        },
        E::TicketHeld { ticket, window } => StaffKind::TicketHeld { ticket, window },
        E::TicketCancelled { ticket } => StaffKind::TicketCancelled { ticket },
        E::TicketReactivated { ticket } => StaffKind::TicketReactivated { ticket },
        E::WindowOpened { window, staff, paused } => StaffKind::WindowOpened { window, staff, paused },
        E::WindowClosed { window } => StaffKind::WindowClosed { window },
        E::WindowPaused { window, reason, until } => StaffKind::WindowPaused {
            window,
            reason: reason.into(),
            until,
        },
        E::WindowResumed { window } => StaffKind::WindowResumed { window },
        E::AutoCallChanged { window, on } => StaffKind::AutoCallChanged { window, on },
        E::WindowServesFirst { window, zone } => StaffKind::WindowServesFirst { window, zone },
        E::TicketRated {
            ticket,
            window,
            staff,
            level,
            comment,
        } => StaffKind::TicketRated {
            ticket,
            window,
            staff,
            level: level.into(),
            comment,
        },
        E::FollowUpRecorded { ticket, step, note } => StaffKind::FollowUpRecorded {
            ticket,
            step: step.into(),
            note,
        },
        E::AlertRaised {
            alert,
            target,
            value,
            limit,
        } => StaffKind::AlertRaised {
            alert: alert.into(),
            target: target.into(),
            value,
            limit,
        },
        E::AlertAcknowledged { alert, target, by } => StaffKind::AlertAcknowledged {
            alert: alert.into(),
            target: target.into(),
            by,
        },
        E::AlertCleared { alert, target } => StaffKind::AlertCleared {
            alert: alert.into(),
            target: target.into(),
        },
        E::AppointmentBooked { .. }
        | E::BookingCancelled { .. }
        | E::AnswerKept { .. }
        | E::DevicePaired { .. }
        | E::DeviceRevoked { .. }
        | E::SignedOut { .. }
        | E::TicketNearing { .. }
        | E::OutboxProgressed { .. }
        | E::OutboxSetAside { .. }
        | E::OutboxResent { .. }
        | E::Audited(_) => return None,
    };
    Some(Event {
        seq: e.seq,
        at: e.at,
        kind,
    })
}

/// Where a transferred ticket went, as a screen shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DisplayTarget {
    Zone {
        #[schema(value_type = super::schema::Id)]
        zone: ZoneId,
    },
    Window {
        window: WindowNo,
    },
}

/// What happened, as a public screen sees it: the queue's and the
/// windows' flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "type")]
pub enum DisplayKind {
    DayStarted {
        #[schema(value_type = String, format = Date)]
        day: jiff::civil::Date,
    },
    /// The hall runs a new configuration version: fetch the hall again.
    ConfigChanged {
        version: u32,
    },
    TicketIssued {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        #[schema(value_type = super::schema::Id)]
        zone: ZoneId,
        #[schema(value_type = super::schema::Id)]
        service: ServiceId,
        lane: LaneKind,
    },
    TicketCalled {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        window: WindowNo,
    },
    TicketRecalled {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        window: WindowNo,
        count: u32,
    },
    TicketSkipped {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        window: WindowNo,
        no_show: bool,
    },
    ServiceStarted {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        window: WindowNo,
    },
    ServiceFinished {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        window: WindowNo,
    },
    TicketTransferred {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        #[serde(skip_serializing_if = "Option::is_none")]
        from_window: Option<WindowNo>,
        to: DisplayTarget,
    },
    TicketHeld {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        window: WindowNo,
    },
    TicketCancelled {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
    },
    TicketReactivated {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
    },
    WindowOpened {
        window: WindowNo,
        /// Shown on the window's screen (亮牌服务).
        #[serde(skip_serializing_if = "Option::is_none")]
        staff: Option<String>,
    },
    WindowClosed {
        window: WindowNo,
    },
    WindowPaused {
        window: WindowNo,
        /// The kind of pause, for the window display (暂停服务 · 午休).
        reason: PauseReason,
        /// When staff expect to be back (预计 13:30 恢复), if they said.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<super::schema::Instant>)]
        until: Option<Millis>,
    },
    WindowResumed {
        window: WindowNo,
    },
}

/// An engine event as a public screen receives it; `None` for what screens
/// are not sent: bookings, ratings and their follow-ups, alerts, auto-call.
pub fn display(e: &engine::Event) -> Option<Event<DisplayKind>> {
    if matches!(e.kind, E::AnswerKept { .. }) {
        return None;
    }
    let kind = match e.kind.clone() {
        E::DayStarted { day } => DisplayKind::DayStarted { day },
        E::ConfigChanged { version, .. } => DisplayKind::ConfigChanged { version },
        E::TicketIssued {
            ticket,
            zone,
            service,
            lane,
            ..
        } => DisplayKind::TicketIssued {
            ticket,
            zone,
            service,
            lane: lane.into(),
        },
        E::TicketCalled { ticket, window, .. } => DisplayKind::TicketCalled { ticket, window },
        E::TicketRecalled { ticket, window, count } => DisplayKind::TicketRecalled { ticket, window, count },
        E::TicketSkipped {
            ticket,
            window,
            no_show,
        } => DisplayKind::TicketSkipped {
            ticket,
            window,
            no_show,
        },
        E::ServiceStarted { ticket, window } => DisplayKind::ServiceStarted { ticket, window },
        E::ServiceFinished { ticket, window } => DisplayKind::ServiceFinished { ticket, window },
        E::TicketTransferred {
            ticket,
            from_window,
            to,
            ..
        } => DisplayKind::TicketTransferred {
            ticket,
            from_window,
            to: match to {
                engine::Target::Zone { zone, .. } => DisplayTarget::Zone { zone },
                engine::Target::Window { window } => DisplayTarget::Window { window },
            },
        },
        E::TicketHeld { ticket, window } => DisplayKind::TicketHeld { ticket, window },
        E::TicketCancelled { ticket } => DisplayKind::TicketCancelled { ticket },
        E::TicketReactivated { ticket } => DisplayKind::TicketReactivated { ticket },
        E::WindowOpened { window, staff, .. } => DisplayKind::WindowOpened { window, staff },
        E::WindowClosed { window } => DisplayKind::WindowClosed { window },
        E::WindowPaused { window, reason, until } => DisplayKind::WindowPaused {
            window,
            reason: reason.into(),
            until,
        },
        E::WindowResumed { window } => DisplayKind::WindowResumed { window },
        E::AutoCallChanged { .. }
        | E::WindowServesFirst { .. }
        | E::TicketRated { .. }
        | E::FollowUpRecorded { .. }
        | E::AlertRaised { .. }
        | E::AlertAcknowledged { .. }
        | E::AlertCleared { .. }
        | E::AppointmentBooked { .. }
        | E::BookingCancelled { .. }
        | E::AnswerKept { .. }
        | E::DevicePaired { .. }
        | E::DeviceRevoked { .. }
        | E::SignedOut { .. }
        | E::TicketNearing { .. }
        | E::OutboxProgressed { .. }
        | E::OutboxSetAside { .. }
        | E::OutboxResent { .. }
        | E::Audited(_) => return None,
    };
    Some(Event {
        seq: e.seq,
        at: e.at,
        kind,
    })
}

/// Staff's events of a batch, in order.
pub fn staff_events(events: &[engine::Event]) -> Vec<Event<StaffKind>> {
    events.iter().filter_map(staff).collect()
}

/// A public screen's events of a batch, in order.
pub fn display_events(events: &[engine::Event]) -> Vec<Event<DisplayKind>> {
    events.iter().filter_map(display).collect()
}
