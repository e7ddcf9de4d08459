//! Admin routes for the times a clinic offers reps: visitor categories, weekly times and closed dates.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::access::{AsFrontDesk, AsManager};
use super::error::ApiError;
use super::extract::JsonBody;
use crate::app::NamedTime;
use crate::domain::{ClosedDate, NewCategory, NewClosedDate, NewPublishedTime, VisitorCategory, weekday_name};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CategoryList {
    pub categories: Vec<VisitorCategory>,
}

/// A published time as the API shows it: weekday and times as people write them, and who it is with.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimeView {
    pub id: String,
    pub weekday: String,
    pub start: String,
    pub end: String,
    pub slot_minutes: u32,
    pub practitioner_id: Option<String>,
    /// "Dr Ana Ng", or "the clinic".
    pub with: String,
    pub categories: Vec<String>,
    pub approval_required: bool,
    pub from: Option<String>,
    pub until: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimeList {
    pub times: Vec<TimeView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClosedList {
    pub closed: Vec<ClosedDate>,
}

fn hhmm(time: jiff::civil::Time) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}

fn time_view(NamedTime { time, with }: NamedTime) -> TimeView {
    TimeView {
        id: time.id.clone(),
        weekday: weekday_name(time.weekday).to_string(),
        start: hhmm(time.start),
        end: hhmm(time.end),
        slot_minutes: time.slot_minutes,
        practitioner_id: time.practitioner_id.clone(),
        with,
        categories: time.categories.clone(),
        approval_required: time.approval_required,
        from: time.from.map(|d| d.to_string()),
        until: time.until.map(|d| d.to_string()),
    }
}

#[utoipa::path(operation_id = "published_list_categories", 
    get,
    path = "/api/v1/clinics/{clinic}/categories",
    tag = "publishing",
    summary = "Visitor categories",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = CategoryList), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn list_categories(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<CategoryList>, ApiError> {
    Ok(Json(CategoryList {
        categories: state.app.categories(&clinic_id)?,
    }))
}

#[utoipa::path(operation_id = "published_add_category", 
    post,
    path = "/api/v1/clinics/{clinic}/categories",
    tag = "publishing",
    summary = "Add a visitor category",
    params(("clinic" = String, Path, description = "Clinic id")),
    request_body = NewCategory,
    responses((status = 201, description = "Created", body = VisitorCategory), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn add_category(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(new): JsonBody<NewCategory>,
) -> Result<(StatusCode, Json<VisitorCategory>), ApiError> {
    let category = state.app.add_category(&clinic_id, new).await?;
    Ok((StatusCode::CREATED, Json(category)))
}

#[utoipa::path(operation_id = "published_remove_category", 
    delete,
    path = "/api/v1/clinics/{clinic}/categories/{id}",
    tag = "publishing",
    summary = "Remove a category no time or live link uses",
    params(("clinic" = String, Path, description = "Clinic id"), ("id" = String, Path, description = "Category id")),
    responses((status = 204, description = "Done"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn remove_category(
    _role: AsManager,
    State(state): State<AppState>,
    Path((clinic_id, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.remove_category(&clinic_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(operation_id = "published_list_times", 
    get,
    path = "/api/v1/clinics/{clinic}/times",
    tag = "publishing",
    summary = "Weekly rep-visit times",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = TimeList), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn list_times(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<TimeList>, ApiError> {
    let mut times: Vec<TimeView> = state.app.times(&clinic_id)?.into_iter().map(time_view).collect();
    let order = |d: &str| {
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .position(|x| *x == d)
    };
    times.sort_by(|a, b| (order(&a.weekday), &a.start).cmp(&(order(&b.weekday), &b.start)));
    Ok(Json(TimeList { times }))
}

#[utoipa::path(operation_id = "published_add_time", 
    post,
    path = "/api/v1/clinics/{clinic}/times",
    tag = "publishing",
    summary = "Publish a weekly rep-visit time",
    params(("clinic" = String, Path, description = "Clinic id")),
    request_body = NewPublishedTime,
    responses((status = 201, description = "Created", body = TimeView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn add_time(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(new): JsonBody<NewPublishedTime>,
) -> Result<(StatusCode, Json<TimeView>), ApiError> {
    let added = state.app.add_time(&clinic_id, new).await?;
    Ok((StatusCode::CREATED, Json(time_view(added))))
}

#[utoipa::path(operation_id = "published_remove_time", 
    delete,
    path = "/api/v1/clinics/{clinic}/times/{id}",
    tag = "publishing",
    summary = "Stop publishing a time (bookings stay)",
    params(("clinic" = String, Path, description = "Clinic id"), ("id" = String, Path, description = "Time id")),
    responses((status = 204, description = "Done"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn remove_time(
    _role: AsManager,
    State(state): State<AppState>,
    Path((clinic_id, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.remove_time(&clinic_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(operation_id = "published_list_closed", 
    get,
    path = "/api/v1/clinics/{clinic}/closed",
    tag = "publishing",
    summary = "Closed dates",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = ClosedList), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn list_closed(
    _role: AsFrontDesk,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<ClosedList>, ApiError> {
    Ok(Json(ClosedList {
        closed: state.app.closed_dates(&clinic_id)?,
    }))
}

#[utoipa::path(operation_id = "published_add_closed", 
    post,
    path = "/api/v1/clinics/{clinic}/closed",
    tag = "publishing",
    summary = "Close a date to rep visits",
    params(("clinic" = String, Path, description = "Clinic id")),
    request_body = NewClosedDate,
    responses((status = 201, description = "Created", body = ClosedDate), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn add_closed(
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(new): JsonBody<NewClosedDate>,
) -> Result<(StatusCode, Json<ClosedDate>), ApiError> {
    let closed = state.app.close_date(&clinic_id, new).await?;
    Ok((StatusCode::CREATED, Json(closed)))
}

#[utoipa::path(operation_id = "published_remove_closed", 
    delete,
    path = "/api/v1/clinics/{clinic}/closed/{date}",
    tag = "publishing",
    summary = "Open a closed date again",
    params(("clinic" = String, Path, description = "Clinic id"), ("date" = String, Path, description = "YYYY-MM-DD", format = Date, pattern = "@date")),
    responses((status = 204, description = "Done"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn remove_closed(
    _role: AsManager,
    State(state): State<AppState>,
    Path((clinic_id, date)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let date = crate::domain::parse_date("date", &date)?;
    state.app.reopen_date(&clinic_id, date).await?;
    Ok(StatusCode::NO_CONTENT)
}
