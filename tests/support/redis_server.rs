//! A throwaway `redis-server` for tests: its own port and data directory,
//! killed when dropped. Uses only std and `tempfile`, so unit tests and
//! integration tests can both include it with `#[path = "…"] mod …;`.
//!
//! It never uses the Redis on 6379 and never skips: without `redis-server`
//! on PATH, starting one panics and says how to install it.
#![allow(dead_code)]

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const READY_WITHIN: Duration = Duration::from_secs(10);

/// A running (or stopped) `redis-server` child process.
pub struct RedisServer {
    port: u16,
    dir: TempDir,
    appendonly: bool,
    /// More `redis-server` arguments, kept for restarts.
    extra: Vec<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port with a fresh data directory. With
    /// `appendonly`, every write is appended to the AOF and fsynced before
    /// the reply (`appendfsync always`); RDB saving is always off.
    ///
    /// # Panics
    /// When `redis-server` is not installed or does not answer PING in 10 s.
    pub fn start(appendonly: bool) -> RedisServer {
        RedisServer::start_with(appendonly, |_| Vec::new())
    }

    /// As [`RedisServer::start`], with more arguments made for the port
    /// picked (a cluster node's bus port, say).
    pub fn start_with(appendonly: bool, extra: impl Fn(u16) -> Vec<String>) -> RedisServer {
        let dir = tempfile::Builder::new()
            .prefix("hallcall-redis-")
            .tempdir()
            .expect("create a temporary directory for redis-server");
        let mut last_failure = String::new();
        // Another process may take the free port between picking and
        // binding it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let extra = extra(port);
            match spawn_and_wait(port, dir.path(), appendonly, &extra) {
                Ok(child) => {
                    return RedisServer {
                        port,
                        dir,
                        appendonly,
                        extra,
                        child: Some(child),
                    };
                }
                Err(why) => last_failure = why,
            }
        }
        panic!("redis-server did not start: {last_failure}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `redis://127.0.0.1:PORT/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server with SIGKILL (no shutdown save) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory, so an AOF
    /// written before is replayed.
    ///
    /// # Panics
    /// When it does not answer PING in 10 s.
    pub fn restart(&mut self) {
        self.stop();
        match spawn_and_wait(self.port, self.dir.path(), self.appendonly, &self.extra) {
            Ok(child) => self.child = Some(child),
            Err(why) => panic!("redis-server did not restart on port {}: {why}", self.port),
        }
    }
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("redis-server.log")
}

/// Runs `redis-server` on `port` with its data in `dir` and waits until it
/// answers PING.
fn spawn_and_wait(port: u16, dir: &Path, appendonly: bool, extra: &[String]) -> Result<Child, String> {
    let log = File::options()
        .create(true)
        .append(true)
        .open(log_path(dir))
        .map_err(|e| format!("cannot open the log file: {e}"))?;
    let log_err = log.try_clone().map_err(|e| format!("cannot open the log file: {e}"))?;
    let spawned = Command::new("redis-server")
        .arg("--port")
        .arg(port.to_string())
        .args(["--bind", "127.0.0.1", "--save", ""])
        .arg("--appendonly")
        .arg(if appendonly { "yes" } else { "no" })
        .args(["--appendfsync", "always", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "redis-server is not on PATH; these tests need it: \
             install redis-server (apt-get install redis-server)"
        ),
        Err(e) => panic!("cannot run redis-server: {e}"),
    };
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        if answers_ping(port) {
            return Ok(child);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("it exited with {status}; log:\n{}", log_tail(dir)));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "no PONG on port {port} within {READY_WITHIN:?}; log:\n{}",
                log_tail(dir)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn log_tail(dir: &Path) -> String {
    let text = std::fs::read_to_string(log_path(dir)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Redis Cluster of primaries without replicas, each a [`RedisServer`]
/// of its own, made with `redis-cli --cluster create`; stopped when
/// dropped.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `primaries` (at least 3) servers and joins them into a
    /// cluster that covers every slot.
    ///
    /// # Panics
    /// When a server does not start, `redis-cli` is missing, or the
    /// cluster is not `cluster_state:ok` within 20 s.
    pub fn start(primaries: usize, appendonly: bool) -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..primaries)
            .map(|_| {
                RedisServer::start_with(appendonly, |_| {
                    [
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "2000",
                        "--cluster-port",
                    ]
                    .iter()
                    .map(|s| (*s).to_owned())
                    .chain([free_port().to_string()])
                    .collect()
                })
            })
            .collect();
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for n in &nodes {
            create.arg(format!("127.0.0.1:{}", n.port()));
        }
        let out = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run redis-cli (apt-get install redis-tools): {e}"));
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = RedisCluster { nodes };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cluster.nodes.iter().all(|n| cluster_ok(n.port())) {
            assert!(Instant::now() < deadline, "the Redis Cluster is not ok within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        cluster
    }

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…`, hallcall's store URL.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port())).collect();
        format!("redis+cluster://{}", hosts.join(","))
    }
}

/// Whether the node on `port` says `cluster_state:ok`.
fn cluster_ok(port: u16) -> bool {
    Command::new("redis-cli")
        .args(["-p", &port.to_string(), "cluster", "info"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0 to find a free port");
    listener.local_addr().expect("read the bound port").port()
}

/// True when the server on `port` answers `PING` with `+PONG` (not, for
/// example, `-LOADING` while it replays its AOF).
fn answers_ping(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = stream.set_write_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while !got.ends_with(b"\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got.starts_with(b"+PONG")
}
