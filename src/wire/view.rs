//! A hall's state as each audience reads it: built from the engine's
//! views by naming every field that goes out.

use serde::Serialize;
use utoipa::ToSchema;

use super::vocab::{
    AlertKind, AlertTarget, Channel, FollowUpStep, Lane, LaneKind, PauseReason, Rating, StepKind, TicketState,
};
use crate::engine::{self, Code, Millis, ServiceId, TicketNumber, WindowNo, ZoneId};

/// An estimated wait with its range: the forecast's figure, and the
/// quartiles of the hall's recent errors around it (half of the waits
/// fell inside such a range).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct WaitRange {
    pub expected_ms: i64,
    pub low_ms: i64,
    pub high_ms: i64,
}

impl From<engine::WaitRange> for WaitRange {
    fn from(w: engine::WaitRange) -> WaitRange {
        WaitRange {
            expected_ms: w.expected_ms,
            low_ms: w.low_ms,
            high_ms: w.high_ms,
        }
    }
}

/// One zone's figures, for staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Zone {
    #[schema(value_type = super::schema::Id)]
    pub zone: ZoneId,
    pub waiting: usize,
    pub longest_wait_ms: i64,
    /// Estimated wait for a ticket issued now (0 when none can be given).
    pub estimated_wait_ms: i64,
    /// The same with its range; absent while the zone does not issue or
    /// no open window would reach a ticket issued now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_range: Option<WaitRange>,
    /// The zone issues, and no open window would reach a ticket issued now
    /// (say so, not a number).
    pub no_window_open: bool,
    /// Windows open and not paused that serve the zone.
    pub open_windows: usize,
    pub mean_service_ms: i64,
    /// Mean wait of the tickets called in the last hour (0 if none).
    pub mean_wait_last_hour_ms: i64,
    /// Tickets called in the last hour.
    pub called_last_hour: usize,
}

impl From<engine::ZoneSummary> for Zone {
    fn from(z: engine::ZoneSummary) -> Zone {
        Zone {
            zone: z.zone,
            waiting: z.waiting,
            longest_wait_ms: z.longest_wait_ms,
            estimated_wait_ms: z.estimated_wait_ms,
            wait_range: z.wait_range.map(Into::into),
            no_window_open: z.no_window_open,
            open_windows: z.open_windows,
            mean_service_ms: z.mean_service_ms,
            mean_wait_last_hour_ms: z.mean_wait_last_hour_ms,
            called_last_hour: z.called_last_hour,
        }
    }
}

/// One zone's figures, for a public screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DisplayZone {
    #[schema(value_type = super::schema::Id)]
    pub zone: ZoneId,
    pub waiting: usize,
    /// Estimated wait for a ticket issued now (0 when none can be given).
    pub estimated_wait_ms: i64,
    /// The same with its range; absent while the zone does not issue or
    /// no open window would reach a ticket issued now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_range: Option<WaitRange>,
    /// The zone issues, and no open window would reach a ticket issued now
    /// (say so, not a number).
    pub no_window_open: bool,
    pub open_windows: usize,
}

impl From<engine::ZoneSummary> for DisplayZone {
    fn from(z: engine::ZoneSummary) -> DisplayZone {
        DisplayZone {
            zone: z.zone,
            waiting: z.waiting,
            estimated_wait_ms: z.estimated_wait_ms,
            wait_range: z.wait_range.map(Into::into),
            no_window_open: z.no_window_open,
            open_windows: z.open_windows,
        }
    }
}

/// One zone's waiting lists, front first: ticket numbers only, which the
/// hall shows anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Queue {
    #[schema(value_type = super::schema::Id)]
    pub zone: ZoneId,
    #[schema(value_type = Vec<super::schema::TicketNo>)]
    pub appointment: Vec<TicketNumber>,
    #[schema(value_type = Vec<super::schema::TicketNo>)]
    pub priority: Vec<TicketNumber>,
    #[schema(value_type = Vec<super::schema::TicketNo>)]
    pub normal: Vec<TicketNumber>,
}

impl From<engine::ZoneQueue> for Queue {
    fn from(q: engine::ZoneQueue) -> Queue {
        Queue {
            zone: q.zone,
            appointment: q.appointment,
            priority: q.priority,
            normal: q.normal,
        }
    }
}

/// A window as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Window {
    pub number: WindowNo,
    pub open: bool,
    /// Who staffs it (shown on its screen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<PauseReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::schema::Instant>)]
    pub paused_since: Option<Millis>,
    /// When the pause is expected to end, if staff said (预计恢复).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::schema::Instant>)]
    pub resumes_at: Option<Millis>,
    /// The ticket it has called or serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::schema::TicketNo>)]
    pub current: Option<TicketNumber>,
    /// When the ticket in hand was called.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::schema::Instant>)]
    pub called_at: Option<Millis>,
    /// When its service started (time in service counts from here).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::schema::Instant>)]
    pub serving_since: Option<Millis>,
    pub auto_call: bool,
    pub served_today: u32,
    /// Tickets transferred to this window alone.
    #[schema(value_type = Vec<super::schema::TicketNo>)]
    pub own_queue: Vec<TicketNumber>,
    /// Tickets held here (暂挂), in issue order, for 回呼.
    #[schema(value_type = Vec<super::schema::TicketNo>)]
    pub held: Vec<TicketNumber>,
    /// 潮汐窗口: the zone it takes first today, if a supervisor gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::schema::Id>)]
    pub first_zone: Option<ZoneId>,
}

impl From<engine::WindowView> for Window {
    fn from(w: engine::WindowView) -> Window {
        Window {
            number: w.number,
            open: w.open,
            staff: w.staff,
            paused: w.paused.map(Into::into),
            paused_since: w.paused_since,
            resumes_at: w.resumes_at,
            current: w.current,
            called_at: w.called_at,
            serving_since: w.serving_since,
            auto_call: w.auto_call,
            served_today: w.served_today,
            own_queue: w.own_queue,
            held: w.held,
            first_zone: w.first_zone,
        }
    }
}

/// A window as a public screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DisplayWindow {
    pub number: WindowNo,
    pub open: bool,
    /// Who staffs it: window screens show it (亮牌服务).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    /// Paused (暂停服务).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Why, as the window display says it (暂停服务 · 午休): the kind of
    /// pause only, never who or more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_reason: Option<super::vocab::PauseReason>,
    /// When the pause is expected to end, if staff said (预计 13:30 恢复).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::schema::Instant>)]
    pub resumes_at: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::schema::TicketNo>)]
    pub current: Option<TicketNumber>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::schema::Instant>)]
    pub called_at: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::schema::Instant>)]
    pub serving_since: Option<Millis>,
    #[schema(value_type = Vec<super::schema::TicketNo>)]
    pub own_queue: Vec<TicketNumber>,
}

impl From<engine::WindowView> for DisplayWindow {
    fn from(w: engine::WindowView) -> DisplayWindow {
        DisplayWindow {
            number: w.number,
            open: w.open,
            staff: w.staff,
            paused: w.paused.is_some(),
            pause_reason: w.paused.map(Into::into),
            resumes_at: w.resumes_at,
            current: w.current,
            called_at: w.called_at,
            serving_since: w.serving_since,
            own_queue: w.own_queue,
        }
    }
}

/// A line of a ticket's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Step {
    #[schema(value_type = super::schema::Instant)]
    pub at: Millis,
    pub what: StepKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowNo>,
}

impl From<&engine::Step> for Step {
    fn from(s: &engine::Step) -> Step {
        Step {
            at: s.at,
            what: s.what.into(),
            window: s.window,
        }
    }
}

/// A rating as staff see it: with the window and who staffed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RatingRecord {
    pub level: Rating,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub window: WindowNo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    #[schema(value_type = super::schema::Instant)]
    pub at: Millis,
}

impl From<&engine::RatingRecord> for RatingRecord {
    fn from(r: &engine::RatingRecord) -> RatingRecord {
        RatingRecord {
            level: r.level.into(),
            comment: r.comment.clone(),
            window: r.window,
            staff: r.staff.clone(),
            at: r.at,
        }
    }
}

/// A recorded follow-up step of a bad rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FollowUp {
    pub step: FollowUpStep,
    pub note: String,
    #[schema(value_type = super::schema::Instant)]
    pub at: Millis,
}

/// A ticket as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Ticket {
    #[schema(value_type = super::schema::TicketNo)]
    pub number: TicketNumber,
    #[schema(value_type = super::schema::Id)]
    pub zone: ZoneId,
    #[schema(value_type = super::schema::Id)]
    pub service: ServiceId,
    pub lane: Lane,
    pub channel: Channel,
    #[serde(flatten)]
    pub state: TicketState,
    #[schema(value_type = super::schema::Instant)]
    pub issued_at: Millis,
    /// People expected to be called before it (0 unless waiting).
    pub people_ahead: usize,
    /// Estimated wait in milliseconds until it is called (0 unless
    /// waiting, and when no open window will reach it).
    pub estimated_wait_ms: i64,
    /// The same with its range, while waiting and a window will reach it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_range: Option<WaitRange>,
    /// Waiting, and no open window will reach it today.
    pub no_window_open: bool,
    pub recalls: u32,
    pub skips: u32,
    pub transfers: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directed_to: Option<WindowNo>,
    pub history: Vec<Step>,
    /// 好差评, once given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<RatingRecord>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub follow_ups: Vec<FollowUp>,
}

impl From<engine::TicketView> for Ticket {
    fn from(t: engine::TicketView) -> Ticket {
        Ticket {
            number: t.number,
            zone: t.zone,
            service: t.service,
            lane: t.lane.into(),
            channel: t.channel.into(),
            state: t.state.into(),
            issued_at: t.issued_at,
            people_ahead: t.people_ahead,
            estimated_wait_ms: t.estimated_wait_ms,
            wait_range: t.wait_range.map(Into::into),
            no_window_open: t.no_window_open,
            recalls: t.recalls,
            skips: t.skips,
            transfers: t.transfers,
            directed_to: t.directed_to,
            history: t.history.iter().map(Into::into).collect(),
            rating: t.rating.as_ref().map(Into::into),
            follow_ups: t
                .follow_ups
                .iter()
                .map(|f| FollowUp {
                    step: f.step.into(),
                    note: f.note.clone(),
                    at: f.at,
                })
                .collect(),
        }
    }
}

/// The citizen's own rating, as given, of the window and staff who
/// served them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OwnRating {
    pub level: Rating,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub window: WindowNo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    #[schema(value_type = super::schema::Instant)]
    pub at: Millis,
}

/// A ticket as its citizen sees it: where it stands and what happened to
/// it, without how it was taken, its priority group, or staff's
/// follow-up notes on a complaint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CitizenTicket {
    #[schema(value_type = super::schema::TicketNo)]
    pub number: TicketNumber,
    #[schema(value_type = super::schema::Id)]
    pub zone: ZoneId,
    #[schema(value_type = super::schema::Id)]
    pub service: ServiceId,
    pub lane: LaneKind,
    #[serde(flatten)]
    pub state: TicketState,
    #[schema(value_type = super::schema::Instant)]
    pub issued_at: Millis,
    pub people_ahead: usize,
    /// Estimated wait in milliseconds until it is called (0 unless
    /// waiting, and when no open window will reach it).
    pub estimated_wait_ms: i64,
    /// The same with its range, while waiting and a window will reach it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_range: Option<WaitRange>,
    /// Waiting, and no open window will reach it today.
    pub no_window_open: bool,
    pub recalls: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directed_to: Option<WindowNo>,
    pub history: Vec<Step>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<OwnRating>,
}

impl From<engine::TicketView> for CitizenTicket {
    fn from(t: engine::TicketView) -> CitizenTicket {
        CitizenTicket {
            number: t.number,
            zone: t.zone,
            service: t.service,
            lane: t.lane.into(),
            state: t.state.into(),
            issued_at: t.issued_at,
            people_ahead: t.people_ahead,
            estimated_wait_ms: t.estimated_wait_ms,
            wait_range: t.wait_range.map(Into::into),
            no_window_open: t.no_window_open,
            recalls: t.recalls,
            directed_to: t.directed_to,
            history: t.history.iter().map(Into::into).collect(),
            rating: t.rating.map(|r| OwnRating {
                level: r.level.into(),
                comment: r.comment,
                window: r.window,
                staff: r.staff,
                at: r.at,
            }),
        }
    }
}

/// An alert that is up (超时预警).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Alert {
    pub kind: AlertKind,
    pub target: AlertTarget,
    #[schema(value_type = super::schema::Instant)]
    pub raised_at: Millis,
    /// The figure that crossed the threshold when raised (ms, or a count).
    pub value: i64,
    /// The threshold it crossed.
    pub limit: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::schema::Instant>)]
    pub acknowledged_at: Option<Millis>,
}

impl From<&engine::Alert> for Alert {
    fn from(a: &engine::Alert) -> Alert {
        Alert {
            kind: a.kind.into(),
            target: a.target.into(),
            raised_at: a.raised_at,
            value: a.value,
            limit: a.limit,
            acknowledged_by: a.acknowledged_by.clone(),
            acknowledged_at: a.acknowledged_at,
        }
    }
}

/// Every alert that is up.
pub fn alerts(a: &[engine::Alert]) -> Vec<Alert> {
    a.iter().map(Into::into).collect()
}

/// The day's 好差评 figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Ratings {
    /// Services finished today.
    pub finished: usize,
    /// Of those, rated.
    pub rated: usize,
    pub very_satisfied: usize,
    pub satisfied: usize,
    pub basic: usize,
    pub dissatisfied: usize,
    pub very_dissatisfied: usize,
    /// Bad ratings, and how many of them have each follow-up step.
    pub bad: usize,
    pub verified: usize,
    pub rectified: usize,
    pub called_back: usize,
}

impl From<engine::RatingSummary> for Ratings {
    fn from(r: engine::RatingSummary) -> Ratings {
        Ratings {
            finished: r.finished,
            rated: r.rated,
            very_satisfied: r.very_satisfied,
            satisfied: r.satisfied,
            basic: r.basic,
            dissatisfied: r.dissatisfied,
            very_dissatisfied: r.very_dissatisfied,
            bad: r.bad,
            verified: r.verified,
            rectified: r.rectified,
            called_back: r.called_back,
        }
    }
}

/// Where a booking is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BookingState {
    Booked,
    CheckedIn {
        #[schema(value_type = super::schema::TicketNo)]
        ticket: TicketNumber,
        #[schema(value_type = super::schema::Instant)]
        at: Millis,
    },
    Cancelled {
        #[schema(value_type = super::schema::Instant)]
        at: Millis,
    },
    /// Its day ended without a check-in.
    Missed,
}

/// An appointment (预约) as staff see it: its code, never the person's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Booking {
    #[schema(value_type = super::schema::Id)]
    pub code: Code,
    #[schema(value_type = String, format = Date)]
    pub day: jiff::civil::Date,
    #[schema(value_type = super::schema::Id)]
    pub zone: ZoneId,
    #[schema(value_type = super::schema::Id)]
    pub service: ServiceId,
    #[schema(value_type = super::schema::Instant)]
    pub slot_start: Millis,
    #[schema(value_type = super::schema::Instant)]
    pub slot_end: Millis,
    #[schema(value_type = super::schema::Instant)]
    pub booked_at: Millis,
    #[serde(flatten)]
    pub state: BookingState,
}

impl From<engine::BookingView> for Booking {
    fn from(b: engine::BookingView) -> Booking {
        Booking {
            code: b.code,
            day: b.day,
            zone: b.zone,
            service: b.service,
            slot_start: b.slot_start,
            slot_end: b.slot_end,
            booked_at: b.booked_at,
            state: match b.state {
                engine::BookingState::Booked => BookingState::Booked,
                engine::BookingState::CheckedIn { ticket, at } => BookingState::CheckedIn { ticket, at },
                engine::BookingState::Cancelled { at } => BookingState::Cancelled { at },
                engine::BookingState::Missed => BookingState::Missed,
            },
        }
    }
}
