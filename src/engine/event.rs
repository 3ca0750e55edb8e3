//! What happened, in the past tense. Events are facts: applying them never
//! fails for events the engine produced, and replaying a hall's events into
//! a fresh hall rebuilds exactly its state.

use serde::{Deserialize, Serialize};

use super::alert::{AlertKind, AlertTarget};
use super::command::Target;
use super::ids::{Code, Millis, PersonKey, ServiceId, TicketNumber, WindowNo, ZoneId};
use super::rating::{FollowUpStep, Rating};
use super::spec::Placement;
use super::ticket::{Channel, Lane};
use super::window::PauseReason;

/// How a window came to call a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    Next,
    Chosen,
    /// The window had auto-call on and became free.
    Auto,
    CallBack,
}

/// One event with its per-hall sequence number and time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub at: Millis,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventKind {
    /// A new business day: yesterday's unfinished tickets expire, every
    /// window is closed and numbering restarts.
    DayStarted {
        day: jiff::civil::Date,
    },
    TicketIssued {
        ticket: TicketNumber,
        zone: ZoneId,
        service: ServiceId,
        lane: Lane,
        channel: Channel,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        person: Option<PersonKey>,
        /// The appointment checked in for this ticket.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        booking: Option<Code>,
        /// The citizen asked to be told of their turn (see `notices`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notice: Option<super::notices::NoticeRef>,
    },
    /// A ticket whose citizen asked to be told is now `ahead` places from
    /// the front, at most the hall's `policy.notice_ahead`: once per
    /// ticket. Never published.
    TicketNearing {
        ticket: TicketNumber,
        ahead: u32,
    },
    TicketCalled {
        ticket: TicketNumber,
        window: WindowNo,
        how: CallKind,
        /// Both the priority and the normal lane had someone this window
        /// could call: the call counts towards the lane ratio.
        #[serde(default)]
        contested: bool,
    },
    TicketRecalled {
        ticket: TicketNumber,
        window: WindowNo,
        count: u32,
    },
    /// 过号: back in the queue, or, past the skip limit, a no-show.
    TicketSkipped {
        ticket: TicketNumber,
        window: WindowNo,
        no_show: bool,
    },
    ServiceStarted {
        ticket: TicketNumber,
        window: WindowNo,
    },
    ServiceFinished {
        ticket: TicketNumber,
        window: WindowNo,
    },
    TicketTransferred {
        ticket: TicketNumber,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from_window: Option<WindowNo>,
        to: Target,
        placement: Placement,
    },
    TicketHeld {
        ticket: TicketNumber,
        window: WindowNo,
    },
    TicketCancelled {
        ticket: TicketNumber,
    },
    TicketReactivated {
        ticket: TicketNumber,
    },
    WindowOpened {
        window: WindowNo,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        staff: Option<String>,
        paused: bool,
    },
    WindowClosed {
        window: WindowNo,
    },
    WindowPaused {
        window: WindowNo,
        reason: PauseReason,
        /// When staff expect to be back (预计恢复), if they said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<Millis>,
    },
    WindowResumed {
        window: WindowNo,
    },
    AutoCallChanged {
        window: WindowNo,
        on: bool,
    },
    /// A window's order of preference for the rest of the day: `zone`
    /// first, or its own again.
    WindowServesFirst {
        window: WindowNo,
        zone: Option<ZoneId>,
    },
    TicketRated {
        ticket: TicketNumber,
        window: WindowNo,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        staff: Option<String>,
        level: Rating,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    FollowUpRecorded {
        ticket: TicketNumber,
        step: FollowUpStep,
        note: String,
    },
    AppointmentBooked {
        code: Code,
        day: jiff::civil::Date,
        zone: ZoneId,
        service: ServiceId,
        slot_start: Millis,
        slot_end: Millis,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        person: Option<PersonKey>,
    },
    BookingCancelled {
        code: Code,
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
    /// A device is kept signed in (see `devices`). Never published.
    DevicePaired {
        device: String,
        account: String,
        name: String,
    },
    /// A device's sign-in is revoked. Never published as such: the live
    /// server closes that device's connections.
    DeviceRevoked {
        device: String,
    },
    /// An account signed out everywhere (by itself or an administrator):
    /// its sessions begun before this are void.
    SignedOut {
        user: String,
    },
    /// The hall runs on a new configuration version from here on: `spec`
    /// as the engine runs it (laid over the last by id, see `respec`),
    /// `text` the document it was made from. Published as its version only:
    /// the text holds the accounts' password hashes.
    ConfigChanged {
        version: u32,
        spec: super::respec::SpecDoc,
        text: String,
        by: String,
        reason: String,
    },
    /// The outbox delivered or set aside every message made from the events
    /// up to `through` (see `outbox`). Never published.
    OutboxProgressed {
        through: u64,
        day_from: u64,
    },
    /// Messages the outbox gave up retrying. Never published.
    OutboxSetAside {
        items: Vec<super::outbox::SetAside>,
    },
    /// Set-aside messages a supervisor sends again. Never published.
    OutboxResent {
        items: Vec<super::outbox::SetAside>,
        by: String,
    },
    /// A line of the audit log (see `audit`). Never published.
    Audited(super::audit::AuditNote),
    /// The answer to a request made with an idempotency key, kept right
    /// after the request's own events (see `answers`). Never published.
    AnswerKept {
        key: String,
        fingerprint: String,
        status: u16,
        body: String,
    },
}
