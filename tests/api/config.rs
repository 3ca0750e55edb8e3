//! A hall's configuration changed while it runs: versions in the store,
//! edits from the administration page, refusals that would strand a
//! citizen, and a restart that replays to the same hall.

use serde_json::{Value, json};

use crate::helpers::{TUESDAY_10AM, issue, spawn_app, spawn_app_on, ticket_of};

const HALL: &str = "/api/v1/halls/qiaocheng";

async fn config(app: &crate::helpers::TestApp) -> Value {
    let (s, r) = app.get(&format!("{HALL}/config")).await;
    assert_eq!(s, 200, "{r}");
    r
}

/// Window `n`'s zones in the public hall list.
async fn zones_of(app: &crate::helpers::TestApp, n: u64) -> Vec<String> {
    let (_, r) = app.get_unsigned("/api/v1/halls").await;
    let hall = r["halls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == "qiaocheng")
        .unwrap()
        .clone();
    let w = hall["windows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["number"] == n)
        .unwrap()
        .clone();
    w["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z.as_str().unwrap().to_owned())
        .collect()
}

fn serve_police(base: u64) -> Value {
    json!({"base": base, "reason": "户籍排队太长，1号窗口支援", "edits": [
        {"op": "set_window", "number": 1, "name": "综合受理", "name_en": "Comprehensive intake",
         "serves": ["general", "police"]}
    ]})
}

#[tokio::test]
async fn a_window_serves_something_new_while_tickets_wait_and_keeps_it_after_a_restart() {
    let app = spawn_app().await;
    // The file is recorded as version 1 at the first start.
    let first = config(&app).await;
    assert_eq!(first["version"], 1, "{first}");
    assert_eq!(first["history"][0]["by"], "hallcall");
    assert!(first["text"].as_str().unwrap().contains("[[hall]]\nid = \"qiaocheng\""));
    assert!(
        !first["text"].as_str().unwrap().contains("gucheng-town"),
        "one hall's document"
    );

    let (_, r) = app.command(issue("police", "hukou")).await;
    let waiting = ticket_of(&r);
    for cmd in [json!({"op": "open", "window": 1}), json!({"op": "resume", "window": 1})] {
        assert_eq!(app.command(cmd).await.0, 200);
    }
    let (s, r) = app.command(json!({"op": "call_next", "window": 1})).await;
    assert_eq!((s, r["error"]["code"].as_str()), (409, Some("queue_empty")), "{r}");

    // Only an administrator changes it.
    let edit_as = |user: &'static str| {
        let app = &app;
        async move {
            app.post_as(
                "qiaocheng",
                user,
                &format!("{HALL}/config/edits"),
                Some(serve_police(1)),
            )
            .await
        }
    };
    assert_eq!(edit_as("supervisor").await.0, 403);
    let (s, r) = edit_as("admin").await;
    assert_eq!((s, r["version"].as_u64()), (200, Some(2)), "{r}");
    assert_eq!(zones_of(&app, 1).await, ["general", "police"]);
    let (s, r) = app.command(json!({"op": "call_next", "window": 1})).await;
    assert_eq!((s, ticket_of(&r)), (200, waiting.clone()), "{r}");

    // A change made from version 1 again is refused: it would undo 2 unseen.
    let (s, r) = edit_as("admin").await;
    assert_eq!((s, r["error"]["code"].as_str()), (409, Some("config_refused")), "{r}");

    // The document's history: version 1's text is the file's, 2 says why.
    let now = config(&app).await;
    assert_eq!(now["version"], 2);
    assert_eq!(now["history"][1]["reason"], "户籍排队太长，1号窗口支援");
    assert_eq!(now["history"][1]["by"], "admin");
    let (s, v1) = app.get(&format!("{HALL}/config/versions/1")).await;
    assert_eq!(s, 200, "{v1}");
    assert_eq!(v1["text"], first["text"]);
    let (s, r) = app.get(&format!("{HALL}/config/versions/9")).await;
    assert_eq!((s, r["error"]["code"].as_str()), (404, Some("unknown_version")));

    // A restart replays to the same hall and the same version.
    let dir = app.shutdown().await.unwrap();
    let app = spawn_app_on(dir.path(), TUESDAY_10AM + 60_000).await;
    let again = config(&app).await;
    assert_eq!((again["version"].as_u64(), &again["text"]), (Some(2), &now["text"]));
    assert_eq!(zones_of(&app, 1).await, ["general", "police"]);
    let (_, hall) = app.get(HALL).await;
    let w1 = hall["windows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["number"] == 1)
        .unwrap()
        .clone();
    assert_eq!(w1["current"], waiting.as_str(), "{w1}");
    // And going back to version 1 is a new version with 1's document.
    let body = json!({"base": 2, "text": v1["text"], "reason": "back to 1"});
    let token = app.token("qiaocheng", "admin").await;
    let res = app
        .client
        .put(app.url(&format!("{HALL}/config")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(zones_of(&app, 1).await, ["general"]);
    assert_eq!(config(&app).await["version"], 3);
}

#[tokio::test]
async fn a_change_that_would_strand_a_citizen_or_does_not_validate_is_refused_whole() {
    let app = spawn_app().await;
    let (_, r) = app.command(issue("culture", "culture")).await;
    let waiting = ticket_of(&r);
    let put = |text: String, base: u64| {
        let app = &app;
        async move {
            let token = app.token("qiaocheng", "admin").await;
            let res = app
                .client
                .put(app.url(&format!("{HALL}/config")))
                .bearer_auth(token)
                .json(&json!({"base": base, "text": text}))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let text = config(&app).await["text"].as_str().unwrap().to_owned();
    // Take the culture zone out while E001 waits: every window's reference
    // to it goes too.
    let start = text.find("[[hall.zone]]\nid = \"culture\"").unwrap();
    let end = start + text[start..].find("\n\n").unwrap();
    let without = format!("{}{}", &text[..start], &text[end..])
        .replace(r#", "culture""#, "")
        .replace(r#""culture", "#, "")
        .lines()
        .filter(|l| !l.contains("number = 27,") && !l.contains(r#"user = "w27""#))
        .collect::<Vec<_>>()
        .join("\n");
    let (s, r) = put(without, 1).await;
    assert_eq!((s, r["error"]["code"].as_str()), (409, Some("config_refused")), "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains(&waiting), "{r}");
    // A mistake is named with its line, and nothing changes.
    let broken = text.replace(r#"prefix = "A""#, r#"prefix = 7"#);
    let (s, r) = put(broken, 1).await;
    assert_eq!((s, r["error"]["code"].as_str()), (422, Some("config_invalid")), "{r}");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("hall qiaocheng:"),
        "{r}"
    );
    let (s, r) = put(
        "[[hall]]\nid = \"gucheng-town\"\nname = \"x\"\ntime_zone = \"Asia/Shanghai\"\n".into(),
        1,
    )
    .await;
    assert_eq!(s, 422, "{r}");
    // A new account through the edits: its password works, and only the
    // hash is in the document.
    let edit = json!({"base": 1, "edits": [{"op": "set_account", "user": "w40", "role": "window",
        "windows": [4], "name": "王芳", "staff_number": "0410", "password": "a new one 40"}]});
    let (s, r) = app
        .post_as("qiaocheng", "admin", &format!("{HALL}/config/edits"), Some(edit))
        .await;
    assert_eq!(s, 200, "{r}");
    assert!(!config(&app).await["text"].as_str().unwrap().contains("a new one 40"));
    let (s, r) = crate::helpers::login_raw(&app, "qiaocheng", "w40", "a new one 40").await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(config(&app).await["version"], 2);
}

#[tokio::test]
async fn export_beside_a_running_server_and_import_it_back() {
    let tmp = tempfile::tempdir().unwrap();
    let app = spawn_app_on(tmp.path(), TUESDAY_10AM).await;
    let (s, r) = app
        .post_as(
            "qiaocheng",
            "admin",
            &format!("{HALL}/config/edits"),
            Some(serve_police(1)),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    // The real executable reads the store the server is writing.
    let dir = tmp.path().to_path_buf();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hallcall"))
        .args(["--config", crate::helpers::sample_config().to_str().unwrap()])
        .args(["--store", &format!("file:{}", dir.display()), "--export-config", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exported = String::from_utf8(out.stdout).unwrap();
    assert!(
        exported.contains("# hall qiaocheng: configuration version 2, by admin"),
        "{exported}"
    );
    assert!(exported.contains(r#"serves = ["general", "police"]"#), "{exported}");
    let parsed = hallcall::config::parse(&exported, "exported").expect("the export reads back");
    assert_eq!(parsed.halls.len(), 2);

    // Edited and imported: a new version where it differs, none where not.
    app.shutdown().await;
    let file = dir.join("edited.toml");
    std::fs::write(
        &file,
        exported.replacen(
            r#"serves = ["general", "police"]"#,
            r#"serves = ["general", "culture"]"#,
            1,
        ),
    )
    .unwrap();
    let mut args = crate::helpers::args(hallcall::cli::StoreUrl::File(dir.clone()));
    args.config = file;
    args.import_config = true;
    let app = crate::helpers::spawn_app_args(args, TUESDAY_10AM + 60_000).await;
    let now = config(&app).await;
    assert_eq!(now["version"], 3, "{now}");
    assert_eq!(
        now["history"][2]["reason"],
        "imported from the server's configuration file"
    );
    assert_eq!(zones_of(&app, 1).await, ["general", "culture"]);
    let (_, town) = app.get("/api/v1/halls/gucheng-town/config").await;
    assert_eq!(town["version"], 1, "unchanged: not recorded again");
}
