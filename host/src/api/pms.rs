//! PMS routes: the clinic's PMS settings, Validate, locations, Reset, Sync Appointments and sync status.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::JsonBody;
use super::views::ClinicView;
use crate::domain::{DomainError, PmsSettingsUpdate, PmsSyncState};
use crate::plugins::ConnectorFailure;
use crate::store::AppointmentFilter;
use crate::sync::SyncError;

impl From<SyncError> for ApiError {
    fn from(error: SyncError) -> Self {
        let code = error.code();
        let status = match &error {
            SyncError::NotConfigured(_) | SyncError::PractitionerNotMapped(_) => StatusCode::UNPROCESSABLE_ENTITY,
            SyncError::NoConnector(_) => StatusCode::SERVICE_UNAVAILABLE,
            SyncError::NotValidated(_) => StatusCode::CONFLICT,
            SyncError::Connector(failure) => match failure {
                ConnectorFailure::Conflict(_) => StatusCode::CONFLICT,
                ConnectorFailure::SiteOffline(_)
                | ConnectorFailure::RateLimited(_)
                | ConnectorFailure::UnknownOutcome(_)
                | ConnectorFailure::Transient(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            },
            SyncError::Plugin(_) | SyncError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let error = match error {
            SyncError::Plugin(inner) => return inner.into(),
            SyncError::Store(inner) => return inner.into(),
            other => other,
        };
        ApiError::new(status, code, error.to_string())
    }
}

pub async fn set(
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(mut update): JsonBody<PmsSettingsUpdate>,
) -> Result<Json<ClinicView>, ApiError> {
    // A location is chosen from the PMS's own list, so it is checked against that list and named from it.
    if let Some(Some(location_id)) = update.location_id {
        let locations = state.sync.locations(&clinic_id).await?;
        let location = locations.iter().find(|l| l.id == location_id).ok_or_else(|| {
            let known: Vec<String> = locations.iter().map(|l| format!("{} ({})", l.id, l.name)).collect();
            ApiError::from(DomainError::Invalid {
                field: "location_id",
                message: format!(
                    "location {location_id} is not one of the practice's locations: {}",
                    known.join(", ")
                ),
            })
        })?;
        update.location_name = Some(location.name.clone());
    }
    let (clinic, ()) = state
        .store
        .update_clinic(&clinic_id, |clinic| {
            clinic.pms.apply(update)?;
            Ok(())
        })
        .await?;
    Ok(Json((&clinic).into()))
}

pub async fn validate(State(state): State<AppState>, Path(clinic_id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.sync.validate(&clinic_id).await?)))
}

pub async fn locations(State(state): State<AppState>, Path(clinic_id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "locations": state.sync.locations(&clinic_id).await? })))
}

pub async fn reset(State(state): State<AppState>, Path(clinic_id): Path<String>) -> Result<Json<Value>, ApiError> {
    let (validation, requeued) = state.sync.reset(&clinic_id).await?;
    Ok(Json(json!({ "validation": validation, "requeued": requeued })))
}

pub async fn sync_all(
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let queued = state.sync.sync_all(&clinic_id).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "queued": queued }))))
}

pub async fn reconcile(State(state): State<AppState>, Path(clinic_id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.sync.reconcile(&clinic_id).await?)))
}

pub async fn retry_parked(
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let queued = state.sync.retry_parked(&clinic_id).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "queued": queued }))))
}

/// Where the clinic's appointments stand with the PMS, from the store, the outbox and the worker.
pub async fn sync_status(
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    let appointments = state.store.appointments(&clinic.id, &AppointmentFilter::default())?;
    let count = |wanted: PmsSyncState| appointments.iter().filter(|a| a.pms.state == wanted).count();
    let parked: Vec<Value> = appointments
        .iter()
        .filter(|a| a.pms.state == PmsSyncState::NeedsAttention)
        .map(|a| json!({"id": a.id, "reason": a.pms.reason}))
        .collect();
    let pending_ids: Vec<String> = state
        .store
        .outbox_entries()?
        .into_iter()
        .filter(|(_, e)| e.clinic_id == clinic.id)
        .map(|(_, e)| e.appointment_id)
        .collect();
    let outbox = pending_ids.len();
    let ids: Vec<String> = appointments.iter().map(|a| a.id.clone()).collect();
    Ok(Json(json!({
        "clinic_id": clinic.id,
        "pms_enabled": clinic.pms.is_active(),
        "connector": clinic.pms.connector,
        "connector_installed": state.sync.connector(&clinic).is_ok(),
        "outbox": outbox,
        "site": state.sync.site_status(&clinic.id),
        "in_flight": state.sync.in_flight_count(&ids),
        "next_retry_in_ms": state.sync.next_retry_ms(&pending_ids),
        "appointments": {
            "pending": count(PmsSyncState::Pending),
            "synced": count(PmsSyncState::Synced),
            "needs_attention": count(PmsSyncState::NeedsAttention),
            "not_applicable": count(PmsSyncState::NotApplicable),
        },
        "parked": parked,
    })))
}
