//! Every request gets an id (the client's `X-Request-Id` when it is a plain short token, else a new ULID):
//! it is in the request's log lines, in the response's `X-Request-Id`, and in a 5xx body as the reference to
//! quote. Latency is recorded per route template. Nothing logged here holds a raw path or query, since the
//! rep's paths carry capabilities.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const REQUEST_ID: &str = "x-request-id";

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request this task is answering, if any.
pub fn current_request_id() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn observe(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable(id))
        .map(str::to_string)
        .unwrap_or_else(|| ulid::Ulid::new().to_string());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    let started = Instant::now();
    let mut response = CURRENT
        .scope(id.clone(), next.run(request))
        .instrument(span.clone())
        .await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    crate::metrics::global().observe_request(&route, &method, status, took);
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(
                status,
                took_ms = took.as_millis() as u64,
                "answered with a server error"
            );
        } else {
            tracing::debug!(status, took_ms = took.as_millis() as u64, "answered");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}
