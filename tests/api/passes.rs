//! Sign-in tokens never travel in addresses: a WebSocket or an `<audio>`
//! source opens with a one-minute pass made from the token, and a live
//! connection ends when the sign-in it was opened with ends.

use std::sync::atomic::Ordering;

use serde_json::Value;

use crate::helpers::{close_code, next_json, spawn_app};

const HALL: &str = "/api/v1/halls/qiaocheng";

#[tokio::test]
async fn a_sign_in_token_in_an_address_is_refused_and_a_pass_is_taken_instead() {
    let app = spawn_app().await;
    let token = app.token("qiaocheng", "display").await;
    // The token in the address: refused before the upgrade, saying why.
    for path in [
        format!("{HALL}/live?token={token}"),
        format!("{HALL}/announcements?ticket=A001&window=4&token={token}"),
    ] {
        let (s, r) = app.get_unsigned(&path).await;
        assert_eq!(
            (s, r["error"]["code"].as_str()),
            (400, Some("token_in_address")),
            "{path}: {r}"
        );
    }
    // A sign-in token is not a pass either, under either name.
    let (s, _) = app.get_unsigned(&format!("{HALL}/live?pass={token}")).await;
    assert_eq!(s, 400, "a token as ?pass= is refused too");

    let pass = app.pass("qiaocheng", &token).await;
    let mut screen = app.ws(&format!("{HALL}/live?pass={pass}")).await;
    assert_eq!(next_json(&mut screen).await["type"], "snapshot");

    // A pass does nothing else: not in a header, not for another pass.
    let res = app.client.get(app.url(HALL)).bearer_auth(&pass).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .post(app.url(&format!("{HALL}/passes")))
        .bearer_auth(&pass)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "a pass cannot renew itself");
    // Nor without a sign-in.
    let res = app
        .client
        .post(app.url(&format!("{HALL}/passes")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // A minute later it is refused; the connection it opened lives on.
    app.clock.fetch_add(60_001, Ordering::SeqCst);
    let (s, r) = app.get_unsigned(&format!("{HALL}/live?pass={pass}")).await;
    assert_eq!((s, r["error"]["code"].as_str()), (401, Some("unauthenticated")), "{r}");
    app.post_as("qiaocheng", "w4", &format!("{HALL}/windows/4/open"), None)
        .await;
    // (The sign-in before it is a delta with no event a screen is sent.)
    let v = crate::helpers::until(&mut screen, |v| {
        v["type"] == "delta" && v["events"].as_array().is_some_and(|e| !e.is_empty())
    })
    .await;
    assert_eq!(v["events"][0]["kind"]["type"], "WindowOpened", "{v}");
}

#[tokio::test]
async fn an_account_signed_out_everywhere_loses_its_live_connections_and_passes() {
    let app = spawn_app().await;
    let supervisor = app.token("qiaocheng", "supervisor").await;
    let pass = app.pass("qiaocheng", &supervisor).await;
    let mut board = app.ws(&format!("{HALL}/live?pass={pass}")).await;
    assert_eq!(next_json(&mut board).await["type"], "snapshot");
    // Someone else's sign-out leaves it alone.
    let w1 = app.token("qiaocheng", "w1").await;
    let res = app
        .client
        .post(app.url(&format!("{HALL}/sign-out")))
        .bearer_auth(&w1)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let v: Value = crate::helpers::until(&mut board, |v| v["type"] == "delta").await;
    assert_eq!(v["type"], "delta");

    let res = app
        .client
        .post(app.url(&format!("{HALL}/sign-out")))
        .bearer_auth(&supervisor)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        close_code(&mut board).await,
        4401,
        "closed with the code that means: sign in"
    );
    // The pass made before the sign-out is void with its session.
    let (s, _) = app.get_unsigned(&format!("{HALL}/live?pass={pass}")).await;
    assert_eq!(s, 401);
}
