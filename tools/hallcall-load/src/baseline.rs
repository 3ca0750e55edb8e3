//! The baselines, built into this tool and run as a child process of it
//! (`hallcall-load serve-baseline`), so their memory and CPU are read
//! apart from the client's:
//!
//! - `GET /hello`: axum's hello world, for the HTTP figures;
//! - `POST /echo`: the shape of issuing a ticket without the queue or the
//!   store: a bearer header, a JSON body read into a struct, a JSON answer
//!   as long as hallcall's (201);
//! - `POST /durable`: `/echo`, answered only once a record of it is
//!   written to a file and `fdatasync`ed: the least any server that
//!   acknowledges only what is durable must do. One thread does the
//!   group commit: it takes whatever has queued, writes it, syncs it, and
//!   answers each;
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
    commits: std::sync::mpsc::Sender<Commit>,
    issued: Arc<std::sync::atomic::AtomicU64>,
}

/// A record to make durable, and whom to tell.
type Commit = (Vec<u8>, tokio::sync::oneshot::Sender<std::io::Result<()>>);

/// hallcall's issue request, as `/echo` and `/durable` read it.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueRequest {
    zone: String,
    service: String,
}

/// An answer as long as hallcall's for a new ticket (445 bytes).
#[derive(serde::Serialize)]
struct Issued<'a> {
    number: u64,
    zone: &'a str,
    service: &'a str,
    pad: &'static str,
}

const PAD: &str = ".................................................................................................................................................................................................................................................................................................................................................................................................";

/// The group commit of `/durable`: one write and one `fdatasync` for
/// everything queued since the last, then every waiter is answered.
fn committer(path: PathBuf, rx: std::sync::mpsc::Receiver<Commit>) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut buf = Vec::new();
    let mut waiting = Vec::new();
    while let Ok(first) = rx.recv() {
        waiting.push(first);
        waiting.extend(rx.try_iter());
        buf.clear();
        for (record, _) in &waiting {
            buf.extend_from_slice(record);
        }
        let written = file.write_all(&buf).and_then(|()| file.sync_data());
        for (_, ack) in waiting.drain(..) {
            let _ = ack.send(
                written
                    .as_ref()
                    .map(|_| ())
                    .map_err(|e| std::io::Error::new(e.kind(), e.to_string())),
            );
        }
    }
    Ok(())
}

/// Runs the baseline server until killed (the hidden subcommand).
pub fn serve(listen: SocketAddr, halls: usize, buffers: Buffers, journal: PathBuf) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let (commits, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("group-commit".into())
        .spawn(move || {
            if let Err(e) = committer(journal, rx) {
                eprintln!("serve-baseline: {e:#}");
            }
        })
        .context("cannot start the group commit thread")?;
    rt.block_on(async move {
        let shared = Shared {
            halls: Arc::new((0..halls.max(1)).map(|_| broadcast::channel(CHANNEL).0).collect()),
            buffers,
            commits,
            issued: Arc::default(),
        };
        let app = Router::new()
            .route("/hello", get(|| async { "hello" }))
            .route("/echo", post(echo))
            .route("/durable", post(durable))
            .route("/live/{hall}", get(live))
            .route("/call/{hall}", post(call))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot bind {listen}"))?;
        axum::serve(listener, app).await.context("serving")
    })
}

/// The answer to an issue request, or 401 without a bearer token (sent as
/// hallcall's desk sends it; not checked: there are no accounts here).
fn issue<'a>(s: &Shared, headers: &axum::http::HeaderMap, req: &'a IssueRequest) -> Option<Issued<'a>> {
    let signed = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    signed.then(|| Issued {
        number: s.issued.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        zone: &req.zone,
        service: &req.service,
        pad: PAD,
    })
}

async fn echo(
    State(s): State<Shared>,
    headers: axum::http::HeaderMap,
    axum::Json(req): axum::Json<IssueRequest>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match issue(&s, &headers, &req) {
        Some(answer) => (StatusCode::CREATED, axum::Json(answer)).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn durable(
    State(s): State<Shared>,
    headers: axum::http::HeaderMap,
    axum::Json(req): axum::Json<IssueRequest>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some(answer) = issue(&s, &headers, &req) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Ok(mut record) = serde_json::to_vec(&answer) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    record.push(b'\n');
    let (ack, done) = tokio::sync::oneshot::channel();
    if s.commits.send((record, ack)).is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match done.await {
        Ok(Ok(())) => (StatusCode::CREATED, axum::Json(answer)).into_response(),
        _ => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
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
        })
        .arg("--journal")
        .arg(dir.join("durable.log"));
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
        let pad = Issued {
            number: 1,
            zone: "general",
            service: "social",
            pad: PAD,
        };
        let len = serde_json::to_string(&pad).unwrap().len();
        assert!((440..=450).contains(&len), "as long as hallcall's answer: {len}");
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
