//! Connections from the open network: idle, half-sent and flooding ones
//! are closed by the server, and never crowd out anyone else.

use std::net::IpAddr;
use std::time::Duration;

use hallcall::cli::{ConnArgs, StoreUrl};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TUESDAY_10AM, TestApp, spawn_app_limited};

const FLOOD: usize = 3000;
const PER_ADDRESS: usize = 128;
/// How long the tests wait for the server to do what it must (a bound on
/// a hang, not a measure of speed).
const PATIENCE: Duration = Duration::from_secs(30);

async fn app_with_short_timeouts(dir: &tempfile::TempDir) -> TestApp {
    spawn_app_limited(
        StoreUrl::File(dir.path().to_path_buf()),
        TUESDAY_10AM,
        ConnArgs {
            head_timeout_secs: 2,
            body_timeout_secs: 2,
            max_anonymous_connections: 4096,
            max_anonymous_per_address: PER_ADDRESS,
            trusted_proxies: Vec::new(),
        },
    )
    .await
}

/// Whether the server has closed `s` (end of file or reset), without waiting.
fn is_closed(s: &std::net::TcpStream) -> bool {
    let mut b = [0u8; 1];
    match s.peek(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// Reads what the server sends until it closes the connection.
async fn until_closed(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server kept the connection open: {}",
        String::from_utf8_lossy(&got)
    );
    String::from_utf8_lossy(&got).into_owned()
}

/// Polls `cond` until it holds, or fails after [`PATIENCE`].
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_sockets_from_one_address_leaves_the_server_answering_everyone_else() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_short_timeouts(&dir).await;
    let mut flood = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        let s = TcpStream::connect(app.addr)
            .await
            .expect("the kernel accepts the connection");
        let s = s.into_std().unwrap();
        s.set_nonblocking(true).unwrap();
        flood.push(s);
    }
    // Another address is served at once, while the flood is held open.
    let other = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .timeout(PATIENCE)
        .build()
        .unwrap();
    let r = other.get(app.url("/healthz")).send().await.expect("/healthz answers");
    assert_eq!(r.status(), 200);
    // Past the cap, the server closed the flood's connections at once.
    eventually("the flood past the cap is closed", || {
        flood.iter().filter(|s| !is_closed(s)).count() <= PER_ADDRESS
    })
    .await;
    assert!(app.conns.anonymous() <= PER_ADDRESS + 1, "{}", app.conns.anonymous());
    // And the rest once their head timeout has passed.
    eventually("every idle socket is closed", || flood.iter().all(is_closed)).await;
    eventually("none is counted any more", || app.conns.anonymous() == 0).await;
    // The flooding address may connect again.
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn half_sent_heads_and_bodies_and_idle_keep_alive_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_short_timeouts(&dir).await;

    let mut half_head = TcpStream::connect(app.addr).await.unwrap();
    half_head
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: hall\r\n")
        .await
        .unwrap();
    until_closed(&mut half_head).await;

    let mut half_body = TcpStream::connect(app.addr).await.unwrap();
    half_body
        .write_all(b"POST /api/v1/login HTTP/1.1\r\nHost: hall\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"hall\":")
        .await
        .unwrap();
    let answer = until_closed(&mut half_body).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"body_timeout""#), "{answer}");

    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: hall\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut idle).await;
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "kept alive, answered, then closed when idle: {answer}"
    );
}

#[tokio::test]
async fn a_connection_that_signs_in_leaves_the_anonymous_count() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_short_timeouts(&dir).await;
    let token = app.token("qiaocheng", "w1").await;
    eventually("sign-in connections are idle-closed", || app.conns.anonymous() == 0).await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    eventually("the new connection counts", || app.conns.anonymous() == 1).await;
    let req = format!(
        "GET /api/v1/halls/qiaocheng/windows/1 HTTP/1.1\r\nHost: hall\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = [0u8; 16];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf[..12], b"HTTP/1.1 200");
    assert_eq!(
        app.conns.anonymous(),
        0,
        "signed in: no longer anonymous, though still open"
    );
}
