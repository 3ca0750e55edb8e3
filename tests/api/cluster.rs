//! Several nodes on one Redis: each hall owned by one node, served through
//! any, and handed over when its node leaves.

use std::time::{Duration, Instant};

use hallcall::cli::{Args, StoreUrl};
use serde_json::json;

use crate::helpers::{TUESDAY_10AM, args, called, issue, next_json, spawn_app_args, ticket_of, until};
use crate::redis_server::RedisServer;

/// A node named `id` on the store at `url`, with the sample hall pinned
/// to `n2`.
fn node(url: &str, id: &str) -> Args {
    let mut a = args(StoreUrl::Redis(url.to_owned()));
    a.node.node_id = Some(id.into());
    a.node.pin = vec![("qiaocheng".into(), "n2".into())];
    a
}

#[tokio::test]
async fn any_node_answers_for_a_hall_and_a_leaving_node_hands_it_over() {
    let redis = RedisServer::start(true);
    two_nodes(&redis.url()).await;
}

/// The same on a three-primary Redis Cluster: leases, fences, beats and
/// the published notices all work across its slots.
#[tokio::test]
async fn on_a_redis_cluster_too() {
    let cluster = crate::redis_server::RedisCluster::start(3, true);
    two_nodes(&cluster.url()).await;
}

async fn two_nodes(url: &str) {
    let n1 = spawn_app_args(node(url, "n1"), TUESDAY_10AM).await;
    // Alone, n1 serves the hall, though it is pinned to a node not up.
    let (s, r) = n1.command(issue("general", "social")).await;
    assert_eq!((s, ticket_of(&r).as_str()), (200, "A001"), "{r}");

    // n2 comes up: n1 hands the pinned hall over, and n2's start waits
    // until it holds it.
    let n2 = spawn_app_args(node(url, "n2"), TUESDAY_10AM).await;
    let mut screen = n1.live("qiaocheng", "display", "").await;
    let first = next_json(&mut screen).await;
    assert_eq!(first["type"], "snapshot", "{first}");

    // Through n1 (signing in, opening a window, calling): each request is
    // passed to n2 and answered as if local.
    for cmd in [json!({"op": "open", "window": 1}), json!({"op": "resume", "window": 1})] {
        let (s, r) = n1.command(cmd).await;
        assert_eq!(s, 200, "{r}");
    }
    let (s, r) = n1.command(json!({"op": "call_next", "window": 1})).await;
    assert_eq!((s, ticket_of(&r).as_str()), (200, "A001"), "{r}");
    // n1's screen shows the call n2 made.
    let d = until(&mut screen, |v| !called(v).is_empty()).await;
    assert_eq!(called(&d), ["A001"]);
    // A screen that moves to the owner resumes where it was, epoch and
    // sequence number alike: no new snapshot.
    let (seq, epoch) = (d["seq"].as_u64().unwrap(), first["epoch"].as_str().unwrap());
    let mut moved = n2
        .live("qiaocheng", "display", &format!("since={seq}&epoch={epoch}"))
        .await;
    let m = next_json(&mut moved).await;
    assert_eq!(m["type"], "resumed", "{m}");

    // A device pairs through any node: it asks and polls through n1, a
    // supervisor approves through n2; the pairing waits on the hall's node.
    let started: serde_json::Value = n1
        .client
        .post(n1.url("/api/v1/halls/qiaocheng/pairings"))
        .json(&json!({"name": "东门 LED"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = started["code"].as_str().expect("a pairing code");
    let approve = format!("/api/v1/halls/qiaocheng/pairings/{code}/approve");
    let (s, r) = n2
        .post_as("qiaocheng", "supervisor", &approve, Some(json!({"account": "display"})))
        .await;
    assert_eq!(s, 200, "{r}");
    let poll = format!("/api/v1/pairings/{}", started["secret"].as_str().unwrap());
    let (s, r) = n1.get_unsigned(&poll).await;
    assert_eq!((s, r["state"].as_str()), (200, Some("paired")), "{r}");

    // Both nodes give the same hall (n2's first request is its sign-in, in
    // the audit log: one event further).
    let (_, one) = n1.get("/api/v1/halls/qiaocheng").await;
    let (_, two) = n2.get("/api/v1/halls/qiaocheng").await;
    assert_eq!((&one["queues"], &one["windows"]), (&two["queues"], &two["windows"]));

    // A configuration change made through n1 is made on n2, the owner,
    // and n1 follows it: both run the same version.
    let edit = json!({"base": 1, "reason": "支援户籍", "edits": [{"op": "set_window", "number": 2,
        "name": "综合受理", "serves": ["general", "police"]}]});
    let (s, r) = n1
        .post_as("qiaocheng", "admin", "/api/v1/halls/qiaocheng/config/edits", Some(edit))
        .await;
    assert_eq!((s, r["version"].as_u64()), (200, Some(2)), "{r}");
    let window_two = |list: serde_json::Value| {
        list["halls"][0]["windows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["number"] == 2)
            .unwrap()["zones"]
            .clone()
    };
    let waited = Instant::now();
    loop {
        let (_, list) = n1.get_unsigned("/api/v1/halls").await;
        if window_two(list) == json!(["general", "police"]) {
            break;
        }
        assert!(waited.elapsed() < Duration::from_secs(5), "n1 did not follow version 2");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, on_two) = n2.get_unsigned("/api/v1/halls").await;
    assert_eq!(window_two(on_two), json!(["general", "police"]));

    // n2 shuts down: n1 takes the hall back at once; meanwhile operations
    // are refused 503 hall_moving, never answered wrongly.
    n2.shutdown().await;
    let left = Instant::now();
    let mut refusals = 0;
    let ticket = loop {
        let (s, r) = n1.command(issue("general", "social")).await;
        if s == 200 {
            break ticket_of(&r);
        }
        assert_eq!((s, r["error"]["code"].as_str()), (503, Some("hall_moving")), "{r}");
        refusals += 1;
        assert!(left.elapsed() < Duration::from_secs(5), "n1 did not take the hall over");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!(
        "hall served again {:?} after n2 left ({refusals} refusals)",
        left.elapsed()
    );
    assert_eq!(ticket, "A002", "numbers go on where n2 left them");
    let (_, after) = n1.get("/api/v1/halls/qiaocheng").await;
    assert_eq!(after["windows"], one["windows"]);
}
