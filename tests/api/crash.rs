//! The real binary, killed with SIGKILL under load, restarted on the same
//! store: every acknowledged operation is there and no number is reused.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A hall open around the clock whose local time is near noon now, so the
/// test never straddles the midnight rollover.
pub fn config_near_noon() -> String {
    let utc_hour = jiff::Timestamp::now().as_second().rem_euclid(86_400) / 3_600;
    // Etc/GMT-N is N hours east of UTC (the sign is inverted by POSIX).
    let east = (12 - utc_hour + 24) % 24;
    let east = if east > 14 { east - 24 } else { east };
    let tz = match east {
        0 => "Etc/UTC".to_owned(),
        e if e > 0 => format!("Etc/GMT-{e}"),
        e => format!("Etc/GMT+{}", -e),
    };
    format!(
        r#"
[[hall]]
id = "crash"
name = "崩溃测试大厅"
time_zone = "{tz}"
account = [{{ user = "admin", role = "admin", password = "{hash}" }}]
window = [
  {{ number = 1, name = "一", serves = ["general"] }},
  {{ number = 2, name = "二", serves = ["general"] }},
  {{ number = 3, name = "三", serves = ["general", "police"] }},
  {{ number = 4, name = "四", serves = ["police"] }},
]
[[hall.zone]]
id = "general"
name = "综合"
prefix = "A"
service = [{{ id = "apply", name = "受理" }}]
[[hall.zone]]
id = "police"
name = "户籍"
prefix = "C"
service = [{{ id = "hukou", name = "户籍" }}]
"#,
        hash = crate::helpers::DEMO_HASH
    )
}

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Never leave a server behind, whatever the test did.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(config: &std::path::Path, store: &str) -> Server {
    start_on(config, store, free_port()).await
}

/// The real binary on `port` (the same port again after a kill, so that
/// clients reconnect to the address they know).
pub async fn start_on(config: &std::path::Path, store: &str, port: u16) -> Server {
    start_with(config, store, port, &[]).await
}

/// As [`start_on`], with more environment (settings such as `HALLCALL_ARCHIVE`).
pub async fn start_with(config: &std::path::Path, store: &str, port: u16, env: &[(&str, &str)]) -> Server {
    start_args(config, store, port, env, &[]).await
}

/// As [`start_with`], with more command-line arguments (a node's pins).
pub async fn start_args(
    config: &std::path::Path,
    store: &str,
    port: u16,
    env: &[(&str, &str)],
    args: &[&str],
) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_hallcall"))
        .arg("--demo")
        .args([
            "--config",
            config.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--store", store])
        .args(args)
        .env("RUST_LOG", "warn")
        // On Redis, the same node after a restart (on another port here):
        // it takes its halls back once its old leases end.
        .env("HALLCALL_NODE_ID", "solo")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("hallcall starts");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Server { child, base }
}

/// How far a ticket has got: issued 0, called 1, serving 2, finished 3.
fn level(state: &str) -> u8 {
    match state {
        "waiting" => 0,
        "called" => 1,
        "serving" => 2,
        "finished" => 3,
        other => panic!("unexpected state {other}"),
    }
}

type Acked = Arc<Mutex<HashMap<String, u8>>>;

/// A client that signs every request with `token`.
pub fn authed(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

pub async fn post(client: &reqwest::Client, base: &str, cmd: Value) -> Option<Value> {
    let res = client
        .post(format!("{base}/api/v1/halls/crash/commands"))
        .json(&cmd)
        .send()
        .await
        .ok()?;
    if res.status() != 200 {
        return None;
    }
    res.json().await.ok()
}

fn record(acked: &Acked, reply: &Value) {
    let mut acked = acked.lock().unwrap();
    for e in reply["events"].as_array().into_iter().flatten() {
        let kind = &e["kind"];
        let Some(ticket) = kind["ticket"].as_str() else {
            continue;
        };
        let lvl = match kind["type"].as_str() {
            Some("TicketIssued") => 0,
            Some("TicketCalled") => 1,
            Some("ServiceStarted") => 2,
            Some("ServiceFinished") => 3,
            _ => continue,
        };
        let entry = acked.entry(ticket.to_owned()).or_insert(lvl);
        *entry = (*entry).max(lvl);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_operation() {
    let dir = tempfile::tempdir().unwrap();
    sigkill_under_load(&format!("file:{}", dir.path().join("data").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_on_redis_loses_no_acknowledged_operation() {
    let redis = crate::redis_server::RedisServer::start(true);
    sigkill_under_load(&redis.url()).await;
}

async fn sigkill_under_load(store: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hall.toml");
    std::fs::write(&config, config_near_noon()).unwrap();
    let mut server = start(&config, store).await;
    let token = crate::helpers::login(&reqwest::Client::new(), &server.base, "crash", "admin").await;
    let client = authed(&token);
    for w in 1..=4 {
        post(&client, &server.base, json!({"op": "open", "window": w}))
            .await
            .expect("window opens");
    }
    let acked: Acked = Arc::default();
    let mut tasks = Vec::new();
    for zone in ["general", "police", "general"] {
        let (client, base, acked) = (client.clone(), server.base.clone(), acked.clone());
        let service = if zone == "general" { "apply" } else { "hukou" };
        tasks.push(tokio::spawn(async move {
            let cmd = json!({"op": "issue", "zone": zone, "service": service,
                             "lane": {"kind": "normal"}, "channel": "kiosk"});
            for _ in 0..5_000 {
                match post(&client, &base, cmd.clone()).await {
                    Some(r) => record(&acked, &r),
                    None => break,
                }
            }
        }));
    }
    for w in 1..=4 {
        let (client, base, acked) = (client.clone(), server.base.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..5_000 {
                for op in ["call_next", "start", "finish"] {
                    if let Some(r) = post(&client, &base, json!({"op": op, "window": w})).await {
                        record(&acked, &r);
                    }
                }
                if client.get(format!("{base}/healthz")).send().await.is_err() {
                    break;
                }
            }
        }));
    }
    // Let the load run, then kill the server mid-flight.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 300 {
        assert!(Instant::now() < deadline, "the server stopped acknowledging operations");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 300);

    let server = start(&config, store).await;
    let mut numbers = std::collections::HashSet::new();
    for (ticket, lvl) in &acked {
        let res = client
            .get(format!("{}/api/v1/halls/crash/tickets/{ticket}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "acknowledged ticket {ticket} is gone");
        let view: Value = res.json().await.unwrap();
        let now = level(view["state"].as_str().unwrap());
        assert!(
            now >= *lvl,
            "{ticket}: acknowledged at level {lvl}, found {}",
            view["state"]
        );
        numbers.insert(ticket.clone());
    }
    // New tickets after the restart never reuse a number.
    for _ in 0..20 {
        let r = post(
            &client,
            &server.base,
            json!({"op": "issue", "zone": "general", "service": "apply",
                                                   "lane": {"kind": "normal"}, "channel": "kiosk"}),
        )
        .await
        .expect("issuing works after the restart");
        let t = r["events"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|e| e["kind"]["ticket"].as_str())
            .unwrap();
        assert!(numbers.insert(t.to_owned()), "number {t} reused");
    }
}

#[tokio::test]
async fn corrupt_store_data_stops_the_start_naming_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hall.toml");
    std::fs::write(&config, config_near_noon()).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("journal-00000001.log"), b"GIF89a this is a picture").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hallcall"))
        .arg("--demo")
        .args(["--config", config.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .arg("--store")
        .arg(format!("file:{}", data.display()))
        // The planted file has no secret beside it: not what is tested.
        .arg("--new-secret")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("journal-00000001.log offset 0"), "{stderr}");
    assert!(stderr.contains("not a hallcall journal"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn foreign_data_in_redis_stops_the_start_naming_the_key() {
    let redis = crate::redis_server::RedisServer::start(false);
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SET")
        .arg("hallcall:{crash}:snapshot")
        .arg("<html>not ours</html>")
        .query_async(&mut conn)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hall.toml");
    std::fs::write(&config, config_near_noon()).unwrap();
    // Halls' keys without the secret's: lost, not made anew.
    let out = Command::new(env!("CARGO_BIN_EXE_hallcall"))
        .arg("--demo")
        .args(["--config", config.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .args(["--store", &redis.url()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("hallcall:secret") && stderr.contains("--new-secret"),
        "{stderr}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hallcall"))
        .arg("--demo")
        .args(["--config", config.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .args(["--store", &redis.url()])
        .arg("--new-secret")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hallcall:{crash}:snapshot"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A second server on the same embedded store would reuse numbers and
/// lose acknowledged operations: it refuses to start, naming the first.
#[tokio::test]
async fn a_second_server_on_the_same_store_refuses_to_start_naming_the_first() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("hall.toml");
    std::fs::write(&cfg, config_near_noon()).unwrap();
    let data = dir.path().join("data");
    let store = format!("file:{}", data.display());
    let first = start(&cfg, &store).await;
    let out = Command::new(env!("CARGO_BIN_EXE_hallcall"))
        .arg("--demo")
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--store",
            &store,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the second server must not start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in use by another hallcall") && err.contains(&format!("pid {}", first.child.id())),
        "{err}"
    );
    // The first still serves.
    let r = reqwest::get(format!("{}/healthz", first.base)).await.unwrap();
    assert_eq!(r.status(), 200);
    // Nobody else on the machine reads the store.
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("snapshots")), 0o700);
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    drop(first);
    // Once it has stopped, the store opens again.
    let again = start(&cfg, &store).await;
    let r = reqwest::get(format!("{}/healthz", again.base)).await.unwrap();
    assert_eq!(r.status(), 200);
}

/// A store whose signing secret is gone is not silently given a new one
/// (every device and ticket link would stop matching): the start is
/// refused, saying what to do, and `--new-secret` makes one on purpose.
#[tokio::test]
async fn a_lost_secret_stops_the_start_unless_a_new_one_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("hall.toml");
    std::fs::write(&cfg, config_near_noon()).unwrap();
    let data = dir.path().join("data");
    let store = format!("file:{}", data.display());
    let first = start(&cfg, &store).await;
    let admin = reqwest::Client::new()
        .post(format!("{}/api/v1/login", first.base))
        .json(&json!({"hall": "crash", "user": "admin", "password": "hallcall-demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 200);
    let token = admin.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let issued = post(
        &authed(&token),
        &first.base,
        json!({"op": "issue", "zone": "general", "service": "apply", "lane": {"kind": "normal"}, "channel": "guide_desk"}),
    )
    .await;
    assert!(issued.is_some(), "a ticket was issued");
    drop(first);
    std::fs::remove_file(data.join("secret.key")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hallcall"))
        .arg("--demo")
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--store",
            &store,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("secret.key") && err.contains("--new-secret"), "{err}");
    assert!(!data.join("secret.key").exists(), "no new secret was made");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hallcall"))
        .arg("--demo")
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--store",
            &store,
            "--new-secret",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the server did not come up with --new-secret"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(data.join("secret.key").exists());
    let old = client
        .get(format!("http://127.0.0.1:{port}/api/v1/halls/crash/windows"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401, "a token of the old secret no longer opens anything");
    let _ = child.kill();
    let _ = child.wait();
}

/// A new password voids the account's tokens, across a restart: a token
/// taken before the change opens nothing after it.
#[tokio::test]
async fn a_password_change_voids_the_tokens_taken_before_it() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("hall.toml");
    std::fs::write(&cfg, config_near_noon()).unwrap();
    let store = format!("file:{}", dir.path().join("data").display());
    let port = free_port();
    let first = start_on(&cfg, &store, port).await;
    let client = reqwest::Client::new();
    let login = |password: &'static str| {
        let (client, base) = (client.clone(), first.base.clone());
        async move {
            client
                .post(format!("{base}/api/v1/login"))
                .json(&json!({"hall": "crash", "user": "admin", "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    let r = login("hallcall-demo").await;
    assert_eq!(r.status(), 200);
    let old: Value = r.json().await.unwrap();
    let old = old["token"].as_str().unwrap().to_owned();
    let windows = format!("{}/api/v1/halls/crash/windows", first.base);
    assert_eq!(
        client.get(&windows).bearer_auth(&old).send().await.unwrap().status(),
        200
    );
    drop(first);

    // The administrator gives the account a new password.
    let mut hasher = Command::new(env!("CARGO_BIN_EXE_hallcall"))
        .arg("--hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    hasher
        .stdin
        .take()
        .unwrap()
        .write_all(b"a new long password\n")
        .unwrap();
    let out = hasher.wait_with_output().unwrap();
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(crate::helpers::DEMO_HASH, &hash);
    std::fs::write(&cfg, text).unwrap();

    // The store keeps the hall's configuration: the file is recorded anew
    // only when asked.
    let second = start_args(&cfg, &store, port, &[], &["--import-config"]).await;
    let r = client.get(&windows).bearer_auth(&old).send().await.unwrap();
    assert_eq!(r.status(), 401, "the old token opens nothing");
    let r = client
        .post(format!("{}/api/v1/login", second.base))
        .json(&json!({"hall": "crash", "user": "admin", "password": "a new long password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let new: Value = r.json().await.unwrap();
    let r = client
        .get(&windows)
        .bearer_auth(new["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
