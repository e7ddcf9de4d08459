//! Admin routes for booking links: list, create (the capability URL to give reps), revoke.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::access::AsManager;
use super::error::ApiError;
use super::extract::JsonBody;
use crate::domain::{BookingLink, NewBookingLink};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LinkView {
    pub id: String,
    pub label: String,
    pub categories: Vec<String>,
    /// The capability URL to give reps, relative to the server: only in the answer that made or renewed
    /// the link (repbook keeps only its SHA-256), else null.
    pub url: Option<String>,
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
            url: None,
            created_at: link.created_at.to_string(),
            revoked: link.revoked_at.is_some(),
        }
    }
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
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
) -> Result<Json<LinkList>, ApiError> {
    let mut links: Vec<LinkView> = state.app.links(&clinic_id)?.iter().map(LinkView::from).collect();
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
    _role: AsManager,
    State(state): State<AppState>,
    Path(clinic_id): Path<String>,
    JsonBody(new): JsonBody<NewBookingLink>,
) -> Result<(StatusCode, Json<LinkView>), ApiError> {
    let (link, capability) = state.app.create_link(&clinic_id, new).await?;
    let mut view = LinkView::from(&link);
    view.url = Some(BookingLink::url(&capability));
    Ok((StatusCode::CREATED, Json(view)))
}

/// A new URL for a live link; the old one stops working, its bookings stay.
#[utoipa::path(operation_id = "published_renew_link",
    post,
    path = "/api/v1/clinics/{clinic}/links/{id}/renew",
    tag = "publishing",
    summary = "Give a link a new URL (shown once); the old URL stops working",
    params(("clinic" = String, Path, description = "Clinic id"), ("id" = String, Path, description = "Link id")),
    responses((status = 200, description = "Done", body = LinkView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn renew_link(
    _role: AsManager,
    State(state): State<AppState>,
    Path((clinic_id, id)): Path<(String, String)>,
) -> Result<Json<LinkView>, ApiError> {
    let (link, capability) = state.app.renew_link(&clinic_id, &id).await?;
    let mut view = LinkView::from(&link);
    view.url = Some(BookingLink::url(&capability));
    Ok(Json(view))
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
    _role: AsManager,
    State(state): State<AppState>,
    Path((clinic_id, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.app.revoke_link(&clinic_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
