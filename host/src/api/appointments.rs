//! Appointment routes: book, list, show, move, cancel; resend needs a PMS connector.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use jiff::civil::Date;

use super::AppState;
use super::error::ApiError;
use super::extract::{JsonBody, QueryParams};
use super::model::{AppointmentList, AppointmentQuery, AppointmentView, ResendView};
use crate::domain::{Appointment, Clinic, MoveRequest, NewAppointment};
use crate::store::{AppointmentFilter, Store, StoreError};

fn parse_date(field: &'static str, text: &str) -> Result<Date, ApiError> {
    Ok(crate::domain::parse_date(field, text)?)
}

/// Appointments per page when the query does not say, and the most it may ask for.
pub const DEFAULT_PAGE: u32 = 500;
pub const MAX_PAGE: u32 = 1000;

/// A cursor names the last appointment of the page before: `<start, unix seconds>.<appointment id>`.
fn parse_cursor(text: &str) -> Result<(Timestamp, String), ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_cursor",
            "cursor is not one this server gave out; pass next_cursor from the previous page as it is",
        )
    };
    let (seconds, id) = text.split_once('.').ok_or_else(invalid)?;
    let start = seconds
        .parse::<i64>()
        .ok()
        .and_then(|s| Timestamp::from_second(s).ok())
        .ok_or_else(invalid)?;
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid());
    }
    Ok((start, id.to_string()))
}

/// The instant a clinic-local date starts (the first instant of that day, DST-safe).
fn start_of_day(clinic: &Clinic, date: Date) -> Result<Timestamp, ApiError> {
    date.to_zoned_datetime(clinic.tz()).map(|z| z.timestamp()).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            format!("date {date}: {e}"),
        )
    })
}

/// Views of appointments of one clinic, with their practitioners' names.
fn views(store: &Store, clinic: &Clinic, appointments: &[Appointment]) -> Result<Vec<AppointmentView>, StoreError> {
    let names: HashMap<String, String> = store
        .staff(&clinic.id)?
        .into_iter()
        .map(|p| (p.id.clone(), p.display_name()))
        .collect();
    Ok(appointments
        .iter()
        .map(|a| {
            let name = match &a.practitioner_id {
                Some(id) => names.get(id).cloned().unwrap_or_default(),
                None => "the clinic".to_string(),
            };
            AppointmentView::new(a, clinic, name)
        })
        .collect())
}

pub(super) fn view(store: &Store, clinic: &Clinic, appointment: &Appointment) -> Result<AppointmentView, StoreError> {
    Ok(views(store, clinic, std::slice::from_ref(appointment))?.remove(0))
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
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    QueryParams(query): QueryParams<AppointmentQuery>,
) -> Result<Json<AppointmentList>, ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    let from = match &query.from {
        Some(text) => start_of_day(&clinic, parse_date("from", text)?)?,
        None => state.clock.now(),
    };
    let to = match &query.to {
        Some(text) => {
            // The last date repbook takes is far from the end of jiff's range: its next day exists.
            let next = parse_date("to", text)?.tomorrow().unwrap_or(crate::domain::LAST_DATE);
            Some(start_of_day(&clinic, next)?)
        }
        None => None,
    };
    if let Some(to) = to
        && to <= from
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            "to is before from; list from an earlier date or to a later one",
        ));
    }
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            format!("limit {limit} must be between 1 and {MAX_PAGE}"),
        ));
    }
    let filter = AppointmentFilter {
        from: Some(from),
        to,
        status: query.status,
        after: query.cursor.as_deref().map(parse_cursor).transpose()?,
        limit: Some(limit as usize),
    };
    let appointments = state.store.appointments(&clinic.id, &filter)?;
    let next_cursor = (appointments.len() == limit as usize)
        .then(|| appointments.last().map(|a| format!("{}.{}", a.start.as_second(), a.id)))
        .flatten();
    Ok(Json(AppointmentList {
        appointments: views(&state.store, &clinic, &appointments)?,
        next_cursor,
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
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(new): JsonBody<NewAppointment>,
) -> Result<(StatusCode, Json<AppointmentView>), ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    let appointment = state.store.book_appointment(&clinic, new, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(view(&state.store, &clinic, &appointment)?)))
}

#[utoipa::path(operation_id = "appointments_show", 
    get,
    path = "/api/v1/appointments/{id}",
    tag = "appointments",
    summary = "Show an appointment with its PMS state",
    params(("id" = String, Path, description = "Appointment id")),
    responses((status = 200, description = "Done", body = AppointmentView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<AppointmentView>, ApiError> {
    let appointment = state.store.appointment(&id)?;
    let clinic = state.store.clinic(&appointment.clinic_id)?;
    Ok(Json(view(&state.store, &clinic, &appointment)?))
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
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<MoveRequest>,
) -> Result<Json<AppointmentView>, ApiError> {
    let clinic = state.store.clinic(&state.store.appointment(&id)?.clinic_id)?;
    let moved = state
        .store
        .move_appointment(&clinic, &id, change, state.clock.now())
        .await?;
    Ok(Json(view(&state.store, &clinic, &moved)?))
}

#[utoipa::path(operation_id = "appointments_cancel", 
    post,
    path = "/api/v1/appointments/{id}/cancel",
    tag = "appointments",
    summary = "Cancel an appointment (the PMS follows)",
    params(("id" = String, Path, description = "Appointment id")),
    responses((status = 200, description = "Done", body = AppointmentView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<AppointmentView>, ApiError> {
    let clinic = state.store.clinic(&state.store.appointment(&id)?.clinic_id)?;
    let cancelled = state.store.cancel_appointment(&clinic, &id, state.clock.now()).await?;
    Ok(Json(view(&state.store, &clinic, &cancelled)?))
}

#[utoipa::path(operation_id = "appointments_resend", 
    post,
    path = "/api/v1/appointments/{id}/resend",
    tag = "appointments",
    summary = "Send one future appointment to the PMS again, now",
    params(("id" = String, Path, description = "Appointment id")),
    responses((status = 200, description = "Done", body = ResendView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn resend(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<ResendView>, ApiError> {
    let (appointment, delivered) = state.sync.resend(&id).await?;
    let clinic = state.store.clinic(&appointment.clinic_id)?;
    Ok(Json(ResendView {
        appointment: view(&state.store, &clinic, &appointment)?,
        delivered,
    }))
}
