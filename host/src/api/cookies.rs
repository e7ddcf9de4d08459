//! The admin page's session cookie. Over HTTPS it is `__Host-repbook_session; Secure`: a browser never sends
//! it over plain HTTP, and a plain-HTTP page on the same host cannot set (toss) a cookie of that name; only
//! that name is read there. Over plain HTTP, where any page of the host can set `repbook_session`, any live
//! one of the cookies of that name counts, so a tossed one cannot sign the manager out. Always HttpOnly and
//! SameSite=Strict; state-changing requests also carry the session's CSRF token (`X-CSRF-Token`).

use axum::http::{HeaderMap, HeaderValue, header};

use super::listener::Https;

pub const COOKIE: &str = "repbook_session";
/// The cookie's name over HTTPS; browsers keep `__Host-` cookies only when Secure, host-only, `Path=/`.
pub const SECURE_COOKIE: &str = "__Host-repbook_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

fn cookie_name(https: Https) -> &'static str {
    if https.0 { SECURE_COOKIE } else { COOKIE }
}

/// Every value of the session cookie's name for this transport, in the order sent.
pub fn session_cookies(headers: &HeaderMap, https: Https) -> Vec<String> {
    cookies_named(headers, cookie_name(https))
}

/// Every value the request's `Cookie` headers give `wanted`, in the order sent.
pub fn cookies_named(headers: &HeaderMap, wanted: &str) -> Vec<String> {
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

/// `Set-Cookie` for a session (`max_age` seconds; 0 removes it).
pub fn cookie_header(value: &str, max_age: i64, https: Https) -> HeaderValue {
    let secure = if https.0 { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict{secure}; Max-Age={}",
        cookie_name(https),
        max_age.max(0)
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("repbook_session=; Path=/; Max-Age=0"))
}
