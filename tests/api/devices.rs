//! Devices: displays, kiosks and evaluators stay signed in until an
//! administrator revokes them; a device without a keyboard is paired by a
//! code entered on the supervisor board; a kiosk does only a kiosk's work.

use serde_json::{Value, json};

use crate::helpers::{DEMO_PASSWORD, TUESDAY_10AM, TestApp, close_code, login_raw, next_json, spawn_app, spawn_app_on};

const HALL: &str = "qiaocheng";

/// Sends `method path` with `token` and `body`: status and JSON (or null).
async fn send(app: &TestApp, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut req = app.client.request(method.parse().unwrap(), app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Signs a device account in: its session.
async fn device(app: &TestApp, user: &str, name: &str) -> Value {
    let res = app
        .client
        .post(app.url("/api/v1/login"))
        .json(&json!({"hall": HALL, "user": user, "password": DEMO_PASSWORD, "device_name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn token(session: &Value) -> &str {
    session["token"].as_str().expect("a token")
}

#[tokio::test]
async fn a_device_stays_signed_in_until_an_administrator_revokes_it() {
    let app = spawn_app().await;
    let east = device(&app, "display", "东门 LED").await;
    let west = device(&app, "display", "西门大屏").await;
    assert!(
        east["expires_at"].is_null(),
        "a device's sign-in does not expire: {east}"
    );
    let id = east["device"].as_str().expect("a device id").to_owned();
    assert_ne!(Some(id.as_str()), west["device"].as_str());

    let (s, list) = app.get_as(HALL, "admin", "/api/v1/halls/qiaocheng/devices").await;
    assert_eq!(s, 200);
    let mut names: Vec<_> = list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["\"东门 LED\"", "\"西门大屏\""]);
    assert_eq!(list["devices"][0]["role"], "display");
    // Displays cannot see the list; supervisors can; only admins revoke.
    assert_eq!(
        send(&app, "GET", "/api/v1/halls/qiaocheng/devices", Some(token(&west)), None)
            .await
            .0,
        403
    );
    let revoke = format!("/api/v1/halls/qiaocheng/devices/{id}/revoke");
    assert_eq!(app.post_as(HALL, "supervisor", &revoke, None).await.0, 403);

    // A week later the device is still signed in, and reading.
    app.clock
        .store(TUESDAY_10AM + 7 * 24 * 3_600_000, std::sync::atomic::Ordering::SeqCst);
    app.forget_tokens().await;
    assert_eq!(
        send(&app, "GET", "/api/v1/halls/qiaocheng", Some(token(&east)), None)
            .await
            .0,
        200
    );
    let live = |p: String| format!("/api/v1/halls/qiaocheng/live?pass={p}");
    let mut east_screen = app.ws(&live(app.pass("qiaocheng", token(&east)).await)).await;
    let mut west_screen = app.ws(&live(app.pass("qiaocheng", token(&west)).await)).await;
    assert_eq!(next_json(&mut east_screen).await["type"], "snapshot");
    assert_eq!(next_json(&mut west_screen).await["type"], "snapshot");

    let (s, r) = app.post_as(HALL, "admin", &revoke, None).await;
    assert_eq!((s, r["device"].as_str()), (200, Some(id.as_str())));
    // Its connection is closed at once, with the code that means "sign in".
    assert_eq!(close_code(&mut east_screen).await, 4401);
    let (s, r) = send(&app, "GET", "/api/v1/halls/qiaocheng", Some(token(&east)), None).await;
    assert_eq!((s, r["error"]["code"].as_str()), (401, Some("unauthenticated")), "{r}");
    // The other device is not touched.
    assert_eq!(
        send(&app, "GET", "/api/v1/halls/qiaocheng", Some(token(&west)), None)
            .await
            .0,
        200
    );
    crate::helpers::until(&mut west_screen, |_| true).await;
    // Revoked twice: there is nothing left to revoke.
    let (s, r) = app.post_as(HALL, "admin", &revoke, None).await;
    assert_eq!((s, r["error"]["code"].as_str()), (404, Some("unknown_device")));
}

#[tokio::test]
async fn devices_and_revocations_survive_a_restart() {
    let app = spawn_app().await;
    let kept = device(&app, "display", "大厅").await;
    let gone = device(&app, "kiosk", "自助机 1").await;
    let id = gone["device"].as_str().unwrap().to_owned();
    let (s, _) = app
        .post_as(
            HALL,
            "admin",
            &format!("/api/v1/halls/qiaocheng/devices/{id}/revoke"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let data = app.data.clone();
    let dir = app.shutdown().await;
    // The next business day, after a restart.
    let app = spawn_app_on(&data, TUESDAY_10AM + 24 * 3_600_000).await;
    assert_eq!(
        send(&app, "GET", "/api/v1/halls/qiaocheng", Some(token(&kept)), None)
            .await
            .0,
        200
    );
    assert_eq!(
        send(&app, "GET", "/api/v1/halls/qiaocheng", Some(token(&gone)), None)
            .await
            .0,
        401
    );
    drop(dir);
}

#[tokio::test]
async fn a_kiosk_issues_and_checks_in_but_looks_up_and_cancels_nothing() {
    let app = spawn_app().await;
    let kiosk = device(&app, "kiosk", "自助机 1").await;
    let k = Some(token(&kiosk));
    // Whatever channel it names, a kiosk's ticket is a kiosk's.
    let (s, r) = send(
        &app,
        "POST",
        "/api/v1/halls/qiaocheng/tickets",
        k,
        Some(json!({"zone": "general", "service": "social", "channel": "guide_desk"})),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    let number = r["ticket"]["number"].as_str().unwrap().to_owned();
    let (_, t) = app.get(&format!("/api/v1/halls/qiaocheng/tickets/{number}")).await;
    assert_eq!(t["channel"], "kiosk", "{t}");

    // An appointment checked in by its code.
    let start = TUESDAY_10AM + 10 * 60_000;
    let (s, r) = app
        .post_as(
            HALL,
            "guide",
            "/api/v1/halls/qiaocheng/appointments",
            Some(json!({"code": "YY88A7", "zone": "general", "service": "social",
                        "slot_start": start, "slot_end": start + 1_800_000})),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let (s, r) = send(
        &app,
        "POST",
        "/api/v1/halls/qiaocheng/appointments/YY88A7/check-in",
        k,
        None,
    )
    .await;
    assert_eq!(s, 201, "{r}");

    // What only the desk does.
    for (method, path, body) in [
        ("GET", format!("/api/v1/halls/qiaocheng/tickets/{number}"), None),
        ("POST", format!("/api/v1/halls/qiaocheng/tickets/{number}/cancel"), None),
        (
            "POST",
            "/api/v1/halls/qiaocheng/appointments/check-in".into(),
            Some(json!({"zone": "general", "service": "social", "slot_start": start, "slot_end": start + 1_800_000})),
        ),
        (
            "POST",
            "/api/v1/halls/qiaocheng/tickets".into(),
            Some(json!({"zone": "general", "service": "social", "channel": "kiosk", "category": "elderly"})),
        ),
        ("GET", "/api/v1/halls/qiaocheng/appointments/YY88A7".into(), None),
        ("POST", "/api/v1/halls/qiaocheng/windows/1/open".into(), None),
    ] {
        let (s, r) = send(&app, method, &path, k, body).await;
        assert_eq!(
            (s, r["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{method} {path}: {r}"
        );
    }
    let (_, t) = app.get(&format!("/api/v1/halls/qiaocheng/tickets/{number}")).await;
    assert_eq!(t["state"], "waiting");
}

#[tokio::test]
async fn a_kiosk_opens_its_settings_with_its_pin_only() {
    let app = spawn_app().await;
    let kiosk = device(&app, "kiosk", "").await;
    let unlock = "/api/v1/halls/qiaocheng/devices/unlock";
    let k = Some(token(&kiosk));
    let (s, r) = send(&app, "POST", unlock, k, Some(json!({"pin": "1357"}))).await;
    assert_eq!((s, r["error"]["code"].as_str()), (401, Some("wrong_pin")));
    assert_eq!(send(&app, "POST", unlock, k, Some(json!({"pin": "2468"}))).await.0, 204);
    // A guide is no kiosk.
    let (s, _) = app.post_as(HALL, "guide", unlock, Some(json!({"pin": "2468"}))).await;
    assert_eq!(s, 403);
    // Guessing is slowed down like signing in.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(send(&app, "POST", unlock, k, Some(json!({"pin": "0000"}))).await.0);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn a_device_is_paired_by_the_code_it_shows() {
    let app = spawn_app().await;
    let (s, started) = send(
        &app,
        "POST",
        "/api/v1/halls/qiaocheng/pairings",
        None,
        Some(json!({"name": "东门 LED"})),
    )
    .await;
    assert_eq!(s, 201, "{started}");
    let code = started["code"].as_str().unwrap().to_owned();
    let poll = format!("/api/v1/pairings/{}", started["secret"].as_str().unwrap());
    let (s, r) = send(&app, "GET", &poll, None, None).await;
    assert_eq!(
        (s, r["state"].as_str(), r["code"].as_str()),
        (200, Some("waiting"), Some(code.as_str()))
    );

    let approve = format!("/api/v1/halls/qiaocheng/pairings/{code}/approve");
    // Only a device account, only by a supervisor, only a waiting code.
    let (s, r) = app
        .post_as(HALL, "supervisor", &approve, Some(json!({"account": "w1"})))
        .await;
    assert_eq!((s, r["error"]["code"].as_str()), (422, Some("not_a_device_account")));
    assert_eq!(
        app.post_as(HALL, "guide", &approve, Some(json!({"account": "display"})))
            .await
            .0,
        403
    );
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let (s, r) = app
        .post_as(
            HALL,
            "supervisor",
            &format!("/api/v1/halls/qiaocheng/pairings/{wrong}/approve"),
            Some(json!({"account": "display"})),
        )
        .await;
    assert_eq!((s, r["error"]["code"].as_str()), (404, Some("unknown_pairing")));

    let (s, r) = app
        .post_as(HALL, "supervisor", &approve, Some(json!({"account": "display"})))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["name"], "东门 LED");
    let (s, r) = send(&app, "GET", &poll, None, None).await;
    assert_eq!((s, r["state"].as_str()), (200, Some("paired")), "{r}");
    let session = &r["session"];
    assert_eq!(session["role"], "display");
    assert_eq!(
        send(&app, "GET", "/api/v1/halls/qiaocheng", Some(token(session)), None)
            .await
            .0,
        200
    );
    // Handed over once; the code cannot be entered again.
    assert_eq!(send(&app, "GET", &poll, None, None).await.0, 404);
    assert_eq!(
        app.post_as(HALL, "supervisor", &approve, Some(json!({"account": "display"})))
            .await
            .0,
        404
    );
    let (_, list) = app.get_as(HALL, "admin", "/api/v1/halls/qiaocheng/devices").await;
    assert_eq!(list["devices"][0]["name"], "东门 LED");
}

#[tokio::test]
async fn a_pairing_code_expires() {
    let app = spawn_app().await;
    let (_, started) = send(&app, "POST", "/api/v1/halls/qiaocheng/pairings", None, None).await;
    let code = started["code"].as_str().unwrap();
    app.clock.fetch_add(10 * 60_000, std::sync::atomic::Ordering::SeqCst);
    let (s, _) = app
        .post_as(
            HALL,
            "supervisor",
            &format!("/api/v1/halls/qiaocheng/pairings/{code}/approve"),
            Some(json!({"account": "display"})),
        )
        .await;
    assert_eq!(s, 404);
    let poll = format!("/api/v1/pairings/{}", started["secret"].as_str().unwrap());
    assert_eq!(send(&app, "GET", &poll, None, None).await.0, 404);
    // A wrong password for a device account is refused as for anyone.
    assert_eq!(login_raw(&app, HALL, "display", "wrong password").await.0, 401);
}

#[tokio::test]
async fn an_administrator_signs_a_device_in_for_its_start_up_command() {
    let app = spawn_app().await;
    let path = "/api/v1/halls/qiaocheng/devices";
    let (s, session) = app
        .post_as(
            HALL,
            "admin",
            path,
            Some(json!({"account": "kiosk", "name": "自助机 2"})),
        )
        .await;
    assert_eq!(s, 201, "{session}");
    assert_eq!(
        (session["role"].as_str(), session["expires_at"].as_null()),
        (Some("kiosk"), Some(()))
    );
    let k = Some(token(&session));
    let (s, _) = send(
        &app,
        "POST",
        "/api/v1/halls/qiaocheng/tickets",
        k,
        Some(json!({"zone": "general", "service": "social"})),
    )
    .await;
    assert_eq!(s, 201);
    let (s, r) = app
        .post_as(HALL, "admin", path, Some(json!({"account": "guide"})))
        .await;
    assert_eq!((s, r["error"]["code"].as_str()), (422, Some("not_a_device_account")));
    assert_eq!(
        app.post_as(HALL, "supervisor", path, Some(json!({"account": "display"})))
            .await
            .0,
        403
    );
}
