//! What a hall's events make for the outside world. Pure: the same event
//! with the same configuration makes the same messages with the same keys,
//! so a message made again after a restart is one a receiver has seen.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use crate::archive::Rows;
use crate::config::HallConfig;
use crate::engine::{Event, EventKind, HallId, Millis};

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sink {
    Webhook(String),
    Platform,
    /// Citizens' texts (see `notices`).
    Sms,
    /// Citizens' WeChat subscription messages.
    WeChat,
    /// Citizens' notices to a system of the hall's own.
    NoticeHook,
}

impl Sink {
    /// As messages' keys and the supervisor board name it.
    pub fn name(&self) -> String {
        match self {
            Sink::Webhook(n) => format!("webhook:{n}"),
            Sink::Platform => "platform".to_owned(),
            Sink::Sms => "sms".to_owned(),
            Sink::WeChat => "wechat".to_owned(),
            Sink::NoticeHook => "notice-webhook".to_owned(),
        }
    }

    pub fn parse(s: &str) -> Option<Sink> {
        match s {
            "platform" => Some(Sink::Platform),
            "sms" => Some(Sink::Sms),
            "wechat" => Some(Sink::WeChat),
            "notice-webhook" => Some(Sink::NoticeHook),
            _ => s.strip_prefix("webhook:").map(|n| Sink::Webhook(n.to_owned())),
        }
    }
}

/// One message to deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The idempotency key (`webhook-id`): the hall, the event's number
    /// and time (a log that was replaced reuses numbers, never times), and
    /// the sink.
    pub key: String,
    pub sink: Sink,
    pub seq: u64,
    /// An event's type, or `visit`, `rating`, `follow_up`.
    pub kind: String,
    pub body: String,
}

pub fn key(hall: HallId, ev: &Event, sink: &Sink) -> String {
    format!("{hall}.{}.{}.{}", ev.seq, ev.at.0, sink.name())
}

/// An event's type as staff and webhooks name it.
pub fn type_name(kind: &EventKind) -> Option<String> {
    let v = serde_json::to_value(kind).ok()?;
    v.get("type")?.as_str().map(str::to_owned)
}

fn local(tz: &TimeZone, at: Millis) -> String {
    Timestamp::from_millisecond(at.0)
        .map(|t| {
            t.to_zoned_datetime(tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        })
        .unwrap_or_default()
}

/// Each ticket's first call and calls today, which a visit's record
/// carries (the archive's rows add them up in PostgreSQL instead).
#[derive(Debug, Default)]
pub struct Calls(std::collections::HashMap<crate::engine::TicketNumber, (Millis, u32)>);

impl Calls {
    /// Reads one event of the day, in order.
    pub fn note(&mut self, ev: &Event) {
        match &ev.kind {
            EventKind::DayStarted { .. } => self.0.clear(),
            EventKind::TicketCalled { ticket, how, .. } => {
                let e = self.0.entry(*ticket).or_insert((ev.at, 0));
                if *how == crate::engine::CallKind::CallBack && e.1 == 0 {
                    e.0 = ev.at;
                }
                e.1 += 1;
            }
            _ => {}
        }
    }
}

/// The messages `ev` makes; `rows` are what the archive's replay of the
/// day made of it (the finished visit, the rating), `calls` the day's
/// calls up to and with it.
pub fn make(hall: HallId, cfg: &HallConfig, ev: &Event, rows: &Rows, calls: &Calls) -> Vec<Message> {
    let mut out = Vec::new();
    if !cfg.outbound.webhooks.is_empty()
        && let Some(wire) = crate::wire::event::staff(ev)
        && let Ok(event) = serde_json::to_value(&wire)
        && let Some(kind) = event.get("kind").and_then(|k| k.get("type")).and_then(Value::as_str)
    {
        for w in cfg.outbound.webhooks.iter().filter(|w| w.wants(kind)) {
            let sink = Sink::Webhook(w.name.clone());
            let key = key(hall, ev, &sink);
            let body = json!({
                "id": key,
                "hall": hall.as_str(),
                "type": kind,
                "seq": ev.seq,
                "at": local(&cfg.spec.time_zone, ev.at),
                "event": event["kind"],
            });
            out.push(Message {
                key,
                sink,
                seq: ev.seq,
                kind: kind.to_owned(),
                body: body.to_string(),
            });
        }
    }
    out.extend(platform(hall, cfg, ev, rows, calls));
    out
}

/// The platform's record of `ev`, if the hall sends it one.
pub fn platform(hall: HallId, cfg: &HallConfig, ev: &Event, rows: &Rows, calls: &Calls) -> Option<Message> {
    let p = cfg.outbound.platform.as_ref()?;
    let (kind, record) = platform_record(cfg, ev, rows, calls)?;
    let sink = Sink::Platform;
    let key = key(hall, ev, &sink);
    let mut body = json!({
        "id": key,
        "hall": hall.as_str(),
        "hall_code": p.hall_code,
        "record": kind,
    });
    if let Value::Object(b) = &mut body {
        b.extend(record);
    }
    Some(Message {
        key,
        sink,
        seq: ev.seq,
        kind: kind.to_owned(),
        body: body.to_string(),
    })
}

/// The staff number of whoever `label` names, from the hall's accounts.
fn staff_number(cfg: &HallConfig, label: Option<&str>) -> Option<String> {
    let label = label?;
    cfg.accounts
        .iter()
        .find(|a| !a.card.staff_number.is_empty() && a.card.label(&a.user) == label)
        .map(|a| a.card.staff_number.clone())
        .or_else(|| {
            // A directory sign-in's label carries it: 李明（工号0305）.
            let start = label.find("（工号")? + "（工号".len();
            let end = label[start..].find('）')? + start;
            Some(label[start..end].to_owned())
        })
}

fn names(cfg: &HallConfig, zone: &str, service: &str) -> (String, String) {
    let spec = &cfg.spec;
    let z = spec.zones.iter().find(|z| z.id.as_str() == zone);
    let s = z.and_then(|z| z.services.iter().find(|s| s.id.as_str() == service));
    (
        z.map(|z| z.name.clone()).unwrap_or_default(),
        s.map(|s| s.name.clone()).unwrap_or_default(),
    )
}

fn score(level: &str) -> u8 {
    match level {
        "very_satisfied" => 5,
        "satisfied" => 4,
        "basic" => 3,
        "dissatisfied" => 2,
        _ => 1,
    }
}

fn platform_record(
    cfg: &HallConfig,
    ev: &Event,
    rows: &Rows,
    calls: &Calls,
) -> Option<(&'static str, serde_json::Map<String, Value>)> {
    let tz = &cfg.spec.time_zone;
    let t = |m: Option<Millis>| m.map(|m| local(tz, m));
    let record = match &ev.kind {
        EventKind::ServiceFinished { ticket, window } => {
            let row = rows.tickets.values().find(|r| r.number == *ticket)?;
            let (zone_name, service_name) = names(cfg, row.zone.as_str(), row.service.as_str());
            let (first_called, called) = match calls.0.get(ticket) {
                Some(&(at, n)) => (Some(at), n),
                None => (None, 0),
            };
            let waited = first_called.map(|c| c.since(row.issued_at) / 1000);
            let served = match (row.started_at, row.finished_at) {
                (Some(s), Some(f)) => Some(f.since(s) / 1000),
                _ => None,
            };
            (
                "visit",
                json!({
                    "day": row.day.to_string(),
                    "ticket": ticket.to_string(),
                    "zone": row.zone,
                    "zone_name": zone_name,
                    "service": row.service,
                    "service_name": service_name,
                    "lane": row.lane,
                    "category": row.category,
                    "channel": row.channel,
                    "window": window,
                    "staff": row.staff,
                    "staff_number": staff_number(cfg, row.staff.as_deref()),
                    "issued_at": local(tz, row.issued_at),
                    "first_called_at": t(first_called),
                    "started_at": t(row.started_at),
                    "finished_at": local(tz, ev.at),
                    "wait_seconds": waited,
                    "service_seconds": served,
                    "calls": called,
                    "transfers": row.transfers,
                }),
            )
        }
        EventKind::TicketRated { ticket, window, .. } => {
            let r = rows.ratings.iter().find(|r| r.number == *ticket)?;
            (
                "rating",
                json!({
                    "day": r.day.to_string(),
                    "ticket": ticket.to_string(),
                    "window": window,
                    "staff": r.staff,
                    "staff_number": staff_number(cfg, r.staff.as_deref()),
                    "level": r.level,
                    "score": score(&r.level),
                    "comment": r.comment,
                    "at": local(tz, r.at),
                }),
            )
        }
        EventKind::FollowUpRecorded { ticket, .. } => {
            let f = rows.follow_ups.iter().find(|f| f.number == *ticket)?;
            (
                "follow_up",
                json!({
                    "day": f.day.to_string(),
                    "ticket": ticket.to_string(),
                    "step": f.step,
                    "note": f.note,
                    "at": local(tz, f.at),
                }),
            )
        }
        _ => return None,
    };
    match record.1 {
        Value::Object(m) => Some((record.0, m)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
