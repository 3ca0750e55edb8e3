//! The baselines, built into this tool and run as a child process of it
//! (`hallcall-load serve-baseline`), so their memory and CPU are read
//! apart from the client's:
//!
//! - `GET /hello`: axum's hello world, for the HTTP figures;
//! - `GET /live/{hall}` and `POST /call/{hall}`: a minimal broadcast
//!   server, a tokio broadcast channel per hall and axum WebSockets, one
//!   `socket.send` per client per message. The body of a `POST /call` is
//!   broadcast as one text message.
//!
//! By default its sockets get hallcall's buffer sizes (4 KiB read buffer,
//! no write buffer): axum's defaults allocate a 128 KiB read buffer per
//! connection, which would make the memory comparison say nothing about
//! hallcall itself. `--baseline-buffers axum` keeps axum's defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use tokio::sync::broadcast;

use crate::servers::{Server, free_port, work_dir};

/// As hallcall's ring: a client further behind than this misses messages.
const CHANNEL: usize = 1024;
/// Sent once subscribed, like hallcall's first snapshot: a client that has
/// it will miss nothing after.
const HELLO: &str = r#"{"type":"hello"}"#;

/// The buffer sizes the baseline's sockets get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Buffers {
    /// hallcall's: 4 KiB read buffer, frames written straight out.
    Hallcall,
    /// axum's defaults (128 KiB read buffer).
    Axum,
}

#[derive(Clone)]
struct Shared {
    halls: Arc<Vec<broadcast::Sender<Utf8Bytes>>>,
    buffers: Buffers,
}

/// Runs the baseline server until killed (the hidden subcommand).
pub fn serve(listen: SocketAddr, halls: usize, buffers: Buffers) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(async move {
        let shared = Shared {
            halls: Arc::new((0..halls.max(1)).map(|_| broadcast::channel(CHANNEL).0).collect()),
            buffers,
        };
        let app = Router::new()
            .route("/hello", get(|| async { "hello" }))
            .route("/live/{hall}", get(live))
            .route("/call/{hall}", post(call))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot bind {listen}"))?;
        axum::serve(listener, app).await.context("serving")
    })
}

async fn live(State(s): State<Shared>, Path(hall): Path<usize>, ws: WebSocketUpgrade) -> axum::response::Response {
    match s.halls.get(hall) {
        Some(tx) => {
            let rx = tx.subscribe();
            let ws = match s.buffers {
                Buffers::Hallcall => ws
                    .read_buffer_size(4096)
                    .write_buffer_size(0)
                    .max_write_buffer_size(256 * 1024),
                Buffers::Axum => ws,
            };
            ws.on_upgrade(move |socket| forward(socket, rx))
        }
        None => axum::response::IntoResponse::into_response(StatusCode::NOT_FOUND),
    }
}

async fn forward(mut socket: WebSocket, mut rx: broadcast::Receiver<Utf8Bytes>) {
    if socket.send(Message::Text(Utf8Bytes::from_static(HELLO))).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Ok(text) => {
                    if socket.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                }
                // The client misses these; the tool counts them missing.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            m = socket.recv() => match m {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn call(State(s): State<Shared>, Path(hall): Path<usize>, body: String) -> StatusCode {
    match s.halls.get(hall) {
        Some(tx) => {
            // No subscribers is not an error.
            let _ = tx.send(Utf8Bytes::from(body));
            StatusCode::OK
        }
        None => StatusCode::NOT_FOUND,
    }
}

/// Starts the baseline as a child of this process.
pub async fn start(host: std::net::IpAddr, halls: usize, buffers: Buffers) -> anyhow::Result<Server> {
    let exe: PathBuf = std::env::current_exe().context("cannot find this executable to run the baseline")?;
    let dir = work_dir("baseline")?;
    let addr = SocketAddr::new(host, free_port(host)?);
    let mut cmd = Command::new(exe);
    cmd.arg("serve-baseline")
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--halls")
        .arg(halls.to_string())
        .arg("--buffers")
        .arg(match buffers {
            Buffers::Hallcall => "hallcall",
            Buffers::Axum => "axum",
        });
    Server::start("baseline", cmd, addr, dir, "/hello").await
}

/// A message naming call `ticket` (as `A000123`), padded with spaces
/// inside a JSON string to `size` bytes so it weighs what hallcall's delta
/// for one call weighs.
pub fn call_message(ticket: u32, size: usize) -> String {
    let mut m = format!(r#"{{"type":"delta","calls":[{{"ticket":"A{ticket:06}","window":1}}],"pad":""#);
    let room = size.saturating_sub(m.len() + 2);
    m.extend(std::iter::repeat_n(' ', room));
    m.push_str("\"}");
    m
}

/// A message naming no call, of `size` bytes (the window updates that
/// hallcall also sends to every screen).
pub fn other_message(size: usize) -> String {
    let mut m = String::from(r#"{"type":"window","pad":""#);
    let room = size.saturating_sub(m.len() + 2);
    m.extend(std::iter::repeat_n(' ', room));
    m.push_str("\"}");
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_size_asked_and_name_their_call() {
        let m = call_message(42, 700);
        assert_eq!(m.len(), 700);
        let mut seen = Vec::new();
        crate::ws_client::call_tickets(m.as_bytes(), |t| seen.push(crate::ws_client::ticket_number(t)));
        assert_eq!(seen, [Some(42)]);
        assert!(serde_json::from_str::<serde_json::Value>(&m).is_ok());
        let o = other_message(300);
        assert_eq!(o.len(), 300);
        assert!(!crate::ws_client::call_tickets(o.as_bytes(), |_| {}));
    }
}
