//! Who may do what: every role boundary, the citizen's token, rate limits,
//! the mobile quota, and personal data kept off the screens.

use serde_json::{Value, json};

use crate::helpers::{next_json, spawn_app, until};

const HALL: &str = "/api/v1/halls/qiaocheng";

#[tokio::test]
async fn each_role_does_its_own_work_and_nothing_else() {
    let app = spawn_app().await;
    let issue = json!({"zone": "general", "service": "social"});
    let tickets = format!("{HALL}/tickets");
    let w5 = |a: &str| format!("{HALL}/windows/5/{a}");

    // Signing in.
    let (s, r) = crate::helpers::login_raw(&app, "qiaocheng", "w5", "wrong password").await;
    assert_eq!((s, r["error"]["code"].as_str()), (401, Some("unauthenticated")));
    let (s, _) = crate::helpers::login_raw(&app, "qiaocheng", "nobody", "hallcall-demo").await;
    assert_eq!(s, 401);
    let (s, r) = crate::helpers::login_raw(&app, "qiaocheng", "w5", "hallcall-demo").await;
    assert_eq!(s, 200);
    assert_eq!((r["role"].as_str(), r["windows"].clone()), (Some("window"), json!([5])));

    // No token, a forged token, another hall's token.
    let (s, r) = app.get_unsigned(&format!("{HALL}/windows")).await;
    assert_eq!((s, r["error"]["code"].as_str()), (401, Some("unauthenticated")));
    let res = app
        .client
        .get(app.url(HALL))
        .bearer_auth("e30.AAAA")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let town = app.token("gucheng-town", "admin").await;
    let res = app.client.get(app.url(HALL)).bearer_auth(town).send().await.unwrap();
    assert_eq!(res.status(), 401, "a token is for one hall");

    // A display reads, and cannot change anything.
    assert_eq!(app.get_as("qiaocheng", "display", HALL).await.0, 200);
    assert_eq!(
        app.post_as("qiaocheng", "display", &tickets, Some(issue.clone()))
            .await
            .0,
        403
    );
    assert_eq!(app.post_as("qiaocheng", "display", &w5("open"), None).await.0, 403);

    // The guide desk issues and cancels, and cannot operate windows.
    let (s, t) = app.post_as("qiaocheng", "guide", &tickets, Some(issue.clone())).await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(app.post_as("qiaocheng", "guide", &w5("open"), None).await.0, 403);

    // Window staff work their own window only.
    let (s, r) = app
        .post_as("qiaocheng", "w5", &format!("{HALL}/windows/6/open"), None)
        .await;
    assert_eq!((s, r["error"]["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(app.post_as("qiaocheng", "w5", &w5("open"), None).await.0, 200);
    assert_eq!(app.post_as("qiaocheng", "w5", &w5("resume"), None).await.0, 200);
    assert_eq!(
        app.post_as("qiaocheng", "w5", &tickets, Some(issue.clone())).await.0,
        403
    );
    let (s, r) = app.post_as("qiaocheng", "w5", &w5("call-next"), None).await;
    assert_eq!((s, r["window"]["current"].as_str()), (200, Some("A001")));
    assert_eq!(
        app.post_as(
            "qiaocheng",
            "w5",
            &format!("{HALL}/commands"),
            Some(json!({"op": "tick"}))
        )
        .await
        .0,
        403
    );

    // The supervisor cancels, reactivates, moves, closes any window, and does not call.
    let (s, _) = app.post_as("qiaocheng", "supervisor", &w5("call-next"), None).await;
    assert_eq!(s, 403);
    let (_, t2) = app.post_as("qiaocheng", "guide", &tickets, Some(issue.clone())).await;
    let n2 = t2["ticket"]["number"].as_str().unwrap();
    let (s, r) = app
        .post_as(
            "qiaocheng",
            "supervisor",
            &format!("{HALL}/tickets/{n2}/move"),
            Some(json!({"to": {"kind": "window", "window": 5}})),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["ticket"]["directed_to"], 5);
    assert_eq!(
        app.post_as("qiaocheng", "guide", &format!("{HALL}/tickets/{n2}/reactivate"), None)
            .await
            .0,
        403
    );
    let (s, r) = app
        .post_as("qiaocheng", "guide", &format!("{HALL}/tickets/{n2}/cancel"), None)
        .await;
    assert_eq!((s, r["ticket"]["state"].as_str()), (200, Some("cancelled")));
    assert_eq!(
        app.post_as("qiaocheng", "supervisor", &w5("close"), None).await.0,
        409,
        "A001 is in hand"
    );
    assert_eq!(app.post_as("qiaocheng", "w5", &w5("skip"), None).await.0, 200);
    let (s, r) = app.post_as("qiaocheng", "supervisor", &w5("close"), None).await;
    assert_eq!((s, r["window"]["open"].as_bool()), (200, Some(false)), "{r}");
}

#[tokio::test]
async fn a_citizens_token_opens_only_their_own_ticket() {
    let app = spawn_app().await;
    let tickets = format!("{HALL}/tickets");
    let (_, first) = app
        .post_as(
            "qiaocheng",
            "guide",
            &tickets,
            Some(json!({"zone": "general", "service": "social"})),
        )
        .await;
    let (_, second) = app
        .post_as(
            "qiaocheng",
            "guide",
            &tickets,
            Some(json!({"zone": "general", "service": "social"})),
        )
        .await;
    let token = second["token"].as_str().unwrap();
    assert!(token.len() > 30, "unguessable: {token}");
    let (s, mine) = app.get_unsigned(&format!("/api/v1/tickets/{token}")).await;
    assert_eq!(s, 200);
    assert_eq!(mine["ticket"]["number"], "A002");
    assert_eq!(mine["ticket"]["people_ahead"], 1);
    assert_eq!(first["ticket"]["people_ahead"], 0);
    // Editing the number in the token does not reach someone else's ticket.
    let edited = token.replace("A002", "A001");
    let (s, r) = app.get_unsigned(&format!("/api/v1/tickets/{edited}")).await;
    assert_eq!((s, r["error"]["code"].as_str()), (404, Some("unknown_ticket")));
    // The staff route is not open to the public.
    assert_eq!(app.get_unsigned(&format!("{HALL}/tickets/A001")).await.0, 401);
}

#[tokio::test]
async fn phones_are_rate_limited_and_held_to_a_daily_quota() {
    let app = spawn_app().await;
    let url = format!("{HALL}/mobile-tickets");
    let take = |zone: &'static str, service: &'static str| {
        let (client, url) = (app.client.clone(), app.url(&url));
        async move {
            let res = client
                .post(url)
                .json(&json!({"zone": zone, "service": service, "id_number": "341602199001011234"}))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<serde_json::Value>().await.unwrap())
        }
    };
    let mut screen = app.live("qiaocheng", "display", "").await;
    next_json(&mut screen).await;
    let (s, r) = take("general", "social").await;
    assert_eq!(s, 201, "{r}");
    // One waiting ticket per person and service (the hall's rule).
    let (s, r) = take("general", "social").await;
    assert_eq!((s, r["error"]["code"].as_str()), (409, Some("already_waiting")));
    assert_eq!(take("police", "hukou").await.0, 201);
    assert_eq!(take("construction", "permit").await.0, 201);
    let (s, r) = take("business", "register").await;
    assert_eq!((s, r["error"]["code"].as_str()), (429, Some("quota_exceeded")), "{r}");
    // Nobody else is affected.
    let res = app
        .client
        .post(app.url(&url))
        .json(&json!({"zone": "business", "service": "register", "id_number": "13800138000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    // A made-up number is nobody: "1", a 12x number, an ID card number
    // with a wrong check digit or an impossible birth date.
    for made_up in ["1", "12800138000", "341602199001011235", "341602199002301234"] {
        let res = app
            .client
            .post(app.url(&url))
            .json(&json!({"zone": "business", "service": "register", "id_number": made_up}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{made_up}");
        let r: Value = res.json().await.unwrap();
        assert_eq!(r["error"]["code"], "bad_id_number", "{made_up}");
    }
    // The person's number never reaches a screen.
    let d = until(&mut screen, |v| {
        v["type"] == "delta" && v.to_string().contains("TicketIssued")
    })
    .await;
    let text = d.to_string();
    assert!(!text.contains("person") && !text.contains("341602"), "{text}");

    // Public endpoints run out of patience with one address.
    let mut limited = 0;
    for _ in 0..60 {
        let (s, r) = app.get_unsigned("/api/v1/tickets/nonsense").await;
        if s == 429 {
            assert_eq!(r["error"]["code"], "rate_limited");
            limited += 1;
        }
    }
    assert!(limited > 0, "60 requests at once were all answered");
}

/// Sign-in is limited on wrong passwords only: staff behind one address
/// all sign in in the morning, a password guesser is stopped.
#[tokio::test]
async fn only_wrong_passwords_use_up_the_sign_in_limit() {
    let app = crate::helpers::spawn_app().await;
    for i in 0..12 {
        let (s, r) = crate::helpers::login_raw(&app, "qiaocheng", "guide", "hallcall-demo").await;
        assert_eq!(s, 200, "sign-in {i}: {r}");
    }
    // The burst of 10 wrong ones, then refused (however slowly the
    // machine checks them: the bucket refills at 1 every 2 s).
    // Each guess at another name, so no account locks first.
    let mut statuses = Vec::new();
    while statuses.last().is_none_or(|(s, _)| *s != 429) && statuses.len() < 60 {
        let (s, r) =
            crate::helpers::login_raw(&app, "qiaocheng", &format!("guess{}", statuses.len()), "wrong password").await;
        statuses.push((s, r["error"]["code"].as_str().unwrap_or_default().to_owned()));
    }
    assert!(statuses[..10].iter().all(|(s, _)| *s == 401), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&(429, "rate_limited".to_owned())), "{statuses:?}");
}

/// Guesses at one account lock it for a while, whatever address they come
/// from; other accounts sign in meanwhile.
#[tokio::test]
async fn wrong_passwords_lock_the_account_for_a_while() {
    let app = crate::helpers::spawn_app().await;
    for i in 0..hallcall::auth::FREE_TRIES {
        let (s, r) = crate::helpers::login_raw(&app, "qiaocheng", "w1", "wrong password").await;
        assert_eq!(s, 401, "guess {i}: {r}");
    }
    let res = app
        .client
        .post(app.url("/api/v1/login"))
        .json(&serde_json::json!({"hall": "qiaocheng", "user": "w1", "password": "hallcall-demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429, "locked: even the right password waits");
    let wait: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait >= 1, "{wait}");
    let r: serde_json::Value = res.json().await.unwrap();
    assert_eq!(r["error"]["code"], "account_locked");
    let (s, r) = crate::helpers::login_raw(&app, "qiaocheng", "w2", "hallcall-demo").await;
    assert_eq!(s, 200, "another account: {r}");
}

/// A supervisor clears a flood of phone tickets in one action; nobody else may.
#[tokio::test]
async fn a_supervisor_cancels_the_waiting_phone_tickets_in_bulk() {
    let app = spawn_app().await;
    let url = app.url("/api/v1/halls/qiaocheng/mobile-tickets");
    let mut taken = Vec::new();
    for phone in ["13800138001", "13800138002"] {
        let res = app
            .client
            .post(&url)
            .json(&json!({"zone": "general", "service": "social", "id_number": phone}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let r: Value = res.json().await.unwrap();
        taken.push(r["ticket"]["number"].as_str().unwrap().to_owned());
    }
    let desk = app
        .post_as(
            "qiaocheng",
            "guide",
            "/api/v1/halls/qiaocheng/tickets",
            Some(json!({"zone": "general", "service": "social"})),
        )
        .await;
    assert_eq!(desk.0, 201, "{}", desk.1);
    let cancel = "/api/v1/halls/qiaocheng/mobile-tickets/cancel";
    let (s, _) = app.post_as("qiaocheng", "guide", cancel, Some(json!({}))).await;
    assert_eq!(s, 403, "a guide may not");
    let (s, r) = app
        .post_as("qiaocheng", "supervisor", cancel, Some(json!({"zone": "nowhere"})))
        .await;
    assert_eq!((s, r["error"]["code"].as_str()), (404, Some("unknown_zone")), "{r}");
    let (s, r) = app
        .post_as("qiaocheng", "supervisor", cancel, Some(json!({"zone": "general"})))
        .await;
    assert_eq!(s, 200, "{r}");
    let cancelled: Vec<String> = serde_json::from_value(r["cancelled"].clone()).unwrap();
    assert_eq!(cancelled, taken);
    for t in &taken {
        let (_, v) = app
            .get_as(
                "qiaocheng",
                "supervisor",
                &format!("/api/v1/halls/qiaocheng/tickets/{t}"),
            )
            .await;
        assert_eq!(v["state"], "cancelled");
    }
    let (_, v) = app
        .get_as(
            "qiaocheng",
            "supervisor",
            &format!(
                "/api/v1/halls/qiaocheng/tickets/{}",
                desk.1["ticket"]["number"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(v["state"], "waiting", "the desk's ticket stays");
}

/// Signing out ends every session the account began before, also after a
/// restart; an administrator can do it for an account, and a new sign-in
/// works again.
#[tokio::test]
async fn signing_out_voids_the_sessions_begun_before_it_also_after_a_restart() {
    use std::sync::atomic::Ordering;
    let app = spawn_app().await;
    let windows = "/api/v1/halls/qiaocheng/windows";
    let guide = app.token("qiaocheng", "guide").await;
    let get = |token: String| {
        let (client, url) = (app.client.clone(), app.url(windows));
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(get(guide.clone()).await, 200);
    let r = app
        .client
        .post(app.url("/api/v1/halls/qiaocheng/sign-out"))
        .bearer_auth(&guide)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(get(guide.clone()).await, 401, "the signed-out token");

    // An administrator signs an account out.
    let w1 = app.token("qiaocheng", "w1").await;
    assert_eq!(get(w1.clone()).await, 200);
    let post = |user: &'static str, path: &'static str| {
        let app = &app;
        async move {
            let token = app.token("qiaocheng", user).await;
            let r = app.client.post(app.url(path)).bearer_auth(token).send().await.unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };
    let (s, _) = post("w1", "/api/v1/halls/qiaocheng/accounts/w2/sign-out").await;
    assert_eq!(s, 403, "only an administrator");
    let (s, r) = post("admin", "/api/v1/halls/qiaocheng/accounts/nobody/sign-out").await;
    assert_eq!((s, r["error"]["code"].as_str()), (404, Some("unknown_account")));
    let (s, _) = post("admin", "/api/v1/halls/qiaocheng/accounts/w1/sign-out").await;
    assert_eq!(s, 204);
    assert_eq!(get(w1.clone()).await, 401);

    // Still void after a restart; a sign-in after it works.
    let data = app.data.clone();
    let dir = app.shutdown().await;
    let app = crate::helpers::spawn_app_on(&data, crate::helpers::TUESDAY_10AM + 1_000).await;
    let r = app.client.get(app.url(windows)).bearer_auth(&w1).send().await.unwrap();
    assert_eq!(r.status(), 401);
    app.clock.fetch_add(1_000, Ordering::SeqCst);
    let fresh = app.token("qiaocheng", "w1").await;
    let r = app
        .client
        .get(app.url(windows))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(dir);
}
