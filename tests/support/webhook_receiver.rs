//! A webhook receiver of a test's own, on 127.0.0.1: it checks each
//! request as the Standard Webhooks specification tells a receiver to
//! (its own HMAC-SHA256 over `id.timestamp.body`, compared in constant
//! time, the timestamp within five minutes of its clock), answers as the
//! test says (accept, fail for a while, refuse), and records what it took.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// One request taken (answered 2xx).
#[derive(Debug, Clone)]
pub struct Taken {
    pub path: String,
    pub id: String,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    taken: Mutex<Vec<Taken>>,
    /// The status to answer with; 0 for 200 after checking.
    answer: AtomicU16,
    /// Requests whose signature or timestamp was wrong.
    forged: AtomicU64,
    /// Requests answered with anything but 2xx.
    turned_away: AtomicU64,
    /// Milliseconds to wait before answering.
    delay_ms: AtomicU64,
}

pub struct Receiver {
    pub url: String,
    pub secret: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn check(secret: &[u8], headers: &HeaderMap, body: &[u8]) -> Result<String, String> {
    let get = |h: &str| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or(format!("no {h}"))
    };
    let (id, ts, sigs) = (get("webhook-id")?, get("webhook-timestamp")?, get("webhook-signature")?);
    let t: i64 = ts.parse().map_err(|_| "bad timestamp".to_owned())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - t).abs() > 300 {
        return Err(format!("timestamp {t} is {} s away", now - t));
    }
    for sig in sigs.split(' ') {
        let Some(given) = sig
            .strip_prefix("v1,")
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        else {
            continue;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{id}.{ts}.").as_bytes());
        mac.update(body);
        if mac.verify_slice(&given).is_ok() {
            return Ok(id);
        }
    }
    Err("no signature matches".into())
}

impl Receiver {
    /// Listens on `port` (0: any free one).
    pub async fn start_on(port: u16) -> Receiver {
        let secret = "whsec_dGVzdCByZWNlaXZlciBzZWNyZXQga2V5IQ==".to_owned();
        let key = base64::engine::general_purpose::STANDARD
            .decode(secret.trim_start_matches("whsec_"))
            .unwrap();
        let inner = Arc::new(Inner::default());
        let app = axum::Router::new()
            .fallback(
                |State((inner, key)): State<(Arc<Inner>, Arc<Vec<u8>>)>,
                 uri: axum::http::Uri,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let delay = inner.delay_ms.load(Ordering::SeqCst);
                    if delay > 0 {
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                    }
                    let answer = inner.answer.load(Ordering::SeqCst);
                    if answer != 0 {
                        inner.turned_away.fetch_add(1, Ordering::SeqCst);
                        return StatusCode::from_u16(answer).unwrap();
                    }
                    match check(&key, &headers, &body) {
                        Ok(id) => {
                            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            inner.taken.lock().unwrap().push(Taken {
                                path: uri.path().to_owned(),
                                id,
                                body,
                            });
                            StatusCode::NO_CONTENT
                        }
                        Err(_) => {
                            inner.forged.fetch_add(1, Ordering::SeqCst);
                            StatusCode::UNAUTHORIZED
                        }
                    }
                },
            )
            .with_state((inner.clone(), Arc::new(key)));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url,
            secret,
            inner,
            task,
        }
    }

    pub async fn start() -> Receiver {
        Receiver::start_on(0).await
    }

    /// Answers every request with `status` (0: take them again).
    pub fn answer(&self, status: u16) {
        self.inner.answer.store(status, Ordering::SeqCst);
    }

    pub fn delay(&self, d: Duration) {
        self.inner.delay_ms.store(d.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn taken(&self) -> Vec<Taken> {
        self.inner.taken.lock().unwrap().clone()
    }

    pub fn forged(&self) -> u64 {
        self.inner.forged.load(Ordering::SeqCst)
    }

    pub fn turned_away(&self) -> u64 {
        self.inner.turned_away.load(Ordering::SeqCst)
    }

    /// Waits until `pred` holds of what was taken, for at most `limit`.
    pub async fn until(&self, limit: Duration, pred: impl Fn(&[Taken]) -> bool) -> Vec<Taken> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let taken = self.taken();
            if pred(&taken) || tokio::time::Instant::now() > deadline {
                return taken;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
