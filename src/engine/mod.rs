//! The queue engine: pure and synchronous.
//!
//! In: a [`Command`] and the time. Out: the [`Event`]s it caused, or an
//! [`EngineError`]. No I/O, no async, no clock, no randomness, no logging:
//! the same events replayed into a fresh [`Hall`] give the same state.
//!
//! - `ids`: identifiers, ticket numbers and instants;
//! - `command`, `event`, `error`: what goes in and what comes out;
//! - `ticket`, `window`: the things in a hall and their states;
//! - `hall`: the state and the rules (decide, then apply);
//! - `calendar`: business days and opening hours;
//! - `stats`, `query`: service times, read-only views;
//! - `forecast`, `estimates`: the hall played forward, and the waits with
//!   their ranges that views show;
//! - `advice`: 潮汐窗口, which window to give a zone past its wait target;
//! - `calls`: the day's latest calls, kept as events are applied;
//! - `alert`, `alerts`: 超时预警 as values, and how the thresholds raise
//!   and clear them;
//! - `rating`: 好差评 and the follow-up of bad ratings;
//! - `booking`: appointments booked ahead and checked in by code;
//! - `answers`: answers kept for idempotency keys, for the day;
//! - `devices`: displays, kiosks and evaluators kept signed in;
//! - `respec`: a new configuration laid over the running one by id;
//! - `spec`: what a hall is (zones, services, windows, hours, rules), as
//!   the shell's configuration builds it;
//! - `snapshot`: the state as a storable value, to bound replay at start.

mod advice;
mod alert;
mod alerts;
mod answers;
mod audit;
mod booking;
mod calendar;
mod calls;
mod command;
mod devices;
mod error;
mod estimates;
mod event;
mod forecast;
mod hall;
mod ids;
mod notices;
mod outbox;
mod query;
mod queue;
mod rating;
mod respec;
mod snapshot;
mod spec;
mod stats;
mod text;
mod ticket;
mod tickets;
mod window;

pub use advice::{Advice, AdviceAction};
pub use alert::{Alert, AlertKind, AlertTarget};
pub use answers::{KeptAnswer, MAX_ANSWER_BODY, MAX_ANSWER_KEY};
pub use audit::{AuditAction, AuditNote, MAX_AUDIT_TEXT};
pub use booking::{Booking, BookingState, BookingView};
pub use calendar::business_date;
pub use calls::{CallMade, RECENT_CALLS};
pub use command::{Command, Issue, LaneRequest, Target};
pub use devices::{Device, MAX_DEVICE_ID, MAX_DEVICE_NAME, MAX_DEVICES};
pub use error::{EngineError, ReplayError};
pub use estimates::{DEFAULT_BAND, ISSUE_GAP_MS, PLAY_BUDGET, PLAYS, REFRESH_GAP_MS, SMALL_HALL, Wait, WaitRange};
pub use event::{CallKind, Event, EventKind};
pub use forecast::{Forecast, UNSAID_PAUSE_MS, WALK_MS};
pub use hall::Hall;
pub use ids::{
    CategoryId, Code, CodeError, HallId, Millis, PersonKey, ServiceId, TicketNumber, TicketNumberError, WindowNo,
    ZoneId,
};
pub use notices::NoticeRef;
pub use outbox::{MAX_SET_ASIDE, MAX_SET_ASIDE_BODY, OutboxState, SetAside, short_error};
pub use query::{RatingSummary, TicketView, WindowView, ZoneQueue, ZoneSummary};
pub use rating::{FollowUp, FollowUpStep, MAX_COMMENT, Rating, RatingRecord};
pub use respec::{ConfigChange, ConfigNote, ConfigState, MAX_REASON, SpecDoc, merge as merge_spec};
pub use snapshot::{HallSnapshot, SnapshotError, TicketSnapshot, WindowSnapshot, ZoneSnapshot};
pub use spec::{
    AlertLimits, Category, HallSpec, Hours, Placement, Policy, Serve, ServiceMask, ServiceSpec, WindowSpec, ZoneSpec,
    weekday_index,
};
pub use stats::ServiceTimes;
pub use text::{allowed, first_forbidden};
pub use ticket::{Channel, Lane, Step, StepKind, TicketState};
pub use window::{MAX_PAUSE_MINUTES, PauseReason};

#[cfg(test)]
pub(crate) mod model_tests;
#[cfg(test)]
pub(crate) mod tests;
