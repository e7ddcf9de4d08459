//! `GET /api/v1/backup`: a consistent copy of the running store, as a file `repbook restore` reads.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::access::AsOwner;
use super::error::ApiError;
use crate::store::backup::BackupError;

impl From<BackupError> for ApiError {
    fn from(error: BackupError) -> Self {
        match error {
            BackupError::Store(e) => e.into(),
            BackupError::Busy => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_busy",
                BackupError::Busy.to_string(),
            ),
            other => ApiError::internal(other),
        }
    }
}

#[utoipa::path(operation_id = "backup", get, path = "/api/v1/backup", tag = "operations",
    summary = "A consistent backup of the whole store (for `repbook restore`)",
    responses((status = 200, description = "The backup file", content_type = "application/octet-stream"),
        (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)))]
pub async fn backup(_role: AsOwner, State(state): State<AppState>) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let (header, bytes) = tokio::task::spawn_blocking(move || store.backup())
        .await
        .map_err(ApiError::internal)??;
    let name = format!("repbook-{}.backup", header.created.replace(':', ""));
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Ok(value) = HeaderValue::from_str(&serde_json::to_string(&header).unwrap_or_default()) {
        headers.insert("x-repbook-backup", value);
    }
    Ok(response)
}
