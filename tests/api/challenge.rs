//! A hall that asks phones for a proof of work issues a phone ticket only
//! for a solved challenge of its own, once; a retry of the same request
//! passes, and halls that ask nothing are unchanged.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const TOWN: &str = "/api/v1/halls/gucheng-town";

async fn post(app: &TestApp, path: &str, body: Value, key: Option<&str>) -> (u16, Value) {
    let mut req = app.client.post(app.url(path)).json(&body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn challenge(app: &TestApp, hall: &str) -> (String, u8) {
    let (s, r) = post(app, &format!("{hall}/mobile-tickets/challenge"), json!(null), None).await;
    assert_eq!(s, 200, "{r}");
    (
        r["challenge"].as_str().unwrap().to_owned(),
        r["bits"].as_u64().unwrap() as u8,
    )
}

fn ticket(id: &str, solved: Option<(&str, &str)>) -> Value {
    let mut body = json!({"zone": "general", "service": "social", "id_number": id});
    if let Some((c, n)) = solved {
        body["challenge"] = json!(c);
        body["nonce"] = json!(n);
    }
    body
}

#[tokio::test]
async fn a_phone_ticket_costs_a_solved_challenge_where_the_hall_asks_for_one() {
    let app = spawn_app().await;
    let take = format!("{TOWN}/mobile-tickets");
    let (c, bits) = challenge(&app, TOWN).await;
    assert_eq!(bits, 16, "the sample township centre asks for 16 bits");

    // Without the work: refused, saying what to do.
    let (s, r) = post(&app, &take, ticket("11010519491231002X", None), None).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (422, Some("challenge_required")),
        "{r}"
    );
    // A wrong nonce.
    let (s, r) = post(&app, &take, ticket("11010519491231002X", Some((&c, "1"))), None).await;
    assert_eq!((s, r["error"]["code"].as_str()), (422, Some("challenge_failed")), "{r}");

    let nonce = hallcall::auth::solve(&c, bits);
    let (s, r) = post(
        &app,
        &take,
        ticket("11010519491231002X", Some((&c, &nonce))),
        Some("k-1"),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    // The same request again (its answer was lost): the same ticket.
    let (s, again) = post(
        &app,
        &take,
        ticket("11010519491231002X", Some((&c, &nonce))),
        Some("k-1"),
    )
    .await;
    assert_eq!((s, &again["ticket"]["number"]), (201, &r["ticket"]["number"]));
    // The same work for someone else: refused.
    let (s, r) = post(
        &app,
        &take,
        ticket("341602199001011234", Some((&c, &nonce))),
        Some("k-2"),
    )
    .await;
    assert_eq!((s, r["error"]["code"].as_str()), (422, Some("challenge_failed")), "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("used"), "{r}");
    // Another hall's challenge does not count here.
    let (other, _) = challenge(&app, "/api/v1/halls/qiaocheng").await;
    let n = hallcall::auth::solve(&other, bits);
    let (s, r) = post(&app, &take, ticket("341602199001011234", Some((&other, &n))), None).await;
    assert_eq!((s, r["error"]["code"].as_str()), (422, Some("challenge_failed")), "{r}");
    // A fresh one works for the second person; five minutes later it would not.
    let (c2, _) = challenge(&app, TOWN).await;
    let n2 = hallcall::auth::solve(&c2, bits);
    app.clock
        .fetch_add(hallcall::auth::CHALLENGE_MS, std::sync::atomic::Ordering::SeqCst);
    let (s, r) = post(&app, &take, ticket("341602199001011234", Some((&c2, &n2))), None).await;
    assert_eq!((s, r["error"]["code"].as_str()), (422, Some("challenge_failed")), "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("expired"), "{r}");

    // The city centre asks for no work: tickets as before.
    let (_, bits) = challenge(&app, "/api/v1/halls/qiaocheng").await;
    assert_eq!(bits, 0);
    let (s, r) = post(
        &app,
        "/api/v1/halls/qiaocheng/mobile-tickets",
        ticket("11010519491231002X", None),
        None,
    )
    .await;
    assert_eq!(s, 201, "{r}");
}
