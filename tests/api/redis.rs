//! The server on a real redis-server of its own: outages, AOF restarts.

use std::time::{Duration, Instant};

use hallcall::cli::StoreUrl;
use serde_json::json;

use crate::helpers::{TUESDAY_10AM, issue, spawn_app_with, ticket_of};
use crate::redis_server::RedisServer;

#[tokio::test]
async fn a_redis_outage_fails_fast_and_service_resumes_by_itself() {
    let mut redis = RedisServer::start(true);
    let app = spawn_app_with(StoreUrl::Redis(redis.url()), TUESDAY_10AM).await;
    let (s, r) = app.command(issue("general", "social")).await;
    assert_eq!(s, 200, "{r}");
    app.command(json!({"op": "open", "window": 1})).await;
    app.command(json!({"op": "resume", "window": 1})).await;
    let (_, before) = app.get("/api/v1/halls/qiaocheng").await;
    let mut screen = app.live("qiaocheng", "display", "").await;
    let snap = crate::helpers::next_json(&mut screen).await;

    redis.stop();
    // Every operation is refused with a clear 503 while Redis is down; the
    // first call reaches the engine and fails at the write, so the hall must
    // roll back by reloading from Redis once it is back.
    for cmd in [json!({"op": "call_next", "window": 1}), issue("general", "social")] {
        let (s, r) = app.command(cmd).await;
        assert_eq!(
            (s, r["error"]["code"].as_str()),
            (503, Some("store_unavailable")),
            "{r}"
        );
    }
    // …and nothing half-done shows: screens keep the last state.
    let (s, during) = app.get("/api/v1/halls/qiaocheng").await;
    assert_eq!(s, 200);
    assert_eq!(during["queues"], before["queues"]);
    assert_eq!(during["windows"], before["windows"]);
    let (s, r) = app.get_unsigned("/readyz").await;
    assert_eq!((s, r["error"]["code"].as_str()), (503, Some("store_unavailable")));

    redis.restart();
    let back = Instant::now();
    let called = loop {
        let (s, r) = app.command(json!({"op": "call_next", "window": 1})).await;
        if s == 200 {
            break ticket_of(&r);
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "still refused after Redis came back: {r}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("served again {:?} after Redis came back", back.elapsed());
    assert_eq!(called, "A001", "the ticket issued before the outage is intact");
    // The screen stayed connected, saw nothing of the refused operations,
    // and now shows the call.
    let d = crate::helpers::until(&mut screen, |v| !crate::helpers::called(v).is_empty()).await;
    assert_eq!(crate::helpers::called(&d), ["A001"]);
    assert_eq!(
        d["from"].as_u64(),
        snap["seq"].as_u64().map(|s| s + 1),
        "nothing in between"
    );
    assert_eq!(app.get_unsigned("/readyz").await.0, 200);
    let (s, r) = app.command(issue("general", "social")).await;
    assert_eq!((s, ticket_of(&r).as_str()), (200, "A002"));
}

#[tokio::test]
async fn state_survives_a_redis_restart_from_its_append_only_file() {
    let mut redis = RedisServer::start(true);
    let app = spawn_app_with(StoreUrl::Redis(redis.url()), TUESDAY_10AM).await;
    for _ in 0..5 {
        app.command(issue("police", "hukou")).await;
    }
    app.command(json!({"op": "open", "window": 11})).await;
    app.command(json!({"op": "resume", "window": 11})).await;
    app.command(json!({"op": "call_next", "window": 11})).await;
    let (_, before) = app.get("/api/v1/halls/qiaocheng").await;
    // No graceful shutdown: the app is dropped, Redis restarts from its AOF.
    drop(app);
    redis.stop();
    redis.restart();
    let app = spawn_app_with(StoreUrl::Redis(redis.url()), TUESDAY_10AM).await;
    let (_, after) = app.get("/api/v1/halls/qiaocheng").await;
    // The log moved on by the new sign-in (the audit log) alone.
    let without_seq = |mut v: serde_json::Value| {
        v.as_object_mut().map(|o| o.remove("seq"));
        v
    };
    assert_eq!(without_seq(after), without_seq(before));
    let (_, r) = app.command(issue("police", "hukou")).await;
    assert_eq!(ticket_of(&r), "C006");
}

/// The whole server on a three-primary Redis Cluster: the halls' keys land
/// on different primaries, and a restart finds everything.
#[tokio::test]
async fn a_redis_cluster_serves_and_keeps_the_halls() {
    let cluster = crate::redis_server::RedisCluster::start(3, true);
    let app = spawn_app_with(StoreUrl::Redis(cluster.url()), TUESDAY_10AM).await;
    for _ in 0..3 {
        let (s, r) = app.command(issue("general", "social")).await;
        assert_eq!(s, 200, "{r}");
    }
    app.command(json!({"op": "open", "window": 1})).await;
    app.command(json!({"op": "resume", "window": 1})).await;
    let (s, r) = app.command(json!({"op": "call_next", "window": 1})).await;
    assert_eq!((s, ticket_of(&r).as_str()), (200, "A001"), "{r}");
    let (_, before) = app.get("/api/v1/halls/qiaocheng").await;
    drop(app);
    let app = spawn_app_with(StoreUrl::Redis(cluster.url()), TUESDAY_10AM).await;
    let (_, after) = app.get("/api/v1/halls/qiaocheng").await;
    assert_eq!(after["queues"], before["queues"]);
    assert_eq!(after["windows"], before["windows"]);
    let (_, r) = app.command(issue("general", "social")).await;
    assert_eq!(ticket_of(&r), "A004");
}

#[tokio::test]
async fn numbers_come_from_redis() {
    let redis = RedisServer::start(false);
    let app = spawn_app_with(StoreUrl::Redis(redis.url()), TUESDAY_10AM).await;
    // Another process on the same Redis has taken A001 and A002.
    let client = redis_client(&redis).await;
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: i64 = redis::cmd("INCRBY")
        .arg("hallcall:{qiaocheng}:num:2026-11-24:general")
        .arg(2)
        .query_async(&mut conn)
        .await
        .unwrap();
    let (_, r) = app.command(issue("general", "social")).await;
    assert_eq!(ticket_of(&r), "A003");
}

async fn redis_client(redis: &RedisServer) -> redis::Client {
    redis::Client::open(redis.url()).unwrap()
}

#[tokio::test]
async fn a_warning_when_redis_keeps_nothing_on_disk() {
    let redis = RedisServer::start(false);
    let store = hallcall::store::Store::open(hallcall::store::StoreConfig {
        location: hallcall::store::Location::Redis(redis.url()),
        journal: Default::default(),
        halls: vec![],
        retention_days: 30,
        metrics: None,
    })
    .await
    .unwrap();
    let warning = store.warning.expect("a warning");
    assert!(warning.contains("appendonly"), "{warning}");
}

/// A store that stops answering (a Redis paused for writes, as a frozen
/// disk would be) holds nobody up for long: the operation is answered 503
/// `store_slow` after the write timeout, the server reports itself not
/// ready, new operations are refused at once, and the write lands when
/// the store answers again; a retry with the same key gets its answer.
#[tokio::test]
async fn a_stalled_store_answers_503_in_bounded_time_and_loses_nothing() {
    let redis = RedisServer::start(true);
    let app = crate::helpers::spawn_app_full(
        StoreUrl::Redis(redis.url()),
        TUESDAY_10AM,
        hallcall::cli::ConnArgs::default(),
        1,
        &[],
        None,
    )
    .await;
    let token = app.token("qiaocheng", "w1").await;
    let post = |path: &'static str, key: &'static str| {
        let (client, url, token) = (app.client.clone(), app.url(path), token.clone());
        async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .header("idempotency-key", key)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            (status, body)
        }
    };
    let mut conn = redis_client(&redis)
        .await
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(4000)
        .arg("WRITE")
        .query_async(&mut conn)
        .await
        .unwrap();
    let (s, r) = post("/api/v1/halls/qiaocheng/windows/1/open", "open-1").await;
    assert_eq!((s, r["error"]["code"].as_str()), (503, Some("store_slow")), "{r}");
    let (s, r) = app.get_unsigned("/readyz").await;
    assert_eq!((s, r["error"]["code"].as_str()), (503, Some("store_slow")), "{r}");
    let (s, r) = post("/api/v1/halls/qiaocheng/windows/1/resume", "resume-1").await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (503, Some("store_unavailable")),
        "refused at once: {r}"
    );

    // Once Redis answers again the write lands and the server is ready.
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.get_unsigned("/readyz").await.0 != 200 {
        assert!(Instant::now() < deadline, "never ready again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The retry with the same key: the first request's answer if its write
    // landed, else the request runs now (503s while the hall is put back
    // to what the store holds, as Retry-After says).
    let (s, r) = loop {
        let (s, r) = post("/api/v1/halls/qiaocheng/windows/1/open", "open-1").await;
        if s != 503 {
            break (s, r);
        }
        assert!(Instant::now() < deadline, "still 503: {r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["window"]["open"], true);
    // Durable: a restart on the same Redis has window 1 open.
    let url = redis.url();
    app.shutdown().await;
    let app = spawn_app_with(StoreUrl::Redis(url), TUESDAY_10AM).await;
    let (_, w) = app.get("/api/v1/halls/qiaocheng/windows/1").await;
    assert_eq!(w["open"], true, "{w}");
}

/// A Redis failover can bring back a zone counter older than the hall's
/// log; the next ticket still gets a number never issued before.
#[tokio::test]
async fn a_counter_gone_back_never_reissues_a_number() {
    let redis = RedisServer::start(false);
    let app = spawn_app_with(StoreUrl::Redis(redis.url()), TUESDAY_10AM).await;
    for want in ["A001", "A002", "A003"] {
        let (_, r) = app.command(issue("general", "social")).await;
        assert_eq!(ticket_of(&r), want);
    }
    let client = redis_client(&redis).await;
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SET")
        .arg("hallcall:{qiaocheng}:num:2026-11-24:general")
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    let (s, r) = app.command(issue("general", "social")).await;
    assert_eq!((s, ticket_of(&r).as_str()), (200, "A004"), "{r}");
}
