//! Appointment routes: book, list, show, move, cancel; resend needs a PMS connector.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{JsonBody, QueryParams};
use super::views::AppointmentView;
use crate::domain::{AppointmentStatus, Clinic, MoveRequest, NewAppointment};
use crate::store::AppointmentFilter;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// First clinic-local date to include (YYYY-MM-DD). Without it, only appointments from now on are listed.
    from: Option<String>,
    /// Last clinic-local date to include (YYYY-MM-DD).
    to: Option<String>,
    status: Option<AppointmentStatus>,
}

fn parse_date(field: &str, text: &str) -> Result<Date, ApiError> {
    text.parse().map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            format!("{field} '{text}' is not a date; write YYYY-MM-DD"),
        )
    })
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

pub async fn list(
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    let from = match &query.from {
        Some(text) => start_of_day(&clinic, parse_date("from", text)?)?,
        None => Timestamp::now(),
    };
    let to = match &query.to {
        Some(text) => {
            let date = parse_date("to", text)?;
            let next = date
                .tomorrow()
                .map_err(|_| ApiError::bad_request("invalid_query", "to is out of range"))?;
            Some(start_of_day(&clinic, next)?)
        }
        None => None,
    };
    let filter = AppointmentFilter {
        from: Some(from),
        to,
        status: query.status,
    };
    let appointments: Vec<AppointmentView> = state
        .store
        .appointments(&clinic.id, &filter)?
        .iter()
        .map(|a| AppointmentView::new(a, &clinic))
        .collect();
    Ok(Json(json!({ "appointments": appointments })))
}

pub async fn book(
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(new): JsonBody<NewAppointment>,
) -> Result<(StatusCode, Json<AppointmentView>), ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    let appointment = state.store.book_appointment(&clinic, new, Timestamp::now()).await?;
    state.sync.notify();
    Ok((StatusCode::CREATED, Json(AppointmentView::new(&appointment, &clinic))))
}

pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<AppointmentView>, ApiError> {
    let appointment = state.store.appointment(&id)?;
    let clinic = state.store.clinic(&appointment.clinic_id)?;
    Ok(Json(AppointmentView::new(&appointment, &clinic)))
}

pub async fn reschedule(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<MoveRequest>,
) -> Result<Json<AppointmentView>, ApiError> {
    let clinic = state.store.clinic(&state.store.appointment(&id)?.clinic_id)?;
    let moved = state
        .store
        .move_appointment(&clinic, &id, change, Timestamp::now())
        .await?;
    Ok(Json(AppointmentView::new(&moved, &clinic)))
}

pub async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<AppointmentView>, ApiError> {
    let clinic = state.store.clinic(&state.store.appointment(&id)?.clinic_id)?;
    let cancelled = state.store.cancel_appointment(&clinic, &id, Timestamp::now()).await?;
    state.sync.notify();
    Ok(Json(AppointmentView::new(&cancelled, &clinic)))
}

pub async fn resend(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let (appointment, delivered) = state.sync.resend(&id).await?;
    let clinic = state.store.clinic(&appointment.clinic_id)?;
    Ok(Json(
        json!({ "appointment": AppointmentView::new(&appointment, &clinic), "delivered": delivered }),
    ))
}
