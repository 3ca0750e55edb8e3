//! Every engine event, with a secret in every field that may hold one,
//! through each audience's conversion: a public screen receives none of
//! them and no field its wire type does not name; staff receive no
//! person's key and no appointment's code.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::event::{display, staff};
use crate::engine::{
    AlertKind, AlertTarget, CallKind, Channel, Code, Event, EventKind, FollowUpStep, Lane, Millis, PauseReason,
    PersonKey, Placement, Rating, Target,
};

const PERSON: PersonKey = PersonKey(0x5ec2_e700_0000_0000_0000_0000_0000_0001);
/// Written into every field that only staff may read.
const SECRET: &str = "SECRET-FOR-STAFF";

fn code(s: &str) -> Code {
    Code::new(s).unwrap()
}

/// The name of an event's variant. Exhaustive: a new variant does not
/// compile until it is added here, and then `every_kind` must give one.
fn name(k: &EventKind) -> &'static str {
    match k {
        EventKind::DayStarted { .. } => "DayStarted",
        EventKind::ConfigChanged { .. } => "ConfigChanged",
        EventKind::TicketIssued { .. } => "TicketIssued",
        EventKind::TicketCalled { .. } => "TicketCalled",
        EventKind::TicketRecalled { .. } => "TicketRecalled",
        EventKind::TicketSkipped { .. } => "TicketSkipped",
        EventKind::ServiceStarted { .. } => "ServiceStarted",
        EventKind::ServiceFinished { .. } => "ServiceFinished",
        EventKind::TicketTransferred { .. } => "TicketTransferred",
        EventKind::TicketHeld { .. } => "TicketHeld",
        EventKind::TicketCancelled { .. } => "TicketCancelled",
        EventKind::TicketReactivated { .. } => "TicketReactivated",
        EventKind::WindowOpened { .. } => "WindowOpened",
        EventKind::WindowClosed { .. } => "WindowClosed",
        EventKind::WindowPaused { .. } => "WindowPaused",
        EventKind::WindowResumed { .. } => "WindowResumed",
        EventKind::AutoCallChanged { .. } => "AutoCallChanged",
        EventKind::WindowServesFirst { .. } => "WindowServesFirst",
        EventKind::TicketRated { .. } => "TicketRated",
        EventKind::FollowUpRecorded { .. } => "FollowUpRecorded",
        EventKind::AppointmentBooked { .. } => "AppointmentBooked",
        EventKind::BookingCancelled { .. } => "BookingCancelled",
        EventKind::AlertRaised { .. } => "AlertRaised",
        EventKind::AlertAcknowledged { .. } => "AlertAcknowledged",
        EventKind::AlertCleared { .. } => "AlertCleared",
        EventKind::AnswerKept { .. } => "AnswerKept",
        EventKind::DevicePaired { .. } => "DevicePaired",
        EventKind::DeviceRevoked { .. } => "DeviceRevoked",
        EventKind::SignedOut { .. } => "SignedOut",
        EventKind::TicketNearing { .. } => "TicketNearing",
        EventKind::OutboxProgressed { .. } => "OutboxProgressed",
        EventKind::OutboxSetAside { .. } => "OutboxSetAside",
        EventKind::OutboxResent { .. } => "OutboxResent",
        EventKind::Audited(_) => "Audited",
    }
}

const ALL: [&str; 34] = [
    "DayStarted",
    "ConfigChanged",
    "TicketIssued",
    "TicketCalled",
    "TicketRecalled",
    "TicketSkipped",
    "ServiceStarted",
    "ServiceFinished",
    "TicketTransferred",
    "TicketHeld",
    "TicketCancelled",
    "TicketReactivated",
    "WindowOpened",
    "WindowClosed",
    "WindowPaused",
    "WindowResumed",
    "AutoCallChanged",
    "WindowServesFirst",
    "TicketRated",
    "FollowUpRecorded",
    "AppointmentBooked",
    "BookingCancelled",
    "AlertRaised",
    "AlertAcknowledged",
    "AlertCleared",
    "AnswerKept",
    "DevicePaired",
    "DeviceRevoked",
    "SignedOut",
    "Audited",
    "OutboxProgressed",
    "OutboxSetAside",
    "OutboxResent",
    "TicketNearing",
];

/// One of each kind (several where a kind has shapes that differ), with
/// secrets where a secret can be.
fn every_kind() -> Vec<EventKind> {
    let t = "A023".parse().unwrap();
    let secret_code = code("secret-booking-9");
    let category = code("secret-category");
    vec![
        EventKind::DayStarted {
            day: jiff::civil::date(2026, 12, 4),
        },
        EventKind::TicketIssued {
            ticket: t,
            zone: code("general"),
            service: code("apply"),
            lane: Lane::Priority { category },
            channel: Channel::Mobile,
            person: Some(PERSON),
            booking: Some(secret_code),
            notice: Some("5ec2e7005ec2e7005ec2e7005ec2e700".parse().unwrap()),
        },
        EventKind::TicketIssued {
            ticket: t,
            zone: code("general"),
            service: code("apply"),
            lane: Lane::Appointment {
                slot_start: Millis(1),
                slot_end: Millis(2),
            },
            channel: Channel::AppointmentCheckIn,
            person: Some(PERSON),
            booking: Some(secret_code),
            notice: Some("5ec2e7005ec2e7005ec2e7005ec2e700".parse().unwrap()),
        },
        EventKind::TicketCalled {
            ticket: t,
            window: 5,
            how: CallKind::CallBack,
            contested: true,
        },
        EventKind::TicketRecalled {
            ticket: t,
            window: 5,
            count: 2,
        },
        EventKind::TicketSkipped {
            ticket: t,
            window: 5,
            no_show: true,
        },
        EventKind::ServiceStarted { ticket: t, window: 5 },
        EventKind::ServiceFinished { ticket: t, window: 5 },
        EventKind::TicketTransferred {
            ticket: t,
            from_window: Some(5),
            to: Target::Zone {
                zone: code("police"),
                service: code("secret-service"),
            },
            placement: Placement::End,
        },
        EventKind::TicketTransferred {
            ticket: t,
            from_window: None,
            to: Target::Window { window: 7 },
            placement: Placement::Front,
        },
        EventKind::TicketHeld { ticket: t, window: 5 },
        EventKind::TicketCancelled { ticket: t },
        EventKind::TicketReactivated { ticket: t },
        EventKind::WindowOpened {
            window: 5,
            staff: Some("张三".into()),
            paused: true,
        },
        EventKind::WindowClosed { window: 5 },
        EventKind::WindowPaused {
            window: 5,
            reason: PauseReason::Meeting,
            until: Some(Millis(1_795_487_400_000)),
        },
        EventKind::WindowResumed { window: 5 },
        EventKind::AutoCallChanged { window: 5, on: true },
        EventKind::WindowServesFirst {
            window: 5,
            zone: Some(Code::new("police").unwrap()),
        },
        EventKind::TicketRated {
            ticket: t,
            window: 5,
            staff: Some(SECRET.into()),
            level: Rating::VeryDissatisfied,
            comment: Some(SECRET.into()),
        },
        EventKind::FollowUpRecorded {
            ticket: t,
            step: FollowUpStep::CalledBack,
            note: SECRET.into(),
        },
        EventKind::AppointmentBooked {
            code: secret_code,
            day: jiff::civil::date(2026, 12, 4),
            zone: code("general"),
            service: code("apply"),
            slot_start: Millis(1),
            slot_end: Millis(2),
            person: Some(PERSON),
        },
        EventKind::BookingCancelled { code: secret_code },
        EventKind::AlertRaised {
            alert: AlertKind::LongWait,
            target: AlertTarget::Zone { zone: code("general") },
            value: 3_600_000,
            limit: 1_800_000,
        },
        EventKind::AlertAcknowledged {
            alert: AlertKind::LongPause,
            target: AlertTarget::Window { window: 5 },
            by: SECRET.into(),
        },
        EventKind::AlertCleared {
            alert: AlertKind::LongQueue,
            target: AlertTarget::Zone { zone: code("general") },
        },
        EventKind::AnswerKept {
            key: SECRET.into(),
            fingerprint: SECRET.into(),
            status: 201,
            body: SECRET.into(),
        },
        EventKind::DevicePaired {
            device: SECRET.into(),
            account: SECRET.into(),
            name: SECRET.into(),
        },
        EventKind::DeviceRevoked { device: SECRET.into() },
        EventKind::SignedOut { user: SECRET.into() },
        EventKind::ConfigChanged {
            version: 7,
            spec: crate::engine::SpecDoc(std::sync::Arc::new(crate::engine::tests::spec())),
            text: SECRET.into(),
            by: SECRET.into(),
            reason: SECRET.into(),
        },
        EventKind::Audited(crate::engine::AuditNote::new(
            crate::engine::AuditAction::SignedIn,
            SECRET,
            Some(SECRET.into()),
            Some(SECRET.into()),
        )),
        EventKind::TicketNearing { ticket: t, ahead: 2 },
        EventKind::OutboxProgressed {
            through: 1,
            day_from: 1,
        },
        EventKind::OutboxSetAside {
            items: vec![set_aside()],
        },
        EventKind::OutboxResent {
            items: vec![set_aside()],
            by: SECRET.into(),
        },
    ]
}

fn set_aside() -> crate::engine::SetAside {
    crate::engine::SetAside {
        key: SECRET.into(),
        sink: SECRET.into(),
        seq: 1,
        kind: SECRET.into(),
        body: SECRET.into(),
        attempts: 1,
        error: SECRET.into(),
        first_at: Millis(0),
    }
}

/// The fields a public screen may receive, per event type: the display
/// wire type's, written out again so that widening it is a visible change
/// here too.
fn display_fields() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let f = |fields: &[&'static str]| fields.iter().copied().chain(["type"]).collect::<BTreeSet<_>>();
    BTreeMap::from([
        ("DayStarted", f(&["day"])),
        ("ConfigChanged", f(&["version"])),
        ("TicketIssued", f(&["ticket", "zone", "service", "lane"])),
        ("TicketCalled", f(&["ticket", "window"])),
        ("TicketRecalled", f(&["ticket", "window", "count"])),
        ("TicketSkipped", f(&["ticket", "window", "no_show"])),
        ("ServiceStarted", f(&["ticket", "window"])),
        ("ServiceFinished", f(&["ticket", "window"])),
        ("TicketTransferred", f(&["ticket", "from_window", "to"])),
        ("TicketHeld", f(&["ticket", "window"])),
        ("TicketCancelled", f(&["ticket"])),
        ("TicketReactivated", f(&["ticket"])),
        ("WindowOpened", f(&["window", "staff"])),
        ("WindowClosed", f(&["window"])),
        ("WindowPaused", f(&["window", "reason", "until"])),
        ("WindowResumed", f(&["window"])),
    ])
}

fn event(kind: EventKind) -> Event {
    Event {
        seq: 42,
        at: Millis(1_795_485_600_000),
        kind,
    }
}

#[test]
fn every_event_kind_is_tried() {
    let tried: BTreeSet<&str> = every_kind().iter().map(name).collect();
    assert_eq!(tried, ALL.into_iter().collect::<BTreeSet<_>>());
}

#[test]
fn a_display_receives_only_the_fields_its_wire_type_names_and_no_secret() {
    let allowed = display_fields();
    let mut sent = BTreeSet::new();
    for kind in every_kind() {
        let e = event(kind);
        let Some(out) = display(&e) else {
            continue;
        };
        let json = super::to_json(&out);
        // Values: the secrets, the person's key, a priority group, a
        // booking's code, the service a transfer named. (Why a window
        // paused is shown: 暂停服务 · 午休.)
        for secret in [SECRET, "secret", "5ec2e700"] {
            assert!(
                !json.contains(secret),
                "{} sends {secret:?} to a display: {json}",
                name(&e.kind)
            );
        }
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v.as_object().unwrap().keys().collect::<Vec<_>>(), ["at", "kind", "seq"]);
        let kind = v["kind"].as_object().unwrap();
        let ty = kind["type"].as_str().unwrap();
        let fields = allowed.get(ty).unwrap_or_else(|| panic!("{ty} reaches a display"));
        for k in kind.keys() {
            assert!(fields.contains(k.as_str()), "{ty}.{k} reaches a display: {json}");
        }
        sent.insert(ty.to_owned());
    }
    // And what is left out is left out on purpose.
    let withheld: BTreeSet<&str> = ALL.into_iter().filter(|n| !sent.contains(*n)).collect();
    assert_eq!(
        withheld,
        BTreeSet::from([
            "AutoCallChanged",
            "WindowServesFirst",
            "TicketRated",
            "FollowUpRecorded",
            "AppointmentBooked",
            "BookingCancelled",
            "AlertRaised",
            "AlertAcknowledged",
            "AlertCleared",
            // An answer kept for an idempotency key is the requester's.
            "AnswerKept",
            // Devices and sign-outs are the administrator's business.
            "DevicePaired",
            "DeviceRevoked",
            "SignedOut",
            // Who signed in from where is the supervisor's, by request.
            "Audited",
            // The outbox's record is the supervisor's, by request; a
            // citizen's notice is theirs.
            "TicketNearing",
            "OutboxProgressed",
            "OutboxSetAside",
            "OutboxResent",
        ])
    );
}

#[test]
fn staff_receive_no_persons_key_and_no_appointments_code() {
    for kind in every_kind() {
        let e = event(kind);
        let Some(out) = staff(&e) else {
            assert!(
                matches!(
                    e.kind,
                    EventKind::AppointmentBooked { .. }
                        | EventKind::BookingCancelled { .. }
                        | EventKind::AnswerKept { .. }
                        | EventKind::DevicePaired { .. }
                        | EventKind::DeviceRevoked { .. }
                        | EventKind::SignedOut { .. }
                        | EventKind::TicketNearing { .. }
                        | EventKind::OutboxProgressed { .. }
                        | EventKind::OutboxSetAside { .. }
                        | EventKind::OutboxResent { .. }
                        | EventKind::Audited(_)
                ),
                "{} withheld from staff",
                name(&e.kind)
            );
            continue;
        };
        let json = super::to_json(&out);
        for secret in ["5ec2e700", "person", "secret-booking-9", "booking"] {
            assert!(
                !json.contains(secret),
                "{} sends {secret:?} to staff: {json}",
                name(&e.kind)
            );
        }
    }
}
