//! Headers every answer carries, whatever route made it: `nosniff`, `no-store` unless the route chose
//! its own caching (the embedded assets do), and over HTTPS `Strict-Transport-Security`, so a browser that
//! once reached repbook over HTTPS never falls back to plain HTTP (where the session cookie would travel
//! in clear).

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::listener::Https;

/// A year, the usual HSTS lifetime; no `includeSubDomains`, since the clinic's other hosts are not ours.
const HSTS: &str = "max-age=31536000";

pub async fn security_headers(request: Request, next: Next) -> Response {
    let https = request.extensions().get::<Https>().copied().unwrap_or_default();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        // Answers carry reps' details and the clinic's diary: no shared or browser cache keeps them.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if https.0 {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    response
}
