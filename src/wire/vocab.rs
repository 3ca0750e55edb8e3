//! The engine's small enums as the API writes and reads them. Each is
//! mirrored variant by variant: a variant the engine gains fails to
//! compile here until it is given a word.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::engine;

/// A fieldless enum of the engine, mirrored in snake_case both ways.
macro_rules! words {
    ($(#[$meta:meta])* $name:ident = $src:path { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant),+
        }

        impl From<$src> for $name {
            fn from(x: $src) -> $name {
                match x {
                    $(<$src>::$variant => $name::$variant),+
                }
            }
        }

        impl From<$name> for $src {
            fn from(x: $name) -> $src {
                match x {
                    $($name::$variant => <$src>::$variant),+
                }
            }
        }
    };
}

words! {
    /// How a ticket was taken: `guide_desk`, `kiosk`, `mobile`,
    /// `appointment_check_in`.
    Channel = engine::Channel { GuideDesk, Kiosk, Mobile, AppointmentCheckIn }
}

words! {
    /// Why a window stopped calling (暂停服务): `signed_in` (not started
    /// yet), `lunch`, `break`, `meeting`, `training`, `fault`, `other`.
    PauseReason = engine::PauseReason { SignedIn, Lunch, Break, Meeting, Training, Fault, Other }
}

words! {
    /// 好差评, best first: 非常满意 … 非常不满意.
    Rating = engine::Rating { VerySatisfied, Satisfied, Basic, Dissatisfied, VeryDissatisfied }
}

words! {
    /// A bad rating's follow-up step: 核实, 整改, 回访.
    FollowUpStep = engine::FollowUpStep { Verified, Rectified, CalledBack }
}

words! {
    /// 超时预警: `long_wait`, `long_queue` (a zone), `long_service`,
    /// `long_pause` (a window).
    AlertKind = engine::AlertKind { LongWait, LongQueue, LongService, LongPause }
}

words! {
    /// How a window came to call a ticket.
    CallKind = engine::CallKind { Next, Chosen, Auto, CallBack }
}

words! {
    /// Where a transferred ticket joins its new queue.
    Placement = engine::Placement { Front, End }
}

words! {
    /// A line of a ticket's history.
    StepKind = engine::StepKind {
        Issued, Called, Recalled, Skipped, NoShow, Started, Finished, Transferred, Held, Cancelled, Reactivated
    }
}

/// A ticket's lane as staff see it: with its priority group or its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Lane {
    Normal,
    Priority {
        #[schema(value_type = super::schema::Id)]
        category: engine::CategoryId,
    },
    Appointment {
        #[schema(value_type = super::schema::Instant)]
        slot_start: engine::Millis,
        #[schema(value_type = super::schema::Instant)]
        slot_end: engine::Millis,
    },
}

impl From<engine::Lane> for Lane {
    fn from(l: engine::Lane) -> Lane {
        match l {
            engine::Lane::Normal => Lane::Normal,
            engine::Lane::Priority { category } => Lane::Priority { category },
            engine::Lane::Appointment { slot_start, slot_end } => Lane::Appointment { slot_start, slot_end },
        }
    }
}

/// A lane as a public screen and the citizen see it: which, not why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LaneKind {
    Normal,
    Priority,
    Appointment,
}

impl From<engine::Lane> for LaneKind {
    fn from(l: engine::Lane) -> LaneKind {
        match l {
            engine::Lane::Normal => LaneKind::Normal,
            engine::Lane::Priority { .. } => LaneKind::Priority,
            engine::Lane::Appointment { .. } => LaneKind::Appointment,
        }
    }
}

/// Where a ticket is, and at which window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TicketState {
    Waiting,
    Called {
        window: engine::WindowNo,
    },
    Serving {
        window: engine::WindowNo,
    },
    /// 挂起: gone to fetch a document, to be called back today.
    Held {
        window: engine::WindowNo,
    },
    Finished {
        window: engine::WindowNo,
    },
    /// 过号 for good.
    NoShow {
        window: engine::WindowNo,
    },
    Cancelled,
}

impl From<engine::TicketState> for TicketState {
    fn from(s: engine::TicketState) -> TicketState {
        use engine::TicketState as E;
        match s {
            E::Waiting => TicketState::Waiting,
            E::Called { window } => TicketState::Called { window },
            E::Serving { window } => TicketState::Serving { window },
            E::Held { window } => TicketState::Held { window },
            E::Finished { window } => TicketState::Finished { window },
            E::NoShow { window } => TicketState::NoShow { window },
            E::Cancelled => TicketState::Cancelled,
        }
    }
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlertTarget {
    Zone {
        #[schema(value_type = super::schema::Id)]
        zone: engine::ZoneId,
    },
    Window {
        window: engine::WindowNo,
    },
}

impl From<engine::AlertTarget> for AlertTarget {
    fn from(t: engine::AlertTarget) -> AlertTarget {
        match t {
            engine::AlertTarget::Zone { zone } => AlertTarget::Zone { zone },
            engine::AlertTarget::Window { window } => AlertTarget::Window { window },
        }
    }
}

impl From<AlertTarget> for engine::AlertTarget {
    fn from(t: AlertTarget) -> engine::AlertTarget {
        match t {
            AlertTarget::Zone { zone } => engine::AlertTarget::Zone { zone },
            AlertTarget::Window { window } => engine::AlertTarget::Window { window },
        }
    }
}

/// Where a transfer (转窗) or a move sends a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// Into a zone's queue for a service, in the ticket's lane.
    Zone {
        #[schema(value_type = super::schema::Id)]
        zone: engine::ZoneId,
        #[schema(value_type = super::schema::Id)]
        service: engine::ServiceId,
    },
    /// Into one window's own queue: only that window will call it.
    Window { window: engine::WindowNo },
}

impl From<engine::Target> for Target {
    fn from(t: engine::Target) -> Target {
        match t {
            engine::Target::Zone { zone, service } => Target::Zone { zone, service },
            engine::Target::Window { window } => Target::Window { window },
        }
    }
}

impl From<Target> for engine::Target {
    fn from(t: Target) -> engine::Target {
        match t {
            Target::Zone { zone, service } => engine::Target::Zone { zone, service },
            Target::Window { window } => engine::Target::Window { window },
        }
    }
}
