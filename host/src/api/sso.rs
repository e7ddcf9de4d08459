//! Single sign-on (`app/sso.rs`): the owner's providers and the sign-in policy; the sign-in page's choices;
//! the two browser routes of a sign-in (`/sso/{provider}/start` sends the browser to the provider with a
//! cookie that binds the attempt to it; `/sso/{provider}/callback` is where it comes back); and the linked
//! sign-ins on My account.
//!
//! The session cookie is `SameSite=Strict`, so a browser would not send it on a redirect that a provider's
//! page started: the callback answers a small page that moves on to `/` itself, a same-site navigation.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::access::{AsOwner, AsSession};
use super::auth::requester;
use super::cookies::{cookie_header, cookies_named};
use super::error::ApiError;
use super::extract::JsonBody;
use super::listener::{ClientAddr, Https};
use crate::app::{AppError, PolicyRequest, PolicyView, SignInOptions};
use crate::domain::{NewSsoProvider, SsoLinkView, SsoProviderView};
use crate::identity::oidc::{ATTEMPT_FOR, Callback, DiscoveryReport};

const ERROR: &str = "Error envelope: what happened and what to do";
/// The cookie that binds a sign-in under way to the browser that started it. `SameSite=Lax`: the
/// provider's redirect back is a cross-site top-level navigation, which Lax cookies go with.
const BINDING_COOKIE: &str = "repbook_sso";

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SsoProviderList {
    pub providers: Vec<SsoProviderView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SsoLinkList {
    pub links: Vec<SsoLinkView>,
}

#[utoipa::path(operation_id = "sso_providers_list", get, path = "/api/v1/sso/providers", tag = "single sign-on",
    summary = "The host's sign-in providers (never their secrets), with the redirect URI to register at each",
    responses((status = 200, description = "Done", body = SsoProviderList), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn list(_owner: AsOwner, State(state): State<AppState>) -> Result<Json<SsoProviderList>, ApiError> {
    Ok(Json(SsoProviderList {
        providers: state.app.sso_providers()?,
    }))
}

#[utoipa::path(operation_id = "sso_providers_add", post, path = "/api/v1/sso/providers", tag = "single sign-on",
    summary = "Add a provider (Microsoft Entra ID, Google, any OpenID Provider); register its redirect_uri there",
    request_body = NewSsoProvider,
    responses((status = 201, description = "Added", body = SsoProviderView), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn add(
    _owner: AsOwner,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<NewSsoProvider>,
) -> Result<Response, ApiError> {
    let view = state.app.add_sso_provider(request)?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

#[utoipa::path(operation_id = "sso_providers_remove", delete, path = "/api/v1/sso/providers/{id}", tag = "single sign-on",
    summary = "Remove a provider (its people's links stay, should the same issuer be added again)",
    params(("id" = String, Path, description = "The provider's id")),
    responses((status = 200, description = "Removed", body = SsoProviderView), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn remove(
    _owner: AsOwner,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SsoProviderView>, ApiError> {
    Ok(Json(state.app.remove_sso_provider(&id)?))
}

#[utoipa::path(operation_id = "sso_providers_test", post, path = "/api/v1/sso/providers/{id}/test", tag = "single sign-on",
    summary = "Read the provider's discovery document and keys now: what repbook found",
    params(("id" = String, Path, description = "The provider's id")),
    responses((status = 200, description = "Reachable and usable", body = DiscoveryReport), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn test(
    _owner: AsOwner,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DiscoveryReport>, ApiError> {
    Ok(Json(state.app.test_sso_provider(&id).await?))
}

#[utoipa::path(operation_id = "sso_policy_show", get, path = "/api/v1/sso/policy", tag = "single sign-on",
    summary = "Whether passwords sign in, or single sign-on only (and the break-glass owner)",
    responses((status = 200, description = "Done", body = PolicyView), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn policy(_owner: AsOwner, State(state): State<AppState>) -> Result<Json<PolicyView>, ApiError> {
    Ok(Json(state.app.sso_policy()?))
}

#[utoipa::path(operation_id = "sso_policy_set", put, path = "/api/v1/sso/policy", tag = "single sign-on",
    summary = "Allow password sign-in, or make single sign-on the only way (naming a break-glass owner with a passkey)",
    request_body = PolicyRequest,
    responses((status = 200, description = "Done", body = PolicyView), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn set_policy(
    _owner: AsOwner,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<PolicyRequest>,
) -> Result<Json<PolicyView>, ApiError> {
    Ok(Json(state.app.set_sso_policy(request)?))
}

#[utoipa::path(operation_id = "session_options", get, path = "/api/v1/session/options", tag = "session",
    summary = "How this server signs people in: passwords, and a button per provider",
    responses((status = 200, description = "Done", body = SignInOptions), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)),
    security(()))]
pub async fn options(State(state): State<AppState>) -> Result<Json<SignInOptions>, ApiError> {
    Ok(Json(state.app.sign_in_options()?))
}

#[utoipa::path(operation_id = "me_sso_links", get, path = "/api/v1/me/sso-links", tag = "my account",
    summary = "Your linked sign-ins (a provider's account that signs in as you)",
    responses((status = 200, description = "Done", body = SsoLinkList), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn links(me: AsSession, State(state): State<AppState>) -> Result<Json<SsoLinkList>, ApiError> {
    Ok(Json(SsoLinkList {
        links: state.app.my_sso_links(&me.person)?,
    }))
}

#[utoipa::path(operation_id = "me_sso_links_remove", delete, path = "/api/v1/me/sso-links/{id}", tag = "my account",
    summary = "Unlink a sign-in: that provider's account no longer signs in as you",
    params(("id" = String, Path, description = "The link's id")),
    responses((status = 200, description = "Unlinked", body = SsoLinkView), (status = "default", description = ERROR, body = crate::api::error::ErrorBody)))]
pub async fn unlink(
    me: AsSession,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SsoLinkView>, ApiError> {
    Ok(Json(state.app.unlink_sso(&me.person, &id).await?))
}

/// A plain page for the browser routes: what happened, in the person's words, and the way on.
fn message_page(status: StatusCode, heading: &str, message: &str, refresh_to_start: bool) -> Response {
    let refresh = if refresh_to_start {
        r#"<meta http-equiv="refresh" content="0; url=/">"#
    } else {
        ""
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"en-AU\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\">\n{refresh}<title>repbook · {heading}</title>\n<link \
         rel=\"stylesheet\" href=\"/assets/style.css\">\n</head>\n<body>\n<main id=\"main\">\n<h1>{heading}</h1>\n<p \
         id=\"sso-message\">{message}</p>\n<p><a href=\"/\" id=\"sso-continue\">{link}</a></p>\n</main>\n</body>\n</html>\n",
        heading = escape(heading),
        message = escape(message),
        link = if refresh_to_start {
            "Continue"
        } else {
            "Back to the sign-in page"
        },
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn refused_page(error: AppError) -> Response {
    let api = ApiError::from(error);
    let mut response = message_page(api.status, "Not signed in", &api.message, false);
    response.extensions_mut().insert(super::audit::SelfAudited);
    response
}

fn binding_cookie(value: &str, max_age: u64, https: Https) -> HeaderValue {
    let secure = if https.0 { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{BINDING_COOKIE}={value}; Path=/sso/; HttpOnly; SameSite=Lax{secure}; Max-Age={max_age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("repbook_sso=; Path=/sso/; Max-Age=0"))
}

fn binding_of(headers: &HeaderMap) -> Option<String> {
    cookies_named(headers, BINDING_COOKIE).into_iter().next()
}

#[utoipa::path(operation_id = "sso_start", get, path = "/sso/{provider}/start", tag = "pages",
    summary = "Sign in with a provider: the browser is sent there",
    params(("provider" = String, Path, description = "The provider's id")),
    responses((status = 303, description = "To the provider's sign-in page"),
        (status = "default", description = "A page saying what went wrong", body = String, content_type = "text/html")),
    security(()))]
pub async fn start(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    https: Https,
    headers: HeaderMap,
    Path(provider): Path<String>,
) -> Response {
    let from = requester(client, &headers);
    match state.app.start_sso(&provider, &from).await {
        Ok(started) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            let headers = response.headers_mut();
            if let Ok(location) = HeaderValue::from_str(&started.url) {
                headers.insert(header::LOCATION, location);
            }
            headers.insert(
                header::SET_COOKIE,
                binding_cookie(&started.binding, ATTEMPT_FOR.as_secs(), https),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            response.extensions_mut().insert(super::audit::SelfAudited);
            response
        }
        Err(error) => refused_page(error),
    }
}

/// What the provider sends back to the redirect URI.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}

#[utoipa::path(operation_id = "sso_callback", get, path = "/sso/{provider}/callback", tag = "pages",
    summary = "Where a provider sends the browser back (the redirect URI): signs in, or says why not",
    params(("provider" = String, Path, description = "The provider's id"), CallbackQuery),
    responses((status = 200, description = "Signed in (or a second factor is next): the page moves on to the admin page", body = String, content_type = "text/html"),
        (status = "default", description = "A page saying what went wrong", body = String, content_type = "text/html")),
    security(()))]
pub async fn callback(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    https: Https,
    headers: HeaderMap,
    Path(provider): Path<String>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let from = requester(client, &headers);
    let binding = binding_of(&headers);
    let callback = Callback {
        state: query.state.as_deref().unwrap_or(""),
        code: query.code.as_deref(),
        error: query.error.as_deref(),
        error_description: query.error_description.as_deref(),
        binding: binding.as_deref(),
    };
    let mut response = match state.app.finish_sso(&provider, callback, &from).await {
        Ok(new) => {
            let mut response = message_page(
                StatusCode::OK,
                "Signed in",
                "You are signed in; the admin page opens now.",
                true,
            );
            response.headers_mut().append(
                header::SET_COOKIE,
                cookie_header(&new.cookie, new.expires_in_secs, https),
            );
            response.extensions_mut().insert(super::audit::SelfAudited);
            response
        }
        Err(error) => refused_page(error),
    };
    // The attempt is over either way: its binding cookie goes.
    response
        .headers_mut()
        .append(header::SET_COOKIE, binding_cookie("", 0, https));
    response
}
