//! Signing in to the admin page, step by step (`app/sign_in.rs` holds the state machine): email and
//! password, then a passkey, a TOTP code or a recovery code; or a passkey alone; or, on a host with no owner
//! yet, the host token (only to make the owner). Each step answers where signing in stands and sets the
//! session cookie anew (`cookies`). These routes find the session themselves, since a session halfway
//! through signing in may use nothing else.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::AppState;
use super::access::AsSetup;
use super::audit::SelfAudited;
use super::auth::{check_csrf, requester};
use super::cookies::{cookie_header, session_cookies};
use super::error::ApiError;
use super::extract::JsonBody;
use super::listener::{ClientAddr, Https};
use crate::app::{Invited, LiveSession, NewSession, Requester};
use crate::domain::{Grant, SecondFactor, SessionStage};

/// `POST /api/v1/session`: an email address and password, or (on a host with no owner yet) the host token.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// The host token (the data dir's token file): only until the host has an owner.
    #[serde(default)]
    pub token: Option<String>,
}

/// A code after the password: six digits from an authenticator app, or a recovery code.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    #[schema(min_length = 1, max_length = 64)]
    pub code: String,
}

/// The browser's answer to the passkey options.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAnswer {
    pub ceremony: String,
    #[schema(value_type = Object)]
    pub credential: Value,
}

/// WebAuthn options for the browser, and the ceremony's id to answer with.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PasskeyOptions {
    pub ceremony: String,
    /// `{"publicKey": {...}}`, binary fields in base64url.
    #[schema(value_type = Object)]
    pub options: Value,
}

/// The person a session belongs to, briefly.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignedInPerson {
    pub id: String,
    pub email: String,
    pub name: String,
}

/// Where signing in stands, and what the page needs to go on.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionView {
    /// `second_factor`: a passkey, code or recovery code is next; `enrol`: a second factor must be added
    /// first; `full`: signed in; `setup`: the host token, to make the host's owner.
    pub stage: SessionStage,
    /// Whether a second factor is asked for now.
    pub mfa_required: bool,
    /// The second factors this person can use now.
    pub methods: Vec<SecondFactor>,
    /// Sent as `X-CSRF-Token` with every change.
    pub csrf_token: String,
    /// Seconds until the session ends by itself (idle or absolute).
    pub expires_in_secs: i64,
    pub person: Option<SignedInPerson>,
    /// `[{"clinic": "...", "role": "manager"}]`; the owner's clinic is null.
    pub roles: Vec<Grant>,
    /// Whether the host asks every account for a second factor.
    pub require_mfa: bool,
    /// `repbook demo` only: enrolment may be put off once.
    pub can_skip_enrolment: bool,
    /// The name passkeys belong to here (they work only when the page is opened by that name).
    pub passkey_site: String,
}

impl AppState {
    fn session_view(&self, session: &LiveSession, csrf: &str, expires_in_secs: i64) -> SessionView {
        let policy = self.app.accounts();
        let person = session.person.as_ref();
        let methods = match (person, session.record.stage) {
            (Some(person), SessionStage::SecondFactor) => self
                .store
                .credentials(&person.id)
                .ok()
                .and_then(|c| self.app.methods_allowed(&c, session.record.via_provider.is_some()).ok())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        SessionView {
            stage: session.record.stage,
            mfa_required: session.record.stage == SessionStage::SecondFactor,
            methods,
            csrf_token: csrf.to_string(),
            expires_in_secs,
            person: person.map(|p| SignedInPerson {
                id: p.id.clone(),
                email: p.email.clone(),
                name: p.name.clone(),
            }),
            roles: person.map(|p| p.roles.clone()).unwrap_or_default(),
            require_mfa: policy.require_mfa,
            can_skip_enrolment: policy.demo_skip_enrolment
                && session.record.stage == SessionStage::Enrol
                && person.is_some_and(|p| p.enrolment_skipped_at.is_none()),
            passkey_site: self.app.identity().passkeys.rp_id().to_string(),
        }
    }

    /// The live session one of the request's cookies names, in whatever stage.
    pub(super) fn request_session(
        &self,
        headers: &HeaderMap,
        https: Https,
        from: &Requester,
    ) -> Result<Option<LiveSession>, ApiError> {
        for cookie in session_cookies(headers, https) {
            if let Some(session) = self.app.live_session(&crate::app::digest(&cookie), from)? {
                return Ok(Some(session));
            }
        }
        Ok(None)
    }

    /// A session just opened or rotated: its view and the `Set-Cookie` that carries it.
    pub(super) fn opened(
        &self,
        new: &NewSession,
        from: &Requester,
        https: Https,
    ) -> Result<(SessionView, HeaderValue), ApiError> {
        let session = self
            .app
            .live_session(&crate::app::digest(&new.cookie), from)?
            .ok_or_else(|| ApiError::internal("a session just written cannot be read"))?;
        Ok((
            self.session_view(&session, &new.csrf, new.expires_in_secs),
            cookie_header(&new.cookie, new.expires_in_secs, https),
        ))
    }

    /// The answer of a step that opened or rotated a session: its view, with the cookie.
    pub(super) fn with_session(&self, new: &NewSession, from: &Requester, https: Https) -> Result<Response, ApiError> {
        let (view, cookie) = self.opened(new, from, https)?;
        Ok(self_audited(Json(view), Some(cookie)))
    }
}

/// An answer (with a new session cookie, when given) whose workflow wrote its own audit entries.
pub(super) fn self_audited(body: impl IntoResponse, cookie: Option<HeaderValue>) -> Response {
    let mut response = body.into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response.extensions_mut().insert(SelfAudited);
    response
}

fn signed_out(https: Https) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie_header("", 0, https));
    response.extensions_mut().insert(SelfAudited);
    response
}

/// The request's session, which must exist (and carry its CSRF token).
fn signing_in(state: &AppState, headers: &HeaderMap, https: Https, from: &Requester) -> Result<LiveSession, ApiError> {
    let session = state.request_session(headers, https, from)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "not_signing_in",
            "this step needs the password first (or the session ended): sign in again",
        )
    })?;
    check_csrf(&Method::POST, headers, &session)?;
    Ok(session)
}

fn limit_attempts(state: &AppState, from: &Requester) -> Result<(), ApiError> {
    if !state.public_limits.allow_sign_in(from.address) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many sign-in attempts from here; wait a minute and try again",
        )
        .with_retry_after(60));
    }
    Ok(())
}

const ERROR: &str = "Error envelope: what happened and what to do";

/// `POST /api/v1/session`: the password step (or the host token's, on a host with no owner).
#[utoipa::path(operation_id = "session_sign_in",
    post,
    path = "/api/v1/session",
    tag = "session",
    summary = "Sign in: email and password (then a second factor), or the host token on a host with no owner yet",
    request_body = SignIn,
    responses((status = 200, description = "Where signing in stands; the session cookie is set", body = SessionView),
        (status = "default", description = ERROR, body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    https: Https,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SignIn>,
) -> Result<Response, ApiError> {
    let from = requester(client, &headers);
    if let Some(wait) = state.wrong_tokens.blocked(from.address, std::time::Instant::now()) {
        return Err(super::auth::too_many_failures(wait));
    }
    limit_attempts(&state, &from)?;
    let new = match (body.token, body.email, body.password) {
        (Some(token), None, None) => {
            if !bool::from(token.trim().as_bytes().ct_eq(state.token.as_bytes())) {
                tracing::warn!(client = %from.address, "admin sign-in with a wrong host token");
                state.wrong_tokens.record(from.address, std::time::Instant::now());
                state.app.audit_wrong_host_token(&from);
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "bad_token",
                    "that is not this server's host token (the data dir's token file, or REPBOOK_TOKEN)",
                ));
            }
            state.app.sign_in_with_host_token(&from).await?
        }
        (None, Some(email), Some(password)) => state.app.sign_in_with_password(&email, &password, &from).await?.0,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "send {\"email\": \"...\", \"password\": \"...\"} (or, on a new host, {\"token\": \"...\"} with the host token)",
            ));
        }
    };
    state.with_session(&new, &from, https)
}

/// `GET /api/v1/session`: where the cookie's session stands, and its CSRF token (after a page reload).
#[utoipa::path(operation_id = "session_current",
    get,
    path = "/api/v1/session",
    tag = "session",
    summary = "Where the session stands: the person, their roles, the CSRF token",
    responses((status = 200, description = "Done", body = SessionView),
        (status = "default", description = ERROR, body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn current(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    https: Https,
    headers: HeaderMap,
) -> Result<Json<SessionView>, ApiError> {
    let from = requester(client, &headers);
    let session = state.request_session(&headers, https, &from)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "not_signed_in",
            "sign in with your email address",
        )
    })?;
    let left = state.app.session_seconds_left(&session);
    Ok(Json(state.session_view(&session, &session.record.csrf.clone(), left)))
}

/// `DELETE /api/v1/session`: signs out (needs the CSRF token, like every change).
#[utoipa::path(operation_id = "session_sign_out",
    delete,
    path = "/api/v1/session",
    tag = "session",
    summary = "Sign out",
    responses((status = 204, description = "Done"), (status = "default", description = ERROR, body = crate::api::error::ErrorBody))
)]
pub async fn sign_out(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    https: Https,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let from = requester(client, &headers);
    let session = signing_in(&state, &headers, https, &from)?;
    state.app.sign_out(&session, &from).await?;
    Ok(signed_out(https))
}

/// `POST /api/v1/session/totp`: the authenticator app's code after the password.
#[utoipa::path(operation_id = "session_totp",
    post,
    path = "/api/v1/session/totp",
    tag = "session",
    summary = "Second factor: a code from an authenticator app",
    request_body = CodeBody,
    responses((status = 200, description = "Signed in; the session cookie is set anew", body = SessionView),
        (status = "default", description = ERROR, body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn totp(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    https: Https,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CodeBody>,
) -> Result<Response, ApiError> {
    state.code_step(client, https, headers, body, SecondFactor::Totp).await
}

/// `POST /api/v1/session/recovery`: a recovery code instead (it works once).
#[utoipa::path(operation_id = "session_recovery",
    post,
    path = "/api/v1/session/recovery",
    tag = "session",
    summary = "Second factor: a recovery code (each works once)",
    request_body = CodeBody,
    responses((status = 200, description = "Signed in; the session cookie is set anew", body = SessionView),
        (status = "default", description = ERROR, body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn recovery(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    https: Https,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CodeBody>,
) -> Result<Response, ApiError> {
    state
        .code_step(client, https, headers, body, SecondFactor::Recovery)
        .await
}

impl AppState {
    async fn code_step(
        &self,
        client: std::net::IpAddr,
        https: Https,
        headers: HeaderMap,
        body: CodeBody,
        factor: SecondFactor,
    ) -> Result<Response, ApiError> {
        let from = requester(client, &headers);
        limit_attempts(self, &from)?;
        let session = signing_in(self, &headers, https, &from)?;
        let new = self.app.sign_in_with_code(&session, &body.code, factor, &from).await?;
        self.with_session(&new, &from, https)
    }
}

/// `POST /api/v1/session/passkey/options`: WebAuthn options: the person's passkeys after their password,
/// or any passkey of this host (a passkey alone).
#[utoipa::path(operation_id = "session_passkey_options",
    post,
    path = "/api/v1/session/passkey/options",
    tag = "session",
    summary = "Options for signing in with a passkey (after the password, or alone)",
    responses((status = 200, description = "Done", body = PasskeyOptions),
        (status = "default", description = ERROR, body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn passkey_options(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    https: Https,
    headers: HeaderMap,
) -> Result<Json<PasskeyOptions>, ApiError> {
    let from = requester(client, &headers);
    limit_attempts(&state, &from)?;
    let session = state.request_session(&headers, https, &from)?;
    let (ceremony, options) = state.app.passkey_sign_in_options(session.as_ref())?;
    Ok(Json(PasskeyOptions { ceremony, options }))
}

/// `POST /api/v1/session/passkey`: the browser's passkey answer.
#[utoipa::path(operation_id = "session_passkey",
    post,
    path = "/api/v1/session/passkey",
    tag = "session",
    summary = "Sign in with a passkey: the second factor, or the whole sign-in",
    request_body = PasskeyAnswer,
    responses((status = 200, description = "Signed in; the session cookie is set", body = SessionView),
        (status = "default", description = ERROR, body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn passkey(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    https: Https,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PasskeyAnswer>,
) -> Result<Response, ApiError> {
    let from = requester(client, &headers);
    limit_attempts(&state, &from)?;
    let session = state.request_session(&headers, https, &from)?;
    if let Some(session) = &session {
        check_csrf(&Method::POST, &headers, session)?;
    }
    let new = state
        .app
        .sign_in_with_passkey(session.as_ref(), &body.ceremony, body.credential, &from)
        .await?;
    state.with_session(&new, &from, https)
}

/// `POST /api/v1/session/skip-enrolment`: `repbook demo` only, once.
#[utoipa::path(operation_id = "session_skip_enrolment",
    post,
    path = "/api/v1/session/skip-enrolment",
    tag = "session",
    summary = "Put off adding a second factor (the demo only, once)",
    responses((status = 200, description = "Signed in without a second factor", body = SessionView),
        (status = "default", description = ERROR, body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn skip_enrolment(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    https: Https,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let from = requester(client, &headers);
    let session = signing_in(&state, &headers, https, &from)?;
    let new = state.app.skip_enrolment(&session, &from).await?;
    state.with_session(&new, &from, https)
}

/// `POST /api/v1/owner`: the host's first owner, made with the host token on a host that has none.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirstOwner {
    #[schema(min_length = 3, max_length = 254, pattern = "@email")]
    pub email: String,
    #[schema(min_length = 1, max_length = 120, pattern = "@line")]
    pub name: String,
}

#[utoipa::path(operation_id = "owner_create",
    post,
    path = "/api/v1/owner",
    tag = "people",
    summary = "Make the host's first owner (the host token, while the host has no owner)",
    request_body = FirstOwner,
    responses((status = 201, description = "The owner's account, and the link that sets its password (shown once)", body = Invited),
        (status = "default", description = ERROR, body = crate::api::error::ErrorBody))
)]
pub async fn create_owner(
    AsSetup(caller): AsSetup,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<FirstOwner>,
) -> Result<Response, ApiError> {
    let invited = state
        .app
        .make_first_owner(&body.email, &body.name, &caller.from)
        .await?;
    let mut response = (StatusCode::CREATED, Json(invited)).into_response();
    response.extensions_mut().insert(SelfAudited);
    Ok(response)
}

/// `POST /api/v1/password/forgot`: a reset link by mail; the answer is the same whether or not the address
/// has an account.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Forgot {
    #[schema(min_length = 1, max_length = 254, pattern = "@email")]
    pub email: String,
}

#[utoipa::path(operation_id = "password_forgot",
    post,
    path = "/api/v1/password/forgot",
    tag = "session",
    summary = "Forgot your password: a reset link by mail (the same answer for every address)",
    request_body = Forgot,
    responses((status = 202, description = "If the address has an active account, a link is on its way"),
        (status = "default", description = ERROR, body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn forgot(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Forgot>,
) -> Result<Response, ApiError> {
    let from = requester(client, &headers);
    limit_attempts(&state, &from)?;
    // Bad input is told so before the per-address allowance, which answers every address alike.
    let email = crate::domain::check_email("email", &body.email)?;
    if state.public_limits.allow_recovery(&email) {
        state.app.forgot_password(&email, &from).await?;
    }
    let mut response = StatusCode::ACCEPTED.into_response();
    response.extensions_mut().insert(SelfAudited);
    Ok(response)
}
