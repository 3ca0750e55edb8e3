//! The audit log: who signed in from where (refused sign-ins counted per
//! minute), who signed out or was signed out, which devices were paired
//! and revoked, and the supervisor's actions on tickets and windows. Each
//! line is an event in the hall's log (see `engine::audit`), read back by
//! business day: `GET /api/v1/halls/{hall}/audit?day=YYYY-MM-DD`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorDoc};
use super::extract::{HallPath, date, hall_config};
use crate::config::Role;
use crate::engine::{AuditAction, AuditNote, Command, EventKind, HallId, MAX_AUDIT_TEXT, business_date};
use crate::service::Service;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/halls/{hall}/audit", axum::routing::get(audit))
}

/// Distinct (name, address) pairs kept per hall between flushes; past it
/// the rest are counted together under the name `*`.
const MAX_PAIRS: usize = 1000;

/// Refused sign-ins since the last flush, counted per hall, name and
/// address: a flood of wrong passwords becomes a few lines a minute, not
/// a write per attempt.
#[derive(Debug, Default)]
pub struct RefusedSignIns {
    counts: Mutex<HashMap<HallId, Counts>>,
}

/// Per name tried and address (none for the overflow), how many.
type Counts = HashMap<(String, Option<IpAddr>), u32>;

impl RefusedSignIns {
    pub fn note(&self, hall: HallId, name: &str, ip: IpAddr) {
        let name = plain_name(name);
        let mut all = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let hall = all.entry(hall).or_default();
        let key = if hall.len() < MAX_PAIRS || hall.contains_key(&(name.clone(), Some(ip))) {
            (name, Some(ip))
        } else {
            ("*".to_owned(), None)
        };
        *hall.entry(key).or_insert(0) += 1;
    }

    /// Writes what was counted to each hall's log (kept for the next try
    /// when the store refuses).
    pub async fn flush(&self, service: &Service) {
        let taken = std::mem::take(&mut *self.counts.lock().unwrap_or_else(|e| e.into_inner()));
        for (hall, counts) in taken {
            let notes: Vec<AuditNote> = counts
                .iter()
                .map(|((who, ip), n)| AuditNote {
                    count: *n,
                    ..AuditNote::new(AuditAction::SignInRefused, who, ip.map(|i| i.to_string()), None)
                })
                .collect();
            if let Err(e) = service.execute(hall, Command::Record { notes }).await {
                tracing::warn!(%hall, error = %e, "refused sign-ins not written to the audit log yet");
                let mut all = self.counts.lock().unwrap_or_else(|e| e.into_inner());
                let here = all.entry(hall).or_default();
                for (k, n) in counts {
                    *here.entry(k).or_insert(0) += n;
                }
            }
        }
    }
}

/// A name as tried, fit for a log line: no characters that hide text,
/// at most as long as a note keeps.
fn plain_name(name: &str) -> String {
    let kept: String = name
        .chars()
        .filter(|&c| crate::engine::allowed(c))
        .take(MAX_AUDIT_TEXT)
        .collect();
    if kept.is_empty() { "?".to_owned() } else { kept }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The business day, `YYYY-MM-DD`; today by default.
    pub day: Option<String>,
}

/// One line of the audit log.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    #[schema(value_type = crate::wire::schema::Instant)]
    pub at: i64,
    /// `signed_in`, `sign_in_refused`, `signed_out`, `account_signed_out`,
    /// `device_paired`, `device_revoked`, `ticket_cancelled`,
    /// `ticket_reactivated`, `ticket_moved`, `phone_tickets_cancelled`,
    /// `window_closed`.
    pub action: String,
    /// The account that acted; for a refused sign-in, the name tried
    /// (`*` for the many beyond what is kept per minute).
    pub who: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// A ticket, window, account, device or zone (`*`: every zone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub count: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditLog {
    pub day: String,
    pub entries: Vec<AuditEntry>,
}

/// The audit log of one business day, oldest first: supervisors and
/// administrators.
#[utoipa::path(get, path = "/api/v1/halls/{hall}/audit", tag = "supervision",
    params(("hall" = String, Path, description = "The hall's id"), AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = AuditLog), (status = 400, body = ErrorDoc), (status = 401, body = ErrorDoc),
        (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc), (status = 503, body = ErrorDoc)))]
async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditLog>, ApiError> {
    state.require(&headers, hall, &[Role::Supervisor])?;
    let Query(q) = q.map_err(|e| ApiError::bad_request("bad_query", e.body_text()))?;
    let cfg = hall_config(&state, hall)?;
    let day = match &q.day {
        Some(s) => date("day", s)?,
        None => business_date(&cfg.spec, state.service.now()),
    };
    let entries = state
        .service
        .store
        .scan_days(hall, (day, day), Vec::new(), |out: &mut Vec<AuditEntry>, e| {
            if let EventKind::Audited(n) = e.kind {
                out.push(AuditEntry {
                    at: e.at.0,
                    action: serde_json::to_value(n.action)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    who: n.who,
                    address: n.address,
                    target: n.target,
                    count: n.count,
                });
            }
            Ok(())
        })
        .await
        .map_err(super::reports::store_error)?;
    Ok(Json(AuditLog {
        day: day.to_string(),
        entries,
    }))
}
