//! Staff accounts as the suites use them: the host's first owner made with the host token, people invited
//! and accepting over plain HTTP (each with their own cookie jar, as a browser keeps one), a TOTP secret
//! enrolled and codes computed for it, and sessions that send their CSRF token on every change.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};

use super::Server;

pub const PASSWORD: &str = "correct horse battery staple";

/// A signed-in browser without the browser: a cookie kept from answer to answer and the session's CSRF
/// token sent with every change.
#[derive(Clone)]
pub struct Session {
    pub base: String,
    http: reqwest::Client,
    cookie: Option<String>,
    pub csrf: Option<String>,
    /// The address the server sees it from (`X-Forwarded-For`, honoured behind a trusted proxy).
    pub from: Option<String>,
}

impl Session {
    pub fn new(server: &Server) -> Session {
        Session {
            base: server.base.clone(),
            http: server.client().clone(),
            cookie: None,
            csrf: None,
            from: None,
        }
    }

    /// A session from a cookie a browser was given (`name=value`), its CSRF token still to be asked for.
    pub fn with_cookie(server: &Server, cookie: &str) -> Session {
        Session {
            cookie: Some(cookie.to_string()),
            ..Session::new(server)
        }
    }

    pub fn seen_from(mut self, address: &str) -> Session {
        self.from = Some(address.to_string());
        self
    }

    /// The session cookie's `name=value`, as sent.
    pub fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    pub async fn call(&mut self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        if let (Some(csrf), false) = (&self.csrf, method == reqwest::Method::GET) {
            request = request.header("x-csrf-token", csrf);
        }
        if let Some(from) = &self.from {
            request = request.header("x-forwarded-for", from);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        if let Some(set) = response.headers().get("set-cookie").and_then(|v| v.to_str().ok()) {
            let pair = set.split(';').next().unwrap_or_default().to_string();
            self.cookie = pair
                .split_once('=')
                .filter(|(_, v)| !v.is_empty())
                .map(|_| pair.clone());
        }
        let text = response.text().await.unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        // Every step of signing in, and every change of factors, answers the session's new CSRF token.
        let token = value["csrf_token"].as_str().or(value["session"]["csrf_token"].as_str());
        if let Some(token) = token {
            self.csrf = Some(token.to_string());
        }
        (status, value)
    }

    pub async fn get(&mut self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&mut self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&mut self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&mut self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }
}

/// A person the suites made: how they sign in.
#[derive(Clone, Debug)]
pub struct Person {
    pub id: String,
    pub email: String,
    pub password: String,
    pub totp_secret: Option<String>,
}

/// The six-digit code of `secret` for the time step `steps` away from now (RFC 6238, SHA-1, 30 s). The
/// `mfa_` suite checks repbook's codes with Python's pyotp instead; this is for suites about other things.
pub fn totp_code(secret: &str, steps: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .expect("a base32 secret");
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, String::new());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    totp.generate((now + steps * 30).max(0) as u64)
}

/// Time steps of codes already used per secret: a code works once, so each sign-in takes the next one.
fn used_steps() -> &'static Mutex<HashMap<String, i64>> {
    static USED: OnceLock<Mutex<HashMap<String, i64>>> = OnceLock::new();
    USED.get_or_init(Default::default)
}

fn step_now() -> i64 {
    (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 30) as i64
}

/// A code of `secret` not used before: this step's, else the next's (repbook takes one step either side);
/// waits for a fresh step when both were used.
pub async fn fresh_code(secret: &str) -> String {
    loop {
        let now = step_now();
        let wanted = {
            let mut used = used_steps().lock().unwrap();
            let last = used.get(secret).copied().unwrap_or(i64::MIN);
            let next = (last + 1).max(now);
            if next <= now + 1 {
                used.insert(secret.to_string(), next);
                Some(next - now)
            } else {
                None
            }
        };
        match wanted {
            Some(offset) => return totp_code(secret, offset),
            None => tokio::time::sleep(Duration::from_secs(2)).await,
        }
    }
}

/// Notes that a code of this step was used (by an enrolment), so `fresh_code` never offers it again.
pub fn note_used(secret: &str, steps_from_now: i64) {
    used_steps()
        .lock()
        .unwrap()
        .insert(secret.to_string(), step_now() + steps_from_now);
}

/// Accepts the invitation at `invite_url` (`/invite/<token>`), then enrols TOTP (when `totp`): answers the
/// person's session, signed in.
pub async fn accept(server: &Server, invite_url: &str, name: &str, totp: bool) -> (Session, Option<String>) {
    let mut session = Session::new(server);
    let (status, view) = session
        .post(invite_url, json!({"name": name, "password": PASSWORD}))
        .await;
    assert_eq!(status, 200, "accepting {invite_url}: {view}");
    if !totp {
        return (session, None);
    }
    let (status, enrolment) = session.post("/api/v1/me/totp", json!({})).await;
    assert_eq!(status, 200, "{enrolment}");
    let secret = enrolment["secret"].as_str().unwrap().to_string();
    let code = totp_code(&secret, 0);
    note_used(&secret, 0);
    let (status, answer) = session.post("/api/v1/me/totp/confirm", json!({"code": code})).await;
    assert_eq!(status, 200, "{answer}");
    (session, Some(secret))
}

/// The host's first owner, made with the host token and signed in (TOTP enrolled).
pub async fn first_owner(server: &Server, email: &str) -> (Person, Session) {
    let (status, made) = server
        .post("/api/v1/owner", json!({"email": email, "name": "Olive Owner"}))
        .await;
    assert_eq!(status, 201, "{made}");
    let (session, secret) = accept(server, made["invite_url"].as_str().unwrap(), "Olive Owner", true).await;
    let person = Person {
        id: made["person"]["id"].as_str().unwrap().to_string(),
        email: email.to_string(),
        password: PASSWORD.to_string(),
        totp_secret: secret,
    };
    (person, session)
}

/// Invites `email` as `role` at `clinic` with `inviter` (a signed-in session or the host token, on a
/// server without mail: the link comes back), accepts it and enrols TOTP.
pub async fn invited(
    server: &Server,
    inviter: Option<&mut Session>,
    email: &str,
    role: &str,
    clinic: Option<&str>,
) -> (Person, Session) {
    let body = json!({"email": email, "role": role, "clinic": clinic, "name": email.split('@').next().unwrap()});
    let (status, invited) = match inviter {
        Some(session) => session.post("/api/v1/people", body).await,
        None => server.post("/api/v1/people", body).await,
    };
    assert_eq!(status, 201, "{invited}");
    let link = invited["invite_url"]
        .as_str()
        .expect("no mail: the link comes back")
        .to_string();
    let (session, secret) = accept(server, &link, email.split('@').next().unwrap(), true).await;
    let person = Person {
        id: invited["person"]["id"].as_str().unwrap().to_string(),
        email: email.to_string(),
        password: PASSWORD.to_string(),
        totp_secret: secret,
    };
    (person, session)
}

/// The invitation mailed to `email` into a `--mail-dir` folder: its link's path (`/invite/<token>`), read
/// from the message by Python's `email` package; waits up to 10 s for the message.
pub async fn mailed_invitation(mail_dir: &std::path::Path, email: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(mail_dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|x| x == "eml"));
        files.sort();
        let mail = super::smtp::read_mail(&files, None);
        let link = mail
            .iter()
            .rev()
            .filter(|m| m.to().iter().any(|to| to.contains(email)))
            .find_map(|m| m.link("/invite/"));
        if let Some(link) = link {
            let at = link.find("/invite/").unwrap();
            return link[at..].to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no invitation to {email} in {}",
            mail_dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Invites `email` as `role` at `clinic` with `inviter` on a server that mails into `mail_dir`, accepts
/// the mailed link and enrols TOTP.
pub async fn invited_by_mail(
    server: &Server,
    inviter: &mut Session,
    mail_dir: &std::path::Path,
    email: &str,
    role: &str,
    clinic: Option<&str>,
) -> (Person, Session) {
    let name = email.split('@').next().unwrap();
    let (status, invited) = inviter
        .post(
            "/api/v1/people",
            json!({"email": email, "role": role, "clinic": clinic, "name": name}),
        )
        .await;
    assert_eq!(status, 201, "{invited}");
    assert_eq!(invited["mailed"], true, "{invited}");
    assert_eq!(
        invited["invite_url"],
        Value::Null,
        "a mailed link is never in the answer"
    );
    let link = mailed_invitation(mail_dir, email).await;
    let (session, secret) = accept(server, &link, name, true).await;
    let person = Person {
        id: invited["person"]["id"].as_str().unwrap().to_string(),
        email: email.to_string(),
        password: PASSWORD.to_string(),
        totp_secret: secret,
    };
    (person, session)
}

/// Signs `person` in from scratch: password, then a fresh TOTP code.
pub async fn sign_in(server: &Server, person: &Person) -> Session {
    let mut session = Session::new(server);
    let (status, view) = session
        .post(
            "/api/v1/session",
            json!({"email": person.email, "password": person.password}),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    if view["stage"] == "second_factor" {
        let code = fresh_code(person.totp_secret.as_deref().expect("a TOTP secret")).await;
        let (status, view) = session.post("/api/v1/session/totp", json!({"code": code})).await;
        assert_eq!(status, 200, "{view}");
    }
    session
}

/// The owner the page suites sign in as, per server (keyed by its host token), made on first use.
pub async fn page_owner(server_base: &str, token: &str, http: &reqwest::Client) -> Person {
    static OWNERS: OnceLock<Mutex<HashMap<String, Person>>> = OnceLock::new();
    let owners = OWNERS.get_or_init(Default::default);
    if let Some(owner) = owners.lock().unwrap().get(token).cloned() {
        return owner;
    }
    let server = Server::attach(server_base, token, http.clone());
    let (owner, _) = first_owner(&server, "owner@clinic.test").await;
    owners.lock().unwrap().insert(token.to_string(), owner.clone());
    owner
}
