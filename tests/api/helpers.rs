//! `spawn_app`: a real server on 127.0.0.1:0 with the sample halls, its own
//! store in a temporary directory, and a clock the test controls.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use hallcall::cli::{Args, StoreUrl};
use hallcall::engine::Millis;
use hallcall::startup::Application;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// 2026-11-24 10:00 in Asia/Shanghai: a Tuesday, the sample halls are open.
pub const TUESDAY_10AM: i64 = 1_795_485_600_000;

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub data: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Runs a command on the sample city hall; returns status and body.
    pub async fn command(&self, cmd: Value) -> (u16, Value) {
        self.command_in("qiaocheng", cmd).await
    }

    pub async fn command_in(&self, hall: &str, cmd: Value) -> (u16, Value) {
        let res = self
            .client
            .post(self.url(&format!("/api/v1/halls/{hall}/commands")))
            .json(&cmd)
            .send()
            .await
            .expect("request sent");
        let status = res.status().as_u16();
        (status, res.json().await.expect("a JSON body"))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let res = self.client.get(self.url(path)).send().await.expect("request sent");
        let status = res.status().as_u16();
        (status, res.json().await.expect("a JSON body"))
    }

    /// Stops the server gracefully (snapshots and flushes the store).
    pub async fn shutdown(mut self) -> Option<tempfile::TempDir> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server ran");
        }
        self._dir.take()
    }
}

pub fn sample_config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/hall.toml")
}

/// Starts the server on a fresh store; it stops when dropped.
pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().to_path_buf();
    let mut app = spawn_app_on(&path, TUESDAY_10AM).await;
    app._dir = Some(dir);
    app
}

/// Starts the server on the store in `data`, with the clock at `now`.
pub async fn spawn_app_on(data: &Path, now: i64) -> TestApp {
    spawn_app_with(StoreUrl::File(data.to_path_buf()), now).await
}

/// Starts the server on any store, with the clock at `now`.
pub async fn spawn_app_with(store: StoreUrl, now: i64) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        hallcall::telemetry::init(std::io::stdout);
    }
    let args = Args {
        config: sample_config(),
        listen: "127.0.0.1:0".parse().expect("a socket address"),
        store: store.clone(),
        check_config: false,
        retention_days: 30,
    };
    let config = hallcall::config::load(&args.config).expect("the sample config loads");
    let clock = Arc::new(AtomicI64::new(now));
    let read = clock.clone();
    let app = Application::build_with_clock(&args, &config, Arc::new(move || Millis(read.load(Ordering::SeqCst))))
        .await
        .expect("the app builds");
    let addr = app.local_addr().expect("a bound address");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        client: reqwest::Client::new(),
        data: match store {
            StoreUrl::File(dir) => dir,
            StoreUrl::Redis(_) => PathBuf::new(),
        },
        stop: Some(stop),
        server: Some(server),
        _dir: None,
    }
}

pub fn issue(zone: &str, service: &str) -> Value {
    json!({"op": "issue", "zone": zone, "service": service, "lane": {"kind": "normal"}, "channel": "guide_desk"})
}

/// The ticket number in a command reply's events.
pub fn ticket_of(reply: &Value) -> String {
    reply["events"]
        .as_array()
        .expect("events")
        .iter()
        .find_map(|e| e["kind"]["ticket"].as_str())
        .expect("an event naming a ticket")
        .to_owned()
}
