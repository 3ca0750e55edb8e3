//! Appointments over HTTP: booked ahead, listed, cancelled, and checked in
//! by code on their day; kept across a restart.

use serde_json::{Value, json};

use crate::helpers::{TUESDAY_10AM, TestApp, spawn_app, spawn_app_on};

const HALL: &str = "/api/v1/halls/qiaocheng";
const MIN: i64 = 60_000;
const DAY: i64 = 24 * 60 * MIN;

async fn book(app: &TestApp, body: Value) -> (u16, Value) {
    app.post_as("qiaocheng", "guide", &format!("{HALL}/appointments"), Some(body))
        .await
}

fn slot(start: i64) -> Value {
    json!({"zone": "general", "service": "social", "slot_start": start, "slot_end": start + 30 * MIN})
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

async fn check_in(app: &TestApp, code: &str) -> (u16, Value) {
    app.post_as(
        "qiaocheng",
        "guide",
        &format!("{HALL}/appointments/{code}/check-in"),
        None,
    )
    .await
}

#[tokio::test]
async fn a_booked_appointment_is_checked_in_by_its_code_once_on_its_day() {
    let app = spawn_app().await;
    // Today (Tuesday) at 10:30, with the booking system's own code.
    let (s, b) = book(&app, with(slot(TUESDAY_10AM + 30 * MIN), "code", json!("YY2026A7"))).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(
        (b["code"].as_str(), b["state"].as_str()),
        (Some("yy2026a7"), Some("booked"))
    );
    assert_eq!(b["day"], "2026-11-24");
    // Tomorrow, with a code made up by the server.
    let (s, tomorrow) = book(&app, slot(TUESDAY_10AM + DAY)).await;
    assert_eq!(s, 201, "{tomorrow}");
    let made = tomorrow["code"].as_str().unwrap().to_owned();
    assert!(made.len() == 8 && made.bytes().all(|b| b.is_ascii_digit()), "{made}");

    let (s, list) = app
        .get_as("qiaocheng", "guide", &format!("{HALL}/appointments?day=2026-11-24"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(list["bookings"].as_array().unwrap().len(), 1);

    // Checked in by code, case-blind: an appointment-lane ticket.
    let (s, t) = check_in(&app, "yy2026A7").await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(t["ticket"]["number"], "A001");
    assert_eq!(t["ticket"]["lane"]["kind"], "appointment");
    assert_eq!(t["ticket"]["channel"], "guide_desk");
    assert!(t["token"].as_str().is_some(), "a slip with its QR code");
    let (s, again) = check_in(&app, "yy2026a7").await;
    assert_eq!(
        (s, again["error"]["code"].as_str()),
        (409, Some("booking_closed")),
        "{again}"
    );
    let (_, b) = app
        .get_as("qiaocheng", "guide", &format!("{HALL}/appointments/yy2026a7"))
        .await;
    assert_eq!(
        (b["state"].as_str(), b["ticket"].as_str()),
        (Some("checked_in"), Some("A001"))
    );

    // Tomorrow's cannot be checked in today.
    let (s, r) = check_in(&app, &made).await;
    assert_eq!((s, r["error"]["code"].as_str()), (409, Some("not_booking_day")), "{r}");

    // Bookings are events in the log: they survive a restart, and
    // tomorrow's checks in tomorrow.
    let dir = app.shutdown().await.expect("a data directory");
    let app = spawn_app_on(dir.path(), TUESDAY_10AM + DAY - 10 * MIN).await;
    let (s, t) = check_in(&app, &made).await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(t["ticket"]["lane"]["slot_start"], TUESDAY_10AM + DAY);
    let (_, b) = app
        .get_as("qiaocheng", "supervisor", &format!("{HALL}/appointments/yy2026a7"))
        .await;
    assert_eq!(b["state"], "checked_in", "yesterday's stays checked in, not missed");
}

#[tokio::test]
async fn bookings_are_checked_and_cancelled() {
    let app = spawn_app().await;
    let at = TUESDAY_10AM + 30 * MIN;
    let id = json!("110101199001011237");
    let (s, first) = book(&app, with(slot(at), "id_number", id.clone())).await;
    assert_eq!(s, 201, "{first}");
    assert!(first.get("person").is_none(), "the person's key is not shown");
    let (s, r) = book(&app, with(slot(at + 60 * MIN), "id_number", id.clone())).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (409, Some("already_booked")),
        "one a day each"
    );
    let code = first["code"].as_str().unwrap().to_owned();
    let (s, r) = book(&app, with(slot(at), "code", json!(code))).await;
    assert_eq!((s, r["error"]["code"].as_str()), (409, Some("booking_taken")));
    for (body, status, err) in [
        (with(slot(at), "code", json!("x!")), 422, "bad_code"),
        (slot(TUESDAY_10AM - 60 * MIN), 422, "bad_appointment"),
        // 12:30 is the lunch break, when the zone issues nothing.
        (slot(TUESDAY_10AM + 150 * MIN), 409, "zone_closed"),
        (with(slot(at), "zone", json!("nowhere")), 404, "unknown_zone"),
        (with(slot(at), "extra", json!(1)), 422, "invalid_body"),
    ] {
        let (s, r) = book(&app, body.clone()).await;
        assert_eq!((s, r["error"]["code"].as_str()), (status, Some(err)), "{body}: {r}");
    }
    let (s, r) = app
        .post_as("qiaocheng", "display", &format!("{HALL}/appointments"), Some(slot(at)))
        .await;
    assert_eq!(s, 403, "{r}");

    let (s, c) = app
        .post_as(
            "qiaocheng",
            "guide",
            &format!("{HALL}/appointments/{code}/cancel"),
            None,
        )
        .await;
    assert_eq!((s, c["state"].as_str()), (200, Some("cancelled")), "{c}");
    let (s, r) = check_in(&app, &code).await;
    assert_eq!((s, r["error"]["code"].as_str()), (409, Some("booking_closed")));
    let (s, r) = book(&app, with(slot(at + 60 * MIN), "id_number", id)).await;
    assert_eq!(s, 201, "a cancelled booking frees the person's day: {r}");
    let (s, r) = check_in(&app, "00000000").await;
    assert_eq!((s, r["error"]["code"].as_str()), (404, Some("unknown_booking")));
}

#[tokio::test]
async fn on_redis_a_check_in_takes_its_number_from_the_shared_counter() {
    let redis = crate::redis_server::RedisServer::start(false);
    let store = hallcall::cli::StoreUrl::Redis(redis.url());
    let app = crate::helpers::spawn_app_with(store, TUESDAY_10AM).await;
    let (s, b) = book(&app, slot(TUESDAY_10AM + 30 * MIN)).await;
    assert_eq!(s, 201, "{b}");
    let (s, _) = app.command(crate::helpers::issue("general", "social")).await;
    assert_eq!(s, 200);
    let (s, t) = check_in(&app, b["code"].as_str().unwrap()).await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(t["ticket"]["number"], "A002");
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let n: i64 = redis::cmd("GET")
        .arg("hallcall:{qiaocheng}:num:2026-11-24:general")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 2, "both numbers came from Redis");
}

#[tokio::test]
async fn screens_never_see_appointment_codes() {
    let app = spawn_app().await;
    let mut screen = app.live("qiaocheng", "display", "").await;
    let snapshot = crate::helpers::next_text(&mut screen).await;
    assert!(snapshot.contains("\"snapshot\""));
    let (s, b) = book(&app, with(slot(TUESDAY_10AM + 30 * MIN), "code", json!("secret77"))).await;
    assert_eq!(s, 201, "{b}");
    let (s, _) = check_in(&app, "secret77").await;
    assert_eq!(s, 201);
    // Frames up to the one issuing the checked-in ticket.
    loop {
        let frame = crate::helpers::next_text(&mut screen).await;
        assert!(!frame.contains("secret77"), "a screen saw the code: {frame}");
        assert!(!frame.contains("AppointmentBooked"), "{frame}");
        if frame.contains("TicketIssued") {
            break;
        }
    }
}
