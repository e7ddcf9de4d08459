//! The HTML pages and their assets, embedded in the binary: the admin page at `/`, the rep's booking and
//! manage pages. Pages carry a strict CSP (no inline script, nothing from elsewhere); a page for a dead
//! capability is the same not-found page whatever the reason.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use jiff::Timestamp;

use super::AppState;
use super::error::ApiError;

const BOOK_PAGE: &str = include_str!("../../web/book.html");
const MANAGE_PAGE: &str = include_str!("../../web/manage.html");
const NOT_FOUND_PAGE: &str = include_str!("../../web/not-found.html");
const REP_SCRIPT: &str = include_str!("../../web/rep.js");
const STYLE: &str = include_str!("../../web/style.css");
const ADMIN_PAGE: &str = include_str!("../../web/admin.html");
const ADMIN_SCRIPT: &str = include_str!("../../web/admin.js");

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

pub async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "rep.js" => (REP_SCRIPT, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        "admin.js" => (ADMIN_SCRIPT, "text/javascript; charset=utf-8"),
        _ => {
            return ApiError::new(StatusCode::NOT_FOUND, "no_such_asset", "no such file").into_response();
        }
    };
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The clinic's admin page; it signs in with the API token and then works through the API.
pub async fn admin_page() -> Response {
    page(ADMIN_PAGE)
}

pub async fn book_page(State(state): State<AppState>, Path(link): Path<String>) -> Response {
    match state.bookings.link(&link) {
        Ok(_) => page(BOOK_PAGE),
        Err(_) => not_found_page(),
    }
}

pub async fn manage_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.bookings.managed(&token, Timestamp::now()) {
        Ok(_) => page(MANAGE_PAGE),
        Err(_) => not_found_page(),
    }
}
