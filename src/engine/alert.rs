//! 超时预警 as values: what an alert is about and the alerts that are up.
//! How they are raised and cleared is `alerts`.

use serde::{Deserialize, Serialize};

use super::ids::{Millis, WindowNo, ZoneId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Someone in a zone has waited too long.
    LongWait,
    /// Too many are waiting in a zone.
    LongQueue,
    /// A window's service has gone on too long.
    LongService,
    /// A window has been paused too long.
    LongPause,
}

/// What an alert is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlertTarget {
    Zone { zone: ZoneId },
    Window { window: WindowNo },
}

/// An alert that is up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub target: AlertTarget,
    pub raised_at: Millis,
    /// The figure that crossed the threshold when raised (ms, or a count).
    pub value: i64,
    /// The threshold it crossed.
    pub limit: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<Millis>,
}
