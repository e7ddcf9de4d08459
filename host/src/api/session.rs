//! Signing in to the admin page: the API token, given once, buys a session cookie (HttpOnly, SameSite=Strict)
//! so the page never keeps the token in script-readable storage. Requests that change state with the cookie
//! must also carry the session's CSRF token in `X-CSRF-Token`; bearer-token clients (CLI, scripts) are not
//! affected. Sessions live in memory: a restart signs everyone out, which is the safe direction.
//!
//! Over HTTPS the cookie is `__Host-repbook_session; Secure`: a browser never sends it over plain HTTP,
//! and a plain-HTTP page on the same host cannot set (toss) a cookie of that name; only that name is read
//! there. Over plain HTTP, where any page of the host can set `repbook_session`, any live one of the
//! cookies of that name counts, so a tossed one cannot sign the manager out.

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
use super::listener::{ClientAddr, Https};
use crate::app::{digest, new_capability};

pub const COOKIE: &str = "repbook_session";
/// The cookie's name over HTTPS; browsers keep `__Host-` cookies only when Secure, host-only, `Path=/`.
pub const SECURE_COOKIE: &str = "__Host-repbook_session";
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

    /// The live session one of the request's session cookies names, with that cookie's digest.
    fn find(&self, headers: &HeaderMap, https: Https) -> Option<(String, SessionView)> {
        let live = self.lock();
        let now = Instant::now();
        session_cookies(headers, https).into_iter().find_map(|cookie| {
            let key = digest(&cookie);
            let session = live.get(&key)?;
            let left = session.expires.checked_duration_since(now)?;
            Some((
                key,
                SessionView {
                    csrf_token: session.csrf.clone(),
                    expires_in_secs: left.as_secs(),
                },
            ))
        })
    }

    fn close(&self, key: &str) {
        self.lock().remove(key);
    }
}

fn cookie_name(https: Https) -> &'static str {
    if https.0 { SECURE_COOKIE } else { COOKIE }
}

/// Every value of the session cookie's name for this transport, in the order sent.
fn session_cookies(headers: &HeaderMap, https: Https) -> Vec<String> {
    let wanted = cookie_name(https);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == wanted)
        .map(|(_, value)| value.to_string())
        .collect()
}

fn cookie_header(value: &str, max_age: u64, https: Https) -> HeaderValue {
    let secure = if https.0 { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict{secure}; Max-Age={max_age}",
        cookie_name(https)
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("repbook_session=; Path=/; Max-Age=0"))
}

/// How a request proved who it is.
pub enum Credential {
    Bearer,
    Session,
}

/// Who is asking, as the listener saw it.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub client: std::net::IpAddr,
    pub https: Https,
}

/// Checks the bearer token or, failing that, the session cookie (with the CSRF header for any method that
/// changes state). An address that sent too many wrong tokens is answered 429 until its minute is over,
/// whatever it sends (`AuthFailures`); each wrong token is logged with the address, never its text.
pub fn authenticate(
    state: &AppState,
    method: &axum::http::Method,
    headers: &HeaderMap,
    caller: Caller,
) -> Result<(Credential, Option<String>), ApiError> {
    let failures = &state.public_limits.auth_failures;
    if let Some(wait) = failures.blocked(caller.client, Instant::now()) {
        return Err(too_many_failures(wait));
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if let Some(token) = bearer {
        if bool::from(token.as_bytes().ct_eq(state.token.as_bytes())) {
            return Ok((Credential::Bearer, None));
        }
        tracing::warn!(client = %caller.client, "a request with a wrong API token");
        failures.record(caller.client, Instant::now());
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_token",
            "the bearer token is wrong; use the token in the data dir's token file or REPBOOK_TOKEN",
        ));
    }
    let Some((key, session)) = state.sessions.find(headers, caller.https) else {
        return Err(if !session_cookies(headers, caller.https).is_empty() {
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
    Ok((Credential::Session, Some(key)))
}

fn too_many_failures(wait: Duration) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!(
            "too many wrong tokens from this address; wait {} s and try again with the token in the data dir's token file",
            wait.as_secs().max(1)
        ),
    )
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
    https: Https,
    JsonBody(body): JsonBody<SignIn>,
) -> Result<Response, ApiError> {
    if let Some(wait) = state.public_limits.auth_failures.blocked(client, Instant::now()) {
        return Err(too_many_failures(wait));
    }
    if !state.public_limits.allow_sign_in(client) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many sign-in attempts from here; wait a minute and try again",
        ));
    }
    if !bool::from(body.token.trim().as_bytes().ct_eq(state.token.as_bytes())) {
        tracing::warn!(%client, "admin sign-in with a wrong token");
        state.public_limits.auth_failures.record(client, Instant::now());
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
        .insert(header::SET_COOKIE, cookie_header(&cookie, LIFETIME.as_secs(), https));
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
pub async fn current(
    State(state): State<AppState>,
    https: Https,
    headers: HeaderMap,
) -> Result<Json<SessionView>, ApiError> {
    state
        .sessions
        .find(&headers, https)
        .map(|(_, view)| Json(view))
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
    ClientAddr(client): ClientAddr,
    https: Https,
    method: axum::http::Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, session) = authenticate(&state, &method, &headers, Caller { client, https })?;
    if let Some(key) = session {
        state.sessions.close(&key);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie_header("", 0, https));
    Ok(response)
}
