//! 好差评 through the citizen's token, and the follow-up of a bad rating.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

const HALL: &str = "/api/v1/halls/qiaocheng";

async fn rate(app: &crate::helpers::TestApp, token: &str, body: Value) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(&format!("/api/v1/tickets/{token}/rating")))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn a_citizen_rates_once_after_service_and_bad_ratings_are_followed_up() {
    let app = spawn_app().await;
    let (_, first) = app
        .post_as(
            "qiaocheng",
            "guide",
            &format!("{HALL}/tickets"),
            Some(json!({"zone": "general", "service": "social"})),
        )
        .await;
    let token = first["token"].as_str().unwrap().to_owned();
    let number = first["ticket"]["number"].as_str().unwrap().to_owned();

    let (s, r) = rate(&app, &token, json!({"level": "dissatisfied"})).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (409, Some("wrong_state")),
        "not served yet"
    );

    let w = |a: &str| format!("{HALL}/windows/1/{a}");
    for a in ["open", "resume", "call-next", "start", "finish"] {
        assert_eq!(app.post_as("qiaocheng", "w1", &w(a), None).await.0, 200, "{a}");
    }
    let (s, r) = rate(
        &app,
        &token,
        json!({"level": "very_satisfied", "comment": "好".repeat(501)}),
    )
    .await;
    assert_eq!((s, r["error"]["code"].as_str()), (422, Some("too_long")));
    let (s, r) = rate(&app, &token, json!({"level": "great"})).await;
    assert_eq!((s, r["error"]["code"].as_str()), (422, Some("invalid_body")));
    // Text that hides or reorders itself is refused, and nothing is rated.
    for sneaky in ["好\u{202E}评差", "w\u{200B}9", "a\u{0}b"] {
        let (s, r) = rate(&app, &token, json!({"level": "dissatisfied", "comment": sneaky})).await;
        assert_eq!(
            (s, r["error"]["code"].as_str()),
            (422, Some("bad_text")),
            "{sneaky:?}: {r}"
        );
    }

    let (s, r) = rate(&app, &token, json!({"level": "dissatisfied", "comment": "等了很久"})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["rating"]["level"], "dissatisfied");
    assert_eq!(r["rating"]["window"], 1);
    assert_eq!(r["rating"]["staff"], "w1", "linked to the window and its staff");
    let (s, r) = rate(&app, &token, json!({"level": "very_satisfied"})).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (409, Some("already_rated")),
        "one rating per ticket"
    );

    // The supervisor records the follow-up; nobody else may.
    let follow = format!("{HALL}/tickets/{number}/follow-up");
    let step = |s: &str| Some(json!({"step": s, "note": "已联系群众并致歉"}));
    assert_eq!(
        app.post_as("qiaocheng", "guide", &follow, step("verified")).await.0,
        403
    );
    let (s, r) = app.post_as("qiaocheng", "supervisor", &follow, step("verified")).await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = app.post_as("qiaocheng", "supervisor", &follow, step("verified")).await;
    assert_eq!((s, r["error"]["code"].as_str()), (409, Some("follow_up_done")));
    app.post_as("qiaocheng", "supervisor", &follow, step("rectified")).await;
    let (_, r) = app
        .post_as("qiaocheng", "supervisor", &follow, step("called_back"))
        .await;
    let steps: Vec<&str> = r["ticket"]["follow_ups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["verified", "rectified", "called_back"]);

    // A good rating has nothing to follow up; a forged token rates nothing.
    let (_, second) = app
        .post_as(
            "qiaocheng",
            "guide",
            &format!("{HALL}/tickets"),
            Some(json!({"zone": "general", "service": "social"})),
        )
        .await;
    for a in ["call-next", "start", "finish"] {
        app.post_as("qiaocheng", "w1", &w(a), None).await;
    }
    let t2 = second["token"].as_str().unwrap();
    assert_eq!(rate(&app, t2, json!({"level": "satisfied"})).await.0, 200);
    let n2 = second["ticket"]["number"].as_str().unwrap();
    let (s, r) = app
        .post_as(
            "qiaocheng",
            "supervisor",
            &format!("{HALL}/tickets/{n2}/follow-up"),
            step("verified"),
        )
        .await;
    assert_eq!((s, r["error"]["code"].as_str()), (409, Some("no_bad_rating")));
    let forged = t2.replace(n2, &number);
    assert_eq!(rate(&app, &forged, json!({"level": "satisfied"})).await.0, 404);

    // The day's figures, on the supervisor's board.
    let mut board = app.live("qiaocheng", "supervisor", "").await;
    let snap = crate::helpers::next_json(&mut board).await;
    assert_eq!(
        snap["ratings"],
        json!({"finished": 2, "rated": 2, "very_satisfied": 0, "satisfied": 1, "basic": 0,
               "dissatisfied": 1, "very_dissatisfied": 0, "bad": 1, "verified": 1, "rectified": 1, "called_back": 1})
    );
}
