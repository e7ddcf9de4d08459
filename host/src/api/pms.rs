//! PMS routes: the clinic's PMS settings and sync status. The routes whose work needs a connector
//! (validate, locations, reset, sync) answer 503 until a connector can be installed.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::JsonBody;
use super::views::ClinicView;
use crate::domain::{PmsSettingsUpdate, PmsSyncState};
use crate::store::AppointmentFilter;

pub fn no_connector(action: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "no_connector",
        format!(
            "{action} needs a PMS connector, and none is installed: this repbook build has no connector runtime yet. \
             Settings and bookings are kept and will be sent once a connector is installed."
        ),
    )
}

pub async fn set(
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(update): JsonBody<PmsSettingsUpdate>,
) -> Result<Json<ClinicView>, ApiError> {
    let clinic = {
        let _guard = state.store.lock_clinic(&clinic_id).await;
        let mut clinic = state.store.clinic(&clinic_id)?;
        clinic.pms.apply(update)?;
        state.store.put_clinic(&clinic)?;
        clinic
    };
    state.store.durable().await?;
    Ok(Json((&clinic).into()))
}

pub async fn validate(State(state): State<AppState>, Path(clinic_id): Path<String>) -> Result<Json<Value>, ApiError> {
    state.store.clinic(&clinic_id)?;
    Err(no_connector("Validate"))
}

pub async fn locations(State(state): State<AppState>, Path(clinic_id): Path<String>) -> Result<Json<Value>, ApiError> {
    state.store.clinic(&clinic_id)?;
    Err(no_connector("Listing practice locations"))
}

pub async fn reset(State(state): State<AppState>, Path(clinic_id): Path<String>) -> Result<Json<Value>, ApiError> {
    state.store.clinic(&clinic_id)?;
    Err(no_connector("Reset connection"))
}

pub async fn sync_all(State(state): State<AppState>, Path(clinic_id): Path<String>) -> Result<Json<Value>, ApiError> {
    state.store.clinic(&clinic_id)?;
    Err(no_connector("Sync Appointments"))
}

/// Where the clinic's appointments stand with the PMS, counted from the store and the outbox.
pub async fn sync_status(
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    let appointments = state.store.appointments(&clinic.id, &AppointmentFilter::default())?;
    let count = |wanted: PmsSyncState| appointments.iter().filter(|a| a.pms.state == wanted).count();
    let outbox = state
        .store
        .outbox_entries()?
        .into_iter()
        .filter(|(_, e)| e.clinic_id == clinic.id)
        .count();
    Ok(Json(json!({
        "clinic_id": clinic.id,
        "pms_enabled": clinic.pms.is_active(),
        "connector": clinic.pms.connector,
        "connector_installed": false,
        "outbox": outbox,
        "appointments": {
            "pending": count(PmsSyncState::Pending),
            "synced": count(PmsSyncState::Synced),
            "needs_attention": count(PmsSyncState::NeedsAttention),
            "not_applicable": count(PmsSyncState::NotApplicable),
        },
    })))
}
