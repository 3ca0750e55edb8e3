//! ID and phone numbers are hashed under a key kept outside the store:
//! a copy of the store (its secret included) cannot test guesses against
//! what it holds, and halls that hashed under the store's key before keep
//! working through the switch and through later rotations.

use std::path::Path;

use hallcall::auth::Keys;
use hallcall::cli::StoreUrl;
use serde_json::{Value, json};

use crate::helpers::{TUESDAY_10AM, TestApp, spawn_app_full};

const ALICE: &str = "11010519491231002X";
const BOB: &str = "341602199001011234";

/// The server on `data` with `keys`: the person key in use, then earlier
/// ones (none: hashes under the store's secret).
async fn start(data: &Path, keys: &[&Path]) -> TestApp {
    spawn_app_full(
        StoreUrl::File(data.to_path_buf()),
        TUESDAY_10AM,
        hallcall::cli::ConnArgs::default(),
        5,
        keys,
        None,
    )
    .await
}

async fn take(app: &TestApp, id: &str) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/halls/qiaocheng/mobile-tickets"))
        .json(&json!({"zone": "general", "service": "social", "id_number": id}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// Every file of the store as text, for looking for a hash in it.
fn store_text(dir: &Path) -> String {
    let mut out = String::new();
    for entry in walk(dir) {
        out.push_str(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()));
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files.extend(walk(&p));
        } else {
            files.push(p);
        }
    }
    files
}

fn key_file(dir: &Path, name: &str, hex: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{hex}\n")).unwrap();
    path
}

#[tokio::test]
async fn hashes_made_under_a_key_outside_the_store_cannot_be_tested_with_the_store_alone() {
    let store = tempfile::tempdir().unwrap();
    let keys_dir = tempfile::tempdir().unwrap();
    let data = store.path().join("data");

    // Before: no key given, hashes under the store's secret (as every
    // hall had until now). Alice takes a phone ticket.
    let app = start(&data, &[]).await;
    assert_eq!(take(&app, ALICE).await.0, 201);
    app.shutdown().await;

    // The operator adds a key kept outside the store.
    let first = key_file(keys_dir.path(), "person.key", &"ab".repeat(32));
    let app = start(&data, &[&first]).await;
    // Alice's waiting ticket still counts as hers: the rule holds.
    let (s, r) = take(&app, ALICE).await;
    assert_eq!((s, r["error"]["code"].as_str()), (409, Some("already_waiting")), "{r}");
    // Bob is hashed under the new key only.
    assert_eq!(take(&app, BOB).await.0, 201);
    app.shutdown().await;

    // Someone with a copy of the store, secret included, tests guesses
    // with the key the store yields: Alice (from before) is found, Bob is
    // not.
    let secret = std::fs::read(data.join("secret.key")).unwrap();
    let from_store = Keys::from_secret(String::from_utf8(secret).unwrap().trim().as_bytes());
    let text = store_text(&data);
    let hex = |k: hallcall::engine::PersonKey| format!("{:032x}", k.0);
    assert!(
        text.contains(&hex(from_store.person_key(ALICE))),
        "the check itself finds hashes"
    );
    assert!(
        !text.contains(&hex(from_store.person_key(BOB))),
        "Bob's number cannot be tested"
    );

    // A rotation: the new key in use, the old one named as earlier. Bob,
    // known under the old key, keeps his ticket's rule.
    let second = key_file(keys_dir.path(), "person-2.key", &"cd".repeat(32));
    let app = start(&data, &[&second, &first]).await;
    let (s, r) = take(&app, BOB).await;
    assert_eq!((s, r["error"]["code"].as_str()), (409, Some("already_waiting")), "{r}");
    app.shutdown().await;
    // Without the earlier key, Bob is a stranger to the hall (what the
    // earlier key is kept for).
    let app = start(&data, &[&second]).await;
    assert_eq!(take(&app, BOB).await.0, 201);
    app.shutdown().await;
}
