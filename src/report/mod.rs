//! Reports for a day or a range of days, computed from a hall's stored
//! events: pure and synchronous, like the engine. The events are replayed
//! into an engine [`Hall`](crate::engine::Hall) and every figure is read
//! off the replay, so a report always equals what the hall lived through,
//! after any restart.
//!
//! - `fold`: walks the events and records each fact in its groups;
//! - `tally`: the running sums and samples of one group, and its figures;
//! - `part`: the facts of some days, keyed by ids: mergeable, and what the
//!   archive keeps per day;
//! - `csv`: the same report as one CSV table.
//!
//! Definitions (also in `docs/reports.md`):
//! - *wait*: ticket taken → first call; *service*: start → finish;
//!   *walk*: call → start of service;
//! - *idle*: a window open, not paused, with nothing in hand, while a ticket
//!   it could call is waiting;
//! - *pause*: time paused, by reason (`signed_in` is the pause a window
//!   opens in until its staff start);
//! - *unfinished at close*: tickets in hand (called, serving or held) when
//!   the business day ended; *left waiting*: tickets still queued then;
//! - means are rounded to the millisecond, p90 is the nearest rank.

mod csv;
mod fold;
mod part;
mod tally;

use serde::{Deserialize, Serialize};

pub use csv::to_csv;
pub use fold::{Folder, build};
pub use part::Part;

use crate::engine::HallId;

/// The longest range one report may cover.
pub const MAX_DAYS: i32 = 366;

/// A hall's figures over a range of business days.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    #[schema(value_type = String)]
    pub hall: HallId,
    #[schema(value_type = String, format = Date)]
    pub from: jiff::civil::Date,
    #[schema(value_type = String, format = Date)]
    pub to: jiff::civil::Date,
    /// The business days in the range that have stored events.
    #[schema(value_type = Vec<String>)]
    pub days: Vec<jiff::civil::Date>,
    /// The last day is still running: its open pauses and idle spells are
    /// counted up to the report's time, and nothing is unfinished yet.
    #[schema(value_type = Option<String>, format = Date)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<jiff::civil::Date>,
    /// The whole hall.
    pub total: Row,
    pub zones: Vec<Row>,
    pub services: Vec<Row>,
    pub windows: Vec<Row>,
    /// Per staff member, by the user name their window was opened with.
    pub staff: Vec<Row>,
    /// By local hour of the day: arrivals, and the waits of those arrivals.
    pub hours: Vec<HourRow>,
    pub follow_ups: FollowUps,
}

/// One group's figures. Fields that do not apply to a kind of group (no
/// window issues tickets; a zone does not pause) are absent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Row {
    /// `hall`, a zone id, `zone/service`, a window number or a user name.
    pub key: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued: Option<u64>,
    /// Tickets called for the first time.
    pub called: u64,
    pub served: u64,
    /// 过号: calls nobody answered, whether the ticket went back in the
    /// queue or not.
    #[serde(default)]
    pub skips: u64,
    /// 未到: tickets that ended skipped for good (the last 过号).
    pub no_shows: u64,
    pub cancelled: u64,
    pub transfers: u64,
    pub wait: Stat,
    pub service: Stat,
    pub walk: Stat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<PauseTimes>,
    pub unfinished_at_close: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_waiting: Option<u64>,
    pub ratings: Ratings,
}

/// Count, mean, 90th percentile and maximum of durations in ms; the last
/// three are absent without samples.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stat {
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<i64>,
}

/// Paused time in ms, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PauseTimes {
    pub total_ms: i64,
    pub signed_in_ms: i64,
    pub lunch_ms: i64,
    pub break_ms: i64,
    pub meeting_ms: i64,
    pub training_ms: i64,
    pub fault_ms: i64,
    pub other_ms: i64,
}

/// 好差评 counts, best level first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ReportRatings)]
pub struct Ratings {
    pub very_satisfied: u64,
    pub satisfied: u64,
    pub basic: u64,
    pub dissatisfied: u64,
    pub very_dissatisfied: u64,
    pub rated: u64,
    pub bad: u64,
    /// Rated services per 100 served, to one decimal; absent with none served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_pct: Option<f64>,
}

/// One local hour of the day, summed over the range.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HourRow {
    pub hour: u8,
    pub arrivals: u64,
    pub served: u64,
    /// Waits of the tickets taken in this hour.
    pub wait: Stat,
}

/// The follow-up of the bad ratings given in the range.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FollowUps {
    pub bad: u64,
    pub verified: u64,
    pub rectified: u64,
    pub called_back: u64,
}

#[cfg(test)]
mod tests;
