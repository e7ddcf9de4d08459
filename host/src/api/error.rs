//! The JSON error envelope and the mapping from inner errors to HTTP statuses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

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
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
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
        (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response()
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

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Domain(domain) => domain.into(),
            StoreError::NotFound { entity, .. } => {
                let code = match entity {
                    "clinic" => "clinic_not_found",
                    "practitioner" => "practitioner_not_found",
                    "appointment" => "appointment_not_found",
                    _ => "not_found",
                };
                ApiError::new(StatusCode::NOT_FOUND, code, error.to_string())
            }
            StoreError::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            other => ApiError::internal(other),
        }
    }
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
