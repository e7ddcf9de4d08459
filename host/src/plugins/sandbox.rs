//! What a guest can touch: the per-call host state and the host side of the connector's imports
//! (`http`, `log`, `site-cache`). WASI is linked with an empty context (no files, env, args, sockets).
//! Time spent inside host imports is tracked so the guest-time budget is not charged for a slow PMS.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderName, HeaderValue};
use url::Url;
use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::egress::{Egress, origin_of};

/// An outgoing request as a guest asks for it, whatever its WIT version.
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub timeout_ms: Option<u32>,
}

pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a guest's request got no response (the WIT `http-error`).
pub enum HttpFailure {
    Denied(String),
    Timeout,
    Transport(String),
    TooLarge(u64),
}

#[derive(Debug, Clone, Copy)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Caps on what one HTTP exchange may cost the host.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub default_timeout: Duration,
    pub max_timeout: Duration,
    pub max_response_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        // Halo answers immediate queries within 30 s and caps results at 8 MB.
        HttpLimits {
            default_timeout: Duration::from_secs(35),
            max_timeout: Duration::from_secs(60),
            max_response_bytes: 8 << 20,
        }
    }
}

/// A header the host adds for the guest on requests to one origin.
#[derive(Clone)]
pub struct InjectedHeader {
    pub origin: String,
    pub name: HeaderName,
    pub value: HeaderValue,
}

/// Everything about the network one call may use.
pub struct CallNet {
    pub client: reqwest::Client,
    pub egress: Arc<Egress>,
    pub limits: HttpLimits,
    pub injected: Vec<InjectedHeader>,
    /// Header names the guest may not set itself (credential headers, routing headers).
    pub reserved: Vec<HeaderName>,
}

impl CallNet {
    /// A network that reaches nothing (an empty allowlist), for calls that need none.
    pub fn closed(client: reqwest::Client, limits: HttpLimits) -> CallNet {
        let operator = super::egress::OperatorPolicy::default();
        CallNet {
            client,
            egress: Arc::new(Egress::new(&[], &operator)),
            limits,
            injected: Vec::new(),
            reserved: Vec::new(),
        }
    }
}

pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limits: StoreLimits,
    pub host_time: Duration,
    pub net: Arc<CallNet>,
    pub label: Arc<str>,
    /// Secret values that must never appear in a log line.
    pub redact: Vec<String>,
    pub site_cache: BTreeMap<String, String>,
    pub stderr: MemoryOutputPipe,
    pub requests_sent: u32,
    /// The PMS side's clock against ours, from the last response's `Date` header.
    pub peer_clock_offset: Option<jiff::SignedDuration>,
    /// The clinic's zone, for the `zone` import (UTC outside a clinic's call).
    pub zone: jiff::tz::TimeZone,
}

impl HostState {
    pub fn new(
        limits: StoreLimits,
        net: Arc<CallNet>,
        label: Arc<str>,
        redact: Vec<String>,
        site_cache: BTreeMap<String, String>,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(16 * 1024);
        let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            limits,
            host_time: Duration::ZERO,
            net,
            label,
            redact,
            site_cache,
            stderr,
            requests_sent: 0,
            peer_clock_offset: None,
            zone: jiff::tz::TimeZone::UTC,
        }
    }

    fn redacted(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in self.redact.iter().filter(|s| s.len() >= 4) {
            text = text.replace(secret.as_str(), "[redacted]");
        }
        text
    }

    /// What the guest wrote to stderr (a Rust panic message, typically).
    pub fn stderr_text(&self) -> String {
        self.redacted(String::from_utf8_lossy(&self.stderr.contents()).trim())
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The host side of the imports every WIT version shares; each version's module converts its own
/// generated types and calls these.
impl HostState {
    pub async fn http_send(&mut self, request: HttpRequest) -> Result<HttpResponse, HttpFailure> {
        let started = Instant::now();
        let net = self.net.clone();
        let result = send(&net, request, &self.label).await;
        self.host_time += started.elapsed();
        self.requests_sent += 1;
        if let Ok(response) = &result
            && let Some(offset) = clock_offset(response, jiff::Timestamp::now())
        {
            self.peer_clock_offset = Some(offset);
        }
        result
    }

    pub fn log_message(&self, level: LogLevel, message: &str) {
        let message = self.redacted(message);
        let plugin = &*self.label;
        match level {
            LogLevel::Trace => tracing::trace!(plugin, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            LogLevel::Info => tracing::info!(plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            LogLevel::Error => tracing::error!(plugin, "{message}"),
        }
    }

    pub fn cache_remember(&mut self, key: String, value: String) {
        if key.len() <= 64 && value.len() <= 1024 && self.site_cache.len() < 32 {
            self.site_cache.insert(key, value);
        }
    }

    pub fn cache_forget(&mut self, key: &str) {
        self.site_cache.remove(key);
    }

    /// The instant of a clinic-local date and time: after a daylight-saving gap, the first of a fold
    /// (jiff's "compatible" choice, the same as RFC 5545's). An impossible date answers midnight UTC of
    /// 1970-01-01 rather than trap: the connector's own checks will show it.
    pub fn local_to_utc(&self, year: i16, month: i8, day: i8, seconds: u32) -> i64 {
        let seconds = seconds.min(86_399) as i32;
        jiff::civil::DateTime::new(
            year,
            month,
            day,
            (seconds / 3600) as i8,
            (seconds % 3600 / 60) as i8,
            (seconds % 60) as i8,
            0,
        )
        .ok()
        .and_then(|local| self.zone.to_ambiguous_timestamp(local).compatible().ok())
        .map(|t| t.as_second())
        .unwrap_or(0)
    }

    /// (year, month, day, seconds since midnight) of an instant in the clinic's zone.
    pub fn utc_to_local(&self, utc_seconds: i64) -> (i16, i8, i8, u32) {
        let instant = jiff::Timestamp::from_second(utc_seconds).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let local = instant.to_zoned_datetime(self.zone.clone()).datetime();
        let seconds = local.hour() as u32 * 3600 + local.minute() as u32 * 60 + local.second() as u32;
        (local.year(), local.month(), local.day(), seconds)
    }
}

/// How far the responder's clock is ahead of `now`, from its `Date` header (RFC 9110's IMF-fixdate, which is
/// RFC 2822 with "GMT"); one-second resolution.
fn clock_offset(response: &HttpResponse, now: jiff::Timestamp) -> Option<jiff::SignedDuration> {
    let date = response.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("date"))?;
    let theirs = jiff::fmt::rfc2822::parse(&date.1).ok()?.timestamp();
    Some(theirs.duration_since(now))
}

async fn send(net: &CallNet, request: HttpRequest, label: &str) -> Result<HttpResponse, HttpFailure> {
    let url =
        Url::parse(&request.url).map_err(|e| HttpFailure::Denied(format!("'{}' is not a URL: {e}", request.url)))?;
    if let Err(reason) = net.egress.check(&url) {
        tracing::warn!(plugin = label, host = url.host_str().unwrap_or(""), %reason, "plugin request denied");
        return Err(HttpFailure::Denied(reason));
    }
    let method = reqwest::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| HttpFailure::Denied(format!("'{}' is not an HTTP method", request.method)))?;
    let timeout = request
        .timeout_ms
        .map(|ms| Duration::from_millis(ms as u64))
        .unwrap_or(net.limits.default_timeout)
        .min(net.limits.max_timeout);
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in &request.headers {
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) else {
            return Err(HttpFailure::Denied(format!("header '{name}' is not valid")));
        };
        if !net.reserved.contains(&name) {
            headers.append(name, value);
        }
    }
    let origin = origin_of(&url);
    for injected in &net.injected {
        if origin.as_deref() == Some(injected.origin.as_str()) {
            headers.insert(injected.name.clone(), injected.value.clone());
        }
    }
    let mut builder = net
        .client
        .request(method.clone(), url.clone())
        .headers(headers)
        .timeout(timeout);
    if let Some(body) = request.body {
        builder = builder.body(body);
    }
    let started = Instant::now();
    let outcome = async {
        let mut response = builder.send().await?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > net.limits.max_response_bytes {
                return Ok(Err(HttpFailure::TooLarge(net.limits.max_response_bytes as u64)));
            }
            body.extend_from_slice(&chunk);
        }
        Ok::<_, reqwest::Error>(Ok(HttpResponse { status, headers, body }))
    }
    .await;
    let millis = started.elapsed().as_millis() as u64;
    // Logged without query string or headers: credentials and patient data never reach the log.
    let path = url.path();
    let host = url.host_str().unwrap_or("");
    match outcome {
        Ok(Ok(response)) => {
            tracing::debug!(plugin = label, %method, host, path, status = response.status, millis, "plugin request");
            Ok(response)
        }
        Ok(Err(too_large)) => {
            tracing::warn!(plugin = label, %method, host, path, millis, "plugin response over the size cap");
            Err(too_large)
        }
        Err(error) if error.is_timeout() => {
            tracing::warn!(plugin = label, %method, host, path, millis, "plugin request timed out");
            Err(HttpFailure::Timeout)
        }
        Err(error) if refused_address(&error).is_some() => {
            let reason = refused_address(&error).unwrap_or_default();
            tracing::warn!(plugin = label, host, %reason, "plugin request denied");
            Err(HttpFailure::Denied(reason))
        }
        Err(error) => {
            let error = error.without_url().to_string();
            tracing::warn!(plugin = label, %method, host, path, millis, %error, "plugin request failed");
            Err(HttpFailure::Transport(error))
        }
    }
}

/// The operator's refusal of a resolved address, when that is why the request failed.
fn refused_address(error: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(inner) = source {
        if let Some(refused) = inner.downcast_ref::<super::egress::RefusedAddress>() {
            return Some(refused.0.clone());
        }
        source = inner.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_clock_is_read_from_the_date_header() {
        let response = |date: &str| HttpResponse {
            status: 200,
            headers: vec![("Date".into(), date.into())],
            body: Vec::new(),
        };
        let now: jiff::Timestamp = "2026-11-26T11:32:07Z".parse().unwrap();
        let ahead = clock_offset(&response("Thu, 26 Nov 2026 11:34:07 GMT"), now).unwrap();
        assert_eq!(ahead.as_secs(), 120);
        let behind = clock_offset(&response("Thu, 26 Nov 2026 11:31:07 GMT"), now).unwrap();
        assert_eq!(behind.as_secs(), -60);
        assert!(clock_offset(&response("yesterday"), now).is_none());
    }
}
