//! 超时预警 from the sample hall's thresholds: raised, pushed to the
//! supervisor's board, acknowledged, cleared.

use serde_json::json;

use crate::helpers::{next_json, spawn_app, until};

const HALL: &str = "/api/v1/halls/qiaocheng";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_queue_is_raised_pushed_acknowledged_and_cleared() {
    let app = spawn_app().await;
    let mut board = app.live("qiaocheng", "supervisor", "").await;
    assert_eq!(next_json(&mut board).await["alerts"], json!([]));
    // The sample hall alerts above 40 waiting in a zone.
    for _ in 0..41 {
        let (s, r) = app.command(crate::helpers::issue("general", "social")).await;
        assert_eq!(s, 200, "{r}");
    }
    let d = until(&mut board, |v| v["alerts"].as_array().is_some_and(|a| !a.is_empty())).await;
    let alert = &d["alerts"][0];
    assert_eq!(alert["kind"], "long_queue");
    assert_eq!(alert["target"], json!({"kind": "zone", "zone": "general"}));
    assert_eq!((alert["value"].as_i64(), alert["limit"].as_i64()), (Some(41), Some(40)));

    let ack = format!("{HALL}/alerts/acknowledge");
    let body = json!({"alert": "long_queue", "target": {"kind": "zone", "zone": "general"}});
    assert_eq!(app.post_as("qiaocheng", "guide", &ack, Some(body.clone())).await.0, 403);
    let (s, r) = app.post_as("qiaocheng", "supervisor", &ack, Some(body.clone())).await;
    assert_eq!(s, 200, "{r}");
    let d = until(&mut board, |v| v["alerts"][0]["acknowledged_by"].is_string()).await;
    assert_eq!(d["alerts"][0]["acknowledged_by"], "supervisor");
    let (s, r) = app.post_as("qiaocheng", "supervisor", &ack, Some(body)).await;
    assert_eq!((s, r["error"]["code"].as_str()), (409, Some("already_acknowledged")));
    let other = json!({"alert": "long_wait", "target": {"kind": "zone", "zone": "police"}});
    let (s, r) = app.post_as("qiaocheng", "supervisor", &ack, Some(other)).await;
    assert_eq!((s, r["error"]["code"].as_str()), (409, Some("no_such_alert")));

    // One ticket called: 40 waiting, the alert clears by itself.
    app.command(json!({"op": "open", "window": 1})).await;
    app.command(json!({"op": "resume", "window": 1})).await;
    app.command(json!({"op": "call_next", "window": 1})).await;
    until(&mut board, |v| v["alerts"] == json!([])).await;
    let (_, hall) = app.get(HALL).await;
    assert_eq!(hall["alerts"], json!([]));
}
