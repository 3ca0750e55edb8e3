//! State survives a restart on the embedded store.

use serde_json::json;

use crate::helpers::{TUESDAY_10AM, issue, spawn_app, spawn_app_on, ticket_of};

#[tokio::test]
async fn a_restart_rebuilds_every_hall_from_the_store() {
    let app = spawn_app().await;
    let (s, r) = app.command(issue("general", "social")).await;
    assert_eq!(s, 200, "{r}");
    let a = ticket_of(&r);
    let (_, r) = app.command(issue("police", "hukou")).await;
    let c = ticket_of(&r);
    for cmd in [
        json!({"op": "open", "window": 11, "staff": "w11"}),
        json!({"op": "resume", "window": 11}),
    ] {
        assert_eq!(app.command(cmd).await.0, 200);
    }
    let (_, r) = app.command(json!({"op": "call_next", "window": 11})).await;
    assert_eq!(ticket_of(&r), c);
    let (_, before) = app.get("/api/v1/halls/qiaocheng").await;
    let data = app.data.clone();
    let dir = app.shutdown().await;

    let app = spawn_app_on(&data, TUESDAY_10AM).await;
    let (_, after) = app.get("/api/v1/halls/qiaocheng").await;
    // The log moved on by the new sign-in (the audit log) alone.
    let without_seq = |mut v: serde_json::Value| {
        v.as_object_mut().map(|o| o.remove("seq"));
        v
    };
    assert_eq!(without_seq(after), without_seq(before), "the same hall after a restart");
    let (_, t) = app.get(&format!("/api/v1/halls/qiaocheng/tickets/{a}")).await;
    assert_eq!(t["state"], "waiting");
    let (_, t) = app.get(&format!("/api/v1/halls/qiaocheng/tickets/{c}")).await;
    assert_eq!((t["state"].as_str(), t["window"].as_u64()), (Some("called"), Some(11)));
    // Numbering continues after the restart.
    let (_, r) = app.command(issue("general", "social")).await;
    assert_eq!(ticket_of(&r), "A002");
    drop(dir);
}

#[tokio::test]
async fn a_new_business_day_after_a_restart() {
    let app = spawn_app().await;
    app.command(issue("general", "social")).await;
    let data = app.data.clone();
    let dir = app.shutdown().await;
    let next_day = TUESDAY_10AM + 24 * 3_600_000;
    let app = spawn_app_on(&data, next_day).await;
    let (_, r) = app.command(issue("general", "social")).await;
    assert_eq!(ticket_of(&r), "A001", "numbers restart on the new day");
    let (_, view) = app.get("/api/v1/halls/qiaocheng").await;
    assert_eq!(view["business_day"], "2026-11-25");
    drop(dir);
}
