//! Citizens told of their turn by text, through stand-ins for Alibaba
//! Cloud SMS and Tencent Cloud SMS that check every signature: one text
//! per notice, the "near" one once however far the queue moves at once,
//! the number kept only sealed and only for its day.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TUESDAY_10AM, TestApp, args, spawn_app_args};
use crate::sms_peer::{KEY_ID, Kind, Peer, SECRET};
use hallcall::cli::StoreUrl;

const HALL: &str = "crash";
const PHONE: &str = "13800138000";
const WAIT: Duration = Duration::from_secs(30);

fn config(dir: &std::path::Path, peer: &Peer, kind: Kind) -> std::path::PathBuf {
    let secret = dir.join("sms.secret");
    std::fs::write(&secret, SECRET).unwrap();
    let provider = match kind {
        Kind::Aliyun => "provider = \"aliyun\"".to_owned(),
        Kind::Tencent => "provider = \"tencent\"\nsdk_app_id = \"1400000000\"\nregion = \"ap-guangzhou\"".to_owned(),
    };
    let text = format!(
        r#"{base}
[hall.policy]
notice_ahead = 2

[hall.notices]
send = ["issued", "near", "called"]

[hall.notices.sms]
{provider}
endpoint = "{url}"
access_key_id = "{KEY_ID}"
secret_file = "{secret}"
sign_name = "谯城区政务服务中心"
issued = {{ template = "SMS_100", params = ["number", "ahead", "wait"] }}
near = {{ template = "SMS_200", params = ["number", "ahead"] }}
called = {{ template = "SMS_300", params = ["number", "window"] }}
"#,
        base = crate::crash::config_near_noon(),
        url = peer.url,
        secret = secret.display(),
    );
    let path = dir.join("hall.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn key_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("notice.key");
    std::fs::write(
        &path,
        "5ec2e7005ec2e7005ec2e7005ec2e7005ec2e7005ec2e7005ec2e7005ec2e700\n",
    )
    .unwrap();
    path
}

async fn app(dir: &std::path::Path, peer: &Peer, kind: Kind) -> TestApp {
    let a = hallcall::cli::Args {
        config: config(dir, peer, kind),
        notice_key_file: Some(key_file(dir)),
        ..args(StoreUrl::File(dir.join("data")))
    };
    spawn_app_args(a, TUESDAY_10AM).await
}

async fn ok(app: &TestApp, cmd: Value) -> Value {
    let (status, body) = app.command_in(HALL, cmd.clone()).await;
    assert_eq!(status, 200, "{cmd}: {body}");
    body
}

async fn take(app: &TestApp, notify: Value) -> (u16, Value) {
    app.post_as(
        HALL,
        "admin",
        &format!("/api/v1/halls/{HALL}/tickets"),
        Some(json!({"zone": "general", "service": "apply", "notify": notify})),
    )
    .await
}

/// Every file under `dir` but the contacts, as bytes.
fn all_bytes(dir: &std::path::Path, out: &mut Vec<(String, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.ends_with("contacts") {
            continue;
        }
        if p.is_dir() {
            all_bytes(&p, out);
        } else {
            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_through_alibaba_tell_a_citizen_once_per_notice_and_forget_the_number_with_the_day() {
    let peer = Peer::start(Kind::Aliyun).await;
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), &peer, Kind::Aliyun).await;
    ok(&app, json!({"op": "open", "window": 1})).await;
    for _ in 0..3 {
        let phone = json!({"op": "issue", "zone": "general", "service": "apply",
                           "lane": {"kind": "normal"}, "channel": "mobile"});
        ok(&app, phone).await;
    }
    ok(&app, crate::helpers::issue("general", "apply")).await;
    let (status, body) = take(&app, json!({"phone": "138 0013 8000", "consent": true})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["ticket"]["number"], "A005");
    assert!(
        !body.to_string().contains(PHONE),
        "the answer does not repeat the number"
    );
    // The text says how things stand when it is made: here, at once.
    peer.until(WAIT, 1).await;
    // 4 ahead; a call makes 3; cancelling the phone tickets makes 1 at once.
    ok(&app, json!({"op": "call_next", "window": 1})).await;
    let (status, body) = app
        .post_as(
            HALL,
            "admin",
            &format!("/api/v1/halls/{HALL}/mobile-tickets/cancel"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for op in ["start", "finish", "call_next", "start", "finish", "call_next"] {
        ok(&app, json!({"op": op, "window": 1})).await;
    }
    let sent = peer.until(WAIT, 3).await;
    let (_, why) = app.get(&format!("/api/v1/halls/{HALL}/outbox")).await;
    assert_eq!(peer.forged(), 0, "every request signed as Alibaba checks: {why}");
    let got: Vec<(&str, &Value)> = sent.iter().map(|s| (s.template.as_str(), &s.params)).collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0].0, "SMS_100");
    assert_eq!(
        (got[0].1["number"].as_str(), got[0].1["ahead"].as_str()),
        (Some("A005"), Some("4"))
    );
    assert!(
        got[0].1["wait"].as_str().is_some_and(|w| w.parse::<u32>().is_ok()),
        "{}",
        got[0].1
    );
    assert_eq!(got[1], ("SMS_200", &json!({"number": "A005", "ahead": "1"})));
    assert_eq!(got[2], ("SMS_300", &json!({"number": "A005", "window": "1"})));
    for s in &sent {
        assert_eq!((s.phone.as_str(), s.sign_name.as_str()), (PHONE, "谯城区政务服务中心"));
    }
    let refs: std::collections::BTreeSet<&str> = sent.iter().map(|s| s.reference.as_str()).collect();
    assert_eq!(refs.len(), 3, "each text its own key");
    // Nothing more comes (the near notice went once).
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(peer.sent().len(), 3);

    // The number is nowhere but sealed in the contacts.
    let (_, view) = app.get(&format!("/api/v1/halls/{HALL}/tickets/A005")).await;
    let (_, outbox) = app.get(&format!("/api/v1/halls/{HALL}/outbox")).await;
    for shown in [view.to_string(), outbox.to_string()] {
        assert!(!shown.contains(PHONE) && !shown.contains("0013 8000"), "{shown}");
    }
    let mut files = Vec::new();
    all_bytes(&dir.path().join("data"), &mut files);
    assert!(!files.is_empty());
    for (name, bytes) in &files {
        assert!(
            !bytes.windows(PHONE.len()).any(|w| w == PHONE.as_bytes()),
            "{name} holds the number"
        );
    }
    let contacts = dir.path().join("data/contacts").join(HALL);
    let days: Vec<_> = std::fs::read_dir(&contacts).unwrap().collect();
    assert_eq!(days.len(), 1, "one day's contacts");

    // The next business day begins: yesterday's contacts are erased.
    app.clock.fetch_add(86_400_000, std::sync::atomic::Ordering::SeqCst);
    app.forget_tokens().await;
    ok(&app, crate::helpers::issue("general", "apply")).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while std::fs::read_dir(&contacts).unwrap().next().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "yesterday's contacts are still kept"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_through_tencent_are_signed_as_tc3_and_retried_past_a_limit() {
    let peer = Peer::start(Kind::Tencent).await;
    peer.limit(1);
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), &peer, Kind::Tencent).await;
    let (status, body) = take(&app, json!({"phone": "+86 13800138000", "consent": true})).await;
    assert_eq!(status, 201, "{body}");
    let sent = peer.until(WAIT, 1).await;
    assert_eq!(peer.forged(), 0, "every request signed as Tencent checks");
    assert_eq!(sent.len(), 1, "one text, after the limit passed");
    let s = &sent[0];
    assert_eq!((s.phone.as_str(), s.template.as_str()), ("+8613800138000", "SMS_100"));
    assert_eq!(s.params[0], "A001");
    assert_eq!(s.params[1], "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_needs_consent_and_a_hall_that_sends_notices() {
    let peer = Peer::start(Kind::Aliyun).await;
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), &peer, Kind::Aliyun).await;
    for (notify, code) in [
        (json!({"phone": PHONE, "consent": false}), "consent_required"),
        (json!({"phone": "12345", "consent": true}), "bad_phone"),
        (json!({"consent": true}), "bad_phone"),
        (json!({"wechat_openid": "o<script>", "consent": true}), "bad_openid"),
    ] {
        let (status, body) = take(&app, notify.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some(code)),
            "{notify}: {body}"
        );
    }
    // Nothing was issued by the refusals.
    let (status, body) = take(&app, Value::Null).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["ticket"]["number"], "A001");
    app.shutdown().await;

    // A hall that sends notices needs a key outside the store.
    let no_key = hallcall::cli::Args {
        config: dir.path().join("hall.toml"),
        ..args(StoreUrl::File(dir.path().join("data")))
    };
    let cfg = hallcall::config::load(&no_key.config).unwrap();
    let err = hallcall::startup::Application::build(&no_key, &cfg)
        .await
        .err()
        .expect("refused without a notice key")
        .to_string();
    assert!(err.contains("--notice-key-file"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechat_messages_fetch_a_new_token_when_wechat_no_longer_takes_one() {
    use crate::wechat_peer::{APP_ID, APP_SECRET, WeChat};
    let wechat = WeChat::start(Duration::from_millis(300)).await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("wechat.secret");
    std::fs::write(&secret, APP_SECRET).unwrap();
    let text = format!(
        r#"{base}
[hall.notices]
send = ["issued", "called"]

[hall.notices.wechat]
api = "{url}"
app_id = "{APP_ID}"
secret_file = "{secret}"
page = "pages/ticket/ticket"
issued = {{ template = "TPL_ISSUED", data = {{ character_string1 = "number", thing2 = "zone", number3 = "ahead" }} }}
called = {{ template = "TPL_CALLED", data = {{ character_string1 = "number", thing2 = "window_name" }} }}
"#,
        base = crate::crash::config_near_noon(),
        url = wechat.url,
        secret = secret.display(),
    );
    let config = dir.path().join("hall.toml");
    std::fs::write(&config, text).unwrap();
    let app = spawn_app_args(
        hallcall::cli::Args {
            config,
            notice_key_file: Some(key_file(dir.path())),
            ..args(StoreUrl::File(dir.path().join("data")))
        },
        TUESDAY_10AM,
    )
    .await;
    // Texts are not sent by this hall.
    let (status, body) = take(&app, json!({"phone": PHONE, "consent": true})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("notices_off")),
        "{body}"
    );
    let (status, body) = take(&app, json!({"wechat_openid": "oUser_123", "consent": true})).await;
    assert_eq!(status, 201, "{body}");
    wechat.until(WAIT, 1).await;
    // The token dies; the call's message needs a new one.
    tokio::time::sleep(Duration::from_millis(400)).await;
    ok(&app, json!({"op": "open", "window": 1})).await;
    ok(&app, json!({"op": "call_next", "window": 1})).await;
    wechat.until(WAIT, 2).await;
    // Every token revoked: the next message fetches another.
    wechat.revoke();
    let (status, _) = take(&app, json!({"wechat_openid": "oUser_456", "consent": true})).await;
    assert_eq!(status, 201);
    let sent = wechat.until(WAIT, 3).await;
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(wechat.tokens_issued(), 3, "one token, then one per refusal");
    assert_eq!(sent[0]["touser"], "oUser_123");
    assert_eq!(sent[0]["template_id"], "TPL_ISSUED");
    assert_eq!(sent[0]["data"]["character_string1"]["value"], "A001");
    assert_eq!(sent[0]["data"]["thing2"]["value"], "综合");
    assert_eq!(sent[0]["page"], "pages/ticket/ticket");
    assert_eq!(sent[1]["template_id"], "TPL_CALLED");
    assert_eq!(sent[1]["data"]["thing2"]["value"], "一");
    assert_eq!(sent[2]["touser"], "oUser_456");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halls_own_gateway_gets_each_notice_signed_with_the_contact() {
    let receiver = crate::webhook_receiver::Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("hook.secret");
    std::fs::write(&secret, &receiver.secret).unwrap();
    let text = format!(
        r#"{base}
[hall.notices]
send = ["issued", "called"]

[hall.notices.webhook]
url = "{url}/notify"
secret_file = "{secret}"
"#,
        base = crate::crash::config_near_noon(),
        url = receiver.url,
        secret = secret.display(),
    );
    let config = dir.path().join("hall.toml");
    std::fs::write(&config, text).unwrap();
    let app = spawn_app_args(
        hallcall::cli::Args {
            config,
            notice_key_file: Some(key_file(dir.path())),
            ..args(StoreUrl::File(dir.path().join("data")))
        },
        TUESDAY_10AM,
    )
    .await;
    let (status, body) = take(&app, json!({"phone": PHONE, "consent": true})).await;
    assert_eq!(status, 201, "{body}");
    ok(&app, json!({"op": "open", "window": 1})).await;
    ok(&app, json!({"op": "call_next", "window": 1})).await;
    let taken = receiver.until(WAIT, |t| t.len() >= 2).await;
    assert_eq!(receiver.forged(), 0);
    let kinds: Vec<&str> = taken.iter().map(|t| t.body["notice"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["issued", "called"]);
    for t in &taken {
        assert_eq!(t.body["phone"], PHONE);
        assert_eq!(t.body["id"], t.id.as_str());
        assert_eq!(t.body["values"]["number"], "A001");
    }
    assert_eq!(taken[1].body["values"]["window"], "1");
}
