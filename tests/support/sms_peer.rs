//! Stand-ins for Alibaba Cloud SMS and Tencent Cloud SMS on 127.0.0.1.
//! Each checks a request's signature as its provider documents it (its
//! own code here, not the server's), refuses a forged or stale one with
//! the provider's own error, and records the texts it accepted.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const KEY_ID: &str = "LTAI5tTestKeyId";
pub const SECRET: &str = "test-provider-secret-0123456789";

/// A text as the provider took it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub phone: String,
    pub sign_name: String,
    pub template: String,
    /// Alibaba: the TemplateParam object; Tencent: TemplateParamSet.
    pub params: Value,
    /// OutId / SessionContext: the outbox's key.
    pub reference: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Aliyun,
    Tencent,
}

#[derive(Default)]
struct Inner {
    sent: Mutex<Vec<Sent>>,
    nonces: Mutex<HashSet<String>>,
    forged: AtomicU64,
    /// Answer this many requests with a flow-control error first.
    limited: AtomicU32,
}

pub struct Peer {
    pub url: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn mac(key: &[u8], msg: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// Alibaba's V3 check: the canonical request rebuilt from what arrived.
fn check_aliyun(inner: &Inner, uri: &Uri, h: &HeaderMap, body: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let query: BTreeMap<String, String> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let canonical_query = query
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let auth = header(h, "authorization");
    let rest = auth.strip_prefix("ACS3-HMAC-SHA256 ").ok_or("IncompleteSignature")?;
    let mut parts = BTreeMap::new();
    for p in rest.split(',') {
        let (k, v) = p.split_once('=').ok_or("IncompleteSignature")?;
        parts.insert(k.to_owned(), v.to_owned());
    }
    if parts.get("Credential").map(String::as_str) != Some(KEY_ID) {
        return Err("InvalidAccessKeyId.NotFound".into());
    }
    let mut names: Vec<String> = h
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k.starts_with("x-acs-") || k == "host" || k == "content-type")
        .collect();
    names.sort();
    let signed = names.join(";");
    if parts.get("SignedHeaders") != Some(&signed) {
        return Err(format!(
            "IncompleteSignature: signed {:?}, sent {signed}",
            parts.get("SignedHeaders")
        ));
    }
    let payload = hex(&Sha256::digest(body));
    if header(h, "x-acs-content-sha256") != payload {
        return Err("x-acs-content-sha256 does not match the body".into());
    }
    let date: jiff::Timestamp = header(h, "x-acs-date").parse().map_err(|_| "InvalidTimeStamp.Format")?;
    if (now() - date.as_second()).abs() > 15 * 60 {
        return Err("InvalidTimeStamp.Expired".into());
    }
    if !inner.nonces.lock().unwrap().insert(header(h, "x-acs-signature-nonce")) {
        return Err("SignatureNonceUsed".into());
    }
    let canonical_headers: String = names.iter().map(|n| format!("{n}:{}\n", header(h, n).trim())).collect();
    let canonical = format!("POST\n/\n{canonical_query}\n{canonical_headers}\n{signed}\n{payload}");
    let to_sign = format!("ACS3-HMAC-SHA256\n{}", hex(&Sha256::digest(canonical.as_bytes())));
    if parts.get("Signature") != Some(&hex(&mac(SECRET.as_bytes(), &to_sign))) {
        return Err("SignatureDoesNotMatch".into());
    }
    Ok(query)
}

/// Tencent's TC3 check.
fn check_tencent(h: &HeaderMap, body: &[u8]) -> Result<(), String> {
    let auth = header(h, "authorization");
    let rest = auth
        .strip_prefix("TC3-HMAC-SHA256 ")
        .ok_or("AuthFailure.InvalidAuthorization")?;
    let mut parts = BTreeMap::new();
    for p in rest.split(", ") {
        let (k, v) = p.split_once('=').ok_or("AuthFailure.InvalidAuthorization")?;
        parts.insert(k.to_owned(), v.to_owned());
    }
    let ts: i64 = header(h, "x-tc-timestamp").parse().map_err(|_| "MissingParameter")?;
    if (now() - ts).abs() > 300 {
        return Err("AuthFailure.SignatureExpire".into());
    }
    let date = jiff::Timestamp::from_second(ts)
        .unwrap()
        .strftime("%Y-%m-%d")
        .to_string();
    let scope = format!("{date}/sms/tc3_request");
    if parts.get("Credential") != Some(&format!("{KEY_ID}/{scope}")) {
        return Err("AuthFailure.SecretIdNotFound".into());
    }
    let signed = parts.get("SignedHeaders").cloned().unwrap_or_default();
    let names: Vec<&str> = signed.split(';').collect();
    if !names.contains(&"content-type") || !names.contains(&"host") {
        return Err("AuthFailure.InvalidAuthorization: content-type and host must be signed".into());
    }
    let canonical_headers: String = names
        .iter()
        .map(|n| format!("{n}:{}\n", header(h, n).trim().to_lowercase()))
        .collect();
    let canonical = format!(
        "POST\n/\n\n{canonical_headers}\n{signed}\n{}",
        hex(&Sha256::digest(body))
    );
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{ts}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let k = mac(format!("TC3{SECRET}").as_bytes(), &date);
    let k = mac(&k, "sms");
    let k = mac(&k, "tc3_request");
    if parts.get("Signature") != Some(&hex(&mac(&k, &to_sign))) {
        return Err("AuthFailure.SignatureFailure".into());
    }
    if header(h, "x-tc-action") != "SendSms" || header(h, "x-tc-version") != "2021-01-11" {
        return Err("InvalidAction".into());
    }
    Ok(())
}

async fn handle(
    State((kind, inner)): State<(Kind, Arc<Inner>)>,
    uri: Uri,
    h: HeaderMap,
    body: Bytes,
) -> axum::Json<Value> {
    let request_id = format!("req-{}", now());
    match kind {
        Kind::Aliyun => {
            let query = match check_aliyun(&inner, &uri, &h, &body) {
                Ok(q) => q,
                Err(e) => {
                    inner.forged.fetch_add(1, Ordering::SeqCst);
                    return axum::Json(
                        json!({"Code": e, "Message": "Specified signature is not matched with our calculation.", "RequestId": request_id}),
                    );
                }
            };
            if inner.limited.load(Ordering::SeqCst) > 0 {
                inner.limited.fetch_sub(1, Ordering::SeqCst);
                return axum::Json(
                    json!({"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1", "RequestId": request_id}),
                );
            }
            let params: Value =
                serde_json::from_str(query.get("TemplateParam").map_or("{}", String::as_str)).unwrap_or(Value::Null);
            inner.sent.lock().unwrap().push(Sent {
                phone: query.get("PhoneNumbers").cloned().unwrap_or_default(),
                sign_name: query.get("SignName").cloned().unwrap_or_default(),
                template: query.get("TemplateCode").cloned().unwrap_or_default(),
                params,
                reference: query.get("OutId").cloned().unwrap_or_default(),
            });
            axum::Json(json!({"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": request_id}))
        }
        Kind::Tencent => {
            if let Err(e) = check_tencent(&h, &body) {
                inner.forged.fetch_add(1, Ordering::SeqCst);
                return axum::Json(
                    json!({"Response": {"Error": {"Code": e, "Message": "The provided credentials could not be validated."}, "RequestId": request_id}}),
                );
            }
            let b: Value = serde_json::from_slice(&body).unwrap_or_default();
            if inner.limited.load(Ordering::SeqCst) > 0 {
                inner.limited.fetch_sub(1, Ordering::SeqCst);
                return axum::Json(
                    json!({"Response": {"SendStatusSet": [{"Code": "LimitExceeded.PhoneNumberThirtySecondLimit", "Message": "too often"}], "RequestId": request_id}}),
                );
            }
            inner.sent.lock().unwrap().push(Sent {
                phone: b["PhoneNumberSet"][0].as_str().unwrap_or_default().to_owned(),
                sign_name: b["SignName"].as_str().unwrap_or_default().to_owned(),
                template: b["TemplateId"].as_str().unwrap_or_default().to_owned(),
                params: b["TemplateParamSet"].clone(),
                reference: b["SessionContext"].as_str().unwrap_or_default().to_owned(),
            });
            axum::Json(
                json!({"Response": {"SendStatusSet": [{"SerialNo": "5000:1", "PhoneNumber": b["PhoneNumberSet"][0], "Fee": 1, "SessionContext": b["SessionContext"], "Code": "Ok", "Message": "send success", "IsoCode": "CN"}], "RequestId": request_id}}),
            )
        }
    }
}

impl Peer {
    pub async fn start(kind: Kind) -> Peer {
        let inner = Arc::new(Inner::default());
        let app = axum::Router::new().fallback(handle).with_state((kind, inner.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Peer { url, inner, task }
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.inner.sent.lock().unwrap().clone()
    }

    pub fn forged(&self) -> u64 {
        self.inner.forged.load(Ordering::SeqCst)
    }

    /// Answers the next `n` texts with the provider's flow-control error.
    pub fn limit(&self, n: u32) {
        self.inner.limited.store(n, Ordering::SeqCst);
    }

    pub async fn until(&self, limit: std::time::Duration, n: usize) -> Vec<Sent> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let s = self.sent();
            if s.len() >= n || tokio::time::Instant::now() > deadline {
                return s;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
