//! The outbox as supervisors see it (see `outbox`): where the hall's
//! messages go, how far they got, what keeps failing, and sending again
//! what was set aside or a past day's platform records.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorDoc};
use super::extract::{Body, HallPath, date, hall_config, locked};
use crate::config::Role;
use crate::engine::Command;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/halls/{hall}/outbox", get(status))
        .route("/api/v1/halls/{hall}/outbox/resend", post(resend))
        .route("/api/v1/halls/{hall}/outbox/replay", post(replay))
}

/// A receiver the hall sends to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receiver {
    /// `webhook:NAME` or `platform`.
    pub sink: String,
    pub url: String,
    /// The event types a webhook takes (all when empty); records for the
    /// platform.
    pub events: Vec<String>,
    /// Delivered since the server started.
    pub delivered: u64,
    /// The last attempt failed: why, and when (ms since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<i64>,
}

/// A message that kept failing.
#[derive(Debug, Serialize, ToSchema)]
pub struct SetAsideDoc {
    pub key: String,
    pub sink: String,
    /// The event it was made from (0: a record sent again).
    pub seq: u64,
    pub kind: String,
    pub attempts: u32,
    pub error: String,
    /// When it was first tried (ms since the epoch).
    pub first_at: i64,
    /// The message, as it will be sent again.
    pub body: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxDoc {
    pub receivers: Vec<Receiver>,
    /// Every message made from the events up to this one is delivered or
    /// set aside.
    pub through: u64,
    /// The hall's last event.
    pub seq: u64,
    /// Messages made and not yet delivered or set aside.
    pub pending: u64,
    /// Oldest first.
    pub set_aside: Vec<SetAsideDoc>,
    /// Set aside and later dropped for room, ever.
    pub dropped: u64,
}

/// Where the hall's events go and how that is going (supervisors).
#[utoipa::path(get, path = "/api/v1/halls/{hall}/outbox", tag = "supervision",
    params(("hall" = String, Path, description = "The hall's id")), security(("bearer" = [])),
    responses((status = 200, body = OutboxDoc), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc),
        (status = 404, body = ErrorDoc)))]
async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
) -> Result<Json<OutboxDoc>, ApiError> {
    state.require(&headers, hall, &[Role::Supervisor])?;
    let cfg = hall_config(&state, hall)?;
    let live = state.outbox.as_ref().map(|o| o.status.hall(hall)).unwrap_or_default();
    let mut receivers: Vec<Receiver> = cfg
        .outbound
        .webhooks
        .iter()
        .map(|w| (format!("webhook:{}", w.name), w.url.clone(), w.events.clone()))
        .chain(cfg.outbound.platform.iter().map(|p| {
            (
                "platform".to_owned(),
                p.url.clone(),
                vec!["visit".into(), "rating".into(), "follow_up".into()],
            )
        }))
        .chain(cfg.outbound.notices.iter().flat_map(|n| {
            let kinds: Vec<String> = n.send.iter().map(|k| format!("notice:{}", k.name())).collect();
            let mut out = Vec::new();
            if let Some(s) = &n.sms {
                out.push(("sms".to_owned(), s.endpoint.clone(), kinds.clone()));
            }
            if let Some(w) = &n.wechat {
                out.push(("wechat".to_owned(), w.api.clone(), kinds.clone()));
            }
            if let Some((url, _)) = &n.webhook {
                out.push(("notice-webhook".to_owned(), url.clone(), kinds.clone()));
            }
            out
        }))
        .map(|(sink, url, events)| {
            let failing = live.failing.get(&sink);
            Receiver {
                delivered: live.delivered.get(&sink).copied().unwrap_or(0),
                failing: failing.map(|f| f.error.clone()),
                failing_since: failing.map(|f| f.at.0),
                sink,
                url,
                events,
            }
        })
        .collect();
    receivers.sort_by(|a, b| a.sink.cmp(&b.sink));
    let h = locked(&state, hall)?;
    let ob = h.outbox();
    Ok(Json(OutboxDoc {
        receivers,
        through: ob.through,
        seq: h.seq(),
        pending: live.pending,
        set_aside: ob
            .set_aside()
            .into_iter()
            .map(|s| SetAsideDoc {
                key: s.key.clone(),
                sink: s.sink.clone(),
                seq: s.seq,
                kind: s.kind.clone(),
                attempts: s.attempts,
                error: s.error.clone(),
                first_at: s.first_at.0,
                body: s.body.clone(),
            })
            .collect(),
        dropped: ob.dropped,
    }))
}

/// Which set-aside messages to send again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resend {
    /// Their keys; or
    #[serde(default)]
    pub keys: Vec<String>,
    /// every one set aside (of one sink, if given).
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub sink: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Resent {
    pub resent: usize,
}

/// Sends set-aside messages again, with their first keys (supervisors).
/// 422 `bad_outbox` names a key that is not set aside.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/outbox/resend", tag = "supervision",
    params(("hall" = String, Path, description = "The hall's id")), request_body = Resend,
    security(("bearer" = [])),
    responses((status = 200, body = Resent), (status = 400, body = ErrorDoc), (status = 401, body = ErrorDoc),
        (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc), (status = 422, body = ErrorDoc),
        (status = 503, body = ErrorDoc)))]
async fn resend(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    Body(r): Body<Resend>,
) -> Result<Json<Resent>, ApiError> {
    let p = state.require(&headers, hall, &[Role::Supervisor])?;
    let keys: Vec<String> = if r.all {
        let h = locked(&state, hall)?;
        h.outbox()
            .set_aside()
            .into_iter()
            .filter(|s| r.sink.as_ref().is_none_or(|k| *k == s.sink))
            .map(|s| s.key.clone())
            .collect()
    } else {
        r.keys
    };
    if keys.is_empty() && r.all {
        return Ok(Json(Resent { resent: 0 }));
    }
    let n = keys.len();
    state
        .service
        .execute(
            hall,
            Command::OutboxResend {
                keys,
                by: p.user.clone(),
            },
        )
        .await?;
    Ok(Json(Resent { resent: n }))
}

/// A past day to send to the platform again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// A business day the store still keeps, `YYYY-MM-DD`.
    pub day: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    pub day: String,
    /// Records queued (visits, ratings, follow-ups).
    pub records: usize,
}

/// Sends a past day's visits and ratings to the platform again, with their
/// first keys, so the platform keeps each once (administrators). 409
/// `no_platform` when the hall sends nothing to one.
#[utoipa::path(post, path = "/api/v1/halls/{hall}/outbox/replay", tag = "admin",
    params(("hall" = String, Path, description = "The hall's id")), request_body = Replay,
    security(("bearer" = [])),
    responses((status = 200, body = Replayed), (status = 400, body = ErrorDoc), (status = 401, body = ErrorDoc),
        (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc), (status = 409, body = ErrorDoc),
        (status = 503, body = ErrorDoc)))]
async fn replay(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    Body(r): Body<Replay>,
) -> Result<Json<Replayed>, ApiError> {
    state.require(&headers, hall, &[Role::Admin])?;
    let day = date("day", &r.day)?;
    let cfg = hall_config(&state, hall)?;
    let (Some(outbox), Some(_)) = (&state.outbox, &cfg.outbound.platform) else {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "no_platform",
            "this hall sends nothing to a government platform ([hall.platform])",
        ));
    };
    let records = outbox.send_day_again(&state.service, cfg, day).await.map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            e.to_string(),
        )
    })?;
    Ok(Json(Replayed {
        day: day.to_string(),
        records,
    }))
}
