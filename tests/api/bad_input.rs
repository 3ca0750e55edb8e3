//! Every class of bad input gets a 4xx naming the problem, and changes
//! nothing.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

const HALL: &str = "/api/v1/halls/qiaocheng";

async fn raw(app: &crate::helpers::TestApp, path: &str, content_type: Option<&str>, body: String) -> (u16, Value) {
    let token = app.token("qiaocheng", "admin").await;
    let mut req = app.client.post(app.url(path)).bearer_auth(token).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.expect("every error is JSON");
    assert!(
        body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "a message: {body}"
    );
    (status, body)
}

#[tokio::test]
async fn bad_input_is_refused_with_its_reason_and_nothing_changes() {
    let app = spawn_app().await;
    let tickets = format!("{HALL}/tickets");
    let json_ct = Some("application/json");
    let (_, before) = app.get(HALL).await;

    let cases: Vec<(String, Option<&str>, String, u16, &str)> = vec![
        (tickets.clone(), json_ct, "{\"zone\": ".into(), 400, "malformed_json"),
        (
            tickets.clone(),
            json_ct,
            r#"{"zone":"general","service":"social","vip":true}"#.into(),
            422,
            "invalid_body",
        ),
        (
            tickets.clone(),
            json_ct,
            r#"{"zone":"general"}"#.into(),
            422,
            "invalid_body",
        ),
        (
            tickets.clone(),
            None,
            r#"{"zone":"general","service":"social"}"#.into(),
            415,
            "content_type",
        ),
        (
            tickets.clone(),
            json_ct,
            format!(r#"{{"zone":"{}"}}"#, "x".repeat(20_000)),
            413,
            "body_too_large",
        ),
        (
            tickets.clone(),
            json_ct,
            r#"{"zone":"nowhere","service":"social"}"#.into(),
            404,
            "unknown_zone",
        ),
        (
            tickets.clone(),
            json_ct,
            r#"{"zone":"general","service":"ufo"}"#.into(),
            404,
            "unknown_service",
        ),
        (
            tickets.clone(),
            json_ct,
            r#"{"zone":"general","service":"social","category":"vip"}"#.into(),
            404,
            "unknown_category",
        ),
        (
            tickets.clone(),
            json_ct,
            r#"{"zone":"general","service":"social","id_number":"<script>"}"#.into(),
            422,
            "bad_id_number",
        ),
        (
            "/api/v1/halls/atlantis/tickets".into(),
            json_ct,
            r#"{"zone":"general","service":"social"}"#.into(),
            404,
            "unknown_hall",
        ),
        (
            format!("{HALL}/windows/99/open"),
            None,
            String::new(),
            404,
            "unknown_window",
        ),
        (
            format!("{HALL}/windows/five/open"),
            None,
            String::new(),
            404,
            "unknown_window",
        ),
        (
            format!("{HALL}/windows/5/dance"),
            None,
            String::new(),
            404,
            "unknown_action",
        ),
        (
            format!("{HALL}/windows/5/pause"),
            json_ct,
            r#"{"reason":"nap"}"#.into(),
            422,
            "invalid_body",
        ),
        (
            format!("{HALL}/windows/5/call"),
            json_ct,
            r#"{"ticket":"A999"}"#.into(),
            409,
            "window_closed",
        ),
        (
            format!("{HALL}/windows/5/finish"),
            None,
            String::new(),
            409,
            "window_closed",
        ),
        (
            format!("{HALL}/tickets/A999/cancel"),
            None,
            String::new(),
            404,
            "unknown_ticket",
        ),
        (
            format!("{HALL}/tickets/A-1/cancel"),
            None,
            String::new(),
            400,
            "bad_ticket",
        ),
        (
            "/api/v1/login".into(),
            json_ct,
            r#"{"hall":"qiaocheng","user":"w5"}"#.into(),
            422,
            "invalid_body",
        ),
    ];
    for (path, ct, body, status, code) in cases {
        let (s, r) = raw(&app, &path, ct, body).await;
        assert_eq!((s, r["error"]["code"].as_str()), (status, Some(code)), "{path}: {r}");
    }
    let (_, after) = app.get(HALL).await;
    assert_eq!(after["queues"], before["queues"]);
    assert_eq!(after["windows"], before["windows"]);
    assert_eq!(after["seq"], before["seq"], "no event was stored");
}

#[tokio::test]
async fn operations_in_the_wrong_state_are_conflicts() {
    let app = spawn_app().await;
    let w = |a: &str| format!("{HALL}/windows/1/{a}");
    let act = |a: &'static str| {
        let path = w(a);
        let app = &app;
        async move { app.post_as("qiaocheng", "w1", &path, None).await }
    };
    for _ in 0..2 {
        app.post_as(
            "qiaocheng",
            "guide",
            &format!("{HALL}/tickets"),
            Some(json!({"zone": "general", "service": "social"})),
        )
        .await;
    }
    assert_eq!(act("open").await.0, 200);
    // The sample hall opens windows paused: staff press 开始服务 first.
    let (s, r) = act("call-next").await;
    assert_eq!((s, r["error"]["code"].as_str()), (409, Some("window_paused")));
    assert_eq!(act("resume").await.0, 200);
    let (s, r) = act("finish").await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (409, Some("nothing_in_hand")),
        "finish with nothing started"
    );
    assert_eq!(act("call-next").await.0, 200);
    let (s, r) = act("finish").await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (409, Some("wrong_state")),
        "finish a ticket never started: {r}"
    );
    assert_eq!(act("skip").await.0, 200);
    let (s, r) = act("skip").await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (409, Some("nothing_in_hand")),
        "skip twice"
    );
    let (s, r) = act("open").await;
    assert_eq!((s, r["error"]["code"].as_str()), (409, Some("window_already_open")));
}

#[tokio::test]
async fn websocket_requests_with_bad_parameters_are_refused_before_the_upgrade() {
    let app = spawn_app().await;
    let token = app.token("qiaocheng", "display").await;
    let pass = app.pass("qiaocheng", &token).await;
    let live = format!("{HALL}/live?pass={pass}");
    for (query, status, code) in [
        ("&scope=zone:nowhere", 400, "bad_scope"),
        ("&scope=window:99", 400, "bad_scope"),
        ("&scope=floor", 400, "bad_scope"),
        ("&format=xml", 400, "bad_format"),
        ("&since=yesterday", 400, "bad_query"),
        ("", 400, "not_websocket"),
    ] {
        let (s, r) = app.get_unsigned(&format!("{live}{query}")).await;
        assert_eq!((s, r["error"]["code"].as_str()), (status, Some(code)), "{query}: {r}");
    }
    let (s, _) = app.get_unsigned(&format!("{HALL}/live")).await;
    assert_eq!(s, 401);
    let (s, _) = app.get_unsigned("/api/v1/tickets/forged.token/live").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn a_closed_zone_says_when_it_opens() {
    let app = crate::helpers::spawn_app().await;
    let take = serde_json::json!({"zone": "general", "service": "social"});
    // 12:30 on a Tuesday: the lunch break.
    app.clock.store(
        crate::helpers::TUESDAY_10AM + 150 * 60_000,
        std::sync::atomic::Ordering::SeqCst,
    );
    let (s, r) = app
        .post_as(
            "qiaocheng",
            "guide",
            "/api/v1/halls/qiaocheng/tickets",
            Some(take.clone()),
        )
        .await;
    assert_eq!((s, r["error"]["code"].as_str()), (409, Some("zone_closed")), "{r}");
    assert_eq!(r["error"]["opens"], "14:00", "{r}");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("it opens at 14:00"),
        "{r}"
    );
    // 18:00: tomorrow morning.
    app.clock.store(
        crate::helpers::TUESDAY_10AM + 8 * 3_600_000,
        std::sync::atomic::Ordering::SeqCst,
    );
    let (_, r) = app
        .post_as("qiaocheng", "guide", "/api/v1/halls/qiaocheng/tickets", Some(take))
        .await;
    assert_eq!(r["error"]["opens"], "2026-11-25 08:30", "{r}");
}

#[tokio::test]
async fn a_pause_may_say_how_long_and_screens_show_when_it_ends() {
    let app = spawn_app().await;
    let w = format!("{HALL}/windows/1");
    assert_eq!(app.post_as("qiaocheng", "w1", &format!("{w}/open"), None).await.0, 200);
    assert_eq!(
        app.post_as("qiaocheng", "w1", &format!("{w}/resume"), None).await.0,
        200
    );
    for (minutes, status, code) in [
        (json!(0), 422, "bad_pause"),
        (json!(481), 422, "bad_pause"),
        (json!(70000), 422, "invalid_body"),
        (json!("soon"), 422, "invalid_body"),
    ] {
        let (s, r) = app
            .post_as(
                "qiaocheng",
                "w1",
                &format!("{w}/pause"),
                Some(json!({"reason": "lunch", "minutes": minutes})),
            )
            .await;
        assert_eq!((s, r["error"]["code"].as_str()), (status, Some(code)), "{minutes}: {r}");
    }
    let (s, r) = app
        .post_as(
            "qiaocheng",
            "w1",
            &format!("{w}/pause"),
            Some(json!({"reason": "lunch", "minutes": 45})),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let since = r["window"]["paused_since"].as_i64().unwrap();
    assert_eq!(r["window"]["resumes_at"].as_i64(), Some(since + 45 * 60_000));
    assert_eq!(r["events"][0]["kind"]["until"].as_i64(), Some(since + 45 * 60_000));
    // A public screen is told when, and why, but not who paused.
    let (s, shown) = app.get_as("qiaocheng", "display", &w).await;
    assert_eq!(s, 200, "{shown}");
    assert_eq!(shown["pause_reason"], "lunch");
    assert_eq!(shown["resumes_at"].as_i64(), Some(since + 45 * 60_000));
    let (_, r) = app.post_as("qiaocheng", "w1", &format!("{w}/resume"), None).await;
    assert!(r["window"].get("resumes_at").is_none(), "{r}");
}

/// Every refusal is the API's JSON document, also those made below the
/// routes; every answer carries the browser protections.
#[tokio::test]
async fn refusals_below_the_routes_are_json_too_and_every_answer_is_hardened() {
    let app = spawn_app().await;
    let check = |what: &str, r: &reqwest::Response, status: u16, code: &str| {
        assert_eq!(r.status().as_u16(), status, "{what}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(r.headers()["referrer-policy"], "no-referrer", "{what}");
        assert!(
            r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{what}"
        );
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{what}: {code}"
        );
    };
    let r = app.client.post(app.url("/healthz")).send().await.unwrap();
    check("POST /healthz", &r, 405, "method_not_allowed");
    assert!(r.headers().contains_key("allow"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");

    let r = app.client.get(app.url("/assets/nope.js")).send().await.unwrap();
    check("a missing asset", &r, 404, "not_found");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");

    let token = app.token("qiaocheng", "guide").await;
    for keyed in [false, true] {
        let mut req = app
            .client
            .post(app.url("/api/v1/halls/qiaocheng/tickets"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("x".repeat(2 * 1024 * 1024));
        if keyed {
            req = req.header("idempotency-key", "big-body-1");
        }
        let r = req.send().await.unwrap();
        check("a body too large", &r, 413, "body_too_large");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "body_too_large");
    }

    // A page runs its own script and nothing injected.
    let r = app.client.get(app.url("/desk")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains("script-src 'self' 'sha256-") && !csp.contains("unsafe-inline';  script"),
        "{csp}"
    );
    assert!(
        !csp.split(';')
            .any(|d| d.trim().starts_with("script-src") && d.contains("unsafe")),
        "{csp}"
    );
    assert_eq!(r.headers()["x-frame-options"], "DENY");
}

/// Who staffs a window is the signed-in account as configured: w8 cannot
/// sign a window on as w9, so 好差评 land on whoever served.
#[tokio::test]
async fn a_window_is_signed_on_in_the_accounts_own_name() {
    let app = spawn_app().await;
    let (s, r) = app
        .post_as(
            "qiaocheng",
            "w5",
            &format!("{HALL}/windows/5/open"),
            Some(json!({"staff": "w9"})),
        )
        .await;
    assert_eq!((s, r["error"]["code"].as_str()), (403, Some("forbidden")), "{r}");
    let (s, r) = app
        .post_as("qiaocheng", "w5", &format!("{HALL}/windows/5/open"), None)
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r["window"]["staff"], "李明（工号0305）",
        "the configured name and staff number"
    );
    let (s, r) = app
        .command(json!({"op": "open", "window": 6, "staff": "somebody else"}))
        .await;
    assert_eq!((s, r["error"]["code"].as_str()), (422, Some("invalid_body")), "{r}");
}
