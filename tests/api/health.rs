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

#[tokio::test]
async fn readyz_answers_when_the_store_does() {
    let app = spawn_app().await;
    let (s, r) = app.get_unsigned("/readyz").await;
    assert_eq!((s, r["status"].as_str()), (200, Some("ready")));
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = spawn_app().await;
    let (s, doc) = app.get_unsigned("/api/v1/openapi.json").await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/login", "post"),
        ("/api/v1/halls", "get"),
        ("/api/v1/halls/{hall}", "get"),
        ("/api/v1/halls/{hall}/zones", "get"),
        ("/api/v1/halls/{hall}/zones/{zone}", "get"),
        ("/api/v1/halls/{hall}/windows", "get"),
        ("/api/v1/halls/{hall}/windows/{window}", "get"),
        ("/api/v1/halls/{hall}/windows/{window}/{action}", "post"),
        ("/api/v1/halls/{hall}/commands", "post"),
        ("/api/v1/halls/{hall}/tickets", "post"),
        ("/api/v1/halls/{hall}/appointments/check-in", "post"),
        ("/api/v1/halls/{hall}/mobile-tickets", "post"),
        ("/api/v1/halls/{hall}/tickets/{ticket}", "get"),
        ("/api/v1/halls/{hall}/tickets/{ticket}/cancel", "post"),
        ("/api/v1/halls/{hall}/tickets/{ticket}/reactivate", "post"),
        ("/api/v1/halls/{hall}/tickets/{ticket}/move", "post"),
        ("/api/v1/tickets/{token}", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is documented"
        );
    }
    // Every POST that changes a hall takes an Idempotency-Key.
    for (path, item) in paths {
        let Some(post) = item.get("post") else { continue };
        let keyed = post["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"));
        let unkeyed = [
            "/api/v1/login",
            "/api/v1/halls/{hall}/pairings",
            "/api/v1/halls/{hall}/pairings/{code}/approve",
            "/api/v1/halls/{hall}/devices",
            "/api/v1/halls/{hall}/devices/unlock",
            "/api/v1/halls/{hall}/devices/{device}/revoke",
            "/api/v1/halls/{hall}/sign-out",
            "/api/v1/halls/{hall}/passes",
            "/api/v1/halls/{hall}/accounts/{user}/sign-out",
        ];
        assert_eq!(
            keyed,
            !unkeyed.contains(&path.as_str()),
            "POST {path} and Idempotency-Key"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "Command",
        "Event_StaffKind",
        "Issued",
        "IssueRequest",
        "Ticket",
        "CitizenTicket",
        "DisplayHallState",
        "WindowReply",
        "ErrorDoc",
    ] {
        assert!(schemas.contains_key(name), "schema {name}");
    }
    // Every reference resolves.
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &r[..r.find('"').unwrap()];
        assert!(schemas.contains_key(name), "dangling reference to {name}");
    }
}
