//! A ticket (排队小票) and the states it moves through.

use serde::{Deserialize, Serialize};

use super::ids::{CategoryId, Millis, PersonKey, TicketNumber, WindowNo};
use super::rating::{FollowUp, RatingRecord};

/// Which lane a ticket waits in. Appointments that are due go first, then
/// the priority lane (绿色通道) within its ratio, then the normal lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Lane {
    Normal,
    Priority { category: CategoryId },
    Appointment { slot_start: Millis, slot_end: Millis },
}

impl Lane {
    /// Index of the lane's queue inside a zone.
    pub(crate) fn slot(&self) -> usize {
        match self {
            Lane::Appointment { .. } => LANE_APPOINTMENT,
            Lane::Priority { .. } => LANE_PRIORITY,
            Lane::Normal => LANE_NORMAL,
        }
    }
}

pub(crate) const LANE_APPOINTMENT: usize = 0;
pub(crate) const LANE_PRIORITY: usize = 1;
pub(crate) const LANE_NORMAL: usize = 2;

/// How the ticket was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    GuideDesk,
    Kiosk,
    Mobile,
    AppointmentCheckIn,
}

impl Channel {
    /// The channel's name as the event format spells it (`"guide_desk"`).
    pub fn name(&self) -> &'static str {
        match self {
            Channel::GuideDesk => "guide_desk",
            Channel::Kiosk => "kiosk",
            Channel::Mobile => "mobile",
            Channel::AppointmentCheckIn => "appointment_check_in",
        }
    }
}

/// Where a ticket is. Exactly one at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TicketState {
    /// In a zone's lane, or in one window's own queue after a transfer to it.
    Waiting,
    Called {
        window: WindowNo,
    },
    Serving {
        window: WindowNo,
    },
    /// 挂起: the citizen went to fetch a document; to be called back today.
    Held {
        window: WindowNo,
    },
    Finished {
        window: WindowNo,
    },
    /// 过号 too many times.
    NoShow {
        window: WindowNo,
    },
    Cancelled,
}

impl TicketState {
    /// The state's name as the event format spells it (`"no_show"`).
    pub fn name(&self) -> &'static str {
        match self {
            TicketState::Waiting => "waiting",
            TicketState::Called { .. } => "called",
            TicketState::Serving { .. } => "serving",
            TicketState::Held { .. } => "held",
            TicketState::Finished { .. } => "finished",
            TicketState::NoShow { .. } => "no_show",
            TicketState::Cancelled => "cancelled",
        }
    }

    /// Finished, no-show and cancelled tickets are never called again
    /// (a supervisor may reactivate a no-show).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            TicketState::Finished { .. } | TicketState::NoShow { .. } | TicketState::Cancelled
        )
    }

    /// The window the ticket is or was last at (called, served, held, or
    /// finished or missed there), if any.
    pub fn window(&self) -> Option<WindowNo> {
        match *self {
            TicketState::Called { window }
            | TicketState::Serving { window }
            | TicketState::Held { window }
            | TicketState::Finished { window }
            | TicketState::NoShow { window } => Some(window),
            TicketState::Waiting | TicketState::Cancelled => None,
        }
    }

    /// The window that has the ticket in hand, if any.
    pub fn at_window(&self) -> Option<WindowNo> {
        match *self {
            TicketState::Called { window } | TicketState::Serving { window } => Some(window),
            _ => None,
        }
    }
}

/// One line of a ticket's history, kept so a window that receives a
/// transferred ticket sees where it has been.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub at: Millis,
    pub what: StepKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowNo>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Issued,
    Called,
    Recalled,
    Skipped,
    NoShow,
    Started,
    Finished,
    Transferred,
    Held,
    Cancelled,
    Reactivated,
}

/// A ticket as the engine holds it for the current business day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub number: TicketNumber,
    /// Current zone and service (indices into the hall config); a transfer
    /// changes them, the number stays.
    pub zone: usize,
    pub service: usize,
    /// Zone and service it was issued for (the one-per-person rule's key).
    pub origin: (usize, usize),
    pub lane: Lane,
    pub channel: Channel,
    pub person: Option<PersonKey>,
    pub issued_at: Millis,
    /// When it last joined a queue: waits for the starvation bound count from here.
    pub queued_at: Millis,
    pub called_at: Option<Millis>,
    pub started_at: Option<Millis>,
    pub state: TicketState,
    /// Set while it waits in one window's own queue (transferred to that window).
    pub directed: Option<usize>,
    pub recalls: u32,
    pub skips: u32,
    pub transfers: u32,
    pub history: Vec<Step>,
    pub rating: Option<RatingRecord>,
    pub follow_ups: Vec<FollowUp>,
    /// The citizen's contact reference, when they asked to be told.
    pub notice: Option<super::notices::NoticeRef>,
    /// `TicketNearing` was made for it.
    pub near_told: bool,
}

impl Ticket {
    /// An appointment is callable from `early_ms` before its slot.
    pub(crate) fn due(&self, now: Millis, early_ms: i64) -> bool {
        match self.lane {
            Lane::Appointment { slot_start, .. } => now >= slot_start.plus_ms(-early_ms),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names the archive writes are the event format's own.
    #[test]
    fn names_are_the_serialized_ones() {
        let tag = |v: serde_json::Value, key: &str| match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Object(o) => o[key].as_str().unwrap().to_owned(),
            other => panic!("{other}"),
        };
        let w: WindowNo = 3;
        for s in [
            TicketState::Waiting,
            TicketState::Called { window: w },
            TicketState::Serving { window: w },
            TicketState::Held { window: w },
            TicketState::Finished { window: w },
            TicketState::NoShow { window: w },
            TicketState::Cancelled,
        ] {
            assert_eq!(s.name(), tag(serde_json::to_value(s).unwrap(), "state"));
        }
        for c in [
            Channel::GuideDesk,
            Channel::Kiosk,
            Channel::Mobile,
            Channel::AppointmentCheckIn,
        ] {
            assert_eq!(c.name(), tag(serde_json::to_value(c).unwrap(), ""));
        }
        for r in super::super::window::PauseReason::ALL {
            assert_eq!(r.name(), tag(serde_json::to_value(r).unwrap(), ""));
        }
    }
}
