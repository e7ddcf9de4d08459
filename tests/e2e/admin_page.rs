//! The clinic's admin page in a real Chromium, walking the seed's guide against halo-sim: sign in, add the
//! clinic, install the connector, choose Halo Link, validate a wrong then the right Site ID, pick the practice
//! location that appears, add and sync staff (a mistyped AHPRA explained), map that doctor by hand, publish
//! times, create a link, book through it as a rep, approve, see it synced, resend, cancel. axe-core checks
//! each tab; each is saved under target/browser-screenshots/admin-*.png.

use crate::support;

use std::path::Path;
use std::time::Duration;

use crate::support::Server;
use crate::support::accounts;
use crate::support::booking::{ROOMY_LIMITS, weekday};
use crate::support::browser::{Admin, Browser};
use crate::support::local_date_in;
use crate::support::pms::{sim_get, wait_drained, weekday_sessions};
use serde_json::{Value, json};

/// One Bp site whose integrator login may read USERS (so AHPRA numbers can be matched); Dr Ben Okafor's
/// number was mistyped in Bp.
fn seed() -> halo_sim::Seed {
    halo_sim::Seed::from_json(
        &json!({
            "subscription_keys": ["admin-key"],
            "sites": [{
                "site_id": "30001", "pairing_code": "PAIR42", "practice_name": "Riverside Medical",
                "select_permission": true,
                "bp": {
                    "locations": [{"id": 1, "name": "Riverside Main"}, {"id": 2, "name": "Riverside North"}],
                    "ahpra_column": "REGISTRATIONNO",
                    "users": [
                        {"id": 2000000564, "title": "Dr", "first_name": "Ana", "surname": "Ng", "ahpra": "MED0001234567"},
                        {"id": 2000000570, "title": "Dr", "first_name": "Ben", "surname": "Okafor", "ahpra": "MED0007654312"}
                    ],
                    "appointment_types": [{"code": 1, "name": "Standard appt."}, {"code": 126, "name": "Internet"}],
                    "sessions": weekday_sessions(&[2000000564, 2000000570])
                }
            }]
        })
        .to_string(),
    )
    .unwrap()
}

#[tokio::test]
async fn admin_page_walks_the_seed_against_halo_sim() {
    let sim = halo_sim::serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), seed()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut env = ROOMY_LIMITS.to_vec();
    env.push(("REPBOOK_PLUGIN_ALLOW_LOOPBACK", "true"));
    let server = Server::start_with_env(dir.path(), &env).await;
    let browser = Browser::start(1366, 1100).await;
    let admin = Admin { browser: &browser };

    // Sign in as the host's owner: a wrong password is refused with the API's message, the right one and
    // a code from the authenticator app open the page.
    let (owner, _) = accounts::first_owner(&server, "owner@riverside.test").await;
    browser.goto(&format!("{}/", server.base)).await;
    browser
        .until("the sign-in form", "document.getElementById('email')")
        .await;
    assert_eq!(browser.focused().await, "email");
    browser.assert_accessible("the sign-in form").await;
    browser.screenshot("admin-0-sign-in").await;
    admin.fill("email", &owner.email).await;
    admin.fill("password", "not the password").await;
    browser.keys("\u{e007}").await;
    browser
        .until("the refusal", "!document.getElementById('error').hidden")
        .await;
    assert!(browser.text("error").await.contains("do not sign in here"));
    admin.sign_in_as(&server.base, &owner).await;

    // No clinic yet: add one.
    browser
        .until("the new-clinic form", "!document.getElementById('new-clinic').hidden")
        .await;
    let cookie_visible = browser.js("return document.cookie;").await;
    assert_eq!(cookie_visible, json!(""), "the session cookie is HttpOnly");
    admin.fill("nc-name", "Riverside Medical").await;
    admin.choose("nc-timezone", "Australia/Brisbane").await;
    admin.choose("nc-state", "QLD").await;
    admin.fill("nc-duration", "20").await;
    browser.click("#new-clinic-form button[type=submit]").await;
    browser
        .until("the workspace", "!document.getElementById('workspace').hidden")
        .await;
    assert_eq!(browser.text("clinic-title").await, "Riverside Medical");

    // Connectors: upload halo-bp.
    admin.tab("connectors").await;
    let component = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/target/wasm32-wasip2/release/halo_bp.wasm");
    browser
        .client
        .find(fantoccini::Locator::Id("component-file"))
        .await
        .unwrap()
        .send_keys(&component.canonicalize().unwrap().display().to_string())
        .await
        .unwrap();
    let (status, error) = admin.press("#install-form button[type=submit]").await;
    assert!(status.starts_with("Installed halo-bp"), "{status} {error}");
    browser
        .until(
            "the installed connector",
            "document.getElementById('panel-connectors').innerText.includes('Active')",
        )
        .await;
    admin.shot("8-connectors").await;

    // Practice instructions: send appointments via Halo Link; visiting instructions.
    admin.tab("instructions").await;
    admin.choose("send-via", "halo-bp").await;
    let (status, error) = admin.press("#via-form button[type=submit]").await;
    assert!(status.contains("Halo Link"), "{status} {error}");
    admin
        .fill("r-instructions", "Sign in at reception; the staff room is upstairs.")
        .await;
    let (status, _) = admin.press("#rules-form button[type=submit]").await;
    assert_eq!(status, "Saved the rules for reps.");
    admin.shot("1-practice-instructions").await;

    // Clinic information: settings, a wrong Site ID, then the right one; the location appears only then.
    admin.tab("clinic").await;
    assert!(!browser.visible("location").await, "no location before a valid site");
    // The connector's settings are labelled in words the practice manager reads, never by their keys.
    let panel = admin.panel_text("clinic").await;
    for label in [
        "Halo Cloud address",
        "Halo subscription key",
        "Appointment type for rep visits",
        "Where Bp keeps AHPRA numbers",
    ] {
        assert!(panel.contains(label), "no label {label:?} in {panel}");
    }
    for key in [
        "base_url",
        "subscription_key",
        "rep_visit_type_code",
        "ahpra_column",
        "read_tables",
    ] {
        assert!(!panel.contains(key), "the key {key} is shown: {panel}");
    }
    admin.fill("setting-base_url", &sim.url()).await;
    admin.fill("setting-subscription_key", "admin-key").await;
    admin.fill("setting-rep_visit_type_code", "126").await;
    admin.fill("setting-ahpra_column", "REGISTRATIONNO").await;
    let (status, error) = admin.press("#settings-form button[type=submit]").await;
    assert_eq!(status, "Saved the connector settings.", "{error}");
    assert!(
        browser
            .js("return document.getElementById('pms-enabled').checked;")
            .await
            == json!(true)
    );
    admin.fill("site-id", "39999").await;
    admin.fill("pairing-code", "PAIR42").await;
    let (_, error) = admin.press("#validate").await;
    let (_, api) = server
        .post(
            &format!("/api/v1/clinics/{}/pms/validate", clinic_id(&server).await),
            json!({}),
        )
        .await;
    assert_eq!(
        error,
        api["error"]["message"].as_str().unwrap(),
        "the page shows the API's message as it is"
    );
    assert!(!browser.visible("location").await);
    admin.shot("2a-clinic-information-wrong-site").await;
    admin.fill("site-id", "30001").await;
    admin.fill("pairing-code", "PAIR42").await;
    let (status, error) = admin.press("#validate").await;
    assert!(status.starts_with("Valid: Riverside Medical"), "{status} {error}");
    browser
        .until("the location choice", "document.getElementById('location')")
        .await;
    admin.choose("location", "2").await;
    let (status, _) = admin.press("#location-form button[type=submit]").await;
    assert_eq!(status, "Practice location: Riverside North.");
    admin.shot("2-clinic-information").await;

    // My medical staff: add two doctors, sync, see the mistyped AHPRA explained, map Dr Okafor by hand.
    admin.tab("staff").await;
    for (first, last, ahpra) in [("Ana", "Ng", "MED0001234567"), ("Ben", "Okafor", "MED0007654321")] {
        admin.fill("s-first", first).await;
        admin.fill("s-last", last).await;
        admin.fill("s-ahpra", ahpra).await;
        let (status, error) = admin.press("#add-doctor-form button[type=submit]").await;
        assert!(status.starts_with("Doctor added"), "{status} {error}");
    }
    let (status, _) = admin.press("#sync-staff").await;
    assert!(status.contains("1 synced, 1 AHPRA mismatch"), "{status}");
    let text = admin.panel_text("staff").await;
    assert!(text.contains("Synced with your PMS"), "{text}");
    assert!(text.contains("AHPRA number does not match"), "{text}");
    assert!(text.contains("MED0007654312"), "the reason names Bp's number: {text}");
    admin.shot("3-my-medical-staff").await;
    let ben = staff_id(&server, "Okafor").await;
    admin.fill(&format!("map-{ben}"), "2000000570").await;
    let (status, _) = admin.press(&format!("[id='map-button-{ben}']")).await;
    assert!(status.starts_with("Mapped Dr Ben Okafor"), "{status}");
    let text = admin.panel_text("staff").await;
    assert_eq!(text.matches("Synced with your PMS").count(), 2, "{text}");

    // Appointment times: an approval-required time with Dr Ng, a category, a closed date, a link.
    let clinic = clinic_id(&server).await;
    let day = local_date_in("Australia/Brisbane", 6);
    admin.tab("times").await;
    admin.fill("c-name", "Specialist Services").await;
    admin.press("#category-form button").await;
    admin.choose("t-weekday", weekday(&day)).await;
    admin.choose("t-start", "12:30").await;
    admin.choose("t-end", "13:30").await;
    admin.fill("t-slot", "20").await;
    let ana = staff_id(&server, "Ng").await;
    admin.choose("t-with", &ana).await;
    browser.click("#t-approval").await;
    let (status, error) = admin.press("#time-form button[type=submit]").await;
    assert_eq!(status, "Published.", "{error}");
    let text = admin.panel_text("times").await;
    assert!(
        text.contains("12:30–13:30") && text.contains("Approval required") && text.contains("Dr Ana Ng"),
        "{text}"
    );
    admin.fill("l-label", "Brisbane reps").await;
    let (status, error) = admin.press("#link-form button[type=submit]").await;
    assert!(status.starts_with("Created: http"), "{status} {error}");
    let link_url = status.trim_start_matches("Created: ").to_string();
    // The URL is shown once, in a box with its Copy button; the list says only that the link is live.
    assert!(browser.visible("new-link").await, "the new link's box");
    assert!(browser.text("new-link").await.contains(&link_url));
    admin.shot("4-appointment-times").await;

    // A rep books through the link in a second window of the same browser.
    let admin_url = browser.client.current_url().await.unwrap().to_string();
    browser.goto(&link_url).await;
    browser
        .until("slots", "document.querySelectorAll('button.slot').length")
        .await;
    browser
        .js("document.querySelector('button.slot').click(); return 1;")
        .await;
    browser.click("#rep-name").await;
    browser.keys("Ria Rep\u{e004}Acme\u{e004}ria@acme.test\u{e007}").await;
    browser
        .until("the request", "!document.getElementById('done').hidden")
        .await;
    assert_eq!(
        browser.text("done-heading").await,
        "Requested: waiting for the clinic's approval"
    );

    // Requests: approve.
    browser.goto(&admin_url).await;
    browser
        .until("the workspace", "!document.getElementById('workspace').hidden")
        .await;
    admin.tab("requests").await;
    assert!(admin.panel_text("requests").await.contains("Ria Rep (Acme)"));
    admin.shot("5-requests").await;
    let (status, error) = admin.press("#panel-requests button.primary").await;
    assert!(status.starts_with("Approved: Ria Rep"), "{status} {error}");

    // Future appointments: synced to Bp, resend, cancel.
    wait_drained(&server, &clinic, Duration::from_secs(20)).await;
    admin.tab("appointments").await;
    let text = admin.panel_text("appointments").await;
    assert!(text.contains("Synced (PMS id"), "{text}");
    admin.shot("6-future-appointments").await;
    let (status, error) = admin.press("#panel-appointments button:not(.danger)").await;
    assert_eq!(status, "Sent to your PMS.", "{error}");
    admin.press("#panel-appointments button.danger").await;
    let (status, error) = admin.press("#panel-appointments button.danger").await;
    assert_eq!(status, "Cancelled; your PMS follows.", "{error}");
    wait_drained(&server, &clinic, Duration::from_secs(20)).await;
    let bp = sim_get(&sim.url(), "/_sim/sites/30001/appointments").await;
    let live: Vec<&Value> = bp["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["record_status"] == 1)
        .collect();
    assert!(live.is_empty(), "cancelled in Bp too: {bp}");
    assert_eq!(
        bp["appointments"].as_array().unwrap().len(),
        1,
        "one record, never a duplicate: {bp}"
    );

    // Sync: the site online, nothing parked; Reconcile now.
    admin.tab("sync").await;
    assert_eq!(browser.text("site-status").await, "Online");
    let (status, error) = admin.press("#reconcile").await;
    assert!(status.starts_with("Reconciled"), "{status} {error}");
    admin.shot("7-sync").await;

    // Activity: the audit trail shows the sign-in, the admin's changes and the rep's request.
    admin.tab("activity").await;
    let text = admin.panel_text("activity").await;
    assert!(
        text.contains("Made a booking link") && text.contains("Rep booked") && text.contains("Ria Rep"),
        "{text}"
    );
    admin.shot("7a-activity").await;

    // Keyboard: arrow keys move between tabs and focus follows.
    browser.click("#tab-sync").await;
    browser.keys("\u{e014}").await; // ArrowRight
    browser
        .until("the next tab", "document.activeElement.id === 'tab-messages'")
        .await;
    assert!(browser.visible("panel-messages").await);
    // No mail server in this suite: the Messages tab says so, and what it means for reps' addresses.
    let warning = browser.text("panel-messages").await;
    assert!(warning.contains("not verified"), "{warning}");

    // Sign out: the API refuses the cookie afterwards.
    browser.click("#sign-out").await;
    browser
        .until("the sign-in form", "!document.getElementById('sign-in').hidden")
        .await;
    let after = browser
        .client
        .execute_async("fetch('/api/v1/clinics').then(r => arguments[0](r.status));", vec![])
        .await
        .unwrap();
    assert_eq!(after, json!(401));
    browser.close().await;
}

#[tokio::test]
async fn admin_page_session_needs_the_csrf_token_for_changes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), &ROOMY_LIMITS).await;
    let (owner, _) = accounts::first_owner(&server, "owner@clinic.test").await;
    let http = reqwest::Client::new();
    let password = http
        .post(format!("{}/api/v1/session", server.base))
        .json(&json!({"email": owner.email, "password": owner.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(password.status().as_u16(), 200);
    let cookie = password.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let halfway = cookie.split(';').next().unwrap().to_string();
    let csrf = password.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    // Halfway (the password only), the session reads nothing.
    let early = http
        .get(format!("{}/api/v1/clinics", server.base))
        .header("cookie", &halfway)
        .send()
        .await
        .unwrap();
    assert_eq!(early.status().as_u16(), 401);
    let code = accounts::fresh_code(owner.totp_secret.as_deref().unwrap()).await;
    let signed = http
        .post(format!("{}/api/v1/session/totp", server.base))
        .header("cookie", &halfway)
        .header("x-csrf-token", &csrf)
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status().as_u16(), 200);
    let session = signed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_ne!(session, halfway, "signing in rotates the cookie");
    let csrf = signed.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();

    let read = http
        .get(format!("{}/api/v1/clinics", server.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 200, "a session reads without the CSRF token");
    let body = json!({"name": "X", "timezone": "Australia/Sydney", "state": "NSW"});
    let forged = http
        .post(format!("{}/api/v1/clinics", server.base))
        .header("cookie", &session)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status().as_u16(),
        403,
        "a change without the CSRF token is refused"
    );
    assert_eq!(
        forged.json::<Value>().await.unwrap()["error"]["code"],
        "csrf_check_failed"
    );
    let wrong = http
        .post(format!("{}/api/v1/clinics", server.base))
        .header("cookie", &session)
        .header("x-csrf-token", "x".repeat(43))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 403);
    let right = http
        .post(format!("{}/api/v1/clinics", server.base))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status().as_u16(), 201);
    let (_, clinics) = server.get("/api/v1/clinics").await;
    assert_eq!(
        clinics["clinics"].as_array().unwrap().len(),
        1,
        "only the checked request acted"
    );

    let out = http
        .delete(format!("{}/api/v1/session", server.base))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 204);
    let after = http
        .get(format!("{}/api/v1/clinics", server.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status().as_u16(), 401);
    assert_eq!(after.json::<Value>().await.unwrap()["error"]["code"], "session_expired");
    let guess = http
        .post(format!("{}/api/v1/session", server.base))
        .json(&json!({"email": owner.email, "password": "guess guess guess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(guess.status().as_u16(), 401);
}

async fn clinic_id(server: &Server) -> String {
    let (_, list) = server.get("/api/v1/clinics").await;
    list["clinics"][0]["id"].as_str().unwrap().to_string()
}

async fn staff_id(server: &Server, last_name: &str) -> String {
    let clinic = clinic_id(server).await;
    let (_, list) = server.get(&format!("/api/v1/clinics/{clinic}/staff")).await;
    list["staff"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["last_name"] == last_name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn admin_page_shows_the_choice_before_switching_connector() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = ROOMY_LIMITS.to_vec();
    env.push(("REPBOOK_PLUGIN_ALLOW_LOOPBACK", "true"));
    let server = Server::start_with_env(dir.path(), &env).await;
    support::pms::install_halo_bp(&server).await;
    let caldav = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/target/wasm32-wasip2/release/caldav.wasm");
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/plugins", server.base))
        .bearer_auth(&server.token)
        .header("content-type", "application/wasm")
        .body(std::fs::read(caldav).unwrap())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let clinic = server.create_clinic("Switching GP", "Australia/Sydney", "NSW").await;
    let (status, _) = server
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/clinics/{clinic}/pms"),
            Some(json!({"connector": "halo-bp", "send_via": "halo-link", "enabled": true})),
        )
        .await;
    assert_eq!(status, 200);

    let browser = Browser::start(1366, 1000).await;
    let admin = Admin { browser: &browser };
    admin.sign_in(&server.base, &server.token).await;
    admin.tab("instructions").await;
    admin.choose("send-via", "caldav").await;
    browser.click("#via-form button[type=submit]").await;
    browser
        .until("the choice", "document.getElementById('switch-form')")
        .await;
    assert_eq!(browser.focused().await, "switch-heading");
    let text = admin.panel_text("instructions").await;
    assert!(
        text.contains("What should happen to the appointments") && text.contains("leave the 0 future"),
        "{text}"
    );
    browser.assert_accessible("the connector switch choice").await;
    browser.screenshot("admin-9-switch-connector").await;
    let (_, still) = server.get(&format!("/api/v1/clinics/{clinic}")).await;
    assert_eq!(
        still["pms"]["connector"], "halo-bp",
        "nothing switched before the choice is made"
    );
    let (status, error) = admin.press("#switch-form button[type=submit]").await;
    assert!(
        status.starts_with("Now sending via CalDAV calendar"),
        "{status} {error}"
    );
    let (_, switched) = server.get(&format!("/api/v1/clinics/{clinic}")).await;
    assert_eq!(switched["pms"]["connector"], "caldav");
    browser.close().await;
}
