//! Reports for a day or a range of days, as JSON or as a CSV download,
//! computed from the hall's stored events (see `crate::report`).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::error::ErrorDoc;
use super::extract::{HallPath, date, hall_config};
use super::{ApiError, AppState};
use crate::config::Role;
use crate::engine::business_date;
use crate::report::{Folder, MAX_DAYS, Report};
use crate::store::StoreError;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/halls/{hall}/report", get(json_report))
        .route("/api/v1/halls/{hall}/report.csv", get(csv_report))
        .route("/api/v1/halls/{hall}/archive", get(archive_status))
}

/// How far the hall's history is copied into PostgreSQL.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ArchiveStatus {
    /// `--archive` was given.
    pub configured: bool,
    /// Connected to PostgreSQL and writing.
    pub connected: bool,
    /// The hall's last event archived, and its last durable one.
    pub archived_seq: u64,
    pub durable_seq: u64,
    /// Durable events not archived yet.
    pub behind_events: u64,
    /// The last failure, while not connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The archive's progress for this hall (supervisors).
#[utoipa::path(get, path = "/api/v1/halls/{hall}/archive", tag = "supervision",
    params(("hall" = String, Path, description = "The hall's id")), security(("bearer" = [])),
    responses((status = 200, body = ArchiveStatus), (status = 401, body = ErrorDoc),
        (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc)))]
async fn archive_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
) -> Result<Json<ArchiveStatus>, ApiError> {
    state.require(&headers, hall, &[Role::Supervisor])?;
    hall_config(&state, hall)?;
    let durable_seq = match &state.archive {
        Some(a) => a.durable(hall),
        None => state.service.halls.lock(hall).map(|h| h.seq()).unwrap_or(0),
    };
    let status = match &state.archive {
        None => ArchiveStatus {
            configured: false,
            connected: false,
            archived_seq: 0,
            durable_seq,
            behind_events: 0,
            last_error: None,
        },
        Some(a) => {
            let connected = a.status.connected();
            let archived_seq = a.status.archived(hall).unwrap_or(0);
            ArchiveStatus {
                configured: true,
                connected,
                archived_seq,
                durable_seq,
                behind_events: a.behind(hall).unwrap_or(0),
                last_error: if connected { None } else { a.status.last_error() },
            }
        }
    };
    Ok(Json(status))
}

/// The business days to report on; both default to today.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First business day, `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Last business day (included), `YYYY-MM-DD`; defaults to `from`.
    pub to: Option<String>,
}

async fn report(
    state: &AppState,
    headers: &HeaderMap,
    id: crate::engine::HallId,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Report, ApiError> {
    state.require(headers, id, &[Role::Supervisor])?;
    let Query(q) = q.map_err(|e| ApiError::bad_request("bad_query", e.body_text()))?;
    let cfg = hall_config(state, id)?;
    let now = state.service.now();
    let from = match &q.from {
        Some(s) => date("from", s)?,
        None => business_date(&cfg.spec, now),
    };
    let to = match &q.to {
        Some(s) => date("to", s)?,
        None => from,
    };
    if to < from {
        return Err(ApiError::bad_request(
            "bad_range",
            format!("the range ends ({to}) before it starts ({from})"),
        ));
    }
    let days = (to - from).get_days() + 1;
    if days > MAX_DAYS {
        return Err(ApiError::bad_request(
            "range_too_long",
            format!("{days} days asked for; a report covers at most {MAX_DAYS}"),
        ));
    }
    // Folded as the events are read: a long range holds no more than a
    // page of them.
    let folder = Folder::new(cfg.spec.clone(), from, to);
    let folder = state
        .service
        .store
        .scan_days(id, (from, to), folder, |f, e| f.feed(&e).map_err(|e| e.to_string()))
        .await
        .map_err(store_error)?;
    let mut part = blocking(move || folder.part(now)).await?;
    if let Some(archive) = &state.archive {
        // Days the store no longer keeps come from the archive.
        match archive.parts(id, (from, to), &part.days).await {
            Ok(Some(older)) => part.merge(older),
            Ok(None) => {}
            Err(e) => {
                let today = business_date(&cfg.spec, now);
                let asked = (to.min(today) - from).get_days() + 1;
                if (part.days.len() as i32) < asked {
                    tracing::warn!(error = %e, "a report needs the archive, which cannot be read");
                    return Err(ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "archive_unavailable",
                        format!(
                            "days older than the store keeps are in the archive, which cannot be read now: {}",
                            crate::archive::with_causes(&e)
                        ),
                    ));
                }
            }
        }
    }
    // Sorting every sample for the percentiles: CPU work, off the runtime.
    let spec = cfg.spec.clone();
    blocking(move || part.report(&spec, from, to)).await
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))
}

pub(super) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Corrupt { .. } | StoreError::OutOfOrder { .. } => {
            tracing::error!(error = %e, "stored events do not read back or replay into a report");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_store", e.to_string())
        }
        StoreError::Unavailable(_) | StoreError::Closed | StoreError::Fenced { .. } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            format!("the store cannot be read now: {e}"),
        ),
    }
}

/// A hall's figures for a day or a range of business days: totals, and per
/// zone, service, window and staff member, with arrivals and waits by hour.
#[utoipa::path(get, path = "/api/v1/halls/{hall}/report", tag = "supervision",
    params(("hall" = String, Path, description = "The hall's id"), ReportQuery), security(("bearer" = [])),
    responses((status = 200, body = Report), (status = 400, body = ErrorDoc), (status = 401, body = ErrorDoc),
        (status = 403, body = ErrorDoc), (status = 404, body = ErrorDoc), (status = 503, body = ErrorDoc)))]
async fn json_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Json<Report>, ApiError> {
    report(&state, &headers, hall, q).await.map(Json)
}

/// The same report as a CSV download (UTF-8 with a byte-order mark;
/// durations in ms, as in the JSON).
#[utoipa::path(get, path = "/api/v1/halls/{hall}/report.csv", tag = "supervision",
    params(("hall" = String, Path, description = "The hall's id"), ReportQuery), security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", description = "One row per group and per hour"),
        (status = 400, body = ErrorDoc), (status = 401, body = ErrorDoc), (status = 403, body = ErrorDoc),
        (status = 404, body = ErrorDoc), (status = 503, body = ErrorDoc)))]
async fn csv_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    HallPath(hall): HallPath,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let r = report(&state, &headers, hall, q).await?;
    let name = format!("attachment; filename=\"hallcall-{}-{}-{}.csv\"", r.hall, r.from, r.to);
    let disposition = HeaderValue::from_str(&name)
        .unwrap_or_else(|_| HeaderValue::from_static("attachment; filename=\"report.csv\""));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        crate::report::to_csv(&r),
    )
        .into_response())
}
