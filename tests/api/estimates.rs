//! The waits the server shows come from the forecast: "no window open"
//! rather than a number while no open window serves the zone, then the
//! forecast's figure with its range, the same on the slip (the issuing
//! answer), the citizen's page and the zone's figures.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const HALL: &str = "/api/v1/halls/qiaocheng";
const MIN: i64 = 60_000;

async fn take(app: &TestApp) -> Value {
    let body = json!({"zone": "general", "service": "social"});
    let (s, r) = app
        .post_as("qiaocheng", "guide", &format!("{HALL}/tickets"), Some(body))
        .await;
    assert_eq!(s, 201, "{r}");
    r
}

async fn general(app: &TestApp) -> Value {
    let (_, hall) = app.get_as("qiaocheng", "supervisor", HALL).await;
    hall["zones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["zone"] == "general")
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn no_window_open_says_so_then_the_forecast_gives_a_range() {
    let app = spawn_app().await;
    // No window open: no number, on the slip and for the zone.
    let first = take(&app).await;
    assert_eq!(first["ticket"]["no_window_open"], true, "{first}");
    assert_eq!(first["ticket"]["estimated_wait_ms"], 0);
    assert!(first["ticket"].get("wait_range").is_none(), "{first}");
    let zone = general(&app).await;
    assert_eq!(
        (zone["no_window_open"].clone(), zone["waiting"].clone()),
        (json!(true), json!(1))
    );

    // Window 1 (the general zone only) opens, idle: it takes the first
    // ticket now; the second waits for that service (the zone's default,
    // 12 minutes) and the walk up (45 s), in the default range.
    for action in ["open", "resume"] {
        let (s, r) = app
            .post_as("qiaocheng", "w1", &format!("{HALL}/windows/1/{action}"), None)
            .await;
        assert_eq!(s, 200, "{r}");
    }
    let second = take(&app).await;
    let expected = 12 * MIN + 45_000;
    let range = json!({
        "expected_ms": expected,
        "low_ms": expected - expected * 200 / 1000,
        "high_ms": expected + expected * 230 / 1000,
    });
    assert_eq!(second["ticket"]["no_window_open"], false, "{second}");
    assert_eq!(second["ticket"]["estimated_wait_ms"], expected);
    assert_eq!(second["ticket"]["wait_range"], range);
    // The citizen's page says the same.
    let token = second["token"].as_str().unwrap();
    let (s, own) = app.get_unsigned(&format!("/api/v1/tickets/{token}")).await;
    assert_eq!(s, 200, "{own}");
    assert_eq!(own["ticket"]["wait_range"], range, "{own}");
    // A third ticket would come after both: two services.
    let zone = general(&app).await;
    assert_eq!(zone["no_window_open"], false);
    assert_eq!(zone["estimated_wait_ms"], 2 * expected, "{zone}");
}

#[tokio::test]
async fn the_board_is_advised_a_window_for_a_long_zone_and_a_supervisor_follows_it() {
    let app = spawn_app().await;
    // Construction has windows 7 and 8 and window 10 (construction first,
    // then general); general has window 1 alone besides window 10.
    for n in [1, 7, 8, 10] {
        let (s, r) = app
            .post_as("qiaocheng", &format!("w{n}"), &format!("{HALL}/windows/{n}/open"), None)
            .await;
        assert_eq!(s, 200, "{r}");
    }
    let ticket = |zone: &str, service: &str| json!({"zone": zone, "service": service});
    for _ in 0..3 {
        let (s, r) = app
            .post_as(
                "qiaocheng",
                "guide",
                &format!("{HALL}/tickets"),
                Some(ticket("construction", "permit")),
            )
            .await;
        assert_eq!(s, 201, "{r}");
    }
    for _ in 0..6 {
        take(&app).await;
    }
    let (s, list) = app.get_as("qiaocheng", "supervisor", &format!("{HALL}/advice")).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["target_ms"], 30 * MIN);
    let advice = list["advice"].as_array().unwrap();
    let general = advice
        .iter()
        .find(|a| a["zone"] == "general")
        .unwrap_or_else(|| panic!("advice for the general zone: {list}"));
    let (before, after) = (
        general["wait_before_ms"].as_i64().unwrap(),
        general["wait_after_ms"].as_i64().unwrap(),
    );
    assert!(before > 30 * MIN && after < before, "{general}");
    // Only a supervisor gives a window a zone first, and only a real zone.
    let body = Some(json!({"zone": "general"}));
    let path = format!("{HALL}/windows/10/serve-first");
    let (s, _) = app.post_as("qiaocheng", "w10", &path, body.clone()).await;
    assert_eq!(s, 403);
    let (s, r) = app
        .post_as("qiaocheng", "supervisor", &path, Some(json!({"zone": "nowhere"})))
        .await;
    assert_eq!(s, 404, "{r}");
    let (s, r) = app.post_as("qiaocheng", "supervisor", &path, body).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["window"]["first_zone"], "general", "{r}");
    // The general zone's wait is now the shorter one.
    let zone = general_zone_wait(&app).await;
    assert!(zone < before, "{zone} against {before}");
    let (s, r) = app
        .post_as("qiaocheng", "supervisor", &path, Some(json!({"zone": null})))
        .await;
    assert_eq!(s, 200, "{r}");
    assert!(r["window"].get("first_zone").is_none(), "{r}");
}

async fn general_zone_wait(app: &TestApp) -> i64 {
    general(app).await["estimated_wait_ms"].as_i64().unwrap()
}
