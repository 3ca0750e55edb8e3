//! A stand-in for WeChat's server API on 127.0.0.1, as WeChat documents
//! it: `POST /cgi-bin/stable_token` hands out access tokens that expire
//! (`expires_in`, short here) for the right appid and secret; the
//! subscription message routes take only a live token (42001 for an
//! expired one, 40001 for an unknown or revoked one), check the body
//! (touser, template_id, each data value within its type's limit: 47003
//! otherwise), and record what they accepted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::routing::post;
use serde_json::{Value, json};

pub const APP_ID: &str = "wx0123456789abcdef";
pub const APP_SECRET: &str = "test-app-secret-0123456789abcdef";

#[derive(Default)]
struct Inner {
    tokens: Mutex<HashMap<String, Instant>>,
    issued: AtomicU32,
    sent: Mutex<Vec<Value>>,
    lifetime_ms: AtomicU32,
}

pub struct WeChat {
    pub url: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WeChat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn token(State(inner): State<Arc<Inner>>, body: String) -> axum::Json<Value> {
    let b: Value = serde_json::from_str(&body).unwrap_or_default();
    if b["grant_type"] != "client_credential" {
        return axum::Json(json!({"errcode": 40002, "errmsg": "invalid grant_type"}));
    }
    if b["appid"] != APP_ID {
        return axum::Json(json!({"errcode": 40013, "errmsg": "invalid appid"}));
    }
    if b["secret"] != APP_SECRET {
        return axum::Json(json!({"errcode": 40125, "errmsg": "invalid appsecret"}));
    }
    let n = inner.issued.fetch_add(1, Ordering::SeqCst) + 1;
    let t = format!("TOKEN-{n}");
    let life = Duration::from_millis(u64::from(inner.lifetime_ms.load(Ordering::SeqCst)));
    inner.tokens.lock().unwrap().insert(t.clone(), Instant::now() + life);
    // WeChat says seconds; the stand-in's tokens die sooner than they say,
    // as a token revoked by another fetch would.
    axum::Json(json!({"access_token": t, "expires_in": 7200}))
}

fn limit(key: &str) -> usize {
    let kind: String = key.chars().take_while(|c| !c.is_ascii_digit()).collect();
    match kind.as_str() {
        "thing" => 20,
        "character_string" | "number" | "letter" => 32,
        "phrase" | "symbol" => 5,
        _ => 20,
    }
}

async fn send(
    State(inner): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> axum::Json<Value> {
    let Some(t) = q.get("access_token") else {
        return axum::Json(json!({"errcode": 41001, "errmsg": "access_token missing"}));
    };
    match inner.tokens.lock().unwrap().get(t) {
        None => {
            return axum::Json(
                json!({"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}),
            );
        }
        Some(until) if Instant::now() > *until => {
            return axum::Json(json!({"errcode": 42001, "errmsg": "access_token expired"}));
        }
        Some(_) => {}
    }
    let b: Value = serde_json::from_str(&body).unwrap_or_default();
    if b["touser"].as_str().is_none_or(str::is_empty) {
        return axum::Json(json!({"errcode": 40003, "errmsg": "invalid openid"}));
    }
    if b["template_id"].as_str().is_none_or(str::is_empty) {
        return axum::Json(json!({"errcode": 40037, "errmsg": "invalid template_id"}));
    }
    let Some(data) = b["data"].as_object() else {
        return axum::Json(json!({"errcode": 47003, "errmsg": "argument invalid! data"}));
    };
    for (k, v) in data {
        let ok = v["value"].as_str().is_some_and(|s| s.chars().count() <= limit(k));
        if !ok {
            return axum::Json(
                json!({"errcode": 47003, "errmsg": format!("argument invalid! data.{k}.value invalid")}),
            );
        }
    }
    inner.sent.lock().unwrap().push(b);
    axum::Json(json!({"errcode": 0, "errmsg": "ok", "msgid": 1}))
}

impl WeChat {
    /// Tokens live `lifetime`, whatever `expires_in` says.
    pub async fn start(lifetime: Duration) -> WeChat {
        let inner = Arc::new(Inner::default());
        inner.lifetime_ms.store(lifetime.as_millis() as u32, Ordering::SeqCst);
        let app = axum::Router::new()
            .route("/cgi-bin/stable_token", post(token))
            .route("/cgi-bin/message/subscribe/send", post(send))
            .route("/cgi-bin/message/subscribe/bizsend", post(send))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        WeChat { url, inner, task }
    }

    pub fn sent(&self) -> Vec<Value> {
        self.inner.sent.lock().unwrap().clone()
    }

    pub fn tokens_issued(&self) -> u32 {
        self.inner.issued.load(Ordering::SeqCst)
    }

    /// Every token stops working (another fetch with force_refresh).
    pub fn revoke(&self) {
        self.inner.tokens.lock().unwrap().clear();
    }

    pub async fn until(&self, limit: Duration, n: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let s = self.sent();
            if s.len() >= n || tokio::time::Instant::now() > deadline {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
