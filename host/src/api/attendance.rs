//! Visits as they happen (`app/attendance.rs`): the front desk's day and its marks on each visit, and the
//! practice manager's list of reps the clinic's no-show limit pauses, with lifting a pause.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::access::{AsFrontDesk, AsManager};
use super::appointments::view;
use super::error::ApiError;
use super::extract::{JsonBody, QueryParams};
use super::model::AppointmentView;
use crate::app::{MarkRequest, PauseView};
use crate::domain::parse_date;

const ERROR: &str = "Error envelope: what happened and what to do";

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DayQuery {
    /// The clinic-local date (YYYY-MM-DD); default today.
    #[serde(default)]
    #[param(format = Date, pattern = "@date")]
    pub date: Option<String>,
}

/// The day's visits in time order, for the front desk.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DayView {
    /// The clinic-local date shown.
    pub date: String,
    pub timezone: String,
    pub visits: Vec<AppointmentView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PauseList {
    pub blocks: Vec<PauseView>,
}

#[utoipa::path(operation_id = "attendance_today", get, path = "/api/v1/clinics/{clinic}/today", tag = "attendance",
    summary = "The day's booked visits in time order, with each one's mark",
    params(("clinic" = String, Path, description = "Clinic id"), DayQuery),
    responses((status = 200, description = "Done", body = DayView), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn today(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(clinic): Path<String>,
    QueryParams(query): QueryParams<DayQuery>,
) -> Result<Json<DayView>, ApiError> {
    let date = query.date.as_deref().map(|d| parse_date("date", d)).transpose()?;
    let (clinic, date, visits) = state.app.day_of_visits(&clinic, date)?;
    Ok(Json(DayView {
        date: date.to_string(),
        timezone: clinic.timezone.clone(),
        visits: visits.into_iter().map(|v| view(&clinic, v)).collect(),
    }))
}

#[utoipa::path(operation_id = "attendance_mark", put, path = "/api/v1/appointments/{id}/attendance", tag = "attendance",
    summary = "Mark a visit of today: arrived, no_show (after its start) or clinic_unavailable",
    params(("id" = String, Path, description = "Appointment id")),
    request_body = MarkRequest,
    responses((status = 200, description = "Done", body = AppointmentView), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn mark(
    role: AsFrontDesk,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<MarkRequest>,
) -> Result<Json<AppointmentView>, ApiError> {
    let (clinic, marked) = state.app.mark_attendance(&role.caller.actor, &id, request.mark).await?;
    Ok(Json(view(&clinic, marked)))
}

#[utoipa::path(operation_id = "attendance_unmark", delete, path = "/api/v1/appointments/{id}/attendance", tag = "attendance",
    summary = "Take a mark back (on the visit's own day)",
    params(("id" = String, Path, description = "Appointment id")),
    responses((status = 200, description = "Done", body = AppointmentView), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn unmark(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AppointmentView>, ApiError> {
    let (clinic, unmarked) = state.app.unmark_attendance(&id).await?;
    Ok(Json(view(&clinic, unmarked)))
}

#[utoipa::path(operation_id = "no_show_blocks_list", get, path = "/api/v1/clinics/{clinic}/no-show-blocks", tag = "attendance",
    summary = "The reps the clinic's no-show limit pauses from booking through links, and until when",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = PauseList), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn blocks(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic): Path<String>,
) -> Result<Json<PauseList>, ApiError> {
    Ok(Json(PauseList {
        blocks: state.app.no_show_pauses(&clinic)?,
    }))
}

#[utoipa::path(operation_id = "no_show_blocks_lift", delete, path = "/api/v1/clinics/{clinic}/no-show-blocks/{id}", tag = "attendance",
    summary = "Lift a rep's pause: their no-shows so far are forgiven",
    params(("clinic" = String, Path, description = "Clinic id"), ("id" = String, Path, description = "The pause's id")),
    responses((status = 200, description = "Lifted", body = PauseView), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn lift(
    _role: AsManager,
    State(state): State<AppState>,
    Path((clinic, id)): Path<(String, String)>,
) -> Result<Json<PauseView>, ApiError> {
    Ok(Json(state.app.lift_no_show_pause(&clinic, &id)?))
}
