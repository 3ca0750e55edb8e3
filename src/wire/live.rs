//! The live protocol's messages (docs/protocol.md). Snapshots and deltas
//! are generic over what differs by audience: the events, zones and
//! windows they carry, and what only staff get beside them (alerts and
//! ratings).

use serde::Serialize;

use super::view::{Alert, CitizenTicket, Queue, Ratings};
use super::vocab::LaneKind;
use crate::engine::{HallSpec, Millis, TicketNumber, WindowNo, ZoneId};

/// A call (叫号) or recall (重呼) as screens show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    pub ticket: TicketNumber,
    pub window: WindowNo,
    pub window_name: String,
    pub zone: ZoneId,
    pub lane: LaneKind,
    /// 0 for the first call, then the recall count.
    pub recall: u32,
    pub at: Millis,
}

impl Call {
    /// The LED line: `A023 5号窗口`.
    pub fn led(&self) -> String {
        format!("{} {}号窗口", self.ticket, self.window)
    }
}

/// The hall's fixed description, sent in every snapshot.
#[derive(Debug, Serialize)]
pub struct HallInfo<'a> {
    /// The configuration version the names are from: a page that saw
    /// another reads the hall again (`GET /api/v1/halls`).
    pub config: u32,
    pub id: &'a str,
    pub name: &'a str,
    pub name_en: &'a str,
    pub zones: Vec<ZoneInfo<'a>>,
    pub windows: Vec<WindowInfo<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ZoneInfo<'a> {
    pub id: ZoneId,
    pub name: &'a str,
    pub name_en: &'a str,
    pub prefix: &'a str,
}

#[derive(Debug, Serialize)]
pub struct WindowInfo<'a> {
    pub number: WindowNo,
    pub name: &'a str,
    pub name_en: &'a str,
    pub zones: Vec<ZoneId>,
}

impl<'a> HallInfo<'a> {
    /// The hall, or one zone of it, or one window.
    /// As of configuration version `n`.
    pub fn version(self, n: u32) -> HallInfo<'a> {
        HallInfo { config: n, ..self }
    }

    pub fn new(spec: &'a HallSpec, zone: Option<usize>, window: Option<usize>) -> HallInfo<'a> {
        HallInfo {
            config: 0,
            id: spec.id.as_str(),
            name: &spec.name,
            name_en: &spec.name_en,
            zones: spec
                .zones
                .iter()
                .enumerate()
                .filter(|(i, z)| zone.is_none_or(|x| x == *i) && (!z.retired || zone.is_some()))
                .map(|(_, z)| ZoneInfo {
                    id: z.id,
                    name: &z.name,
                    name_en: &z.name_en,
                    prefix: &z.prefix,
                })
                .collect(),
            windows: spec
                .windows
                .iter()
                .enumerate()
                .filter(|(i, w)| {
                    window.is_none_or(|x| x == *i)
                        && zone.is_none_or(|z| w.serves.iter().any(|s| s.zone == z))
                        && (!w.retired || window.is_some())
                })
                .map(|(_, w)| WindowInfo {
                    number: w.number,
                    name: &w.name,
                    name_en: &w.name_en,
                    zones: w.serves.iter().map(|s| spec.zones[s.zone].id).collect::<Vec<_>>(),
                })
                .collect(),
        }
    }
}

/// What only staff get beside a snapshot or delta.
#[derive(Debug, Serialize)]
pub struct StaffExtra {
    /// 超时预警 that are up (in a delta: only when it changed them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<Alert>>,
    /// The day's 好差评 figures (in a delta: only when it changed them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratings: Option<Ratings>,
}

/// Nothing: what a public screen gets beside a snapshot or delta.
#[derive(Debug, Serialize)]
pub struct NoExtra {}

/// The whole state a subscriber's scope covers, as of `seq`.
#[derive(Debug, Serialize)]
pub struct Snapshot<'a, Z, W, X> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub seq: u64,
    /// The incarnation of the hall's log `seq` is from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    pub at: Millis,
    pub business_day: Option<jiff::civil::Date>,
    pub hall: HallInfo<'a>,
    pub zones: Vec<Z>,
    pub queues: Vec<Queue>,
    pub windows: Vec<W>,
    /// The latest calls, newest last.
    pub calls: Vec<&'a Call>,
    #[serde(flatten)]
    pub extra: X,
}

/// What changed with one durable batch of events.
#[derive(Debug, Serialize)]
pub struct Delta<'a, E, Z, W, X> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The first and last sequence numbers of the batch.
    pub from: u64,
    pub seq: u64,
    pub events: Vec<E>,
    pub calls: &'a [Call],
    pub zones: Vec<Z>,
    pub queues: Vec<Queue>,
    pub windows: Vec<W>,
    #[serde(flatten)]
    pub extra: X,
}

/// Sent instead of a snapshot to a client that resumed: the frames it
/// missed follow.
#[derive(Debug, Serialize)]
pub struct Resumed {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub since: u64,
    pub seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    /// The server's time, so a client can tell how old the calls it is
    /// sent are by the server's clock.
    pub at: Millis,
}

/// The citizen's view of their ticket.
#[derive(Debug, Serialize)]
pub struct TicketUpdate<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub seq: u64,
    pub hall: &'a str,
    pub hall_name: &'a str,
    pub zone_name: &'a str,
    pub service_name: &'a str,
    pub ticket: CitizenTicket,
}

/// An error sent on the socket before it is closed.
#[derive(Debug, Serialize)]
pub struct WireError<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub error: ErrorBody<'a>,
}

#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub code: &'a str,
    pub message: &'a str,
}
