//! The window's evaluator (评价器): who serves, and 好差评 at the window.

use serde_json::json;

use crate::helpers::{TUESDAY_10AM, spawn_app, ticket_of};

const HALL: &str = "qiaocheng";

#[tokio::test]
async fn the_evaluator_shows_who_serves_and_rates_each_ticket_once() {
    let app = spawn_app().await;
    let card = "/api/v1/halls/qiaocheng/windows/5/card";
    let (s, c) = app.get_as(HALL, "e5", card).await;
    assert_eq!(
        (s, c["open"].as_bool(), c["staff"].as_str()),
        (200, Some(false), Some("")),
        "{c}"
    );

    let act = |a: &str| format!("/api/v1/halls/qiaocheng/windows/5/{a}");
    assert_eq!(app.post_as(HALL, "w5", &act("open"), None).await.0, 200);
    app.post_as(HALL, "w5", &act("resume"), None).await;
    let (s, r) = app.command(crate::helpers::issue("general", "social")).await;
    assert_eq!(s, 200, "{r}");
    let number = ticket_of(&r);
    for a in ["call-next", "start"] {
        let (s, r) = app.post_as(HALL, "w5", &act(a), None).await;
        assert_eq!(s, 200, "{a}: {r}");
    }
    let (_, c) = app.get_as(HALL, "e5", card).await;
    assert_eq!(c["card"], json!({"name": "李明", "staff_number": "0305"}), "{c}");
    assert_eq!(c["current"], number.as_str());

    let rate = "/api/v1/halls/qiaocheng/windows/5/rating";
    let body = |level: &str| json!({"ticket": number, "level": level, "comment": "等候时间长"});
    // Not finished yet.
    let (s, r) = app.post_as(HALL, "e5", rate, Some(body("satisfied"))).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (409, Some("not_rateable_here")),
        "{r}"
    );
    app.post_as(HALL, "w5", &act("finish"), None).await;
    let (s, r) = app.post_as(HALL, "e5", rate, Some(body("dissatisfied"))).await;
    assert_eq!((s, r["level"].as_str()), (200, Some("dissatisfied")), "{r}");
    // Once: again by the evaluator, or by the citizen's phone.
    let (s, r) = app.post_as(HALL, "e5", rate, Some(body("very_satisfied"))).await;
    assert_eq!((s, r["error"]["code"].as_str()), (409, Some("already_rated")), "{r}");
    let (_, t) = app.get(&format!("/api/v1/halls/qiaocheng/tickets/{number}")).await;
    assert_eq!(
        (
            t["rating"]["level"].as_str(),
            t["rating"]["window"].as_u64(),
            t["rating"]["comment"].as_str()
        ),
        (Some("dissatisfied"), Some(5), Some("等候时间长")),
        "{t}"
    );
    // The supervisor's list of today's bad ratings has it, with its comment.
    let (s, list) = app
        .get_as(HALL, "supervisor", "/api/v1/halls/qiaocheng/ratings?bad=true")
        .await;
    assert_eq!(s, 200, "{list}");
    let tickets = list["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 1, "{list}");
    assert_eq!(
        (tickets[0]["number"].as_str(), tickets[0]["rating"]["comment"].as_str()),
        (Some(number.as_str()), Some("等候时间长"))
    );
    assert_eq!(
        app.get_as(HALL, "guide", "/api/v1/halls/qiaocheng/ratings").await.0,
        403
    );
    let (s, r) = app
        .get_as(HALL, "supervisor", "/api/v1/halls/qiaocheng/ratings?bad=maybe")
        .await;
    assert_eq!((s, r["error"]["code"].as_str()), (400, Some("bad_query")));
    // Another window's evaluator, and a window account, may not rate here.
    let other = "/api/v1/halls/qiaocheng/windows/6/rating";
    assert_eq!(app.post_as(HALL, "e5", other, Some(body("satisfied"))).await.0, 403);
    assert_eq!(app.post_as(HALL, "w5", rate, Some(body("satisfied"))).await.0, 403);
}

#[tokio::test]
async fn a_ticket_is_rated_at_its_window_only_while_the_citizen_is_there() {
    let app = spawn_app().await;
    let act = |a: &str| format!("/api/v1/halls/qiaocheng/windows/5/{a}");
    app.post_as(HALL, "w5", &act("open"), None).await;
    app.post_as(HALL, "w5", &act("resume"), None).await;
    let (_, r) = app.command(crate::helpers::issue("general", "social")).await;
    let number = ticket_of(&r);
    for a in ["call-next", "start", "finish"] {
        app.post_as(HALL, "w5", &act(a), None).await;
    }
    app.clock
        .store(TUESDAY_10AM + 11 * 60_000, std::sync::atomic::Ordering::SeqCst);
    let (s, r) = app
        .post_as(
            HALL,
            "e5",
            "/api/v1/halls/qiaocheng/windows/5/rating",
            Some(json!({"ticket": number, "level": "satisfied"})),
        )
        .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (409, Some("not_rateable_here")),
        "{r}"
    );
}
