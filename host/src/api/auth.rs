//! The API token: the token file in the data dir (created 0600 on first start) or `REPBOOK_TOKEN`; checked
//! as a bearer token, or through an admin-page session (`session`).

use std::io::Write;
use std::path::Path;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::AppState;
use super::error::ApiError;
use super::listener::{ClientAddr, Https};
use super::session::Caller;

pub const TOKEN_FILE: &str = "token";

/// The token in force: `REPBOOK_TOKEN` when set, else the data dir's token file, created if missing.
pub fn load_or_create_token(data_dir: &Path, env_token: Option<String>) -> std::io::Result<String> {
    if let Some(token) = env_token.filter(|t| !t.trim().is_empty()) {
        return Ok(token.trim().to_string());
    }
    let path = data_dir.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let token: String = {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()?;
    Ok(token)
}

/// Lets the request through with the bearer token, or with an admin-page session (and its CSRF token).
pub async fn require_token(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    https: Https,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let caller = Caller { client, https };
    super::session::authenticate(&state, request.method(), request.headers(), caller)?;
    Ok(next.run(request).await)
}

/// Wrong tokens (bearer or sign-in) per client address in a fixed window: past `limit`, the address is
/// answered 429 on every authenticated route until its window ends. Only failures count, so a busy
/// script with the right token is never slowed.
pub struct AuthFailures {
    limit: u32,
    window: Duration,
    by_address: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl AuthFailures {
    pub fn new(limit: u32, window: Duration) -> AuthFailures {
        AuthFailures {
            limit: limit.max(1),
            window,
            by_address: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, (Instant, u32)>> {
        self.by_address.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long `client` must still wait, when it has used up its failures.
    pub fn blocked(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        let (since, count) = *self.lock().get(&client)?;
        let ends = since + self.window;
        (count >= self.limit && now < ends).then(|| ends - now)
    }

    pub fn record(&self, client: IpAddr, now: Instant) {
        let mut map = self.lock();
        let entry = map.entry(client).or_insert((now, 0));
        if now >= entry.0 + self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 == self.limit {
            tracing::warn!(%client, limit = self.limit, "too many wrong tokens from one address; answering 429 for the rest of the minute");
        }
    }

    /// Forgets addresses whose window is over.
    pub fn retain_recent(&self, now: Instant) {
        self.lock().retain(|_, (since, _)| now < *since + self.window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_its_failures_until_its_window_ends_and_others_are_not() {
        let failures = AuthFailures::new(3, Duration::from_secs(60));
        let (guesser, other) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let start = Instant::now();
        for n in 0..2 {
            failures.record(guesser, start + Duration::from_secs(n));
            assert_eq!(failures.blocked(guesser, start + Duration::from_secs(n)), None);
        }
        failures.record(guesser, start + Duration::from_secs(2));
        assert_eq!(
            failures.blocked(guesser, start + Duration::from_secs(10)),
            Some(Duration::from_secs(50))
        );
        assert_eq!(failures.blocked(other, start + Duration::from_secs(10)), None);
        assert_eq!(failures.blocked(guesser, start + Duration::from_secs(60)), None);
        failures.retain_recent(start + Duration::from_secs(61));
        assert!(failures.lock().is_empty());
    }
}
