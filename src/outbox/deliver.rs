//! Sending one sink's messages of one hall, in order, with retries.
//!
//! A message that fails for a reason that may pass (no connection, a
//! timeout, 408, 425, 429, a 5xx) is tried again after a backoff that
//! doubles from 1 s to 5 min, or after the receiver's `Retry-After`;
//! while it waits, the sink's later messages wait behind it (a receiver
//! gets them in order). A message the receiver refuses (another 4xx, a
//! redirect) or one still failing after the sink's `retry_hours` is set
//! aside with its last error, for a supervisor to send again.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::message::{Message, Sink};
use super::sign::Secret;
use super::{Done, Outcome, Shared};
use crate::engine::{HallId, Millis, SetAside, short_error};

const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// A receiver's `Retry-After` is followed up to this.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(600);

struct Queued {
    msg: Message,
    first_at: Millis,
    attempts: u32,
}

pub(super) enum Failure {
    /// Worth trying again, perhaps after the receiver's `Retry-After`.
    Passing(String, Option<Duration>),
    /// The receiver refused it, or it cannot be sent as configured.
    Refused(String),
}

/// Where a sink's messages go now, read from the hall's configuration at
/// each attempt (a changed address or secret applies to the next one).
pub(super) enum Target {
    /// A signed POST of the message (webhooks, the platform).
    Signed { url: String, secret: std::path::PathBuf },
    /// A text through the hall's SMS provider.
    Sms(crate::notices::SmsConfig),
    /// A WeChat subscription message.
    WeChat(crate::notices::wechat::WeChatConfig),
    /// A signed POST of the notice with the citizen's contact.
    NoticeHook { url: String, secret: std::path::PathBuf },
}

fn target(shared: &Shared, hall: HallId, sink: &Sink) -> Result<(Target, Duration), String> {
    let cfg = shared.halls.config(hall).map_err(|e| e.to_string())?;
    let notices = || {
        cfg.outbound
            .notices
            .as_ref()
            .ok_or_else(|| "the hall sends no notices any more".to_owned())
    };
    match sink {
        Sink::Webhook(name) => cfg
            .outbound
            .webhooks
            .iter()
            .find(|w| &w.name == name)
            .map(|w| {
                let t = Target::Signed {
                    url: w.url.clone(),
                    secret: w.secret_file.clone(),
                };
                (t, w.retry_for)
            })
            .ok_or_else(|| format!("the hall has no webhook {name:?} any more")),
        Sink::Platform => cfg
            .outbound
            .platform
            .as_ref()
            .map(|p| {
                let t = Target::Signed {
                    url: p.url.clone(),
                    secret: p.secret_file.clone(),
                };
                (t, p.retry_for)
            })
            .ok_or_else(|| "the hall sends nothing to the platform any more".to_owned()),
        Sink::Sms => {
            let n = notices()?;
            let sms = n
                .sms
                .clone()
                .ok_or_else(|| "the hall sends no texts any more".to_owned())?;
            Ok((Target::Sms(sms), n.retry_for))
        }
        Sink::WeChat => {
            let n = notices()?;
            let w = n
                .wechat
                .clone()
                .ok_or_else(|| "the hall sends no WeChat messages any more".to_owned())?;
            Ok((Target::WeChat(w), n.retry_for))
        }
        Sink::NoticeHook => {
            let n = notices()?;
            let (url, secret) = n
                .webhook
                .clone()
                .ok_or_else(|| "the hall has no notice webhook any more".to_owned())?;
            Ok((Target::NoticeHook { url, secret }, n.retry_for))
        }
    }
}

async fn attempt(shared: &Shared, hall: HallId, target: &Target, msg: &Message) -> Result<(), Failure> {
    match target {
        Target::Signed { url, secret } => post_signed(shared, url, secret, &msg.key, msg.body.clone()).await,
        Target::Sms(sms) => super::notify::text(shared, hall, sms, msg).await,
        Target::WeChat(w) => super::notify::wechat(shared, hall, w, msg).await,
        Target::NoticeHook { url, secret } => {
            let body = super::notify::with_contact(shared, hall, msg).await?;
            post_signed(shared, url, secret, &msg.key, body).await
        }
    }
}

/// POSTs `body` signed as Standard Webhooks say.
async fn post_signed(
    shared: &Shared,
    url: &str,
    secret: &std::path::Path,
    key: &str,
    body: String,
) -> Result<(), Failure> {
    // Read each time: a secret rotated in its file applies at once.
    let secret = Secret::read(secret).map_err(|e| Failure::Passing(e, None))?;
    // The receiver's clock is the wall's, whatever the hall's says.
    let timestamp = jiff::Timestamp::now().as_second();
    let signature = secret.sign(key, timestamp, body.as_bytes());
    let sent = shared
        .client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", key)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => return Err(Failure::Passing(super::with_causes(&e), None)),
    };
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s).min(RETRY_AFTER_MAX));
    let text = resp.text().await.unwrap_or_default();
    let said = format!("{status}: {}", text.chars().take(200).collect::<String>());
    match status.as_u16() {
        408 | 425 | 429 | 500..=599 => Err(Failure::Passing(said, retry_after)),
        _ => Err(Failure::Refused(said)),
    }
}

fn aside(q: &Queued, error: &str) -> SetAside {
    SetAside {
        key: q.msg.key.clone(),
        sink: q.msg.sink.name(),
        seq: q.msg.seq,
        kind: q.msg.kind.clone(),
        body: q.msg.body.clone(),
        attempts: q.attempts,
        error: short_error(error),
        first_at: q.first_at,
    }
}

/// Sends `hall`'s messages for `sink` as they come, until the queue's
/// sender is dropped.
pub(super) async fn run(
    shared: Arc<Shared>,
    hall: HallId,
    sink: Sink,
    mut rx: mpsc::UnboundedReceiver<Message>,
    done: mpsc::UnboundedSender<Done>,
) {
    let mut queue: VecDeque<Queued> = VecDeque::new();
    let mut backoff = BACKOFF_FIRST;
    let name = sink.name();
    let finish = |q: &Queued, outcome: Outcome| {
        let _ = done.send(Done {
            hall,
            seq: q.msg.seq,
            outcome,
        });
    };
    loop {
        if queue.is_empty() {
            match rx.recv().await {
                Some(msg) => queue.push_back(Queued {
                    msg,
                    first_at: (shared.clock)(),
                    attempts: 0,
                }),
                None => return,
            }
        }
        while let Ok(msg) = rx.try_recv() {
            queue.push_back(Queued {
                msg,
                first_at: (shared.clock)(),
                attempts: 0,
            });
        }
        if rx.is_closed() {
            // The outbox stopped (or started over): whatever is left here
            // is made again from the log by the next start.
            return;
        }
        let Some(head) = queue.front_mut() else { continue };
        head.attempts += 1;
        let result = match target(&shared, hall, &sink) {
            Ok((t, retry_for)) => attempt(&shared, hall, &t, &head.msg).await.map_err(|f| (f, retry_for)),
            Err(e) => Err((Failure::Refused(e), Duration::ZERO)),
        };
        match result {
            Ok(()) => {
                if let Some(q) = queue.pop_front() {
                    finish(&q, Outcome::Delivered);
                }
                shared.status.delivered(hall, &name);
                backoff = BACKOFF_FIRST;
            }
            Err((Failure::Refused(e), _)) => {
                tracing::warn!(%hall, sink = %name, key = %head.msg.key, error = %e, "a message was refused: set aside");
                if let Some(q) = queue.pop_front() {
                    finish(&q, Outcome::SetAside(aside(&q, &e)));
                }
                shared.status.failing(hall, &name, &e, (shared.clock)());
            }
            Err((Failure::Passing(e, retry_after), retry_for)) => {
                shared.status.failing(hall, &name, &e, (shared.clock)());
                let now = (shared.clock)();
                let limit = i64::try_from(retry_for.as_millis()).unwrap_or(i64::MAX);
                while queue.front().is_some_and(|q| now.since(q.first_at) >= limit) {
                    if let Some(q) = queue.pop_front() {
                        finish(&q, Outcome::SetAside(aside(&q, &e)));
                    }
                }
                if queue.is_empty() {
                    continue;
                }
                tracing::debug!(%hall, sink = %name, error = %e, wait = ?backoff, "delivery failed: trying again");
                let wait = retry_after.unwrap_or(backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
                tokio::time::sleep(jitter(wait)).await;
            }
        }
    }
}

/// Up to a fifth more, so that a hall's sinks do not all come back at once.
fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let frac = f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) * 0.2;
    d.mul_f64(1.0 + frac)
}
