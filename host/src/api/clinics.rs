//! Clinic routes: create, list, show, update, delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::AppState;
use super::access::{AsFrontDesk, AsManager, AsOwner, AsStaff};
use super::error::ApiError;
use super::extract::JsonBody;
use super::model::{ClinicList, ClinicView};
use crate::domain::{ClinicUpdate, NewClinic};

#[utoipa::path(operation_id = "clinics_create", 
    post,
    path = "/api/v1/clinics",
    tag = "clinics",
    summary = "Create a clinic",
    request_body = NewClinic,
    responses((status = 201, description = "Created", body = ClinicView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn create(
    _role: AsOwner,
    State(state): State<AppState>,
    JsonBody(new): JsonBody<NewClinic>,
) -> Result<(StatusCode, Json<ClinicView>), ApiError> {
    let clinic = state.app.create_clinic(new).await?;
    Ok((StatusCode::CREATED, Json((&clinic).into())))
}

#[utoipa::path(operation_id = "clinics_list", 
    get,
    path = "/api/v1/clinics",
    tag = "clinics",
    summary = "List the clinics the caller has a role at (an owner: all)",
    responses((status = 200, description = "Done", body = ClinicList), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn list(staff: AsStaff, State(state): State<AppState>) -> Result<Json<ClinicList>, ApiError> {
    let clinics = state
        .app
        .clinics()?
        .iter()
        .filter(|clinic| staff.actor().sees_clinic(&clinic.id))
        .map(ClinicView::from)
        .collect();
    Ok(Json(ClinicList { clinics }))
}

#[utoipa::path(operation_id = "clinics_show", 
    get,
    path = "/api/v1/clinics/{clinic}",
    tag = "clinics",
    summary = "Show a clinic with its PMS settings (secrets never shown)",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = ClinicView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn show(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ClinicView>, ApiError> {
    Ok(Json((&state.app.clinic(&id)?).into()))
}

#[utoipa::path(operation_id = "clinics_update", 
    patch,
    path = "/api/v1/clinics/{clinic}",
    tag = "clinics",
    summary = "Change a clinic: name, zone, state, duration, rep booking rules",
    params(("clinic" = String, Path, description = "Clinic id")),
    request_body = ClinicUpdate,
    responses((status = 200, description = "Done", body = ClinicView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn update(
    _role: AsManager,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<ClinicUpdate>,
) -> Result<Json<ClinicView>, ApiError> {
    let clinic = state.app.update_clinic(&id, change).await?;
    Ok(Json((&clinic).into()))
}

#[utoipa::path(operation_id = "clinics_delete", 
    delete,
    path = "/api/v1/clinics/{clinic}",
    tag = "clinics",
    summary = "Delete a clinic with nothing booked",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 204, description = "Done"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn delete(
    _role: AsOwner,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_clinic(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
