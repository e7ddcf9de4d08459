//! The HTML pages and their assets, embedded in the binary: the admin page at `/`, the rep's booking and
//! manage pages. Pages carry a strict CSP (no inline script, nothing from elsewhere); a page for a dead
//! capability is the same not-found page whatever the reason.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::AppState;
use super::error::ApiError;

const BOOK_PAGE: &str = include_str!("../../web/book.html");
const MANAGE_PAGE: &str = include_str!("../../web/manage.html");
const CONFIRM_PAGE: &str = include_str!("../../web/confirm.html");
const WAITLIST_PAGE: &str = include_str!("../../web/waitlist.html");
const OFFER_PAGE: &str = include_str!("../../web/offer.html");
const NOT_FOUND_PAGE: &str = include_str!("../../web/not-found.html");
const ADMIN_PAGE: &str = include_str!("../../web/admin.html");
const INVITE_PAGE: &str = include_str!("../../web/invite.html");
const RESET_PAGE: &str = include_str!("../../web/reset.html");

const SCRIPT: &str = "text/javascript; charset=utf-8";

/// Every asset under `/assets/`: the style sheet and the pages' ES modules (no build step; the browser
/// loads each module by its relative import).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "style.css",
        include_str!("../../web/style.css"),
        "text/css; charset=utf-8",
    ),
    ("api.js", include_str!("../../web/api.js"), SCRIPT),
    ("words.js", include_str!("../../web/words.js"), SCRIPT),
    ("rep.js", include_str!("../../web/rep.js"), SCRIPT),
    ("ui.js", include_str!("../../web/ui.js"), SCRIPT),
    ("admin.js", include_str!("../../web/admin.js"), SCRIPT),
    (
        "admin-instructions.js",
        include_str!("../../web/admin-instructions.js"),
        SCRIPT,
    ),
    ("admin-clinic.js", include_str!("../../web/admin-clinic.js"), SCRIPT),
    ("admin-staff.js", include_str!("../../web/admin-staff.js"), SCRIPT),
    ("admin-times.js", include_str!("../../web/admin-times.js"), SCRIPT),
    ("admin-requests.js", include_str!("../../web/admin-requests.js"), SCRIPT),
    (
        "admin-appointments.js",
        include_str!("../../web/admin-appointments.js"),
        SCRIPT,
    ),
    ("admin-sync.js", include_str!("../../web/admin-sync.js"), SCRIPT),
    (
        "admin-connectors.js",
        include_str!("../../web/admin-connectors.js"),
        SCRIPT,
    ),
    ("admin-messages.js", include_str!("../../web/admin-messages.js"), SCRIPT),
    ("admin-activity.js", include_str!("../../web/admin-activity.js"), SCRIPT),
    ("admin-waitlist.js", include_str!("../../web/admin-waitlist.js"), SCRIPT),
    ("admin-webhooks.js", include_str!("../../web/admin-webhooks.js"), SCRIPT),
    ("waitlist.js", include_str!("../../web/waitlist.js"), SCRIPT),
    ("welcome.js", include_str!("../../web/welcome.js"), SCRIPT),
    ("webauthn.js", include_str!("../../web/webauthn.js"), SCRIPT),
    ("admin-sign-in.js", include_str!("../../web/admin-sign-in.js"), SCRIPT),
    ("admin-people.js", include_str!("../../web/admin-people.js"), SCRIPT),
    ("admin-account.js", include_str!("../../web/admin-account.js"), SCRIPT),
    ("admin-sso.js", include_str!("../../web/admin-sso.js"), SCRIPT),
    ("admin-today.js", include_str!("../../web/admin-today.js"), SCRIPT),
];

fn page(html: &'static str) -> Response {
    let mut response = Html(html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn not_found_page() -> Response {
    let mut response = page(NOT_FOUND_PAGE);
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

#[utoipa::path(operation_id = "pages_asset", 
    get,
    path = "/assets/{file}",
    tag = "pages",
    summary = "A page asset (script or style sheet)",
    params(("file" = String, Path)),
    responses((status = 200, description = "Done", body = String, content_type = "text/plain"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn asset(Path(file): Path<String>) -> Response {
    let Some(&(_, body, kind)) = ASSETS.iter().find(|(name, _, _)| *name == file) else {
        return ApiError::new(StatusCode::NOT_FOUND, "no_such_asset", "no such file").into_response();
    };
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The clinic's admin page; it signs in with the API token and then works through the API.
#[utoipa::path(operation_id = "pages_admin_page", 
    get,
    path = "/",
    tag = "pages",
    summary = "The clinic's admin page",
    responses((status = 200, description = "Done", body = String, content_type = "text/html"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn admin_page() -> Response {
    page(ADMIN_PAGE)
}

#[utoipa::path(operation_id = "pages_book_page", 
    get,
    path = "/book/{link}",
    tag = "pages",
    summary = "The rep's booking page",
    params(("link" = String, Path)),
    responses((status = 200, description = "Done", body = String, content_type = "text/html"), (status = 404, description = "The not-found page: the link is wrong, revoked or used", body = String, content_type = "text/html"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn book_page(State(state): State<AppState>, Path(link): Path<String>) -> Response {
    match state.app.link(&link) {
        Ok(_) => page(BOOK_PAGE),
        Err(_) => not_found_page(),
    }
}

#[utoipa::path(operation_id = "pages_manage_page", 
    get,
    path = "/manage/{token}",
    tag = "pages",
    summary = "The rep's page for one booking",
    params(("token" = String, Path)),
    responses((status = 200, description = "Done", body = String, content_type = "text/html"), (status = 404, description = "The not-found page: the link is wrong, revoked or used", body = String, content_type = "text/html"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn manage_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.app.managed(&token) {
        Ok(_) => page(MANAGE_PAGE),
        Err(_) => not_found_page(),
    }
}

/// The page an address confirmation link opens: what is held, and a button that confirms. Opening it
/// changes nothing (mail scanners open every link); only the button's POST confirms.
#[utoipa::path(operation_id = "pages_confirm_page",
    get,
    path = "/confirm/{token}",
    tag = "pages",
    summary = "The rep's page to confirm their address (opening it changes nothing)",
    params(("token" = String, Path)),
    responses((status = 200, description = "Done", body = String, content_type = "text/html"), (status = 404, description = "The not-found page: the link is wrong, revoked or used", body = String, content_type = "text/html"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn confirm_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.app.to_confirm(&token) {
        Ok(_) => page(CONFIRM_PAGE),
        Err(_) => not_found_page(),
    }
}

/// The page a waitlist mail's link opens: the rep's place, with Confirm (once) and Leave. Opening it
/// changes nothing; only the buttons do.
#[utoipa::path(operation_id = "pages_waitlist_page",
    get,
    path = "/waitlist/{token}",
    tag = "pages",
    summary = "The rep's page for their place on a waitlist (opening it changes nothing)",
    params(("token" = String, Path)),
    responses((status = 200, description = "Done", body = String, content_type = "text/html"), (status = 404, description = "The not-found page: the link is wrong, revoked or used", body = String, content_type = "text/html"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn waitlist_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.app.waitlist_entry(&token) {
        Ok(_) => page(WAITLIST_PAGE),
        Err(_) => not_found_page(),
    }
}

/// The page an offer's mail opens: the freed time, and Claim.
#[utoipa::path(operation_id = "pages_offer_page",
    get,
    path = "/offer/{token}",
    tag = "pages",
    summary = "The rep's page for a freed time offered to them (opening it changes nothing)",
    params(("token" = String, Path)),
    responses((status = 200, description = "Done", body = String, content_type = "text/html"), (status = 404, description = "The not-found page: the link is wrong, revoked or used", body = String, content_type = "text/html"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn offer_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.app.waitlist_offer(&token) {
        Ok(_) => page(OFFER_PAGE),
        Err(_) => not_found_page(),
    }
}

/// The page an invitation's link opens: who invited, as what, then name and password. Opening it changes
/// nothing; a used or expired link's page says so (its JSON answers 410 with the reason).
#[utoipa::path(operation_id = "pages_invite_page",
    get,
    path = "/invite/{token}",
    tag = "pages",
    summary = "The page of an invitation's link (opening it changes nothing)",
    params(("token" = String, Path)),
    responses((status = 200, description = "Done", body = String, content_type = "text/html"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn invite_page() -> Response {
    page(INVITE_PAGE)
}

/// The page a password reset's link opens.
#[utoipa::path(operation_id = "pages_reset_page",
    get,
    path = "/reset/{token}",
    tag = "pages",
    summary = "The page of a password reset's link (opening it changes nothing)",
    params(("token" = String, Path)),
    responses((status = 200, description = "Done", body = String, content_type = "text/html"), (status = "default", description = "Error envelope: what happened and what to do", body = crate::api::error::ErrorBody)),
    security(())
)]
pub async fn reset_page() -> Response {
    page(RESET_PAGE)
}

#[cfg(test)]
mod tests {
    use super::ASSETS;

    /// A script or style sheet added to web/ but not to ASSETS would be a 404 that breaks a page's imports.
    #[test]
    fn every_script_and_style_in_web_is_served() {
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(&web).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().to_string();
            let served = ASSETS.iter().any(|(asset, _, _)| *asset == name);
            if (name.ends_with(".js") || name.ends_with(".css")) && !served {
                missing.push(name);
            }
        }
        assert!(missing.is_empty(), "not in ASSETS: {missing:?}");
    }
}
