//! Second factors in a real browser: Chromium through chromedriver, with WebDriver's virtual authenticator
//! standing in for a laptop's fingerprint reader (passkeys), and TOTP codes computed by Python's pyotp (an
//! authenticator app's arithmetic, not repbook's). Each page state is checked by axe-core and saved as a
//! screenshot, at desk and phone width.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::support::Server;
use crate::support::booking::{ROOMY_LIMITS, python};
use crate::support::browser::{Admin, Browser};

/// The code pyotp computes for `secret` at `unix` seconds.
pub(crate) fn pyotp(secret: &str, unix: u64) -> String {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/checkers/otp.py");
    let output = Command::new(python())
        .arg(script)
        .arg(secret)
        .arg(unix.to_string())
        .output()
        .expect("run otp.py");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

pub(crate) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The server as a browser must reach it for passkeys: by name (`localhost`), never by address.
pub(crate) fn by_name(server: &Server) -> String {
    server.base.replace("127.0.0.1", "localhost")
}

async fn start() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let mut env = ROOMY_LIMITS.to_vec();
    env.push(("REPBOOK_SIGN_IN_ATTEMPTS_PER_MINUTE", "1000"));
    let server = Server::start_with_env(dir.path(), &env).await;
    (dir, server)
}

/// Types a code on the second-factor step: whether it signed in, and the refusal shown.
async fn code_step(browser: &Browser, admin: &Admin<'_>, code: &str) -> (bool, String) {
    browser
        .js("document.getElementById('error').hidden = true; return 1;")
        .await;
    admin.fill("code", code).await;
    browser.keys("\u{e007}").await;
    browser
        .until(
            "an answer",
            "!document.getElementById('workspace').hidden || !document.getElementById('error').hidden",
        )
        .await;
    (browser.visible("workspace").await, browser.text("error").await)
}

/// An invitation's link, made with the host token (no mail: the link comes back).
pub(crate) async fn invite(server: &Server, email: &str, role: &str, clinic: Option<&str>) -> String {
    let (status, made) = if role == "owner" {
        server
            .post("/api/v1/owner", json!({"email": email, "name": "Olive Owner"}))
            .await
    } else {
        server
            .post(
                "/api/v1/people",
                json!({"email": email, "role": role, "clinic": clinic}),
            )
            .await
    };
    assert_eq!(status, 201, "{made}");
    made["invite_url"].as_str().unwrap().to_string()
}

/// Opens an invitation in the browser and sets the name and password; leaves the page at enrolment.
pub(crate) async fn accept_in_browser(
    browser: &Browser,
    admin: &Admin<'_>,
    base: &str,
    link: &str,
    name: &str,
    shot: &str,
) {
    browser.goto(&format!("{base}{link}")).await;
    browser
        .until("the invitation", "!document.getElementById('invitation').hidden")
        .await;
    assert_eq!(browser.focused().await, "name");
    browser.assert_accessible("the invitation page").await;
    browser.screenshot(shot).await;
    admin.fill("name", name).await;
    admin.fill("password", "correct horse battery staple").await;
    browser.click("#accept-form button[type=submit]").await;
    browser
        .until("the enrolment step", "document.getElementById('sign-in-heading') && document.getElementById('sign-in-heading').textContent === 'Add a second factor'")
        .await;
}

pub(crate) async fn sign_out(browser: &Browser) {
    browser.click("#sign-out").await;
    browser
        .until("the sign-in form", "document.getElementById('email')")
        .await;
}

pub(crate) async fn password_step(browser: &Browser, admin: &Admin<'_>, email: &str) {
    admin.fill("email", email).await;
    admin.fill("password", "correct horse battery staple").await;
    browser.keys("\u{e007}").await;
    browser
        .until(
            "the second factor",
            "document.getElementById('sign-in-heading').textContent.startsWith('Hello')",
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_passkey_enrols_signs_in_alone_and_after_the_password_and_is_removed() {
    let (_dir, server) = start().await;
    let base = by_name(&server);
    let link = invite(&server, "owner@harbour.test", "owner", None).await;
    let clinic = server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
    let browser = Browser::start(1280, 900).await;
    let admin = Admin { browser: &browser };
    let authenticator = browser.virtual_authenticator().await;

    // Accept, then add a passkey as the second factor; the recovery codes are shown once.
    accept_in_browser(&browser, &admin, &base, &link, "Olive Owner", "mfa-1-invitation").await;
    browser.assert_accessible("the enrolment step").await;
    browser.screenshot("mfa-2-enrol").await;
    admin.fill("passkey-name", "Desk laptop").await;
    browser.click("#passkey-add").await;
    browser
        .until("the recovery codes", "document.getElementById('recovery-codes')")
        .await;
    let codes = browser
        .js("return [...document.querySelectorAll('#recovery-codes code')].map(c => c.textContent);")
        .await;
    assert_eq!(codes.as_array().unwrap().len(), 10, "{codes}");
    browser.assert_accessible("the recovery codes").await;
    browser.screenshot("mfa-3-recovery-codes").await;
    browser.click("#codes-saved").await;
    browser
        .until("the clinic's workspace", "!document.getElementById('workspace').hidden")
        .await;
    let held = browser.authenticator_credentials(&authenticator).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        held[0]["isResidentCredential"], true,
        "a discoverable credential: the passkey alone signs in"
    );

    // A passkey alone: no address typed.
    sign_out(&browser).await;
    browser.click("#use-passkey").await;
    browser
        .until(
            "signed in with the passkey",
            "!document.getElementById('workspace').hidden",
        )
        .await;
    assert!(browser.text("who").await.contains("Olive Owner"));

    // Password, then the passkey.
    sign_out(&browser).await;
    password_step(&browser, &admin, "owner@harbour.test").await;
    browser.assert_accessible("the second factor (passkey)").await;
    browser.screenshot("mfa-4-second-factor-passkey").await;
    browser.click("#second-passkey").await;
    browser
        .until("signed in", "!document.getElementById('workspace').hidden")
        .await;

    // My account: the passkey by name; it is the last factor, so it stays until another is added.
    admin.tab("account").await;
    let text = admin.panel_text("account").await;
    assert!(text.contains("Desk laptop"), "{text}");
    admin.shot("my-account").await;
    let (_, error) = admin.press("button[aria-label='Remove the passkey Desk laptop']").await;
    assert!(error.contains("last one"), "{error}");
    browser.click("#totp-start").await;
    browser.until("the QR code", "document.querySelector('svg.qr')").await;
    let secret = browser.text("totp-secret").await;
    admin.fill("totp-code", &pyotp(&secret, now())).await;
    let (status, error) = admin.press("#totp-confirm-form button[type=submit]").await;
    assert!(status.contains("set up"), "{status} {error}");
    admin.tab("account").await;
    let (status, error) = admin.press("button[aria-label='Remove the passkey Desk laptop']").await;
    assert!(status.contains("removed"), "{status} {error}");
    let (_, me) = server.get(&format!("/api/v1/clinics/{clinic}")).await;
    assert_eq!(me["id"], clinic.as_str());

    // The removed passkey no longer signs in, although the authenticator still holds it.
    sign_out(&browser).await;
    browser.click("#use-passkey").await;
    browser
        .until("the refusal", "!document.getElementById('error').hidden")
        .await;
    assert!(
        browser.text("error").await.contains("not registered here"),
        "{}",
        browser.text("error").await
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_totp_codes_from_pyotp_work_once_never_two_steps_late_and_recovery_codes_once() {
    let (_dir, server) = start().await;
    let base = by_name(&server);
    let clinic = server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
    let link = invite(&server, "fred@harbour.test", "front_desk", Some(&clinic)).await;
    let browser = Browser::start(390, 844).await;
    let admin = Admin { browser: &browser };

    // Enrol an authenticator app: the QR code drawn by the server, the key to type, pyotp's code.
    accept_in_browser(&browser, &admin, &base, &link, "Fred Desk", "mfa-5-invitation-phone").await;
    browser.click("#totp-start").await;
    browser.until("the QR code", "document.querySelector('svg.qr')").await;
    browser.assert_accessible("TOTP enrolment").await;
    browser.screenshot("mfa-6-totp-enrol-phone").await;
    let secret = browser.text("totp-secret").await;
    assert_eq!(secret.len(), 32, "a 160-bit base32 key: {secret}");
    let first = now();
    admin.fill("totp-code", &pyotp(&secret, first)).await;
    browser.click("#totp-confirm-form button[type=submit]").await;
    browser
        .until("the recovery codes", "document.getElementById('recovery-codes')")
        .await;
    let codes: Vec<String> = serde_json::from_value(
        browser
            .js("return [...document.querySelectorAll('#recovery-codes code')].map(c => c.textContent);")
            .await,
    )
    .unwrap();
    browser.click("#codes-saved").await;
    browser
        .until("the workspace", "!document.getElementById('workspace').hidden")
        .await;
    // Front desk sees the day's tabs, never the clinic's settings, people or connectors.
    for (tab, shown) in [
        ("appointments", true),
        ("requests", true),
        ("clinic", false),
        ("people", false),
        ("connectors", false),
        ("webhooks", false),
    ] {
        assert_eq!(browser.visible(&format!("tab-{tab}")).await, shown, "tab {tab}");
    }

    // The code just used, again: refused (each code works once), as is one from two steps ago.
    sign_out(&browser).await;
    password_step(&browser, &admin, "fred@harbour.test").await;
    browser.assert_accessible("the second factor (code), phone").await;
    browser.screenshot("mfa-7-code-phone").await;
    let (signed, error) = code_step(&browser, &admin, &pyotp(&secret, first)).await;
    assert!(!signed && error.contains("not right"), "the same code twice: {error}");
    let (signed, error) = code_step(&browser, &admin, &pyotp(&secret, now() - 60)).await;
    assert!(!signed && error.contains("not right"), "a code two steps old: {error}");
    // The next step's code (a phone's clock a little ahead) signs in.
    let (signed, error) = code_step(&browser, &admin, &pyotp(&secret, now() + 30)).await;
    assert!(signed, "{error}");

    // A recovery code works once.
    for (attempt, expect_in) in [(1, true), (2, false)] {
        sign_out(&browser).await;
        password_step(&browser, &admin, "fred@harbour.test").await;
        browser.click("#use-recovery summary").await;
        admin.fill("recovery-code", &codes[0].to_lowercase()).await;
        browser.keys("\u{e007}").await;
        browser
            .until(
                "an answer",
                "!document.getElementById('workspace').hidden || !document.getElementById('error').hidden",
            )
            .await;
        assert_eq!(
            browser.visible("workspace").await,
            expect_in,
            "recovery attempt {attempt}: {}",
            browser.text("error").await
        );
        if !expect_in {
            assert!(browser.text("error").await.contains("used already"));
        }
    }
    let (_, people) = server.get("/api/v1/people").await;
    let fred = people["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["email"] == "fred@harbour.test")
        .unwrap()
        .clone();
    assert_eq!(fred["factors"]["recovery_codes_left"], 9, "{fred}");
    assert_eq!(fred["factors"]["totp"], true);
    assert!(!fred.to_string().contains(&secret), "the TOTP secret in an answer");
    browser.close().await;
}
