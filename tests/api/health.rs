use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_answers_with_the_halls() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["halls"], serde_json::json!(["qiaocheng", "gucheng-town"]));
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}
