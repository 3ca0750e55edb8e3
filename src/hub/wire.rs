//! The wire protocol's documents (docs/protocol.md), kept apart from the
//! engine's types: what a screen may see, never a citizen's person key.

use serde::Serialize;

use crate::engine::{Alert, RatingSummary};

use crate::engine::HallSpec;
use crate::engine::{
    Event, EventKind, Lane, Millis, TicketNumber, TicketView, WindowNo, WindowView, ZoneId, ZoneQueue, ZoneSummary,
};

/// A call (叫号) or recall (重呼) as screens show it.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    pub ticket: TicketNumber,
    pub window: WindowNo,
    pub window_name: String,
    pub zone: ZoneId,
    pub lane: &'static str,
    /// 0 for the first call, then the recall count.
    pub recall: u32,
    pub at: Millis,
}

pub fn lane_name(l: &Lane) -> &'static str {
    match l {
        Lane::Normal => "normal",
        Lane::Priority { .. } => "priority",
        Lane::Appointment { .. } => "appointment",
    }
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
    pub fn new(cfg: &'a HallSpec, zone: Option<usize>, window: Option<usize>) -> HallInfo<'a> {
        HallInfo {
            id: cfg.id.as_str(),
            name: &cfg.name,
            name_en: &cfg.name_en,
            zones: cfg
                .zones
                .iter()
                .enumerate()
                .filter(|(i, _)| zone.is_none_or(|z| z == *i))
                .map(|(_, z)| ZoneInfo {
                    id: z.id,
                    name: &z.name,
                    name_en: &z.name_en,
                    prefix: &z.prefix,
                })
                .collect(),
            windows: cfg
                .windows
                .iter()
                .enumerate()
                .filter(|(i, w)| {
                    window.is_none_or(|x| x == *i) && zone.is_none_or(|z| w.serves.iter().any(|s| s.zone == z))
                })
                .map(|(_, w)| WindowInfo {
                    number: w.number,
                    name: &w.name,
                    name_en: &w.name_en,
                    zones: w.serves.iter().map(|s| cfg.zones[s.zone].id).collect::<Vec<_>>(),
                })
                .collect(),
        }
    }
}

/// The whole state a subscriber's scope covers, as of `seq`.
#[derive(Debug, Serialize)]
pub struct Snapshot<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub seq: u64,
    /// The incarnation of the hall's log `seq` is from (docs/protocol.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    pub at: Millis,
    pub business_day: Option<jiff::civil::Date>,
    pub hall: HallInfo<'a>,
    pub zones: Vec<ZoneSummary>,
    pub queues: Vec<ZoneQueue>,
    pub windows: Vec<WindowView>,
    /// The latest calls, newest last.
    pub calls: Vec<&'a Call>,
    /// 超时预警 that are up.
    pub alerts: &'a [Alert],
    /// The day's 好差评 figures.
    pub ratings: RatingSummary,
}

/// What changed with one durable batch of events.
#[derive(Debug, Serialize)]
pub struct Delta<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The first and last sequence numbers of the batch.
    pub from: u64,
    pub seq: u64,
    pub events: &'a [Event],
    pub calls: &'a [Call],
    pub zones: Vec<ZoneSummary>,
    pub queues: Vec<ZoneQueue>,
    pub windows: Vec<WindowView>,
    /// Every alert that is up, when this batch raised, acknowledged or
    /// cleared one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<&'a [Alert]>,
    /// The day's 好差评 figures, when this batch finished, rated or followed
    /// up a ticket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratings: Option<RatingSummary>,
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
    pub ticket: TicketView,
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

/// Events as screens may see them: a person's key and appointment codes
/// (what checks an appointment in) stay on the server, and bookings, which
/// change nothing on a screen, are not sent.
pub fn public(mut e: Event) -> Option<Event> {
    match &mut e.kind {
        EventKind::AppointmentBooked { .. } | EventKind::BookingCancelled { .. } => return None,
        EventKind::TicketIssued { person, booking, .. } => {
            *person = None;
            *booking = None;
        }
        _ => {}
    }
    Some(e)
}

pub fn to_json<T: Serialize>(v: &T) -> String {
    // These documents hold strings, numbers and ids only: no map with
    // non-string keys, no failing Serialize impl.
    serde_json::to_string(v).expect("wire documents serialize")
}
