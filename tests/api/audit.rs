//! The audit log: sign-ins with their address (refused ones counted),
//! sign-outs, revocations and the supervisor's actions, each with who did
//! it; durable across a restart; for supervisors only.

use serde_json::{Value, json};

use crate::helpers::{DEMO_PASSWORD, TUESDAY_10AM, issue, login_raw, spawn_app, spawn_app_on, ticket_of};

const HALL: &str = "/api/v1/halls/qiaocheng";

/// The day's entries as (action, who, target, count), and the raw list.
async fn entries(app: &crate::helpers::TestApp) -> (Vec<(String, String, Option<String>, u64)>, Value) {
    let (s, r) = app.get_as("qiaocheng", "supervisor", &format!("{HALL}/audit")).await;
    assert_eq!(s, 200, "{r}");
    let list = r["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["who"].as_str().unwrap().to_owned(),
                e["target"].as_str().map(str::to_owned),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect();
    (list, r)
}

fn has(list: &[(String, String, Option<String>, u64)], action: &str, who: &str, target: Option<&str>) -> bool {
    list.iter()
        .any(|(a, w, t, _)| a == action && w == who && t.as_deref() == target)
}

#[tokio::test]
async fn sign_ins_sign_outs_and_supervisor_actions_are_kept_with_who_and_where() {
    let app = spawn_app().await;
    // Wrong passwords: counted, not written one by one.
    for _ in 0..3 {
        assert_eq!(login_raw(&app, "qiaocheng", "w1", "guess").await.0, 401);
    }
    assert_eq!(login_raw(&app, "qiaocheng", "nobody", "guess").await.0, 401);
    // The supervisor's day.
    let (_, r) = app.command(issue("general", "social")).await;
    let first = ticket_of(&r);
    let (_, r) = app.command(issue("general", "social")).await;
    let second = ticket_of(&r);
    let post = |user: &'static str, path: String, body: Option<Value>| {
        let app = &app;
        async move { app.post_as("qiaocheng", user, &path, body).await.0 }
    };
    assert_eq!(post("guide", format!("{HALL}/tickets/{first}/cancel"), None).await, 200);
    let to = json!({"to": {"kind": "window", "window": 5}});
    assert_eq!(
        post("supervisor", format!("{HALL}/tickets/{second}/move"), Some(to)).await,
        200
    );
    assert_eq!(post("w4", format!("{HALL}/windows/4/open"), None).await, 200);
    assert_eq!(post("supervisor", format!("{HALL}/windows/4/close"), None).await, 200);
    let phone = json!({"zone": "general", "service": "social", "id_number": "341602199001011234"});
    let res = app
        .client
        .post(app.url(&format!("{HALL}/mobile-tickets")))
        .json(&phone)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(
        post("supervisor", format!("{HALL}/mobile-tickets/cancel"), Some(json!({}))).await,
        200
    );
    // An administrator signs w2 out; w3 signs itself out.
    let w2 = app.token("qiaocheng", "w2").await;
    assert!(!w2.is_empty());
    let admin = app.token("qiaocheng", "admin").await;
    let res = app
        .client
        .post(app.url(&format!("{HALL}/accounts/w2/sign-out")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let w3 = app.token("qiaocheng", "w3").await;
    let res = app
        .client
        .post(app.url(&format!("{HALL}/sign-out")))
        .bearer_auth(&w3)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    let (list, raw) = entries(&app).await;
    for (action, who, target) in [
        ("signed_in", "supervisor", None),
        ("signed_in", "w2", None),
        ("ticket_cancelled", "guide", Some(first.as_str())),
        ("ticket_moved", "supervisor", Some(second.as_str())),
        ("window_closed", "supervisor", Some("4")),
        ("phone_tickets_cancelled", "supervisor", Some("*")),
        ("account_signed_out", "admin", Some("w2")),
        ("signed_out", "w3", None),
    ] {
        assert!(
            has(&list, action, who, target),
            "{action} by {who} on {target:?}: {raw}"
        );
    }
    let sign_in = raw["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "signed_in")
        .unwrap();
    assert_eq!(sign_in["address"], "127.0.0.1", "{sign_in}");
    // Only a supervisor (or an administrator) reads it.
    let (s, _) = app.get_as("qiaocheng", "w1", &format!("{HALL}/audit")).await;
    assert_eq!(s, 403);
    let (s, r) = app
        .get_as("qiaocheng", "supervisor", &format!("{HALL}/audit?day=someday"))
        .await;
    assert_eq!((s, r["error"]["code"].as_str()), (400, Some("bad_date")));

    // The refused sign-ins are written at the latest when the server stops
    // (every minute while it runs); everything is there after a restart.
    let data = app.data.clone();
    let dir = app.shutdown().await;
    let app = spawn_app_on(&data, TUESDAY_10AM + 60_000).await;
    let (list, raw) = entries(&app).await;
    let refused: Vec<_> = list.iter().filter(|e| e.0 == "sign_in_refused").collect();
    assert!(
        refused.iter().any(|e| e.1 == "w1" && e.3 == 3),
        "three wrong passwords for w1 in one line: {raw}"
    );
    assert!(refused.iter().any(|e| e.1 == "nobody" && e.3 == 1), "{raw}");
    assert!(has(&list, "window_closed", "supervisor", Some("4")), "{raw}");
    // A correct password afterwards is a sign-in like any other.
    assert_eq!(login_raw(&app, "qiaocheng", "w1", DEMO_PASSWORD).await.0, 200);
    drop(dir);
}
