//! `/metrics`: parses as the Prometheus text format and counts a scripted
//! morning exactly.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use serde_json::json;

use crate::helpers::spawn_app;

/// Parses the text format strictly: every sample's metric declared by a
/// TYPE line first, names and labels well-formed, values numbers.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(name_ok(name), "{line}");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample is `series value`");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
        let name = series.split('{').next().unwrap();
        assert!(name_ok(name), "{line}");
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                for pair in labels[1..labels.len() - 1].split(',') {
                    let (k, v) = pair.split_once('=').expect("label=value");
                    assert!(name_ok(k) && v.starts_with('"') && v.ends_with('"'), "{line}");
                }
            }
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "{name} has no TYPE before it");
        samples.insert(series.to_owned(), value);
    }
    samples
}

#[tokio::test]
async fn metrics_parse_and_count_a_scripted_morning() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.command(crate::helpers::issue("general", "social")).await;
    }
    app.command(crate::helpers::issue("police", "hukou")).await;
    // Five minutes later window 1 opens and serves the first ticket.
    app.clock.fetch_add(5 * 60_000, Ordering::SeqCst);
    for cmd in [
        json!({"op": "open", "window": 1}),
        json!({"op": "resume", "window": 1}),
        json!({"op": "call_next", "window": 1}),
        json!({"op": "start", "window": 1}),
        json!({"op": "finish", "window": 1}),
    ] {
        let (s, r) = app.command(cmd).await;
        assert_eq!(s, 200, "{r}");
    }
    let mut screen = app.live("qiaocheng", "display", "").await;
    crate::helpers::next_json(&mut screen).await;

    // The hub counts after the store: wait until it has seen the finish.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let m = loop {
        let res = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        let m = parse(&res.text().await.unwrap());
        if m.get(r#"hallcall_tickets_served_total{hall="qiaocheng",zone="general"}"#) == Some(&1.0) {
            break m;
        }
        assert!(std::time::Instant::now() < deadline, "the finish was never counted");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let g = |k: &str| m.get(k).copied().unwrap_or_else(|| panic!("no {k}"));
    assert_eq!(
        g(r#"hallcall_tickets_issued_total{hall="qiaocheng",zone="general"}"#),
        3.0
    );
    assert_eq!(
        g(r#"hallcall_tickets_issued_total{hall="qiaocheng",zone="police"}"#),
        1.0
    );
    assert_eq!(
        g(r#"hallcall_tickets_called_total{hall="qiaocheng",zone="general"}"#),
        1.0
    );
    assert_eq!(g(r#"hallcall_queue_waiting{hall="qiaocheng",zone="general"}"#), 2.0);
    assert_eq!(g(r#"hallcall_queue_waiting{hall="qiaocheng",zone="police"}"#), 1.0);
    assert_eq!(
        g(r#"hallcall_queue_longest_wait_seconds{hall="qiaocheng",zone="general"}"#),
        300.0
    );
    // A001 waited exactly five minutes: in the 300 s bucket, not the 60 s one.
    assert_eq!(
        g(r#"hallcall_wait_seconds_bucket{hall="qiaocheng",zone="general",le="60"}"#),
        0.0
    );
    assert_eq!(
        g(r#"hallcall_wait_seconds_bucket{hall="qiaocheng",zone="general",le="300"}"#),
        1.0
    );
    assert_eq!(
        g(r#"hallcall_wait_seconds_sum{hall="qiaocheng",zone="general"}"#),
        300.0
    );
    assert_eq!(
        g(r#"hallcall_wait_seconds_count{hall="qiaocheng",zone="general"}"#),
        1.0
    );
    assert!(g("hallcall_store_appends_total") >= 9.0);
    assert!(g("hallcall_store_write_seconds_count") >= 1.0);
    assert_eq!(g("hallcall_websocket_connections"), 1.0);
    assert_eq!(g("hallcall_store_healthy"), 1.0);
}
