//! Signing in to the admin page: the API token, given once, buys a session cookie (HttpOnly, SameSite=Strict)
//! so the page never keeps the token in script-readable storage. Requests that change state with the cookie
//! must also carry the session's CSRF token in `X-CSRF-Token`; bearer-token clients (CLI, scripts) are not
//! affected. Sessions live in memory: a restart signs everyone out, which is the safe direction.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use super::extract::JsonBody;
use super::listener::ClientAddr;
use crate::app::{digest, new_capability};

pub const COOKIE: &str = "repbook_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
const LIFETIME: Duration = Duration::from_secs(12 * 3600);
const MAX_SESSIONS: usize = 256;

struct Session {
    csrf: String,
    expires: Instant,
}

/// Live sessions, keyed by the SHA-256 of the cookie value.
#[derive(Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, Session>>,
}

/// What a signed-in page needs to act: the CSRF token for its state-changing requests.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionView {
    pub csrf_token: String,
    /// Seconds until the session ends and the page asks for the token again.
    pub expires_in_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub token: String,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn open(&self) -> Result<(String, SessionView), ApiError> {
        let cookie = new_capability()?;
        let csrf = new_capability()?;
        let mut live = self.lock();
        let now = Instant::now();
        live.retain(|_, s| s.expires > now);
        if live.len() >= MAX_SESSIONS {
            // The oldest session goes: a flood of sign-ins cannot grow memory without bound.
            if let Some(oldest) = live.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| k.clone()) {
                live.remove(&oldest);
            }
        }
        live.insert(
            digest(&cookie),
            Session {
                csrf: csrf.clone(),
                expires: now + LIFETIME,
            },
        );
        Ok((
            cookie,
            SessionView {
                csrf_token: csrf,
                expires_in_secs: LIFETIME.as_secs(),
            },
        ))
    }

    /// The session a request's cookie names, if it is live.
    fn find(&self, headers: &HeaderMap) -> Option<SessionView> {
        let cookie = session_cookie(headers)?;
        let live = self.lock();
        let session = live.get(&digest(&cookie))?;
        let left = session.expires.checked_duration_since(Instant::now())?;
        Some(SessionView {
            csrf_token: session.csrf.clone(),
            expires_in_secs: left.as_secs(),
        })
    }

    fn close(&self, headers: &HeaderMap) {
        if let Some(cookie) = session_cookie(headers) {
            self.lock().remove(&digest(&cookie));
        }
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}

fn cookie_header(value: &str, max_age: u64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("repbook_session=; Path=/; Max-Age=0"))
}

/// How a request proved who it is.
pub enum Credential {
    Bearer,
    Session,
}

/// Checks the bearer token or, failing that, the session cookie (with the CSRF header for any method that
/// changes state).
pub fn authenticate(
    state: &AppState,
    method: &axum::http::Method,
    headers: &HeaderMap,
) -> Result<Credential, ApiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if let Some(token) = bearer {
        return if bool::from(token.as_bytes().ct_eq(state.token.as_bytes())) {
            Ok(Credential::Bearer)
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_token",
                "the bearer token is wrong; use the token in the data dir's token file or REPBOOK_TOKEN",
            ))
        };
    }
    let Some(session) = state.sessions.find(headers) else {
        return Err(if session_cookie(headers).is_some() {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "session_expired",
                "your session has ended; sign in again with the API token",
            )
        } else {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_token",
                "send Authorization: Bearer TOKEN (the token is in the data dir's token file)",
            )
        });
    };
    let safe = matches!(*method, axum::http::Method::GET | axum::http::Method::HEAD);
    if !safe {
        let presented = headers.get(CSRF_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
        if !bool::from(presented.ct_eq(session.csrf_token.as_bytes())) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_check_failed",
                "this request did not come from the admin page (missing or wrong X-CSRF-Token); reload the page",
            ));
        }
    }
    Ok(Credential::Session)
}

/// `POST /api/v1/session`: the token for a session cookie. Rate-limited like the public routes' writes.
#[utoipa::path(operation_id = "session_sign_in", 
    post,
    path = "/api/v1/session",
    tag = "session",
    summary = "Sign in to the admin page: the API token for a session cookie",
    request_body = SignIn,
    responses((status = 201, description = "Created", body = SessionView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(body): JsonBody<SignIn>,
) -> Result<Response, ApiError> {
    if !state.public_limits.allow_sign_in(client) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many sign-in attempts from here; wait a minute and try again",
        ));
    }
    if !bool::from(body.token.trim().as_bytes().ct_eq(state.token.as_bytes())) {
        tracing::warn!(%client, "admin sign-in with a wrong token");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_token",
            "that is not this server's API token; it is in the data dir's token file (or REPBOOK_TOKEN)",
        ));
    }
    let (cookie, view) = state.sessions.open()?;
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie_header(&cookie, LIFETIME.as_secs()));
    Ok(response)
}

/// `GET /api/v1/session`: whether the cookie is signed in, and its CSRF token (after a page reload).
#[utoipa::path(operation_id = "session_current", 
    get,
    path = "/api/v1/session",
    tag = "session",
    summary = "The signed-in session's CSRF token",
    responses((status = 200, description = "Done", body = SessionView), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn current(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<SessionView>, ApiError> {
    state
        .sessions
        .find(&headers)
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "not_signed_in", "sign in with the API token"))
}

/// `DELETE /api/v1/session`: signs out (needs the CSRF token, like every change).
#[utoipa::path(operation_id = "session_sign_out", 
    delete,
    path = "/api/v1/session",
    tag = "session",
    summary = "Sign out",
    responses((status = 204, description = "Done"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody))
)]
pub async fn sign_out(
    State(state): State<AppState>,
    method: axum::http::Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authenticate(&state, &method, &headers)?;
    state.sessions.close(&headers);
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie_header("", 0));
    Ok(response)
}
