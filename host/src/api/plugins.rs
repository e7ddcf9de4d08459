//! Plugin routes: list, install (the component's bytes as the body), activate a version, roll back.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::AppState;
use super::error::ApiError;
use super::extract::JsonBody;
use super::model::{Activation, ActiveVersion, Installed, PluginList};
use crate::plugins::PluginError;

/// Components can be a few MiB; this route alone takes bodies this large.
pub const MAX_COMPONENT_BODY: usize = 32 << 20;

impl From<PluginError> for ApiError {
    fn from(error: PluginError) -> Self {
        let (status, code) = match &error {
            PluginError::NotInstalled(_) => (StatusCode::NOT_FOUND, "plugin_not_installed"),
            PluginError::UnknownVersion { .. } => (StatusCode::NOT_FOUND, "plugin_version_not_found"),
            PluginError::Compile(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_component"),
            PluginError::Incompatible(_) => (StatusCode::UNPROCESSABLE_ENTITY, "incompatible_component"),
            PluginError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_plugin"),
            PluginError::Conflict(_) => (StatusCode::CONFLICT, "plugin_conflict"),
            PluginError::Deadline { .. } => (StatusCode::SERVICE_UNAVAILABLE, "plugin_deadline"),
            PluginError::MemoryLimit { .. } => (StatusCode::SERVICE_UNAVAILABLE, "plugin_memory_limit"),
            PluginError::Trapped { .. } => (StatusCode::SERVICE_UNAVAILABLE, "plugin_crashed"),
            PluginError::Store(_) | PluginError::Cache(_) | PluginError::Engine(_) => {
                return ApiError::internal(error);
            }
        };
        ApiError::new(status, code, error.to_string())
    }
}

pub async fn list(State(state): State<AppState>) -> Result<Json<PluginList>, ApiError> {
    Ok(Json(PluginList {
        plugins: state.plugins.list()?,
    }))
}

pub async fn install(State(state): State<AppState>, body: Bytes) -> Result<(StatusCode, Json<Installed>), ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "empty_body",
            "send the component's bytes as the body (Content-Type: application/wasm)",
        ));
    }
    let outcome = state.plugins.install(&body).await?;
    let status = if outcome.already_installed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(outcome)))
}

pub async fn activate(
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Activation>,
) -> Result<Json<ActiveVersion>, ApiError> {
    state.plugins.activate(&name, &body.version).await?;
    Ok(Json(ActiveVersion {
        name,
        active_version: body.version,
    }))
}

pub async fn rollback(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ActiveVersion>, ApiError> {
    let version = state.plugins.rollback(&name).await?;
    Ok(Json(ActiveVersion {
        name,
        active_version: version,
    }))
}

pub async fn remove(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.plugins.remove(&name, &version).await?;
    Ok(StatusCode::NO_CONTENT)
}
