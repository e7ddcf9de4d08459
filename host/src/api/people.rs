//! The People tab: who works at the caller's clinics, invitations, roles, disabling, resetting factors
//! (`app/people.rs`, `app/invitations.rs`). A manager somewhere may call these; who they may see and change
//! is the domain's rule, applied by the workflow (someone outside their clinics is not found).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::access::AsAnyManager;
use super::error::ApiError;
use super::extract::JsonBody;
use super::session::self_audited;
use crate::app::{InviteRequest, Invited, PersonPatch};
use crate::domain::PersonView;

const ERROR: &str = "Error envelope: what happened and what to do";

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeopleList {
    pub people: Vec<PersonView>,
}

#[utoipa::path(operation_id = "people_list", get, path = "/api/v1/people", tag = "people",
    summary = "The people of your clinics (an owner: everyone), with their roles and pending invitations",
    responses((status = 200, description = "Done", body = PeopleList), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn list(
    AsAnyManager(caller): AsAnyManager,
    State(state): State<AppState>,
) -> Result<Json<PeopleList>, ApiError> {
    Ok(Json(PeopleList {
        people: state.app.people_for(&caller.actor)?,
    }))
}

#[utoipa::path(operation_id = "people_invite", post, path = "/api/v1/people", tag = "people",
    summary = "Invite an address with a role (mailed, or a link shown once without mail); an address with an account gets the role",
    request_body = InviteRequest,
    responses((status = 201, description = "Invited (or given the role)", body = Invited), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn invite(
    AsAnyManager(caller): AsAnyManager,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<InviteRequest>,
) -> Result<Response, ApiError> {
    let invited = state.app.invite(&caller.actor, request, &caller.from).await?;
    Ok(self_audited((StatusCode::CREATED, Json(invited)), None))
}

#[utoipa::path(operation_id = "people_show", get, path = "/api/v1/people/{id}", tag = "people",
    summary = "A person of your clinics",
    params(("id" = String, Path, description = "Person id")),
    responses((status = 200, description = "Done", body = PersonView), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn show(
    AsAnyManager(caller): AsAnyManager,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PersonView>, ApiError> {
    Ok(Json(state.app.person_for(&caller.actor, &id)?))
}

#[utoipa::path(operation_id = "people_update", patch, path = "/api/v1/people/{id}", tag = "people",
    summary = "Change a person's roles at your clinics, their name, or disable them (signed out at once, tokens revoked)",
    params(("id" = String, Path, description = "Person id")),
    request_body = PersonPatch,
    responses((status = 200, description = "Done", body = PersonView), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn update(
    AsAnyManager(caller): AsAnyManager,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<PersonPatch>,
) -> Result<Response, ApiError> {
    let person = state.app.update_person(&caller.actor, &id, patch, &caller.from).await?;
    Ok(self_audited(Json(person), None))
}

#[utoipa::path(operation_id = "people_reset_factors", post, path = "/api/v1/people/{id}/reset-factors", tag = "people",
    summary = "Remove a person's passkeys, TOTP and recovery codes: they enrol again at their next sign-in",
    params(("id" = String, Path, description = "Person id")),
    responses((status = 200, description = "Done", body = PersonView), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn reset_factors(
    AsAnyManager(caller): AsAnyManager,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let person = state.app.reset_factors(&caller.actor, &id, &caller.from).await?;
    Ok(self_audited(Json(person), None))
}

#[utoipa::path(operation_id = "invitations_resend", post, path = "/api/v1/invitations/{id}/resend", tag = "people",
    summary = "A new link for an invitation not yet accepted (the old one stops)",
    params(("id" = String, Path, description = "Invitation id")),
    responses((status = 200, description = "Done", body = Invited), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn resend(
    AsAnyManager(caller): AsAnyManager,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let invited = state.app.resend_invitation(&caller.actor, &id, &caller.from).await?;
    Ok(self_audited(Json(invited), None))
}

#[utoipa::path(operation_id = "invitations_withdraw", delete, path = "/api/v1/invitations/{id}", tag = "people",
    summary = "Withdraw an invitation not yet accepted",
    params(("id" = String, Path, description = "Invitation id")),
    responses((status = 204, description = "Done"), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn withdraw(
    AsAnyManager(caller): AsAnyManager,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state.app.withdraw_invitation(&caller.actor, &id, &caller.from).await?;
    Ok(self_audited(StatusCode::NO_CONTENT, None))
}
