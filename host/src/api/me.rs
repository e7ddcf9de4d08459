//! "My account": a person's own name, password, second factors and sessions (`app/factors.rs`). Only the
//! admin page's session of that person may call these (`AsSession`), never a token; a session that must
//! still enrol may call them (they are how it enrols). Every change of factors answers with the session's
//! new cookie and CSRF token.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::access::AsSession;
use super::error::ApiError;
use super::extract::JsonBody;
use super::listener::Https;
use super::session::{CodeBody, PasskeyOptions, SessionView, self_audited};
use crate::app::{FactorChanged, MePatch, PasskeyFinish, SessionListed, TotpEnrolment};
use crate::domain::{PasskeyView, PersonView};

const ERROR: &str = "Error envelope: what happened and what to do";

/// A change of factors: the session under its new cookie, and what was shown once.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FactorAnswer {
    pub session: SessionView,
    /// Ten recovery codes, when this was the first second factor (or new ones were asked for). Shown once.
    pub recovery_codes: Option<Vec<String>>,
    /// The passkey just added.
    pub passkey: Option<PasskeyView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MeAnswer {
    pub person: PersonView,
    /// After a password change: the session's new state (other sessions were signed out).
    pub session: Option<SessionView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TotpStatus {
    pub enabled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PasskeyList {
    pub passkeys: Vec<PasskeyView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionListed>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ended {
    pub ended: usize,
}

fn factor_answer(
    state: &AppState,
    me: &AsSession,
    https: Https,
    changed: FactorChanged,
    passkey: Option<PasskeyView>,
) -> Result<Response, ApiError> {
    let (session, cookie) = state.opened(&changed.session, &me.caller.from, https)?;
    Ok(self_audited(
        Json(FactorAnswer {
            session,
            recovery_codes: changed.recovery_codes,
            passkey,
        }),
        Some(cookie),
    ))
}

#[utoipa::path(operation_id = "me_show", get, path = "/api/v1/me", tag = "my account",
    summary = "Your account: name, roles, factors (never a secret)",
    responses((status = 200, description = "Done", body = PersonView), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn show(me: AsSession, State(state): State<AppState>) -> Result<Json<PersonView>, ApiError> {
    Ok(Json(state.app.me(&me.session)?))
}

#[utoipa::path(operation_id = "me_update", patch, path = "/api/v1/me", tag = "my account",
    summary = "Change your name, or your password (with the current one; other sessions end)",
    request_body = MePatch,
    responses((status = 200, description = "Done", body = MeAnswer), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn update(
    me: AsSession,
    State(state): State<AppState>,
    https: Https,
    JsonBody(patch): JsonBody<MePatch>,
) -> Result<Response, ApiError> {
    let (person, rotated) = state.app.update_me(&me.session, patch, &me.caller.from).await?;
    let (session, cookie) = match rotated {
        Some(new) => {
            let (view, cookie) = state.opened(&new, &me.caller.from, https)?;
            (Some(view), Some(cookie))
        }
        None => (None, None),
    };
    Ok(self_audited(Json(MeAnswer { person, session }), cookie))
}

#[utoipa::path(operation_id = "me_totp_status", get, path = "/api/v1/me/totp", tag = "my account",
    summary = "Whether an authenticator app (TOTP) is set up",
    responses((status = 200, description = "Done", body = TotpStatus), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn totp_status(me: AsSession, State(state): State<AppState>) -> Result<Json<TotpStatus>, ApiError> {
    let enabled = state.store.credentials(&me.person.id)?.totp.is_some();
    Ok(Json(TotpStatus { enabled }))
}

#[utoipa::path(operation_id = "me_totp_start", post, path = "/api/v1/me/totp", tag = "my account",
    summary = "Set up an authenticator app: a fresh secret as an otpauth URI and a QR code (confirm it with a code)",
    responses((status = 200, description = "Shown once", body = TotpEnrolment), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn totp_start(me: AsSession, State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(self_audited(Json(state.app.start_totp(&me.session).await?), None))
}

#[utoipa::path(operation_id = "me_totp_confirm", post, path = "/api/v1/me/totp/confirm", tag = "my account",
    summary = "Confirm the authenticator app with the code it shows",
    request_body = CodeBody,
    responses((status = 200, description = "TOTP is on; the session cookie is set anew", body = FactorAnswer), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn totp_confirm(
    me: AsSession,
    State(state): State<AppState>,
    https: Https,
    JsonBody(body): JsonBody<CodeBody>,
) -> Result<Response, ApiError> {
    let changed = state.app.confirm_totp(&me.session, &body.code, &me.caller.from).await?;
    factor_answer(&state, &me, https, changed, None)
}

#[utoipa::path(operation_id = "me_totp_remove", delete, path = "/api/v1/me/totp", tag = "my account",
    summary = "Remove the authenticator app",
    responses((status = 200, description = "Done; the session cookie is set anew", body = FactorAnswer), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn totp_remove(me: AsSession, State(state): State<AppState>, https: Https) -> Result<Response, ApiError> {
    let changed = state.app.remove_totp(&me.session, &me.caller.from).await?;
    factor_answer(&state, &me, https, changed, None)
}

#[utoipa::path(operation_id = "me_passkeys_list", get, path = "/api/v1/me/passkeys", tag = "my account",
    summary = "Your passkeys, by name",
    responses((status = 200, description = "Done", body = PasskeyList), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn passkeys(me: AsSession, State(state): State<AppState>) -> Result<Json<PasskeyList>, ApiError> {
    let credentials = state.store.credentials(&me.person.id)?;
    Ok(Json(PasskeyList {
        passkeys: credentials.passkeys.iter().map(PasskeyView::from).collect(),
    }))
}

#[utoipa::path(operation_id = "me_passkeys_options", post, path = "/api/v1/me/passkeys/options", tag = "my account",
    summary = "WebAuthn options to add a passkey",
    responses((status = 200, description = "Done", body = PasskeyOptions), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn passkey_options(me: AsSession, State(state): State<AppState>) -> Result<Response, ApiError> {
    let (ceremony, options) = state.app.passkey_registration_options(&me.session).await?;
    Ok(self_audited(Json(PasskeyOptions { ceremony, options }), None))
}

#[utoipa::path(operation_id = "me_passkeys_add", post, path = "/api/v1/me/passkeys", tag = "my account",
    summary = "Add the passkey the browser made",
    request_body = PasskeyFinish,
    responses((status = 201, description = "Added; the session cookie is set anew", body = FactorAnswer), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn passkey_add(
    me: AsSession,
    State(state): State<AppState>,
    https: Https,
    JsonBody(finish): JsonBody<PasskeyFinish>,
) -> Result<Response, ApiError> {
    let (changed, view) = state
        .app
        .finish_passkey_registration(&me.session, finish, &me.caller.from)
        .await?;
    let mut response = factor_answer(&state, &me, https, changed, Some(view))?;
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

#[utoipa::path(operation_id = "me_passkeys_remove", delete, path = "/api/v1/me/passkeys/{id}", tag = "my account",
    summary = "Remove a passkey",
    params(("id" = String, Path, description = "The passkey's id")),
    responses((status = 200, description = "Done; the session cookie is set anew", body = FactorAnswer), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn passkey_remove(
    me: AsSession,
    State(state): State<AppState>,
    https: Https,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let changed = state.app.remove_passkey(&me.session, &id, &me.caller.from).await?;
    factor_answer(&state, &me, https, changed, None)
}

#[utoipa::path(operation_id = "me_recovery_codes", post, path = "/api/v1/me/recovery-codes", tag = "my account",
    summary = "Ten new recovery codes (the old ones stop); shown once",
    responses((status = 200, description = "Done; the session cookie is set anew", body = FactorAnswer), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn recovery_codes(me: AsSession, State(state): State<AppState>, https: Https) -> Result<Response, ApiError> {
    let (session, codes) = state.app.new_recovery_codes(&me.session, &me.caller.from).await?;
    let changed = FactorChanged {
        session,
        recovery_codes: Some(codes),
    };
    factor_answer(&state, &me, https, changed, None)
}

#[utoipa::path(operation_id = "me_sessions", get, path = "/api/v1/me/sessions", tag = "my account",
    summary = "Where you are signed in: device, address, last seen",
    responses((status = 200, description = "Done", body = SessionList), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn sessions(me: AsSession, State(state): State<AppState>) -> Result<Json<SessionList>, ApiError> {
    Ok(Json(SessionList {
        sessions: state.app.my_sessions(&me.session)?,
    }))
}

#[utoipa::path(operation_id = "me_sessions_end", delete, path = "/api/v1/me/sessions/{id}", tag = "my account",
    summary = "Sign out one of your sessions (its id), or every other one (`others`)",
    params(("id" = String, Path, description = "A session's id, or `others`")),
    responses((status = 200, description = "Done", body = Ended), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn end_session(
    me: AsSession,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ended = state.app.end_my_session(&me.session, &id, &me.caller.from).await?;
    Ok(self_audited(Json(Ended { ended }), None))
}
