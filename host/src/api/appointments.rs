//! Appointment routes: book, list, show, move, cancel, resend, and the approval queue's decisions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::AppState;
use super::access::AsFrontDesk;
use super::error::ApiError;
use super::extract::{JsonBody, QueryParams};
use super::model::{AppointmentList, AppointmentQuery, AppointmentView, ResendView};
use crate::app::{Cursor, ListAppointments, Listed};
use crate::domain::{Clinic, MoveRequest, NewAppointment};

pub(super) fn view(clinic: &Clinic, listed: Listed) -> AppointmentView {
    AppointmentView::new(&listed.appointment, clinic, listed.with, listed.pms)
}

#[utoipa::path(operation_id = "appointments_list", 
    get,
    path = "/api/v1/clinics/{clinic}/appointments",
    tag = "appointments",
    summary = "List a clinic's appointments (status=requested is the approval queue)",
    params(("clinic" = String, Path, description = "Clinic id"), AppointmentQuery),
    responses((status = 200, description = "Done", body = AppointmentList), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn list(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    QueryParams(query): QueryParams<AppointmentQuery>,
) -> Result<Json<AppointmentList>, ApiError> {
    let date = |field, text: &Option<String>| text.as_deref().map(|t| crate::domain::parse_date(field, t)).transpose();
    let cursor = match &query.cursor {
        Some(text) => Some(Cursor::parse(text).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_cursor",
                "cursor is not one this server gave out; pass next_cursor from the previous page as it is",
            )
        })?),
        None => None,
    };
    let page = state.app.list_appointments(
        &clinic_id,
        ListAppointments {
            from: date("from", &query.from)?,
            to: date("to", &query.to)?,
            status: query.status,
            cursor,
            limit: query.limit,
        },
    )?;
    let clinic = &page.clinic;
    Ok(Json(AppointmentList {
        appointments: page.appointments.into_iter().map(|a| view(clinic, a)).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(operation_id = "appointments_book", 
    post,
    path = "/api/v1/clinics/{clinic}/appointments",
    tag = "appointments",
    summary = "Book a rep visit (staff)",
    params(("clinic" = String, Path, description = "Clinic id")),
    request_body = NewAppointment,
    responses((status = 201, description = "Created", body = AppointmentView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn book(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(new): JsonBody<NewAppointment>,
) -> Result<(StatusCode, Json<AppointmentView>), ApiError> {
    let (clinic, booked) = state.app.book(&clinic_id, new).await?;
    Ok((StatusCode::CREATED, Json(view(&clinic, booked))))
}

#[utoipa::path(operation_id = "appointments_show", 
    get,
    path = "/api/v1/appointments/{id}",
    tag = "appointments",
    summary = "Show an appointment with its PMS state",
    params(("id" = String, Path, description = "Appointment id")),
    responses((status = 200, description = "Done", body = AppointmentView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn show(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AppointmentView>, ApiError> {
    let (clinic, shown) = state.app.appointment(&id)?;
    Ok(Json(view(&clinic, shown)))
}

#[utoipa::path(operation_id = "appointments_reschedule", 
    patch,
    path = "/api/v1/appointments/{id}",
    tag = "appointments",
    summary = "Move an appointment to a new start and/or length",
    params(("id" = String, Path, description = "Appointment id")),
    request_body = MoveRequest,
    responses((status = 200, description = "Done", body = AppointmentView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn reschedule(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<MoveRequest>,
) -> Result<Json<AppointmentView>, ApiError> {
    let (clinic, moved) = state.app.move_appointment(&id, change).await?;
    Ok(Json(view(&clinic, moved)))
}

#[utoipa::path(operation_id = "appointments_cancel", 
    post,
    path = "/api/v1/appointments/{id}/cancel",
    tag = "appointments",
    summary = "Cancel an appointment (the PMS follows)",
    params(("id" = String, Path, description = "Appointment id")),
    responses((status = 200, description = "Done", body = AppointmentView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn cancel(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AppointmentView>, ApiError> {
    let (clinic, cancelled) = state.app.cancel_appointment(&id).await?;
    Ok(Json(view(&clinic, cancelled)))
}

#[utoipa::path(operation_id = "appointments_resend", 
    post,
    path = "/api/v1/appointments/{id}/resend",
    tag = "appointments",
    summary = "Send one future appointment to the PMS again, now",
    params(("id" = String, Path, description = "Appointment id")),
    responses((status = 200, description = "Done", body = ResendView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn resend(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ResendView>, ApiError> {
    let (clinic, resent, delivered) = state.app.resend(&id).await?;
    Ok(Json(ResendView {
        appointment: view(&clinic, resent),
        delivered,
    }))
}

#[utoipa::path(operation_id = "published_approve", 
    post,
    path = "/api/v1/appointments/{id}/approve",
    tag = "appointments",
    summary = "Approve a requested visit: booked, and sent to the PMS",
    params(("id" = String, Path, description = "Appointment id")),
    responses((status = 200, description = "Done", body = AppointmentView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn approve(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AppointmentView>, ApiError> {
    let (clinic, approved) = state.app.approve(&id).await?;
    Ok(Json(view(&clinic, approved)))
}

#[utoipa::path(operation_id = "published_decline", 
    post,
    path = "/api/v1/appointments/{id}/decline",
    tag = "appointments",
    summary = "Decline a requested visit: its slot is free again",
    params(("id" = String, Path, description = "Appointment id")),
    responses((status = 200, description = "Done", body = AppointmentView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn decline(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AppointmentView>, ApiError> {
    let (clinic, declined) = state.app.decline(&id).await?;
    Ok(Json(view(&clinic, declined)))
}
