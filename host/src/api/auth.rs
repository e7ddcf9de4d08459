//! Who is asking: the host token (the data dir's token file, created 0600 on first start, or
//! `REPBOOK_TOKEN`), a person's API token, or the admin page's session cookie (with its CSRF token). The
//! middleware here finds the caller once per request; what the caller may do is the role extractors'
//! (`access`). Wrong bearer tokens are counted per address (`AuthFailures`, its own setting).

use std::io::Write;
use std::path::Path;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

use super::AppState;
use super::cookies::{CSRF_HEADER, session_cookies};
use super::error::ApiError;
use super::listener::{ClientAddr, Https};
use crate::app::{AppError, LiveSession, Requester};
use crate::domain::{Actor, AuditActor, Role, SessionStage};

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

/// Who is asking, as `authenticate` found them: the actor, the admin page's session when the request came
/// with one, and where from. The role extractors (`access`) read it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub session: Option<LiveSession>,
    pub from: Requester,
}

impl Caller {
    /// The actor, when the request may do a person's work: a token, or a session that finished signing in.
    pub fn signed_in(&self) -> Result<&Actor, ApiError> {
        match self.session.as_ref().map(|s| s.record.stage) {
            None | Some(SessionStage::Full) => Ok(&self.actor),
            Some(SessionStage::Enrol) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "enrolment_required",
                "this host asks every account for a second factor: add a passkey or an authenticator app on My account first",
            )),
            Some(SessionStage::Setup) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "owner_required",
                "this host has no owner yet: make the owner's account first (the host token does nothing else on this page)",
            )),
            Some(SessionStage::SecondFactor) => Err(finish_signing_in()),
        }
    }
}

fn finish_signing_in() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "second_factor_required",
        "finish signing in with your passkey, code or recovery code first",
    )
}

/// What the audit middleware learns of who made a request (set on the response by `authenticate`).
#[derive(Debug, Clone)]
pub struct AuditWho {
    pub actor: AuditActor,
    pub role: Option<Role>,
    pub clinic: Option<String>,
}

/// The role a request acted in, and at which clinic.
type Checked = Option<(Role, Option<String>)>;

/// Filled by the role extractor with the role and clinic it checked, read back by `authenticate`.
#[derive(Clone, Default)]
pub struct Scope(Arc<Mutex<Checked>>);

impl Scope {
    pub fn set(&self, role: Role, clinic: Option<String>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((role, clinic));
    }

    fn get(&self) -> Checked {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Where a request came from: its address and its User-Agent.
pub fn requester(client: IpAddr, headers: &HeaderMap) -> Requester {
    Requester {
        address: client,
        device: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(300)
            .collect(),
    }
}

/// Middleware of every admin route: finds who is asking (`find_caller`), hands them to the handler's role
/// extractor, and tells the audit middleware who it was.
pub async fn authenticate(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    https: Https,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let from = requester(client, request.headers());
    let caller = find_caller(&state, request.method(), request.headers(), https, from)?;
    let scope = Scope::default();
    let actor = caller.actor.audit_actor();
    request.extensions_mut().insert(caller);
    request.extensions_mut().insert(scope.clone());
    let mut response = next.run(request).await;
    let (role, clinic) = scope.get().unzip();
    response.extensions_mut().insert(AuditWho {
        actor,
        role,
        clinic: clinic.flatten(),
    });
    Ok(response)
}

/// Checks the bearer token (the host token or a person's) or, failing that, the session cookie (with the
/// CSRF header for any method that changes state). An address that sent too many wrong tokens is answered
/// 429 until its minute is over, whatever it sends (`AuthFailures`); each wrong token is logged with the
/// address, never its text.
pub fn find_caller(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    https: Https,
    from: Requester,
) -> Result<Caller, ApiError> {
    let failures = &state.wrong_tokens;
    if let Some(wait) = failures.blocked(from.address, Instant::now()) {
        return Err(too_many_failures(wait));
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if let Some(token) = bearer {
        if bool::from(token.as_bytes().ct_eq(state.token.as_bytes())) {
            return Ok(Caller {
                actor: Actor::HostToken,
                session: None,
                from,
            });
        }
        return match state.app.actor_of_token(token, &from) {
            Ok(actor) => Ok(Caller {
                actor,
                session: None,
                from,
            }),
            Err(error) => {
                tracing::warn!(client = %from.address, "a request with a wrong API token");
                failures.record(from.address, Instant::now());
                Err(match error {
                    AppError::Unauthenticated { .. } => ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "bad_token",
                        "the bearer token is wrong, expired or revoked; use the host token in the data dir's token file \
                         (or REPBOOK_TOKEN), or a personal token from My account",
                    ),
                    other => other.into(),
                })
            }
        };
    }
    let cookies = session_cookies(headers, https);
    let session = cookies
        .iter()
        .map(|cookie| state.app.live_session(&crate::app::digest(cookie), &from))
        .find_map(|found| found.transpose())
        .transpose()?;
    let Some(session) = session else {
        return Err(if !cookies.is_empty() {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "session_expired",
                "your session has ended (idle too long, signed out, or its account changed); sign in again",
            )
        } else {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_token",
                "sign in on the admin page, or send Authorization: Bearer TOKEN (the host token is in the data dir's \
                 token file; personal tokens are made on My account)",
            )
        });
    };
    check_csrf(method, headers, &session)?;
    let actor = match (&session.person, session.record.stage) {
        (_, SessionStage::SecondFactor) => return Err(finish_signing_in()),
        (None, _) => Actor::HostToken,
        (Some(person), _) => Actor::Person(person.clone()),
    };
    Ok(Caller {
        actor,
        session: Some(session),
        from,
    })
}

/// A request that changes state with the session cookie must carry the session's CSRF token.
pub fn check_csrf(method: &Method, headers: &HeaderMap, session: &LiveSession) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD) {
        return Ok(());
    }
    let presented = headers.get(CSRF_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
    if !bool::from(presented.ct_eq(session.record.csrf.as_bytes())) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_check_failed",
            "this request did not come from the admin page (missing or wrong X-CSRF-Token); reload the page",
        ));
    }
    Ok(())
}

pub(crate) fn too_many_failures(wait: Duration) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!(
            "too many wrong tokens from this address; wait {} s and try again with the right token",
            wait.as_secs().max(1)
        ),
    )
    .with_retry_after(wait.as_secs().max(1))
}

/// Wrong bearer tokens per client address in a fixed window: past `limit` (`--wrong-tokens-per-minute`),
/// the address is answered 429 on every authenticated route until its window ends. Only failures count, so
/// a busy script with the right token is never slowed. (Wrong passwords and codes have their own throttle,
/// per account and per address: `identity::throttle`.)
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
