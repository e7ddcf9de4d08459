//! The JSON error envelope and the mapping from inner errors to HTTP statuses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppError;
use crate::domain::{DomainError, ErrorKind};
use crate::store::StoreError;

/// The error envelope every refusal carries, as the OpenAPI document describes it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// snake_case, stable: what scripts match on.
    pub code: String,
    /// What happened and what to do, for people.
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds a client should wait before asking again (a `Retry-After` header).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A failure inside the server: the client gets a reference to quote (the request's id, which its log
    /// lines carry too), the log gets the detail.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let reference = super::observe::current_request_id().unwrap_or_else(|| ulid::Ulid::new().to_string());
        tracing::error!(%reference, detail = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            format!("internal error, reference {reference}; the server's log has the detail"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() && self.code != "internal_error" {
            tracing::warn!(code = self.code, message = %self.message, "request failed");
        }
        let mut response = (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        let status = match error.kind() {
            ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Conflict => StatusCode::CONFLICT,
        };
        ApiError::new(status, error.code(), error.to_string())
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::LinkNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", AppError::LinkNotFound.to_string())
            }
            AppError::LinkDailyCap(message) => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "link_daily_cap", message),
            AppError::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            AppError::Domain(error) => error.into(),
            AppError::Store(error) => error.into(),
            AppError::Sync(error) => error.into(),
            error @ AppError::MailRefused(_) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "mail_refused", error.to_string())
            }
            AppError::Unauthenticated { code, message } => ApiError::new(StatusCode::UNAUTHORIZED, code, message),
            AppError::Forbidden { code, message } => ApiError::new(StatusCode::FORBIDDEN, code, message),
            AppError::Gone { code, message } => ApiError::new(StatusCode::GONE, code, message),
            AppError::DeadLink { code, message } => ApiError::new(StatusCode::NOT_FOUND, code, message),
            error @ AppError::Throttled { wait_secs } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", error.to_string())
                    .with_retry_after(wait_secs)
            }
            AppError::Passkey(error) => {
                use crate::identity::passkeys::PasskeyError;
                let (status, code) = match &error {
                    PasskeyError::Unavailable => (StatusCode::CONFLICT, "passkeys_unavailable"),
                    PasskeyError::UnknownCeremony => (StatusCode::CONFLICT, "passkey_step_expired"),
                    PasskeyError::Malformed(_) | PasskeyError::Refused(_) | PasskeyError::UnknownKey => {
                        (StatusCode::UNAUTHORIZED, "passkey_refused")
                    }
                };
                ApiError::new(status, code, error.to_string())
            }
            AppError::Sso(error) => {
                use crate::identity::oidc::OidcError;
                let status = match &error {
                    OidcError::Unreachable { .. } => StatusCode::BAD_GATEWAY,
                    OidcError::Discovery { .. } => StatusCode::BAD_GATEWAY,
                    OidcError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                    _ => StatusCode::UNAUTHORIZED,
                };
                ApiError::new(status, error.code(), error.to_string())
            }
            error @ (AppError::Random(_) | AppError::Password(_) | AppError::Totp(_)) => ApiError::internal(error),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { entity, .. } => {
                let code = match entity {
                    "clinic" => "clinic_not_found",
                    "person" => "person_not_found",
                    "practitioner" => "practitioner_not_found",
                    "appointment" => "appointment_not_found",
                    _ => "not_found",
                };
                ApiError::new(StatusCode::NOT_FOUND, code, error.to_string())
            }
            StoreError::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            // The disk refused a write: the client must not take this request as done.
            StoreError::Flush(_) | StoreError::Sled(sled::Error::Io(_)) => {
                tracing::error!(%error, "write not made durable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the server's disk cannot take writes right now, so this was not saved; try again in a minute",
                )
            }
            other => ApiError::internal(other),
        }
    }
}

/// The longest path and query the server reads, and the most header bytes: past them the answer is 414 or
/// 431 in the envelope (hyper's own, bodiless refusal only starts far beyond, at its buffer size).
pub const MAX_URI_BYTES: usize = 8 * 1024;
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The stable code of a status whose refusal came from the framework rather than a handler.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "no_such_route",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_input",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        s if s.is_server_error() => "internal_error",
        _ => "request_refused",
    }
}

fn default_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            "this route does not take that method; the Allow header lists the ones it takes"
        }
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large; send less",
        StatusCode::NOT_FOUND => "no such route: check the method and the path",
        _ => "the request was refused",
    }
}

/// Middleware: every refusal speaks the envelope. Refusals from the framework (405, an unparsable path
/// segment, a body that failed to arrive, a too-large body) come as plain text or empty; they are rewritten
/// with their text as the message. Pages (HTML) and the envelope itself pass through untouched. Over-long
/// URIs and header blocks are refused here, before any handler.
pub async fn envelope(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri_bytes = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_bytes > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the path and query are {uri_bytes} bytes; at most {MAX_URI_BYTES} are read"),
        )
        .into_response();
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES || request.headers().len() > 100 {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "the request carries {} headers, {header_bytes} bytes; at most 100 headers and {MAX_HEADER_BYTES} bytes are read",
                request.headers().len()
            ),
        )
        .into_response();
    }
    let mut response = next.run(request).await;
    let status = response.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of that body is never read: the connection cannot carry another request, and a client
        // that is told so does not try.
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json") || content_type.starts_with("text/html") {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let message = if text.is_empty() {
        default_message(status).to_string()
    } else {
        text
    };
    let rewritten = ApiError::new(status, code_of(status), message).into_response();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.remove(axum::http::header::CONTENT_TYPE);
    let (new_parts, body) = rewritten.into_parts();
    parts.headers.extend(new_parts.headers);
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_500_carries_a_reference_and_no_internals() {
        let error: ApiError = StoreError::Corrupt {
            what: "appointment",
            message: "expected value at line 1 column 1 in /var/lib/repbook/store".into(),
        }
        .into();
        assert_eq!(error.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            error.message.starts_with("internal error, reference "),
            "{}",
            error.message
        );
        assert!(
            !error.message.contains("/var/lib") && !error.message.contains("appointment"),
            "{}",
            error.message
        );
    }

    #[tokio::test]
    async fn a_500_quotes_the_request_id_its_log_lines_carry() {
        let request = axum::http::Request::builder()
            .uri("/boom")
            .header(super::super::observe::REQUEST_ID, "req-123")
            .body(axum::body::Body::empty())
            .unwrap();
        let app = axum::Router::new()
            .route(
                "/boom",
                axum::routing::get(|| async { ApiError::internal("disk on fire") }),
            )
            .layer(axum::middleware::from_fn(super::super::observe::observe));
        let response = tower::ServiceExt::oneshot(app, request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()["x-request-id"], "req-123");
        let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("reference req-123"), "{text}");
        assert!(!text.contains("disk on fire"), "{text}");
    }
}
