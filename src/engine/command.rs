//! What callers ask the engine to do. Commands name zones, services and
//! windows by their configured ids, never by internal index.

use serde::{Deserialize, Serialize};

use super::alert::{AlertKind, AlertTarget};
use super::ids::{CategoryId, Code, Millis, PersonKey, ServiceId, TicketNumber, WindowNo, ZoneId};
use super::rating::{FollowUpStep, Rating};
use super::ticket::Channel;
use super::window::PauseReason;

/// The lane asked for when issuing. An appointment checked in too late is
/// issued in the normal lane instead (the event says which lane it got).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LaneRequest {
    Normal,
    Priority { category: CategoryId },
    Appointment { slot_start: Millis, slot_end: Millis },
}

/// Where a transfer (转窗) sends a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// Into a zone's queue for a service, in the ticket's lane.
    Zone { zone: ZoneId, service: ServiceId },
    /// Into one window's own queue: only that window will call it.
    Window { window: WindowNo },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub zone: ZoneId,
    pub service: ServiceId,
    pub lane: LaneRequest,
    pub channel: Channel,
    #[serde(default)]
    pub person: Option<PersonKey>,
    /// A sequence number allocated outside the engine (by a store shared
    /// between processes); `None` takes the zone's next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u32>,
    /// The citizen asked to be told of their turn: the reference of their
    /// contact details, kept by the shell apart from the log (see
    /// `notices`). Never the details themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<super::notices::NoticeRef>,
}

impl Issue {
    /// A normal-lane ticket with no person attached.
    pub fn normal(zone: ZoneId, service: ServiceId, channel: Channel) -> Issue {
        Issue {
            zone,
            service,
            lane: LaneRequest::Normal,
            channel,
            person: None,
            number: None,
            notice: None,
        }
    }
}

/// One operation on a hall.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    Issue(Issue),
    CallNext {
        window: WindowNo,
    },
    CallTicket {
        window: WindowNo,
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
        ticket: TicketNumber,
    },
    Cancel {
        ticket: TicketNumber,
    },
    Reactivate {
        ticket: TicketNumber,
    },
    /// A supervisor cancels every phone ticket still waiting, in one zone or
    /// all (a flood of fake ones): one `TicketCancelled` each.
    CancelPhoneTickets {
        #[serde(default)]
        zone: Option<ZoneId>,
    },
    /// A supervisor moves a waiting or held ticket to another zone or window.
    Move {
        ticket: TicketNumber,
        to: Target,
    },
    Pause {
        window: WindowNo,
        reason: PauseReason,
        /// For about this long (at most `MAX_PAUSE_MINUTES`), if staff say.
        #[serde(default)]
        minutes: Option<u16>,
    },
    Resume {
        window: WindowNo,
    },
    Open {
        window: WindowNo,
        staff: Option<String>,
    },
    Close {
        window: WindowNo,
    },
    /// 潮汐窗口: for the rest of the day the window takes `zone` first (all
    /// its services), then its own list; `None` restores its own order.
    ServeFirst {
        window: WindowNo,
        #[serde(default)]
        zone: Option<ZoneId>,
    },
    SetAutoCall {
        window: WindowNo,
        on: bool,
    },
    /// 好差评: the citizen rates a finished service, once.
    Rate {
        ticket: TicketNumber,
        level: Rating,
        #[serde(default)]
        comment: Option<String>,
    },
    /// A step of a bad rating's follow-up, with a note.
    FollowUp {
        ticket: TicketNumber,
        step: FollowUpStep,
        note: String,
    },
    /// A supervisor has seen an alert (it stays up until its cause is gone).
    AcknowledgeAlert {
        alert: AlertKind,
        target: AlertTarget,
        by: String,
    },
    /// Books an appointment (预约) for a slot on a later or the same day.
    Book {
        code: Code,
        zone: ZoneId,
        service: ServiceId,
        slot_start: Millis,
        slot_end: Millis,
        #[serde(default)]
        person: Option<PersonKey>,
    },
    CancelBooking {
        code: Code,
    },
    /// Checks a booking in on its day: a ticket in the appointment lane
    /// (the normal lane if too late, as for any appointment).
    CheckIn {
        code: Code,
        channel: Channel,
        /// As for [`Issue::number`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        number: Option<u32>,
    },
    /// Keeps a device signed in (see `devices`): its token is good while
    /// the hall keeps it. Made by sign-in and pairing, not by `/commands`.
    PairDevice {
        device: String,
        account: String,
        #[serde(default)]
        name: String,
    },
    /// Ends every session an account began before now.
    SignOut {
        user: String,
    },
    /// Signs a device out for good: its token stops working at once.
    RevokeDevice {
        device: String,
    },
    /// Records what happened outside the hall's state (sign-ins) in its
    /// audit log.
    Record {
        notes: Vec<super::audit::AuditNote>,
    },
    /// The passing of time: the business-day rollover if one is due, and
    /// auto-call for appointments that have become due. The shell sends it
    /// every few seconds.
    Tick,
    /// Runs the hall on a new configuration from now on (see `respec`).
    ChangeConfig(Box<super::respec::ConfigChange>),
    /// The outbox delivered (or set aside) every message of the events up
    /// to `through` (see `outbox`). Made by the outbox, not by `/commands`.
    OutboxProgress {
        through: u64,
        day_from: u64,
    },
    /// The outbox gave up retrying these messages.
    OutboxSetAside {
        items: Vec<super::outbox::SetAside>,
    },
    /// A supervisor sends set-aside messages again.
    OutboxResend {
        keys: Vec<String>,
        by: String,
    },
}
