//! One error type for every route: domain refusals become 4xx with a
//! machine-readable code, internal failures 5xx with a generic message.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::engine::EngineError;
use crate::service::ServiceError;
use crate::shards::ShardError;

/// The error document every refusal answers with.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDoc {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable, as `window_busy` or `unknown_zone`.
    pub code: String,
    /// For people.
    pub message: String,
    /// `zone_closed`: when the zone next issues tickets, local time
    /// (`HH:MM` today, `YYYY-MM-DD HH:MM` on a later day).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opens: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// See [`ErrorDetail::opens`].
    pub opens: Option<String>,
    /// Seconds to wait before trying again (the `Retry-After` header).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            opens: None,
            retry_after: None,
        }
    }

    /// The same, with a `Retry-After` of `secs` (at least 1).
    pub fn retry_after(mut self, secs: f64) -> ApiError {
        self.retry_after = Some(secs.ceil().max(1.0) as u64);
        self
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// No valid credentials.
    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// Valid credentials, but not for this.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn too_many(retry_secs: f64) -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests: try again in {:.0} s", retry_secs.ceil().max(1.0)),
        )
        .retry_after(retry_secs)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": { "code": self.code, "message": self.message } });
        if let Some(opens) = self.opens {
            body["error"]["opens"] = json!(opens);
        }
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        }
        response
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = match e {
            EngineError::UnknownZone(_)
            | EngineError::UnknownService { .. }
            | EngineError::UnknownCategory(_)
            | EngineError::UnknownWindow(_)
            | EngineError::UnknownTicket(_)
            | EngineError::UnknownBooking(_)
            | EngineError::UnknownDevice(_) => StatusCode::NOT_FOUND,
            EngineError::BadAppointment
            | EngineError::TooLong(_)
            | EngineError::BadText(_)
            | EngineError::BadDevice(_)
            | EngineError::BadOutbox(_)
            | EngineError::BadPause(_) => StatusCode::UNPROCESSABLE_ENTITY,
            EngineError::Inconsistent(_) => {
                tracing::error!(error = %e, "engine inconsistency");
                return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error");
            }
            _ => StatusCode::CONFLICT,
        };
        let opens = e.opens().map(str::to_owned);
        ApiError {
            opens,
            ..ApiError::new(status, e.code(), e.to_string())
        }
    }
}

impl From<ShardError> for ApiError {
    fn from(e: ShardError) -> Self {
        match e {
            ShardError::UnknownHall(h) => ApiError::not_found("unknown_hall", format!("no hall {h}")),
            ShardError::Engine(e) => e.into(),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::UnknownHall(h) => ApiError::not_found("unknown_hall", format!("unknown hall {h}")),
            ServiceError::Moving(h) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "hall_moving",
                format!("hall {h} is moving between servers; nothing was changed, try again in a moment"),
            )
            .retry_after(1.0),
            ServiceError::Refused(e) => e.into(),
            ServiceError::Limit { code, message } => ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message),
            ServiceError::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            ServiceError::KeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                ServiceError::KeyReused.to_string(),
            ),
            ServiceError::Unconfirmed => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_slow",
                ServiceError::Unconfirmed.to_string(),
            )
            .retry_after(2.0),
            ServiceError::Unavailable(why) => {
                tracing::warn!(%why, "operation refused: store unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the store is unavailable; nothing was changed, try again shortly",
                )
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        // A body that did not arrive in time (see `serve`).
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(s) = source {
            if s.is::<tower_http::timeout::TimeoutError>() {
                return ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    "the request's body did not arrive in time",
                );
            }
            source = s.source();
        }
        let code = match e {
            JsonRejection::MissingJsonContentType(_) => "content_type",
            JsonRejection::JsonSyntaxError(_) => "malformed_json",
            JsonRejection::JsonDataError(_) => "invalid_body",
            _ if e.status() == StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            _ => "bad_body",
        };
        ApiError::new(e.status(), code, e.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_path", e.body_text())
    }
}
