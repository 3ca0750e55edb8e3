//! The command endpoint: the flow through the engine, and bad input.

use serde_json::json;

use crate::helpers::{issue, spawn_app, ticket_of};

#[tokio::test]
async fn issue_call_start_finish() {
    let app = spawn_app().await;
    let (s, r) = app.command(issue("general", "social")).await;
    assert_eq!(s, 200, "{r}");
    // The day began with this command or with the ticker's first tick.
    let (_, hall) = app.get("/api/v1/halls/qiaocheng").await;
    assert_eq!(hall["business_day"], "2026-11-24");
    assert_eq!(ticket_of(&r), "A001");
    for cmd in [
        json!({"op": "open", "window": 1}),
        json!({"op": "resume", "window": 1}),
        json!({"op": "call_next", "window": 1}),
        json!({"op": "start", "window": 1}),
        json!({"op": "finish", "window": 1}),
    ] {
        let (s, r) = app.command(cmd.clone()).await;
        assert_eq!(s, 200, "{cmd}: {r}");
    }
    let (_, t) = app.get("/api/v1/halls/qiaocheng/tickets/A001").await;
    assert_eq!(t["state"], "finished");
}

#[tokio::test]
async fn refusals_are_4xx_with_a_code_and_change_nothing() {
    let app = spawn_app().await;
    let (_, before) = app.get("/api/v1/halls/qiaocheng").await;
    let cases = [
        (json!({"op": "call_next", "window": 1}), 409, "window_closed"),
        (json!({"op": "call_next", "window": 999}), 404, "unknown_window"),
        (issue("nowhere", "x"), 404, "unknown_zone"),
        (json!({"op": "finish", "window": 1}), 409, "window_closed"),
        (json!({"op": "launch"}), 422, "invalid_body"),
        (json!({"op": "issue", "zone": "general"}), 422, "invalid_body"),
    ];
    for (cmd, status, code) in cases {
        let (s, r) = app.command(cmd.clone()).await;
        assert_eq!((s, r["error"]["code"].as_str()), (status, Some(code)), "{cmd}: {r}");
        assert!(r["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (after_status, after) = app.get("/api/v1/halls/qiaocheng").await;
    assert_eq!(after_status, 200);
    assert_eq!(after["queues"], before["queues"]);
    assert_eq!(after["windows"], before["windows"]);

    let admin = app.token("qiaocheng", "admin").await;
    let res = app
        .client
        .post(app.url("/api/v1/halls/qiaocheng/commands"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "malformed_json");

    let res = app
        .client
        .post(app.url("/api/v1/halls/atlantis/commands"))
        .bearer_auth(&admin)
        .json(&issue("general", "social"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unknown_hall");
    let (s, r) = app.get("/api/v1/halls/qiaocheng/tickets/not-a-ticket").await;
    assert_eq!((s, r["error"]["code"].as_str()), (400, Some("bad_ticket")));
    let (s, r) = app.get("/api/v1/halls/qiaocheng/tickets/A999").await;
    assert_eq!((s, r["error"]["code"].as_str()), (404, Some("unknown_ticket")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_windows_calling_at_once_get_different_tickets() {
    let app = spawn_app().await;
    for _ in 0..20 {
        app.command(issue("general", "social")).await;
    }
    let mut set = tokio::task::JoinSet::new();
    for w in 1..=5 {
        let path = format!("/api/v1/halls/qiaocheng/windows/{w}");
        app.post_as("qiaocheng", &format!("w{w}"), &format!("{path}/open"), None)
            .await;
        app.post_as("qiaocheng", &format!("w{w}"), &format!("{path}/resume"), None)
            .await;
        let token = app.token("qiaocheng", &format!("w{w}")).await;
        let (client, url) = (app.client.clone(), app.url(&format!("{path}/call-next")));
        set.spawn(async move {
            let res = client.post(url).bearer_auth(token).send().await.unwrap();
            assert_eq!(res.status(), 200);
            let body: serde_json::Value = res.json().await.unwrap();
            body["window"]["current"].as_str().unwrap().to_owned()
        });
    }
    let mut called = set.join_all().await;
    called.sort();
    called.dedup();
    assert_eq!(called.len(), 5, "{called:?}");
}
