//! Medical staff routes: add and list practitioners; staff sync and mapping need a PMS connector.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::AppState;
use super::error::ApiError;
use super::extract::JsonBody;
use super::model::{StaffList, StaffMapping, StaffSyncSummary, StaffSyncView};
use crate::domain::{NewPractitioner, PmsLinkState, Practitioner, new_id};

pub async fn add(
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(new): JsonBody<NewPractitioner>,
) -> Result<(StatusCode, Json<Practitioner>), ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    let practitioner = Practitioner::create(new_id(), clinic.id.clone(), new)?;
    {
        let _guard = state.store.lock_clinic(&clinic.id).await;
        state.store.add_practitioner(&practitioner)?;
    }
    state.store.durable().await?;
    Ok((StatusCode::CREATED, Json(practitioner)))
}

pub async fn list(State(state): State<AppState>, Path(clinic_id): Path<String>) -> Result<Json<StaffList>, ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    Ok(Json(StaffList {
        staff: state.store.staff(&clinic.id)?,
    }))
}

pub async fn sync(
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
pub async fn map(
    State(state): State<AppState>,
    Path((clinic_id, staff_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<StaffMapping>,
) -> Result<Json<Practitioner>, ApiError> {
    Ok(Json(state.sync.map_staff(&clinic_id, &staff_id, body.user_id).await?))
}
