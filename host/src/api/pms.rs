//! PMS routes: the clinic's PMS settings, Validate, locations, Reset, Sync Appointments and sync status.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::AppState;
use super::access::{AsFrontDesk, AsManager};
use super::error::ApiError;
use super::extract::{JsonBody, QueryParams};
use super::model::{ClinicView, LocationList, Queued, ResetView};
use crate::domain::PmsSettingsUpdate;
use crate::plugins::ConnectorFailure;
use crate::sync::{ReconcileReport, SyncError, SyncStatus, Validation};

impl From<SyncError> for ApiError {
    fn from(error: SyncError) -> Self {
        let code = error.code();
        let status = match &error {
            SyncError::NotConfigured(_) => StatusCode::CONFLICT,
            SyncError::PractitionerNotMapped(_) => StatusCode::UNPROCESSABLE_ENTITY,
            SyncError::NoConnector { .. } => StatusCode::SERVICE_UNAVAILABLE,
            SyncError::NotValidated(_) => StatusCode::CONFLICT,
            SyncError::SwitchRefused(_) => StatusCode::SERVICE_UNAVAILABLE,
            SyncError::Connector(failure) => match failure {
                ConnectorFailure::Conflict(_) => StatusCode::CONFLICT,
                ConnectorFailure::SiteOffline(_)
                | ConnectorFailure::RateLimited(_)
                | ConnectorFailure::UnknownOutcome(_)
                | ConnectorFailure::Transient(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            },
            SyncError::Plugin(_) | SyncError::Store(_) | SyncError::Invalid(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        match error {
            SyncError::Plugin(inner) => inner.into(),
            SyncError::Store(inner) => inner.into(),
            SyncError::Invalid(inner) => inner.into(),
            other => ApiError::new(status, code, other.to_string()),
        }
    }
}

#[utoipa::path(operation_id = "pms_set", 
    put,
    path = "/api/v1/clinics/{clinic}/pms",
    tag = "pms",
    summary = "Set the PMS connection (only the fields given change)",
    params(("clinic" = String, Path, description = "Clinic id")),
    request_body = PmsSettingsUpdate,
    responses((status = 200, description = "Done", body = ClinicView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn set(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(update): JsonBody<PmsSettingsUpdate>,
) -> Result<Json<ClinicView>, ApiError> {
    Ok(Json((&state.app.set_pms(&clinic_id, update).await?).into()))
}

#[utoipa::path(operation_id = "pms_validate", 
    post,
    path = "/api/v1/clinics/{clinic}/pms/validate",
    tag = "pms",
    summary = "Validate the Site ID with the PMS and list practice locations",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = crate::sync::Validation), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn validate(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<Validation>, ApiError> {
    Ok(Json(state.sync.validate(&clinic_id).await?))
}

#[utoipa::path(operation_id = "pms_locations", 
    get,
    path = "/api/v1/clinics/{clinic}/pms/locations",
    tag = "pms",
    summary = "Practice locations the PMS offers (after a valid Validate)",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = LocationList), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn locations(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<LocationList>, ApiError> {
    Ok(Json(LocationList {
        locations: state.sync.locations(&clinic_id).await?,
    }))
}

#[utoipa::path(operation_id = "pms_reset", 
    post,
    path = "/api/v1/clinics/{clinic}/pms/reset",
    tag = "pms",
    summary = "Reset the connection: forget the site, validate again, re-send what is pending",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = ResetView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn reset(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<ResetView>, ApiError> {
    let (validation, requeued) = state.sync.reset(&clinic_id).await?;
    Ok(Json(ResetView { validation, requeued }))
}

#[utoipa::path(operation_id = "pms_sync_all", 
    post,
    path = "/api/v1/clinics/{clinic}/sync",
    tag = "sync",
    summary = "Sync Appointments: queue every future appointment for the PMS",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 202, description = "Accepted: queued for the PMS", body = Queued), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn sync_all(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    let queued = state.sync.sync_all(&clinic_id).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { queued })))
}

#[utoipa::path(operation_id = "pms_reconcile", 
    post,
    path = "/api/v1/clinics/{clinic}/sync/reconcile",
    tag = "sync",
    summary = "Compare the PMS with repbook and repair the PMS",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = crate::sync::ReconcileReport), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn reconcile(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<ReconcileReport>, ApiError> {
    Ok(Json(state.sync.reconcile(&clinic_id).await?))
}

#[utoipa::path(operation_id = "pms_retry_parked", 
    post,
    path = "/api/v1/clinics/{clinic}/sync/retry-parked",
    tag = "sync",
    summary = "Queue again every appointment parked as needing attention",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 202, description = "Accepted: queued for the PMS", body = Queued), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn retry_parked(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    let queued = state.sync.retry_parked(&clinic_id).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { queued })))
}

#[utoipa::path(operation_id = "pms_sync_status", 
    get,
    path = "/api/v1/clinics/{clinic}/sync",
    tag = "sync",
    summary = "Pending, in flight, parked (with reasons), site health",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = crate::sync::SyncStatus), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn sync_status(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<SyncStatus>, ApiError> {
    Ok(Json(state.sync.status(&clinic_id)?))
}

#[utoipa::path(operation_id = "pms_doctor",
    get,
    path = "/api/v1/clinics/{clinic}/doctor",
    tag = "sync",
    summary = "Check a clinic the way the seed troubleshoots: connector, site, online, location, staff, parked, clock, disk",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = crate::app::DoctorReport), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn doctor(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<crate::app::DoctorReport>, ApiError> {
    Ok(Json(state.app.doctor(&clinic_id).await?))
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SwitchQuery {
    /// The connector to switch to, e.g. caldav.
    #[param(min_length = 1, max_length = 64, pattern = "@line")]
    pub to: String,
}

#[utoipa::path(operation_id = "pms_switch_preview",
    get,
    path = "/api/v1/clinics/{clinic}/pms/switch",
    tag = "pms",
    summary = "What switching to another connector would do, and the choices for the old PMS's appointments",
    params(("clinic" = String, Path, description = "Clinic id"), SwitchQuery),
    responses((status = 200, description = "Done", body = crate::sync::SwitchPreview), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn switch_preview(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    QueryParams(query): QueryParams<SwitchQuery>,
) -> Result<Json<crate::sync::SwitchPreview>, ApiError> {
    Ok(Json(state.sync.switch_preview(&clinic_id, &query.to)?))
}

#[utoipa::path(operation_id = "pms_switch",
    post,
    path = "/api/v1/clinics/{clinic}/pms/switch",
    tag = "pms",
    summary = "Switch the clinic to another connector, leaving or cancelling what the old PMS holds",
    params(("clinic" = String, Path, description = "Clinic id")),
    request_body = crate::sync::SwitchRequest,
    responses((status = 200, description = "Done", body = crate::sync::SwitchResult), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn switch(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(request): JsonBody<crate::sync::SwitchRequest>,
) -> Result<Json<crate::sync::SwitchResult>, ApiError> {
    Ok(Json(state.sync.switch_connector(&clinic_id, request).await?))
}

#[utoipa::path(operation_id = "pms_availability",
    get,
    path = "/api/v1/clinics/{clinic}/availability",
    tag = "pms",
    summary = "When each doctor's PMS diary was last read, and the last error reading it",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = crate::app::AvailabilityView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn availability(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<crate::app::AvailabilityView>, ApiError> {
    Ok(Json(state.app.availability_view(&clinic_id)?))
}

#[utoipa::path(operation_id = "pms_refresh_availability",
    post,
    path = "/api/v1/clinics/{clinic}/availability/refresh",
    tag = "pms",
    summary = "Read the stale days of the doctors' PMS diaries now",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = crate::app::AvailabilityView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn refresh_availability(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<crate::app::AvailabilityView>, ApiError> {
    Ok(Json(state.app.refresh_availability(&clinic_id).await?))
}
