//! The single-use links of accounts, as JSON for their pages: an invitation (who invited, as what; then the
//! name and password that accept it and sign the person in) and a password reset. A used, withdrawn,
//! replaced or expired link answers 410 with what to do; the link in the path is its only key.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::requester;
use super::error::ApiError;
use super::extract::JsonBody;
use super::listener::{ClientAddr, Https};
use super::session::{SessionView, self_audited};
use crate::app::{AcceptInvitation, InvitationSeen, ResetSeen};

const ERROR: &str = "Error envelope: what happened and what to do";

#[utoipa::path(operation_id = "invite_show", get, path = "/invite/{token}/invitation", tag = "welcome",
    summary = "What an invitation makes its person (410 when used, withdrawn or expired)",
    params(("token" = String, Path)),
    responses((status = 200, description = "Done", body = InvitationSeen), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)),
    security(()))]
pub async fn invitation(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<InvitationSeen>, ApiError> {
    Ok(Json(state.app.invitation_for_link(&token)?))
}

#[utoipa::path(operation_id = "invite_accept", post, path = "/invite/{token}", tag = "welcome",
    summary = "Accept an invitation: your name and password; signs you in (to add a second factor first)",
    params(("token" = String, Path)),
    request_body = AcceptInvitation,
    responses((status = 200, description = "Signed in; the session cookie is set", body = SessionView), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)),
    security(()))]
pub async fn accept(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    https: Https,
    headers: HeaderMap,
    Path(token): Path<String>,
    JsonBody(body): JsonBody<AcceptInvitation>,
) -> Result<Response, ApiError> {
    let from = requester(client, &headers);
    let new = state.app.accept_invitation(&token, body, &from).await?;
    state.with_session(&new, &from, https)
}

#[utoipa::path(operation_id = "reset_show", get, path = "/reset/{token}/reset", tag = "welcome",
    summary = "Whose password a reset link sets (410 when used, replaced or expired)",
    params(("token" = String, Path)),
    responses((status = 200, description = "Done", body = ResetSeen), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)),
    security(()))]
pub async fn reset(State(state): State<AppState>, Path(token): Path<String>) -> Result<Json<ResetSeen>, ApiError> {
    Ok(Json(state.app.reset_for_link(&token)?))
}

/// `POST /reset/{token}`: the new password.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
}

#[utoipa::path(operation_id = "reset_apply", post, path = "/reset/{token}", tag = "welcome",
    summary = "Set a new password from a reset link (signs you out everywhere; sign in again)",
    params(("token" = String, Path)),
    request_body = NewPassword,
    responses((status = 204, description = "Done"), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)),
    security(()))]
pub async fn apply_reset(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Path(token): Path<String>,
    JsonBody(body): JsonBody<NewPassword>,
) -> Result<Response, ApiError> {
    let from = requester(client, &headers);
    state.app.reset_password(&token, &body.password, &from).await?;
    Ok(self_audited(StatusCode::NO_CONTENT, None))
}
