//! Plugin routes: list, install (the component's bytes as the body), activate a version, roll back.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::AppState;
use super::access::{AsAnyManager, AsOwner};
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
            PluginError::Unloadable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "plugin_unloadable"),
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

#[utoipa::path(operation_id = "plugins_list", 
    get,
    path = "/api/v1/plugins",
    tag = "plugins",
    summary = "Installed connectors, their versions and settings",
    responses((status = 200, description = "Done", body = PluginList), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn list(_role: AsAnyManager, State(state): State<AppState>) -> Result<Json<PluginList>, ApiError> {
    Ok(Json(PluginList {
        plugins: state.plugins.list()?,
    }))
}

#[utoipa::path(operation_id = "plugins_install", 
    post,
    path = "/api/v1/plugins",
    tag = "plugins",
    summary = "Install a connector component (the body is the .wasm file)",
    request_body(content = Vec<u8>, content_type = "application/wasm", description = "The component (.wasm)"),
    responses((status = 201, description = "Created", body = Installed), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn install(
    _role: AsOwner,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Installed>), ApiError> {
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

#[utoipa::path(operation_id = "plugins_activate", 
    post,
    path = "/api/v1/plugins/{name}/activate",
    tag = "plugins",
    summary = "Switch every clinic using a connector to a version, without a restart",
    params(("name" = String, Path)),
    request_body = Activation,
    responses((status = 200, description = "Done", body = ActiveVersion), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn activate(
    _role: AsOwner,
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

#[utoipa::path(operation_id = "plugins_rollback", 
    post,
    path = "/api/v1/plugins/{name}/rollback",
    tag = "plugins",
    summary = "Go back to the previously active version",
    params(("name" = String, Path)),
    responses((status = 200, description = "Done", body = ActiveVersion), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn rollback(
    _role: AsOwner,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ActiveVersion>, ApiError> {
    let version = state.plugins.rollback(&name).await?;
    Ok(Json(ActiveVersion {
        name,
        active_version: version,
    }))
}

#[utoipa::path(operation_id = "plugins_remove", 
    delete,
    path = "/api/v1/plugins/{name}/versions/{version}",
    tag = "plugins",
    summary = "Remove an inactive version",
    params(("name" = String, Path), ("version" = String, Path)),
    responses((status = 204, description = "Done"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn remove(
    _role: AsOwner,
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.plugins.remove(&name, &version).await?;
    Ok(StatusCode::NO_CONTENT)
}
