//! A flood of bogus sign-ins from many addresses, against the real binary:
//! password checks run a few at once, so memory stays small, and a real
//! sign-in during the flood still succeeds.

use std::net::IpAddr;

use serde_json::{Value, json};

use crate::crash::{Server, free_port, start_on};
use crate::helpers::DEMO_HASH;

const ADDRESSES: u8 = 125;
const PER_ADDRESS: usize = 4;

fn config() -> String {
    let mut accounts = format!(r#"{{ user = "admin", role = "admin", password = "{DEMO_HASH}" }},"#);
    for w in 1..=10 {
        accounts.push_str(&format!(
            r#"{{ user = "w{w}", role = "window", windows = [{w}], password = "{DEMO_HASH}" }},"#
        ));
    }
    let windows: Vec<String> = (1..=10)
        .map(|w| format!(r#"{{ number = {w}, name = "{w}", serves = ["general"] }}"#))
        .collect();
    format!(
        r#"
[[hall]]
id = "flood"
name = "登录洪水测试"
time_zone = "Asia/Shanghai"
account = [{accounts}]
window = [{}]
[[hall.zone]]
id = "general"
name = "综合"
prefix = "A"
service = [{{ id = "apply", name = "受理" }}]
"#,
        windows.join(", ")
    )
}

/// The process's peak resident memory in KiB (VmHWM).
fn peak_kib(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

async fn login(client: &reqwest::Client, base: &str, user: &str, password: &str) -> (u16, Value) {
    let r = client
        .post(format!("{base}/api/v1/login"))
        .json(&json!({"hall": "flood", "user": user, "password": password}))
        .send()
        .await
        .expect("the server answers");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_bogus_sign_ins_at_once_keep_memory_small_and_a_real_one_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("hall.toml");
    std::fs::write(&cfg, config()).unwrap();
    let store = format!("file:{}", dir.path().join("data").display());
    let server = start_on(&cfg, &store, free_port()).await;
    let before = peak_kib(&server);

    let mut flood = tokio::task::JoinSet::new();
    for a in 1..=ADDRESSES {
        let client = reqwest::Client::builder()
            .local_address(IpAddr::from([127, 0, 1, a]))
            .build()
            .unwrap();
        for i in 0..PER_ADDRESS {
            let (client, base) = (client.clone(), server.base.clone());
            // Half guess at real accounts, half at names the hall lacks.
            let user = if i % 2 == 0 {
                format!("w{}", 1 + (usize::from(a) + i) % 10)
            } else {
                format!("nobody{a}-{i}")
            };
            flood.spawn(async move { login(&client, &base, &user, "guess").await });
        }
    }
    // A clerk signs in while the flood is under way.
    let clerk = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 2, 1]))
        .build()
        .unwrap();
    let (status, session) = login(&clerk, &server.base, "admin", "hallcall-demo").await;
    assert_eq!(status, 200, "the real sign-in during the flood: {session}");
    let mut seen = std::collections::BTreeMap::new();
    while let Some(r) = flood.join_next().await {
        let (s, body) = r.unwrap();
        assert!(matches!(s, 401 | 429 | 503), "{s}: {body}");
        *seen.entry(s).or_insert(0) += 1;
    }
    assert_eq!(seen.values().sum::<usize>(), usize::from(ADDRESSES) * PER_ADDRESS);
    let peak = peak_kib(&server);
    eprintln!(
        "peak memory {} MiB (before {} MiB); answers {seen:?}",
        peak / 1024,
        before / 1024
    );
    assert!(
        peak < 200 * 1024,
        "peak memory {} MiB (before the flood {} MiB); answers {seen:?}",
        peak / 1024,
        before / 1024
    );
    // And after it.
    let (status, _) = login(&clerk, &server.base, "w3", "hallcall-demo").await;
    assert!(
        status == 200 || status == 429,
        "w3 was guessed at: locked for a while or fine, {status}"
    );
}
