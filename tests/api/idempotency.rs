//! `Idempotency-Key` on the routes that change a hall: a repeat gets the
//! first answer, also after a restart, and never does the work twice.

use hallcall::cli::StoreUrl;
use serde_json::{Value, json};

use crate::helpers::{TUESDAY_10AM, TestApp, spawn_app, spawn_app_on, spawn_app_with};
use crate::redis_server::RedisServer;

/// POSTs `body` as `user` with `key`: status, `Idempotent-Replayed`, body.
async fn keyed(app: &TestApp, user: &str, path: &str, key: &str, body: &Value) -> (u16, bool, Value) {
    let token = app.token("qiaocheng", user).await;
    let res = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("request sent");
    let status = res.status().as_u16();
    let replayed = res.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
    (status, replayed, res.json().await.expect("a JSON body"))
}

const TICKETS: &str = "/api/v1/halls/qiaocheng/tickets";

fn take() -> Value {
    json!({"zone": "general", "service": "social"})
}

async fn waiting(app: &TestApp) -> u64 {
    let (_, list) = app.get("/api/v1/halls/qiaocheng/zones").await;
    list["zones"]
        .as_array()
        .expect("zones")
        .iter()
        .map(|q| q["waiting"].as_u64().unwrap_or(0))
        .sum()
}

#[tokio::test]
async fn a_repeated_key_gets_the_first_answer_and_issues_one_ticket() {
    let app = spawn_app().await;
    let (s, replayed, first) = keyed(&app, "guide", TICKETS, "8c1d7a52-take-1", &take()).await;
    assert_eq!((s, replayed), (201, false), "{first}");
    let (s, replayed, again) = keyed(&app, "guide", TICKETS, "8c1d7a52-take-1", &take()).await;
    assert_eq!((s, replayed), (201, true), "{again}");
    assert_eq!(again, first, "the same answer, byte for byte in JSON");
    assert_eq!(waiting(&app).await, 1, "one ticket issued");

    // A new key is a new request.
    let (s, _, other) = keyed(&app, "guide", TICKETS, "8c1d7a52-take-2", &take()).await;
    assert_eq!(s, 201);
    assert_ne!(other["ticket"]["number"], first["ticket"]["number"]);
    // The same key from another account is that account's own.
    let (s, replayed, _) = keyed(&app, "admin", TICKETS, "8c1d7a52-take-1", &take()).await;
    assert_eq!((s, replayed), (201, false));
    // No key: every request runs.
    for _ in 0..2 {
        assert_eq!(app.post_as("qiaocheng", "guide", TICKETS, Some(take())).await.0, 201);
    }
    assert_eq!(waiting(&app).await, 5);
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_refused() {
    let app = spawn_app().await;
    assert_eq!(keyed(&app, "guide", TICKETS, "k-1", &take()).await.0, 201);
    let other = json!({"zone": "police", "service": "hukou"});
    let (s, _, r) = keyed(&app, "guide", TICKETS, "k-1", &other).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (422, Some("idempotency_key_reused")),
        "{r}"
    );
    assert_eq!(waiting(&app).await, 1);
    for bad in ["", "a key with spaces", &"k".repeat(129)] {
        let (s, _, r) = keyed(&app, "guide", TICKETS, bad, &take()).await;
        assert_eq!(
            (s, r["error"]["code"].as_str()),
            (400, Some("bad_idempotency_key")),
            "{bad:?}: {r}"
        );
    }
    assert_eq!(waiting(&app).await, 1, "a refused key issues nothing");
}

#[tokio::test]
async fn a_refusal_is_not_kept_so_the_same_key_may_succeed_later() {
    let app = spawn_app().await;
    let call = json!({"op": "call_next", "window": 1});
    let commands = "/api/v1/halls/qiaocheng/commands";
    // The window is not open yet: refused, nothing done, nothing kept.
    let (s, replayed, r) = keyed(&app, "admin", commands, "call-1", &call).await;
    assert_eq!((s, replayed), (409, false), "{r}");
    app.command(json!({"op": "open", "window": 1})).await;
    app.command(json!({"op": "resume", "window": 1})).await;
    assert_eq!(keyed(&app, "guide", TICKETS, "t", &take()).await.0, 201);
    let (s, replayed, first) = keyed(&app, "admin", commands, "call-1", &call).await;
    assert_eq!((s, replayed), (200, false), "{first}");
    let (s, replayed, again) = keyed(&app, "admin", commands, "call-1", &call).await;
    assert_eq!((s, replayed, &again), (200, true, &first));
}

#[tokio::test]
async fn a_double_submit_at_once_issues_one_ticket() {
    let app = spawn_app().await;
    let body = take();
    let answers =
        futures_util::future::join_all((0..8).map(|_| keyed(&app, "guide", TICKETS, "double-click", &body))).await;
    let numbers: std::collections::BTreeSet<_> = answers
        .iter()
        .map(|(s, _, r)| (*s, r["ticket"]["number"].to_string()))
        .collect();
    assert_eq!(numbers.len(), 1, "one answer for all: {answers:?}");
    assert_eq!(answers.iter().filter(|(_, replayed, _)| !replayed).count(), 1);
    assert_eq!(waiting(&app).await, 1);
}

#[tokio::test]
async fn a_kept_answer_survives_a_restart_until_the_day_ends() {
    let app = spawn_app().await;
    let (_, _, first) = keyed(&app, "guide", TICKETS, "before-restart", &take()).await;
    let data = app.data.clone();
    let dir = app.shutdown().await;

    let app = spawn_app_on(&data, TUESDAY_10AM + 60_000).await;
    let (s, replayed, again) = keyed(&app, "guide", TICKETS, "before-restart", &take()).await;
    assert_eq!((s, replayed, &again), (201, true, &first));
    assert_eq!(waiting(&app).await, 1);
    let data = app.data.clone();
    app.shutdown().await;

    // The next business day forgets the day's keys.
    let app = spawn_app_on(&data, TUESDAY_10AM + 24 * 3_600_000).await;
    let (s, replayed, next) = keyed(&app, "guide", TICKETS, "before-restart", &take()).await;
    assert_eq!((s, replayed), (201, false), "{next}");
    assert_eq!(next["ticket"]["number"], "A001");
    drop(dir);
}

#[tokio::test]
async fn a_kept_answer_survives_a_restart_on_redis() {
    let redis = RedisServer::start(false);
    let app = spawn_app_with(StoreUrl::Redis(redis.url()), TUESDAY_10AM).await;
    let (_, _, first) = keyed(&app, "guide", TICKETS, "on-redis", &take()).await;
    app.shutdown().await;
    let app = spawn_app_with(StoreUrl::Redis(redis.url()), TUESDAY_10AM + 60_000).await;
    let (s, replayed, again) = keyed(&app, "guide", TICKETS, "on-redis", &take()).await;
    assert_eq!((s, replayed, &again), (201, true, &first));
    assert_eq!(waiting(&app).await, 1);
}
