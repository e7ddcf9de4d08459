//! Personal API tokens (`app/tokens.rs`): a person's own, made while signed in (or by one of their tokens,
//! never beyond it); an owner sees and revokes anyone's.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::access::AsStaff;
use super::error::ApiError;
use super::extract::JsonBody;
use super::session::self_audited;
use crate::app::{MadeToken, NewToken};
use crate::domain::ApiTokenView;

const ERROR: &str = "Error envelope: what happened and what to do";

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenList {
    pub tokens: Vec<ApiTokenView>,
}

#[utoipa::path(operation_id = "tokens_list", get, path = "/api/v1/tokens", tag = "tokens",
    summary = "Your API tokens (an owner: everyone's), never the tokens themselves",
    responses((status = 200, description = "Done", body = TokenList), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn list(staff: AsStaff, State(state): State<AppState>) -> Result<Json<TokenList>, ApiError> {
    Ok(Json(TokenList {
        tokens: state.app.tokens_for(staff.actor())?,
    }))
}

#[utoipa::path(operation_id = "tokens_create", post, path = "/api/v1/tokens", tag = "tokens",
    summary = "A token for a script, acting at one clinic with a role no larger than yours; shown once",
    request_body = NewToken,
    responses((status = 201, description = "Created", body = MadeToken), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn create(
    staff: AsStaff,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<NewToken>,
) -> Result<Response, ApiError> {
    let made = state.app.create_token(staff.actor(), request, &staff.0.from).await?;
    Ok(self_audited((StatusCode::CREATED, Json(made)), None))
}

#[utoipa::path(operation_id = "tokens_revoke", delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    summary = "Revoke a token",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 200, description = "Revoked", body = ApiTokenView), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn revoke(
    staff: AsStaff,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let token = state.app.revoke_token(staff.actor(), &id, &staff.0.from).await?;
    Ok(self_audited(Json(token), None))
}
