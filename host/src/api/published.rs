//! Admin routes for what a clinic publishes to reps: visitor categories, weekly times, closed dates and
//! booking links; and the approval queue's decisions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::appointments::view;
use super::error::ApiError;
use super::extract::JsonBody;
use super::model::AppointmentView;
use crate::booking::new_capability;
use crate::domain::{
    BookingLink, ClosedDate, DomainError, NewBookingLink, NewCategory, NewClosedDate, NewPublishedTime, PublishedTime,
    VisitorCategory, new_id, weekday_name,
};

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

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LinkView {
    pub id: String,
    pub label: String,
    pub categories: Vec<String>,
    /// The capability URL to give reps, relative to the server.
    pub url: String,
    pub created_at: String,
    pub revoked: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LinkList {
    pub links: Vec<LinkView>,
}

impl From<&BookingLink> for LinkView {
    fn from(link: &BookingLink) -> Self {
        LinkView {
            id: link.id.clone(),
            label: link.label.clone(),
            categories: link.categories.clone(),
            url: link.url(),
            created_at: link.created_at.to_string(),
            revoked: link.revoked_at.is_some(),
        }
    }
}

fn hhmm(time: jiff::civil::Time) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}

fn time_view(time: &PublishedTime, with: String) -> TimeView {
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

/// Checks that category ids belong to the clinic.
fn known_categories(state: &AppState, clinic_id: &str, ids: &[String]) -> Result<(), ApiError> {
    let categories = state.store.categories(clinic_id)?;
    if let Some(unknown) = ids.iter().find(|id| !categories.iter().any(|c| &c.id == *id)) {
        let known: Vec<String> = categories.iter().map(|c| format!("{} ({})", c.id, c.name)).collect();
        return Err(DomainError::Invalid {
            field: "categories",
            message: format!(
                "category '{unknown}' is not one of this clinic's visitor categories{}",
                if known.is_empty() {
                    "; create categories first".to_string()
                } else {
                    format!(": {}", known.join(", "))
                }
            ),
        }
        .into());
    }
    Ok(())
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
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<CategoryList>, ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    Ok(Json(CategoryList {
        categories: state.store.categories(&clinic.id)?,
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
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(new): JsonBody<NewCategory>,
) -> Result<(StatusCode, Json<VisitorCategory>), ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    let category = VisitorCategory::create(new_id(), clinic.id.clone(), new)?;
    {
        let _guard = state.store.lock_clinic(&clinic.id).await;
        if state
            .store
            .categories(&clinic.id)?
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(&category.name))
        {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "duplicate_category",
                format!("this clinic already has a category named '{}'", category.name),
            ));
        }
        state.store.put_category(&category)?;
    }
    state.store.durable().await?;
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
    State(state): State<AppState>,
    Path((clinic_id, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    {
        let _guard = state.store.lock_clinic(&clinic.id).await;
        let used = state
            .store
            .published_times(&clinic.id)?
            .iter()
            .any(|t| t.categories.contains(&id))
            || state
                .store
                .links(&clinic.id)?
                .iter()
                .any(|l| l.revoked_at.is_none() && l.categories.contains(&id));
        if used {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "category_in_use",
                "a published time or a live booking link uses this category; change or remove those first",
            ));
        }
        state.store.remove_category(&clinic.id, &id)?;
    }
    state.store.durable().await?;
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
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<TimeList>, ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    let names = state.bookings.names(&clinic)?;
    let mut times: Vec<TimeView> = state
        .store
        .published_times(&clinic.id)?
        .iter()
        .map(|t| {
            let with = match &t.practitioner_id {
                Some(id) => names.get(id).cloned().unwrap_or_default(),
                None => "the clinic".into(),
            };
            time_view(t, with)
        })
        .collect();
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
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(new): JsonBody<NewPublishedTime>,
) -> Result<(StatusCode, Json<TimeView>), ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    let staff = state.store.staff(&clinic.id)?;
    if staff.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_staff",
            "add at least one doctor before publishing rep-visit times",
        ));
    }
    let time = PublishedTime::create(new_id(), clinic.id.clone(), new, clinic.appointment_duration_minutes)?;
    let with = match &time.practitioner_id {
        Some(id) => staff
            .iter()
            .find(|p| &p.id == id)
            .map(|p| p.display_name())
            .ok_or_else(|| DomainError::Invalid {
                field: "practitioner_id",
                message: format!(
                    "practitioner_id '{id}' is not a practitioner of this clinic; use null for a time with the whole clinic"
                ),
            })?,
        None => "the clinic".to_string(),
    };
    known_categories(&state, &clinic.id, &time.categories)?;
    state.store.put_published_time(&time)?;
    state.store.durable().await?;
    Ok((StatusCode::CREATED, Json(time_view(&time, with))))
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
    State(state): State<AppState>,
    Path((clinic_id, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    state.store.remove_published_time(&clinic.id, &id)?;
    state.store.durable().await?;
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
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<ClosedList>, ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    Ok(Json(ClosedList {
        closed: state.store.closed_dates(&clinic.id)?,
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
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(new): JsonBody<NewClosedDate>,
) -> Result<(StatusCode, Json<ClosedDate>), ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    let closed = ClosedDate::create(clinic.id.clone(), new)?;
    state.store.put_closed_date(&closed)?;
    state.store.durable().await?;
    Ok((StatusCode::CREATED, Json(closed)))
}

#[utoipa::path(operation_id = "published_remove_closed", 
    delete,
    path = "/api/v1/clinics/{clinic}/closed/{date}",
    tag = "publishing",
    summary = "Open a closed date again",
    params(("clinic" = String, Path, description = "Clinic id"), ("date" = String, Path, description = "YYYY-MM-DD")),
    responses((status = 204, description = "Done"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn remove_closed(
    State(state): State<AppState>,
    Path((clinic_id, date)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    let date = crate::domain::parse_date("date", &date)?;
    state.store.remove_closed_date(&clinic.id, date)?;
    state.store.durable().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(operation_id = "published_list_links", 
    get,
    path = "/api/v1/clinics/{clinic}/links",
    tag = "publishing",
    summary = "Booking links, live first",
    params(("clinic" = String, Path, description = "Clinic id")),
    responses((status = 200, description = "Done", body = LinkList), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn list_links(
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<LinkList>, ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    let mut links: Vec<LinkView> = state.store.links(&clinic.id)?.iter().map(LinkView::from).collect();
    links.sort_by(|a, b| (a.revoked, &a.created_at).cmp(&(b.revoked, &b.created_at)));
    Ok(Json(LinkList { links }))
}

#[utoipa::path(operation_id = "published_create_link", 
    post,
    path = "/api/v1/clinics/{clinic}/links",
    tag = "publishing",
    summary = "Create a booking link (a capability URL) for some categories",
    params(("clinic" = String, Path, description = "Clinic id")),
    request_body = NewBookingLink,
    responses((status = 201, description = "Created", body = LinkView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn create_link(
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(new): JsonBody<NewBookingLink>,
) -> Result<(StatusCode, Json<LinkView>), ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    known_categories(&state, &clinic.id, &new.categories)?;
    let link = BookingLink::create(new_id(), clinic.id.clone(), new, new_capability()?, Timestamp::now())?;
    state.store.put_link(&link)?;
    state.store.durable().await?;
    Ok((StatusCode::CREATED, Json((&link).into())))
}

/// Revokes a link: its URL answers like one that never existed. Bookings made through it stay.
#[utoipa::path(operation_id = "published_revoke_link", 
    delete,
    path = "/api/v1/clinics/{clinic}/links/{id}",
    tag = "publishing",
    summary = "Revoke a link: it answers 404 from now on",
    params(("clinic" = String, Path, description = "Clinic id"), ("id" = String, Path, description = "Link id")),
    responses((status = 204, description = "Done"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn revoke_link(
    State(state): State<AppState>,
    Path((clinic_id, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let clinic = state.store.clinic(&clinic_id)?;
    {
        let _guard = state.store.lock_clinic(&clinic.id).await;
        let mut link = state.store.link(&clinic.id, &id)?;
        if link.revoked_at.is_none() {
            link.revoked_at = Some(Timestamp::now());
            state.store.put_link(&link)?;
        }
    }
    state.store.durable().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(operation_id = "published_approve", 
    post,
    path = "/api/v1/appointments/{id}/approve",
    tag = "appointments",
    summary = "Approve a requested visit: booked, and sent to the PMS",
    params(("id" = String, Path, description = "Appointment id")),
    responses((status = 200, description = "Done", body = AppointmentView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn approve(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<AppointmentView>, ApiError> {
    let clinic = state.store.clinic(&state.store.appointment(&id)?.clinic_id)?;
    let approved = state.store.approve_request(&clinic, &id, state.clock.now()).await?;
    Ok(Json(view(&state.store, &clinic, &approved)?))
}

#[utoipa::path(operation_id = "published_decline", 
    post,
    path = "/api/v1/appointments/{id}/decline",
    tag = "appointments",
    summary = "Decline a requested visit: its slot is free again",
    params(("id" = String, Path, description = "Appointment id")),
    responses((status = 200, description = "Done", body = AppointmentView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn decline(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<AppointmentView>, ApiError> {
    let clinic = state.store.clinic(&state.store.appointment(&id)?.clinic_id)?;
    let declined = state.store.decline_request(&clinic, &id, state.clock.now()).await?;
    Ok(Json(view(&state.store, &clinic, &declined)?))
}
