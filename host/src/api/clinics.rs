//! Clinic routes: create, list, show, update, delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::AppState;
use super::error::ApiError;
use super::extract::JsonBody;
use super::model::{ClinicList, ClinicView};
use crate::domain::{Clinic, ClinicUpdate, NewClinic, new_id};
use crate::store::AppointmentFilter;

pub async fn create(
    State(state): State<AppState>,
    JsonBody(new): JsonBody<NewClinic>,
) -> Result<(StatusCode, Json<ClinicView>), ApiError> {
    let clinic = Clinic::create(new_id(), new, jiff::Timestamp::now())?;
    state.store.put_clinic(&clinic)?;
    state.store.durable().await?;
    Ok((StatusCode::CREATED, Json((&clinic).into())))
}

pub async fn list(State(state): State<AppState>) -> Result<Json<ClinicList>, ApiError> {
    let clinics = state.store.clinics()?.iter().map(ClinicView::from).collect();
    Ok(Json(ClinicList { clinics }))
}

pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<ClinicView>, ApiError> {
    Ok(Json((&state.store.clinic(&id)?).into()))
}

pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<ClinicUpdate>,
) -> Result<Json<ClinicView>, ApiError> {
    let clinic = {
        let _guard = state.store.lock_clinic(&id).await;
        let mut clinic = state.store.clinic(&id)?;
        if change
            .timezone
            .as_deref()
            .is_some_and(|zone| zone.trim() != clinic.timezone)
            && !state.store.appointments(&id, &AppointmentFilter::default())?.is_empty()
        {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "timezone_locked",
                "the clinic has appointments, whose local times were booked in its current zone; create a new clinic for another zone",
            ));
        }
        if let Some(Some(practitioner)) = &change.clinic_visit_practitioner_id {
            state.store.practitioner(&clinic.id, practitioner).map_err(|_| {
                ApiError::from(crate::domain::DomainError::Invalid {
                    field: "clinic_visit_practitioner_id",
                    message: format!(
                        "clinic_visit_practitioner_id '{practitioner}' is not a practitioner of this clinic; use the id of one of its staff"
                    ),
                })
            })?;
        }
        clinic.update(&change)?;
        state.store.put_clinic(&clinic)?;
        clinic
    };
    state.store.durable().await?;
    Ok(Json((&clinic).into()))
}

pub async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    {
        let _guard = state.store.lock_clinic(&id).await;
        state.store.delete_clinic(&id)?;
    }
    state.store.durable().await?;
    Ok(StatusCode::NO_CONTENT)
}
