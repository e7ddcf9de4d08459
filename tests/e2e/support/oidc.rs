//! A real OpenID Provider for the `sso_` suites: panva's `oidc-provider` (npm, OpenID Certified) run with
//! node from `tests/browser/oidc-provider.mjs`, behind a small proxy of the test's own on the wire. The
//! proxy is the attacker: told to, it swaps, re-signs as `none` or breaks the signature of the next ID
//! token the token endpoint answers, and it counts the key set's fetches. It never makes a token itself:
//! every token is the provider's.
//!
//! Also the browserless way through a sign-in (the provider's own login form, over HTTP), for the
//! refusal tests; the `sso_browser_` test drives the same pages in Chromium.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Child;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::{Value, json};

use super::accounts::Session;
use super::{Server, spawn_ready};

pub const CLIENT_ID: &str = "repbook-clinic";
pub const CLIENT_SECRET: &str = "a-client-secret-of-the-test-provider";
/// Another application registered at the same provider.
pub const OTHER_CLIENT_ID: &str = "rostering-app";
pub const OTHER_CLIENT_SECRET: &str = "the-other-application-s-secret";

/// What the proxy does to the next token response.
#[derive(Debug, Clone, Default)]
pub enum Tamper {
    #[default]
    Nothing,
    /// Puts this ID token in place of the provider's.
    Replace(String),
    /// Flips a bit of the signature.
    BreakSignature,
    /// Rewrites the header to `{"alg":"none"}` and drops the signature.
    AlgNone,
}

#[derive(Default)]
struct Wire {
    tamper: Tamper,
    jwks_fetches: usize,
    last_id_token: Option<String>,
}

pub struct Provider {
    dir: tempfile::TempDir,
    pub issuer: String,
    node_port: u16,
    node: Option<Child>,
    wire: Arc<Mutex<Wire>>,
    proxy: tokio::task::JoinHandle<()>,
    kid: u32,
    redirect_uris: Vec<String>,
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.stop();
        self.proxy.abort();
    }
}

fn node_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/browser/oidc-provider.mjs")
}

impl Provider {
    /// The proxy, listening; the provider itself starts with `launch` (it needs repbook's redirect URI).
    pub async fn bind() -> Provider {
        let node_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let wire = Arc::new(Mutex::new(Wire::default()));
        let proxy = tokio::spawn(proxy(listener, node_port, wire.clone()));
        Provider {
            dir: tempfile::tempdir().unwrap(),
            issuer,
            node_port,
            node: None,
            wire,
            proxy,
            kid: 1,
            redirect_uris: Vec::new(),
        }
    }

    /// Starts the provider for repbook's redirect URIs, with `users` (see `set_users`).
    pub async fn launch(&mut self, redirect_uris: &[&str], users: Value) {
        self.redirect_uris = redirect_uris.iter().map(|s| s.to_string()).collect();
        self.set_users(users);
        self.start_node().await;
    }

    /// `{"ann": {"password": "pw", "amr": ["pwd","mfa"], "claims": {"email": ..., "email_verified": true}}}`;
    /// read by the provider at every sign-in.
    pub fn set_users(&self, users: Value) {
        std::fs::write(self.dir.path().join("users.json"), users.to_string()).unwrap();
    }

    async fn start_node(&mut self) {
        let config = json!({
            "port": self.node_port,
            "issuer": self.issuer,
            "kid": format!("key-{}", self.kid),
            "users_file": self.dir.path().join("users.json"),
            "clients": [
                {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": self.redirect_uris},
                {"client_id": OTHER_CLIENT_ID, "client_secret": OTHER_CLIENT_SECRET,
                 "redirect_uris": ["http://127.0.0.1:9/other-app/callback"]},
            ],
        });
        let path = self.dir.path().join("config.json");
        std::fs::write(&path, config.to_string()).unwrap();
        let mut command = std::process::Command::new("node");
        command
            .arg(node_script())
            .arg(&path)
            .stderr(std::process::Stdio::null());
        self.node = Some(spawn_ready(command, "oidc-provider (node; `make test-deps` installs it)").await);
    }

    /// The provider goes away (its address refuses connections).
    pub fn stop(&mut self) {
        if let Some(mut node) = self.node.take() {
            let _ = node.kill();
            let _ = node.wait();
        }
    }

    /// A restart with a new signing key (another `kid`): what a provider's key rotation looks like to
    /// repbook.
    pub async fn rotate_keys(&mut self) {
        self.stop();
        self.kid += 1;
        self.start_node().await;
    }

    pub fn tamper_next(&self, tamper: Tamper) {
        self.wire.lock().unwrap().tamper = tamper;
    }

    pub fn jwks_fetches(&self) -> usize {
        self.wire.lock().unwrap().jwks_fetches
    }

    /// The last ID token the provider answered (before any tampering).
    pub fn last_id_token(&self) -> Option<String> {
        self.wire.lock().unwrap().last_id_token.clone()
    }

    /// Adds this provider to repbook (as the host token) and answers its id.
    pub async fn register(server: &Server, issuer: &str, extra: Value) -> String {
        let mut body =
            json!({"name": "Test ID", "issuer": issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                body.insert(k.clone(), v.clone());
            }
        }
        let (status, added) = server.post("/api/v1/sso/providers", body).await;
        assert_eq!(status, 201, "{added}");
        added["id"].as_str().unwrap().to_string()
    }

    /// An ID token the provider issues to the *other* application for `login`, with `nonce`, through
    /// the same login pages: a real token meant for someone else.
    pub async fn token_for_other_app(&self, login: &str, password: &str, nonce: &str) -> String {
        let mut flow = Flow::new();
        let verifier = "the-other-application-s-pkce-verifier-of-43-chars-or-more";
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()));
        let authorize = format!(
            "{}/auth?client_id={OTHER_CLIENT_ID}&response_type=code&scope=openid%20email&redirect_uri={}&state=s&nonce={nonce}&code_challenge={challenge}&code_challenge_method=S256",
            self.issuer,
            urlencode("http://127.0.0.1:9/other-app/callback")
        );
        let callback = flow.log_in_at_provider(&authorize, login, password).await;
        let code = query_param(&callback, "code").expect("a code");
        let response = flow
            .http
            .post(format!("{}/token", self.issuer))
            .basic_auth(OTHER_CLIENT_ID, Some(OTHER_CLIENT_SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", "http://127.0.0.1:9/other-app/callback"),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        body["id_token"].as_str().expect("an ID token").to_string()
    }
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The proxy: forwards everything to the provider, keeping the Host header (so the provider's own
/// addresses are the proxy's), and applies the tampering asked for to token responses.
async fn proxy(listener: tokio::net::TcpListener, node_port: u16, wire: Arc<Mutex<Wire>>) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let http = http.clone();
        let wire = wire.clone();
        async move { forward(http, node_port, wire, request).await }
    });
    let _ = axum::serve(listener, app).await;
}

async fn forward(
    http: reqwest::Client,
    node_port: u16,
    wire: Arc<Mutex<Wire>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_string();
    if parts.method == axum::http::Method::GET && parts.uri.path() == "/jwks" {
        wire.lock().unwrap().jwks_fetches += 1;
    }
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let mut outgoing = http.request(parts.method.clone(), format!("http://127.0.0.1:{node_port}{path}"));
    for (name, value) in &parts.headers {
        outgoing = outgoing.header(name, value);
    }
    let answer = match outgoing.body(body).send().await {
        Ok(answer) => answer,
        Err(_) => return (axum::http::StatusCode::BAD_GATEWAY, "the provider is down").into_response(),
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let mut bytes = answer.bytes().await.unwrap_or_default().to_vec();
    if parts.uri.path() == "/token"
        && let Ok(mut json) = serde_json::from_slice::<Value>(&bytes)
        && let Some(token) = json["id_token"].as_str().map(str::to_string)
    {
        let tamper = {
            let mut wire = wire.lock().unwrap();
            wire.last_id_token = Some(token.clone());
            std::mem::take(&mut wire.tamper)
        };
        let changed = match tamper {
            Tamper::Nothing => token,
            Tamper::Replace(other) => other,
            Tamper::BreakSignature => {
                let (signed, signature) = token.rsplit_once('.').unwrap();
                let mut raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(signature)
                    .unwrap();
                raw[0] ^= 1;
                format!(
                    "{signed}.{}",
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
                )
            }
            Tamper::AlgNone => {
                let payload = token.split('.').nth(1).unwrap();
                let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
                format!("{header}.{payload}.")
            }
        };
        json["id_token"] = Value::String(changed);
        bytes = json.to_string().into_bytes();
    }
    let mut response = (status, bytes).into_response();
    response.headers_mut().remove("content-type");
    for (name, value) in &headers {
        if name != "content-length" && name != "transfer-encoding" {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

/// One browser's way through a sign-in, over plain HTTP: its cookies (for repbook and the provider, both
/// on 127.0.0.1) and no automatic redirects, so each step can be looked at (or replayed).
pub struct Flow {
    pub http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Default for Flow {
    fn default() -> Self {
        Flow::new()
    }
}

impl Flow {
    pub fn new() -> Flow {
        Flow {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// A GET with this browser's cookies: status, `Location`, body.
    pub async fn get(&mut self, url: &str) -> (u16, Option<String>, String) {
        let response = self
            .http
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        self.answer(url, response).await
    }

    async fn answer(&mut self, url: &str, response: reqwest::Response) -> (u16, Option<String>, String) {
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap_or_default().split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || set.to_str().unwrap_or_default().contains("Max-Age=0") {
                    self.cookies.remove(name.trim());
                } else {
                    self.cookies.insert(name.trim().to_string(), value.to_string());
                }
            }
        }
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(|l| url::Url::parse(url).unwrap().join(l).unwrap().to_string());
        (status, location, response.text().await.unwrap_or_default())
    }

    /// repbook's start: the provider's authorization URL it sends the browser to.
    pub async fn start(&mut self, server: &Server, provider: &str) -> (u16, Option<String>, String) {
        self.get(&format!("{}/sso/{provider}/start", server.base)).await
    }

    /// Through the provider's login form, until it sends the browser back: the callback URL.
    pub async fn log_in_at_provider(&mut self, authorize: &str, login: &str, password: &str) -> String {
        let mut url = authorize.to_string();
        for _ in 0..10 {
            let (status, location, body) = self.get(&url).await;
            match (status, location) {
                (300..=399, Some(next)) if next.contains("/interaction/") && !next.ends_with("/login") => {
                    let (status, _, page) = self.get(&next).await;
                    assert_eq!(status, 200, "{page}");
                    let response = self
                        .http
                        .post(format!("{next}/login"))
                        .header("cookie", self.cookie_header())
                        .form(&[("login", login), ("password", password)])
                        .send()
                        .await
                        .unwrap();
                    let (status, location, body) = self.answer(&format!("{next}/login"), response).await;
                    assert!((300..400).contains(&status), "login at the provider: {status} {body}");
                    url = location.unwrap();
                }
                (300..=399, Some(next)) if next.contains("/callback") => return next,
                (300..=399, Some(next)) => url = next,
                (status, _) => panic!("the provider answered {status} at {url}: {body}"),
            }
        }
        panic!("the provider never sent the browser back");
    }

    /// Delivers the provider's answer to repbook: status and page; a session when one was opened.
    pub async fn deliver(&mut self, server: &Server, callback: &str) -> (u16, String, Option<Session>) {
        let (status, _, page) = self.get(callback).await;
        let session = self
            .cookies
            .get("repbook_session")
            .map(|value| Session::with_cookie(server, &format!("repbook_session={value}")));
        (status, page, session)
    }

    /// The whole way: start, log in at the provider, come back.
    pub async fn sign_in(
        &mut self,
        server: &Server,
        provider: &str,
        login: &str,
        password: &str,
    ) -> (u16, String, Option<Session>) {
        let (status, authorize, page) = self.start(server, provider).await;
        assert_eq!(status, 303, "{page}");
        let callback = self.log_in_at_provider(&authorize.unwrap(), login, password).await;
        self.deliver(server, &callback).await
    }
}

/// The text of the message repbook's sign-in page shows (`#sso-message`).
pub fn page_message(page: &str) -> String {
    page.split("id=\"sso-message\">")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or(page)
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}
