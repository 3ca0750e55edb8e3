//! `spawn_app`: a real server on 127.0.0.1:0 with the sample halls.

use std::net::SocketAddr;
use std::path::PathBuf;

use hallcall::cli::{Args, StoreUrl};
use hallcall::startup::Application;
use tokio::sync::oneshot;

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    _stop: oneshot::Sender<()>,
    _data: tempfile::TempDir,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

pub fn sample_config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/hall.toml")
}

/// Starts the server; it stops when the returned value is dropped.
pub async fn spawn_app() -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        hallcall::telemetry::init(std::io::stdout);
    }
    let data = tempfile::tempdir().expect("a temporary directory");
    let args = Args {
        config: sample_config(),
        listen: "127.0.0.1:0".parse().expect("a socket address"),
        store: StoreUrl::File(data.path().to_path_buf()),
        check_config: false,
    };
    let config = hallcall::config::load(&args.config).expect("the sample config loads");
    let app = Application::build(&args, &config).await.expect("the app builds");
    let addr = app.local_addr().expect("a bound address");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        client: reqwest::Client::new(),
        _stop: stop,
        _data: data,
    }
}
