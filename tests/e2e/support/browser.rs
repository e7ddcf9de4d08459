//! A real Chromium for the page suites: Debian's `chromium` driven through its `chromedriver` (WebDriver),
//! each test with its own driver, profile and download folder. Screenshots go to
//! `target/browser-screenshots/`, and axe-core (from `tests/browser/node_modules`, `make test-deps`)
//! checks each page in the same browser.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub struct Browser {
    pub client: Client,
    driver: Child,
    pub downloads: tempfile::TempDir,
    _profile: tempfile::TempDir,
}

fn need(path: &str) -> String {
    let chosen = match path {
        CHROMIUM => std::env::var("REPBOOK_TEST_CHROMIUM").unwrap_or_else(|_| path.into()),
        _ => std::env::var("REPBOOK_TEST_CHROMEDRIVER").unwrap_or_else(|_| path.into()),
    };
    assert!(
        Path::new(&chosen).exists(),
        "{chosen} is missing: run `make test-deps` (it installs Debian's chromium and chromium-driver)"
    );
    chosen
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium whose window is `width` x `height` CSS pixels.
    pub async fn start(width: u32, height: u32) -> Browser {
        Self::start_with_args(width, height, &[]).await
    }

    /// Like `start`, with more Chromium switches (e.g. `--ignore-certificate-errors` for a throwaway
    /// certificate).
    pub async fn start_with_args(width: u32, height: u32, extra: &[&str]) -> Browser {
        let port = free_port();
        let driver = Command::new(need(CHROMEDRIVER))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(response) = reqwest::get(format!("{url}/status")).await
                && response.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not answer within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let downloads = tempfile::tempdir().unwrap();
        let profile = tempfile::tempdir().unwrap();
        // No background networking: the machine's network is closed and Chromium would keep trying.
        let options = json!({
            "binary": need(CHROMIUM),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--hide-scrollbars", "--force-device-scale-factor=1",
                format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", profile.path().display()),
            ],
            "prefs": {
                "download.default_directory": downloads.path().display().to_string(),
                "download.prompt_for_download": false,
            },
        });
        // Chromium's window is at least 500 px wide; a phone's viewport needs device emulation.
        let mut options = options;
        if let Some(args) = options["args"].as_array_mut() {
            args.extend(extra.iter().map(|a| json!(a)));
        }
        if width < 500 {
            options["mobileEmulation"] =
                json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 1, "touch": true}});
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .expect("start a Chromium session");
        Browser {
            client,
            driver,
            downloads,
            _profile: profile,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("open page");
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.expect("run script")
    }

    /// Waits until `script` (an expression) is truthy, and returns its value.
    pub async fn until(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let value = self.js(&format!("return ({script});")).await;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false)) && value != json!("") && value != json!(0);
            if truthy {
                return value;
            }
            if Instant::now() > deadline {
                let _ = self.screenshot(&format!("timeout-{}", what.replace(' ', "-"))).await;
                let text = self.js("return document.body.innerText;").await;
                panic!(
                    "waited 15 s for {what}; the page says:\n{}",
                    text.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text of the element with this id.
    pub async fn text(&self, id: &str) -> String {
        self.js(&format!("return document.getElementById({id:?}).innerText;"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn visible(&self, id: &str) -> bool {
        self.js(&format!(
            "const e = document.getElementById({id:?}); return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0;"
        ))
        .await
            == json!(true)
    }

    /// The id of the focused element (screen-reader and keyboard users are where focus is).
    pub async fn focused(&self) -> String {
        self.js("return document.activeElement ? document.activeElement.id : '';")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    /// Types into the focused element, as a keyboard does (`\u{e007}` is Enter, `\u{e004}` Tab).
    pub async fn keys(&self, text: &str) {
        self.client
            .active_element()
            .await
            .expect("a focused element")
            .send_keys(text)
            .await
            .expect("type");
    }

    /// Saves a PNG of the whole page as `target/browser-screenshots/NAME.png`: the window grows to the page's
    /// height for the picture (WebDriver shows only the window), then returns to its size.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/browser-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        let emulated = self.js("return navigator.maxTouchPoints > 0;").await == json!(true);
        let before = self.client.get_window_size().await.ok();
        let page_height = self
            .js("return document.documentElement.scrollHeight;")
            .await
            .as_u64()
            .unwrap_or(0);
        if let (false, Some((width, height))) = (emulated, before)
            && page_height > height
        {
            let _ = self
                .client
                .set_window_size(width as u32, page_height.min(6000) as u32 + 140)
                .await;
        }
        let png = self.client.screenshot().await.expect("screenshot");
        if let (false, Some((width, height))) = (emulated, before) {
            let _ = self.client.set_window_size(width as u32, height as u32).await;
        }
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Runs axe-core on the page (WCAG 2.0-2.2 A and AA rules) and returns its serious and critical findings.
    pub async fn axe(&self) -> Vec<Value> {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser/node_modules/axe-core/axe.min.js");
        let axe = std::fs::read_to_string(&source).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run `make test-deps` (npm ci in tests/browser)",
                source.display()
            )
        });
        self.client
            .execute(&format!("{axe}\nreturn true;"), vec![])
            .await
            .expect("inject axe-core");
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})
                    .then(r => done(JSON.stringify(r.violations)), e => done(JSON.stringify([{id: 'axe-error', impact: 'critical', help: String(e)}])));",
                vec![],
            )
            .await
            .expect("run axe-core");
        let violations: Vec<Value> = serde_json::from_str(found.as_str().unwrap_or("[]")).unwrap();
        violations
            .into_iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious") | Some("critical")))
            .map(|v| {
                let nodes: Vec<Value> = v["nodes"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|n| n["html"].clone())
                    .collect();
                json!({"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": nodes})
            })
            .collect()
    }

    /// Asserts axe-core finds nothing serious or critical on the page as it is now.
    pub async fn assert_accessible(&self, page: &str) {
        let violations = self.axe().await;
        assert!(
            violations.is_empty(),
            "axe-core on {page}: {}",
            serde_json::to_string_pretty(&violations).unwrap()
        );
    }

    /// Waits for a finished download and returns its contents.
    pub async fn downloaded(&self, name: &str) -> String {
        let path = self.downloads.path().join(name);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(text) = std::fs::read_to_string(&path)
                && !text.is_empty()
            {
                return text;
            }
            assert!(Instant::now() < deadline, "{name} was not downloaded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Adds a WebDriver virtual authenticator (a platform authenticator that keeps discoverable
    /// credentials and verifies its user), as a laptop's fingerprint reader would; answers its id.
    pub async fn virtual_authenticator(&self) -> String {
        let answer = self
            .client
            .issue_cmd(WebAuthnCommand {
                path: "webauthn/authenticator".into(),
                method: axum::http::Method::POST,
                body: Some(json!({
                    "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
                    "hasUserVerification": true, "isUserVerified": true, "automaticPresenceSimulation": true,
                })),
            })
            .await
            .expect("add a virtual authenticator");
        answer.as_str().expect("an authenticator id").to_string()
    }

    /// The credentials the virtual authenticator holds.
    pub async fn authenticator_credentials(&self, authenticator: &str) -> Vec<Value> {
        let answer = self
            .client
            .issue_cmd(WebAuthnCommand {
                path: format!("webauthn/authenticator/{authenticator}/credentials"),
                method: axum::http::Method::GET,
                body: None,
            })
            .await
            .expect("list the authenticator's credentials");
        answer.as_array().cloned().unwrap_or_default()
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

/// A WebDriver extension command of the WebAuthn specification (chromedriver implements them).
#[derive(Debug)]
struct WebAuthnCommand {
    path: String,
    method: axum::http::Method,
    body: Option<Value>,
}

impl fantoccini::wd::WebDriverCompatibleCommand for WebAuthnCommand {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/{}", session_id.unwrap_or_default(), self.path))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (self.method.clone(), self.body.as_ref().map(|b| b.to_string()))
    }
}

/// The admin page as the suites drive it: tabs, fields, buttons that answer in the status line.
pub struct Admin<'a> {
    pub browser: &'a Browser,
}

impl Admin<'_> {
    pub async fn tab(&self, name: &str) {
        self.browser.click(&format!("#tab-{name}")).await;
        self.browser
            .until(
                &format!("the {name} tab"),
                &format!("!document.getElementById('panel-{name}').hidden && !document.getElementById('panel-{name}').hasAttribute('aria-busy') && document.getElementById('panel-{name}').children.length"),
            )
            .await;
    }

    pub async fn fill(&self, id: &str, value: &str) {
        let set = self
            .browser
            .js(&format!(
                "const e = document.getElementById({id:?}); if (!e) return false; e.focus(); e.value = ''; return true;"
            ))
            .await;
        assert_eq!(set, json!(true), "no field #{id}");
        if !value.is_empty() {
            self.browser.keys(value).await;
        }
    }

    pub async fn choose(&self, id: &str, value: &str) {
        let set = self
            .browser
            .js(&format!(
                "const e = document.getElementById({id:?}); e.value = {value:?}; e.dispatchEvent(new Event('change')); return e.value;"
            ))
            .await;
        assert_eq!(set, json!(value), "#{id} has no option {value}");
    }

    /// Clicks, then waits for the status line to say `done` or the error box to show.
    pub async fn press(&self, css: &str) -> (String, String) {
        self.browser.js("document.getElementById('status').textContent = ''; const e = document.getElementById('error'); e.hidden = true; e.textContent = ''; return 1;").await;
        self.browser.click(css).await;
        self.browser
            .until(
                &format!("an answer to {css}"),
                "document.getElementById('status').textContent.length > 0 && !document.getElementById('status').textContent.endsWith('…') || !document.getElementById('error').hidden",
            )
            .await;
        (self.browser.text("status").await, self.browser.text("error").await)
    }

    pub async fn panel_text(&self, name: &str) -> String {
        self.browser.text(&format!("panel-{name}")).await
    }

    pub async fn shot(&self, name: &str) {
        self.browser.assert_accessible(&format!("the admin page, {name}")).await;
        self.browser.screenshot(&format!("admin-{name}")).await;
    }
}

impl Admin<'_> {
    /// Opens the admin page and signs in as the server's owner (made with its host token on first use):
    /// email and password, then a code from the owner's authenticator app; waits for the clinic page.
    pub async fn sign_in(&self, base: &str, token: &str) {
        // An HTTPS test server has a throwaway certificate for HTTPS_HOST, which resolves to loopback.
        let http = match base.strip_prefix(&format!("https://{}:", super::HTTPS_HOST)) {
            Some(port) => reqwest::Client::builder()
                .danger_accept_invalid_certs(true)
                .resolve(super::HTTPS_HOST, format!("127.0.0.1:{port}").parse().unwrap())
                .build()
                .unwrap(),
            None => reqwest::Client::new(),
        };
        let owner = super::accounts::page_owner(base, token, &http).await;
        self.sign_in_as(base, &owner).await;
        self.browser
            .until("the clinic's workspace", "!document.getElementById('workspace').hidden")
            .await;
    }

    /// Signs `person` in on the sign-in page (password, then a TOTP code when they have one); leaves the
    /// page at whatever comes next.
    pub async fn sign_in_as(&self, base: &str, person: &super::accounts::Person) {
        self.browser.goto(&format!("{base}/")).await;
        self.browser
            .until("the sign-in form", "document.getElementById('email')")
            .await;
        self.fill("email", &person.email).await;
        self.fill("password", &person.password).await;
        self.browser.keys("\u{e007}").await;
        if let Some(secret) = &person.totp_secret {
            self.browser
                .until("the code field", "document.getElementById('code')")
                .await;
            let code = super::accounts::fresh_code(secret).await;
            self.fill("code", &code).await;
            self.browser.keys("\u{e007}").await;
        }
    }
}
