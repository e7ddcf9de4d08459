//! Medical staff routes: add and list practitioners; staff sync and mapping need a PMS connector.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::AppState;
use super::access::{AsFrontDesk, AsManager};
use super::error::ApiError;
use super::extract::JsonBody;
use super::model::{StaffList, StaffMapping, StaffSyncSummary, StaffSyncView};
use crate::domain::{NewPractitioner, PmsLinkState, Practitioner};

#[utoipa::path(operation_id = "staff_add", 
    post,
    path = "/api/v1/clinics/{clinic}/staff",
    tag = "staff",
    summary = "Add a practitioner",
    params(("clinic" = String, Path, description = "Clinic id")),
    request_body = NewPractitioner,
    responses((status = 201, description = "Created", body = Practitioner), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn add(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(new): JsonBody<NewPractitioner>,
) -> Result<(StatusCode, Json<Practitioner>), ApiError> {
    let practitioner = state.app.add_practitioner(&clinic_id, new).await?;
    Ok((StatusCode::CREATED, Json(practitioner)))
}

#[utoipa::path(operation_id = "staff_list", 
    get,
    path = "/api/v1/clinics/{clinic}/staff",
    tag = "staff",
    summary = "List practitioners with their PMS match",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = StaffList), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn list(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<StaffList>, ApiError> {
    Ok(Json(StaffList {
        staff: state.app.staff(&clinic_id)?,
    }))
}

#[utoipa::path(operation_id = "staff_sync", 
    post,
    path = "/api/v1/clinics/{clinic}/staff/sync",
    tag = "staff",
    summary = "Sync Staff: match practitioners to PMS users by AHPRA number",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = StaffSyncView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn sync(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<StaffSyncView>, ApiError> {
    let staff = state.sync.sync_staff(&clinic_id).await?;
    let count = |wanted: PmsLinkState| staff.iter().filter(|p| p.pms.state == wanted).count();
    Ok(Json(StaffSyncView {
        summary: StaffSyncSummary {
            synced: count(PmsLinkState::Synced),
            not_in_pms: count(PmsLinkState::NotInPms),
            ahpra_mismatch: count(PmsLinkState::AhpraMismatch),
            needs_mapping: count(PmsLinkState::NeedsMapping),
        },
        staff,
    }))
}

/// Maps a practitioner to a PMS user by hand.
#[utoipa::path(operation_id = "staff_map", 
    put,
    path = "/api/v1/clinics/{clinic}/staff/{id}/pms",
    tag = "staff",
    summary = "Map a practitioner to a PMS user by hand (null undoes it)",
    params(("clinic" = String, Path, description = "Clinic id"), ("id" = String, Path, description = "Practitioner id")),
    request_body = StaffMapping,
    responses((status = 200, description = "Done", body = Practitioner), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn map(
    _role: AsManager,
    State(state): State<AppState>,
    Path((clinic_id, staff_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<StaffMapping>,
) -> Result<Json<Practitioner>, ApiError> {
    Ok(Json(state.sync.map_staff(&clinic_id, &staff_id, body.user_id).await?))
}
