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

/// Live connections' timing in tests: seconds rather than tens, with room
/// for a test that does not read its socket for a while.
pub const TEST_HEARTBEAT: hallcall::hub::Heartbeat = hallcall::hub::Heartbeat {
    ping_every: std::time::Duration::from_secs(1),
    dead_after: std::time::Duration::from_secs(8),
    send_timeout: std::time::Duration::from_secs(3),
};

/// Every sample account's password (config/hall.toml).
pub const DEMO_PASSWORD: &str = "hallcall-demo";
/// Its hash, for configurations written by tests.
pub const DEMO_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$z5rI4j4g1EmAgp3zGxcTJw$GbaB6JrEHunOwNudcCKdXVKdTLHBAufqbhikHa+qwQw";

/// Signs in on the server at `base`; the bearer token.
pub async fn login(client: &reqwest::Client, base: &str, hall: &str, user: &str) -> String {
    let res = client
        .post(format!("{base}/api/v1/login"))
        .json(&json!({"hall": hall, "user": user, "password": DEMO_PASSWORD}))
        .send()
        .await
        .expect("login sent");
    assert_eq!(res.status(), 200, "login as {user} in {hall}");
    let body: Value = res.json().await.expect("a session");
    body["token"].as_str().expect("a token").to_owned()
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub hub: hallcall::hub::Hub,
    /// Connections not signed in yet, as the server counts them.
    pub conns: hallcall::http::serve::ConnCounts,
    /// The server's clock (Unix ms): tests move it.
    pub clock: Arc<AtomicI64>,
    /// Sends no credentials.
    pub client: reqwest::Client,
    tokens: tokio::sync::Mutex<std::collections::HashMap<(String, String), String>>,
    pub data: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A bearer token for `user` of `hall`, signed in once per test.
    pub async fn token(&self, hall: &str, user: &str) -> String {
        let mut tokens = self.tokens.lock().await;
        let key = (hall.to_owned(), user.to_owned());
        if let Some(t) = tokens.get(&key) {
            return t.clone();
        }
        let t = login(&self.client, &self.base(), hall, user).await;
        tokens.insert(key, t.clone());
        t
    }

    /// Forgets every token, so the next request signs in afresh (after the
    /// clock has moved past their expiry).
    pub async fn forget_tokens(&self) {
        self.tokens.lock().await.clear();
    }

    /// Runs a command on the sample city hall as its administrator.
    pub async fn command(&self, cmd: Value) -> (u16, Value) {
        self.command_in("qiaocheng", cmd).await
    }

    pub async fn command_in(&self, hall: &str, cmd: Value) -> (u16, Value) {
        self.post_as(hall, "admin", &format!("/api/v1/halls/{hall}/commands"), Some(cmd))
            .await
    }

    /// POSTs `body` (or nothing) as `user` of `hall`.
    pub async fn post_as(&self, hall: &str, user: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let token = self.token(hall, user).await;
        let mut req = self.client.post(self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        (status, res.json().await.expect("a JSON body"))
    }

    /// GETs `path` as the administrator of the hall it names (or unsigned).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let hall = path
            .strip_prefix("/api/v1/halls/")
            .and_then(|rest| rest.split('/').next())
            .filter(|h| !h.is_empty());
        match hall {
            Some(h) => self.get_as(h, "admin", path).await,
            None => self.get_unsigned(path).await,
        }
    }

    pub async fn get_as(&self, hall: &str, user: &str, path: &str) -> (u16, Value) {
        let token = self.token(hall, user).await;
        let res = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        let status = res.status().as_u16();
        (status, res.json().await.expect("a JSON body"))
    }

    pub async fn get_unsigned(&self, path: &str) -> (u16, Value) {
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
    spawn_app_limited(store, now, hallcall::cli::ConnArgs::default()).await
}

/// As [`spawn_app_with`], with its own connection timeouts and caps.
pub async fn spawn_app_limited(store: StoreUrl, now: i64, connections: hallcall::cli::ConnArgs) -> TestApp {
    spawn_app_full(store, now, connections, 5, &[], None).await
}

/// As [`spawn_app_limited`], with its own wait for a write's confirmation,
/// and person keys: the one in use, then earlier ones (none: the store's).
pub async fn spawn_app_full(
    store: StoreUrl,
    now: i64,
    connections: hallcall::cli::ConnArgs,
    write_timeout_secs: u64,
    person_keys: &[&Path],
    archive: Option<&str>,
) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        hallcall::telemetry::init(std::io::stdout);
    }
    let args = Args {
        archive: archive.map(str::to_owned),
        connections,
        write_timeout_secs,
        person_key_file: person_keys.first().map(|p| p.to_path_buf()),
        earlier_person_key_file: person_keys.iter().skip(1).map(|p| p.to_path_buf()).collect(),
        ..args(store.clone())
    };
    spawn_app_args(args, now).await
}

/// The sample configuration on `store`, in demo mode, on a free port:
/// what a test changes starts from here.
pub fn args(store: StoreUrl) -> Args {
    Args {
        config: sample_config(),
        listen: "127.0.0.1:0".parse().expect("a socket address"),
        store,
        check_config: false,
        hash_password: false,
        public_url: None,
        sounds: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sounds"),
        retention_days: 30,
        archive: None,
        archive_ca_file: None,
        connections: hallcall::cli::ConnArgs::default(),
        // One name across restarts (each on a new port), as a real node.
        node: hallcall::cli::NodeArgs {
            node_id: Some("test-node".into()),
            ..Default::default()
        },
        new_secret: false,
        demo: true,
        import_config: false,
        export_config: None,
        write_timeout_secs: 5,
        person_key_file: None,
        earlier_person_key_file: Vec::new(),
        notice_key_file: None,
    }
}

/// Starts the server as `args` say, with the clock at `now`.
pub async fn spawn_app_args(args: Args, now: i64) -> TestApp {
    let store = args.store.clone();
    let config = hallcall::config::load(&args.config).expect("the config loads");
    let clock = Arc::new(AtomicI64::new(now));
    let read = clock.clone();
    let mut app = Application::build_with_clock(&args, &config, Arc::new(move || Millis(read.load(Ordering::SeqCst))))
        .await
        .expect("the app builds");
    app.set_heartbeat(TEST_HEARTBEAT);
    let addr = app.local_addr().expect("a bound address");
    let hub = app.hub().clone();
    let conns = app.conn_counts();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        hub,
        conns,
        clock,
        client: reqwest::Client::new(),
        tokens: Default::default(),
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

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl TestApp {
    /// Opens a WebSocket on `path` (with its query).
    pub async fn ws(&self, path: &str) -> Ws {
        let url = format!("ws://{}{path}", self.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connects");
        ws
    }

    /// A pass made from `token`, for `?pass=` in an address.
    pub async fn pass(&self, hall: &str, token: &str) -> String {
        let res = self
            .client
            .post(self.url(&format!("/api/v1/halls/{hall}/passes")))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        assert_eq!(res.status(), 200, "a pass for {hall}");
        let v: Value = res.json().await.expect("a JSON pass");
        v["pass"].as_str().expect("pass").to_owned()
    }

    /// A live subscription to `hall` as `user`, with `query` (scope, format, since).
    pub async fn live(&self, hall: &str, user: &str, query: &str) -> Ws {
        let token = self.token(hall, user).await;
        let pass = self.pass(hall, &token).await;
        self.ws(&format!("/api/v1/halls/{hall}/live?pass={pass}&{query}")).await
    }
}

/// The next text message, skipping pings; panics after 10 s of silence.
pub async fn next_text(ws: &mut Ws) -> String {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let m = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("the socket is open")
            .expect("a valid frame");
        match m {
            Message::Text(t) => return t.to_string(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected message {other:?}"),
        }
    }
}

/// The code the server closes `ws` with; panics after 10 s without one.
pub async fn close_code(ws: &mut Ws) -> u16 {
    loop {
        let m = tokio::time::timeout(std::time::Duration::from_secs(10), futures_util::StreamExt::next(ws))
            .await
            .expect("closed within 10 s");
        match m {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(f)))) => return f.code.into(),
            Some(Ok(_)) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    }
}

pub async fn next_json(ws: &mut Ws) -> Value {
    serde_json::from_str(&next_text(ws).await).expect("a JSON message")
}

/// Reads messages until one satisfies `pred`; returns it.
pub async fn until(ws: &mut Ws, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        let v = next_json(ws).await;
        if pred(&v) {
            return v;
        }
    }
}

/// The tickets called (or recalled) in a delta or snapshot.
pub fn called(v: &Value) -> Vec<String> {
    v["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["ticket"].as_str().map(str::to_owned))
        .collect()
}

/// Signs in with any password; status and body.
pub async fn login_raw(app: &TestApp, hall: &str, user: &str, password: &str) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/login"))
        .json(&json!({"hall": hall, "user": user, "password": password}))
        .send()
        .await
        .expect("login sent");
    let status = res.status().as_u16();
    (status, res.json().await.expect("a JSON body"))
}
