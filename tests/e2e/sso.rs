//! Single sign-on against a real OpenID Provider (`oidc-provider`, OpenID Certified, run with node; see
//! `support/oidc.rs`), through its own login pages: linking on the first sign-in by the verified invited
//! address, signing in by `sub` alone afterwards, MFA at the provider counting, and each refusal the
//! relying party owes: a wrong state, a replayed code, another audience, an expired token, a tampered
//! signature, `alg: none`, another attempt's nonce, an unverified or uninvited address, a disabled
//! account, a provider that is down. The proxy in front of the provider plays the attacker.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::accounts::{self, Session};
use crate::support::oidc::{Flow, Provider, Tamper, page_message};
use crate::support::{Server, clock_env, env_refs};

struct World {
    _dir: tempfile::TempDir,
    server: Server,
    provider: Provider,
    id: String,
    clinic: String,
}

fn user(email: &str, verified: bool, amr: &[&str]) -> Value {
    json!({"password": "pw", "amr": amr, "claims": {"email": email, "email_verified": verified, "name": "From The Provider"}})
}

/// A server (with a test clock) that knows one provider; `users` at the provider; an owner, and a clinic.
async fn world(users: Value, extra: Value) -> World {
    let dir = tempfile::tempdir().unwrap();
    let env = clock_env(dir.path());
    let server = Server::start_with_env(dir.path(), &env_refs(&env)).await;
    let mut provider = Provider::bind().await;
    let id = Provider::register(&server, &provider.issuer, extra).await;
    let redirect = format!("{}/sso/{id}/callback", server.base);
    provider.launch(&[&redirect], users).await;
    let clinic = server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
    World {
        _dir: dir,
        server,
        provider,
        id,
        clinic,
    }
}

impl World {
    /// An invited person who accepted (password and TOTP), as a manager of the clinic.
    async fn manager(&self, email: &str) -> accounts::Person {
        accounts::invited(&self.server, None, email, "manager", Some(&self.clinic))
            .await
            .0
    }

    /// The audit trail's sign-in entries, newest first, as "action/outcome: detail".
    async fn trail(&self) -> Vec<String> {
        let (status, page) = self.server.get("/api/v1/audit?limit=200").await;
        assert_eq!(status, 200, "{page}");
        page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"].as_str().unwrap_or("").contains("sign"))
            .map(|e| {
                format!(
                    "{}/{}: {}",
                    e["action"].as_str().unwrap(),
                    e["outcome"].as_str().unwrap(),
                    e["detail"].as_str().unwrap()
                )
            })
            .collect()
    }

    /// Asserts the trail's newest single sign-on refusal has `code`.
    async fn refused_for(&self, code: &str) -> String {
        let trail = self.trail().await;
        let entry = trail
            .iter()
            .find(|e| e.starts_with("single sign-on refused/"))
            .unwrap_or_else(|| panic!("no refusal in {trail:#?}"))
            .clone();
        assert!(entry.starts_with(&format!("single sign-on refused/{code}:")), "{entry}");
        assert!(entry.contains("through Test ID"), "the provider is named: {entry}");
        entry
    }
}

async fn session_of(mut session: Session) -> (Session, Value) {
    let (status, view) = session.get("/api/v1/session").await;
    assert_eq!(status, 200, "{view}");
    (session, view)
}

#[tokio::test]
async fn sso_first_sign_in_links_by_verified_address_then_by_sub_alone() {
    let w = world(json!({"ann": user("Ann@Harbour.test", true, &["pwd"])}), json!({})).await;
    let ann = w.manager("ann@harbour.test").await;

    let mut flow = Flow::new();
    let (status, page, session) = flow.sign_in(&w.server, &w.id, "ann", "pw").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("http-equiv=\"refresh\""),
        "the page moves on to the admin page: {page}"
    );
    // The provider did no MFA (amr: pwd): repbook's own second factor is next.
    let (mut session, view) = session_of(session.expect("a session cookie")).await;
    assert_eq!(view["stage"], "second_factor", "{view}");
    assert_eq!(view["person"]["id"], ann.id.as_str());
    let (status, body) = session.get("/api/v1/clinics").await;
    assert_eq!(status, 401, "nothing but the second factor before it: {body}");
    assert_eq!(body["error"]["code"], "second_factor_required");
    let code = accounts::fresh_code(ann.totp_secret.as_deref().unwrap()).await;
    let (status, view) = session.post("/api/v1/session/totp", json!({"code": code})).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["stage"], "full");
    let (status, links) = session.get("/api/v1/me/sso-links").await;
    assert_eq!(status, 200, "{links}");
    assert_eq!(links["links"][0]["provider"], "Test ID");
    assert_eq!(links["links"][0]["email_at_link"], "ann@harbour.test");

    // The address changes at the provider: the link (issuer, sub) still finds Ann, and only Ann.
    w.provider
        .set_users(json!({"ann": user("ann@somewhere-else.test", true, &["pwd", "mfa"])}));
    let (status, page, session) = Flow::new().sign_in(&w.server, &w.id, "ann", "pw").await;
    assert_eq!(status, 200, "{page}");
    let (_, view) = session_of(session.unwrap()).await;
    assert_eq!(view["person"]["id"], ann.id.as_str(), "{view}");
    assert_eq!(view["person"]["email"], "ann@harbour.test", "repbook's address stays");
    assert_eq!(view["stage"], "full", "MFA at the provider (amr mfa) counts: {view}");

    let trail = w.trail().await;
    assert!(
        trail
            .iter()
            .any(|e| e.starts_with("signed in/done") && e.contains("through Test ID (MFA at the provider)")),
        "{trail:#?}"
    );
    assert!(
        trail
            .iter()
            .any(|e| e.starts_with("single sign-on accepted/second_factor_asked")),
        "{trail:#?}"
    );
}

#[tokio::test]
async fn sso_an_invited_person_accepts_by_signing_in_and_mfa_at_the_provider_counts() {
    let w = world(json!({"bo": user("bo@harbour.test", true, &["pwd", "mfa"])}), json!({})).await;
    let (status, invited) = w
        .server
        .post(
            "/api/v1/people",
            json!({"email": "bo@harbour.test", "role": "front_desk", "clinic": w.clinic, "name": "Bo"}),
        )
        .await;
    assert_eq!(status, 201, "{invited}");
    let (status, page, session) = Flow::new().sign_in(&w.server, &w.id, "bo", "pw").await;
    assert_eq!(status, 200, "{page}");
    let (mut session, view) = session_of(session.unwrap()).await;
    assert_eq!(view["stage"], "full", "{view}");
    assert_eq!(
        view["roles"][0]["role"], "front_desk",
        "the invitation's role, no more: {view}"
    );
    let (status, clinics) = session.get("/api/v1/clinics").await;
    assert_eq!(status, 200, "{clinics}");
    // The invitation is used: its link no longer works.
    let link = invited["invite_url"].as_str().unwrap();
    let (status, _) = w.server.get(&format!("{link}/invitation")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn sso_refuses_a_wrong_state() {
    let w = world(json!({"ann": user("ann@harbour.test", true, &["mfa"])}), json!({})).await;
    w.manager("ann@harbour.test").await;
    let mut flow = Flow::new();
    let (_, authorize, _) = flow.start(&w.server, &w.id).await;
    let callback = flow.log_in_at_provider(&authorize.unwrap(), "ann", "pw").await;
    let state = crate::support::oidc::query_param(&callback, "state").unwrap();
    let forged = callback.replace(&format!("state={state}"), "state=forged-by-someone");
    let (status, page, session) = flow.deliver(&w.server, &forged).await;
    assert_eq!(status, 401, "{page}");
    assert!(session.is_none());
    assert!(page_message(&page).contains("start again"), "{page}");
    w.refused_for("unknown_state").await;
}

#[tokio::test]
async fn sso_refuses_a_replayed_code() {
    let w = world(json!({"ann": user("ann@harbour.test", true, &["mfa"])}), json!({})).await;
    w.manager("ann@harbour.test").await;
    let mut flow = Flow::new();
    let (_, authorize, _) = flow.start(&w.server, &w.id).await;
    let callback = flow.log_in_at_provider(&authorize.unwrap(), "ann", "pw").await;
    let (status, page, first) = flow.deliver(&w.server, &callback).await;
    assert_eq!(status, 200, "{page}");
    assert!(first.is_some());
    // The same answer again, from another browser that saw it (a proxy log, a shared history)...
    let mut thief = Flow::new();
    let (status, page, session) = thief.deliver(&w.server, &callback).await;
    assert_eq!(status, 401, "{page}");
    assert!(session.is_none());
    w.refused_for("unknown_state").await;
    // ...and from the same browser.
    let (status, page, _) = flow.deliver(&w.server, &callback).await;
    assert_eq!(status, 401, "{page}");
}

#[tokio::test]
async fn sso_refuses_an_answer_delivered_to_another_browser() {
    let w = world(json!({"ann": user("ann@harbour.test", true, &["mfa"])}), json!({})).await;
    w.manager("ann@harbour.test").await;
    let mut victim = Flow::new();
    let (_, authorize, _) = victim.start(&w.server, &w.id).await;
    let callback = victim.log_in_at_provider(&authorize.unwrap(), "ann", "pw").await;
    // An attacker's browser opens the victim's answer (login CSRF the other way round): no binding cookie.
    let (status, page, session) = Flow::new().deliver(&w.server, &callback).await;
    assert_eq!(status, 401, "{page}");
    assert!(session.is_none());
    assert!(page_message(&page).contains("another browser"), "{page}");
    w.refused_for("other_browser").await;
}

/// Runs a sign-in whose token response the proxy changes by `tamper`; answers the page.
async fn tampered(w: &World, login: &str, tamper: Tamper) -> (u16, String) {
    let mut flow = Flow::new();
    let (_, authorize, _) = flow.start(&w.server, &w.id).await;
    let callback = flow.log_in_at_provider(&authorize.unwrap(), login, "pw").await;
    w.provider.tamper_next(tamper);
    let (status, page, session) = flow.deliver(&w.server, &callback).await;
    assert!(session.is_none() || status == 200);
    (status, page)
}

#[tokio::test]
async fn sso_refuses_a_token_for_another_audience() {
    let w = world(json!({"ann": user("ann@harbour.test", true, &["mfa"])}), json!({})).await;
    w.manager("ann@harbour.test").await;
    let mut flow = Flow::new();
    let (_, authorize, _) = flow.start(&w.server, &w.id).await;
    let authorize = authorize.unwrap();
    let nonce = crate::support::oidc::query_param(&authorize, "nonce").unwrap();
    // A real token of the same provider, for the same person and even the same nonce, but for another app.
    let other = w.provider.token_for_other_app("ann", "pw", &nonce).await;
    let callback = flow.log_in_at_provider(&authorize, "ann", "pw").await;
    w.provider.tamper_next(Tamper::Replace(other));
    let (status, page, session) = flow.deliver(&w.server, &callback).await;
    assert_eq!(status, 401, "{page}");
    assert!(session.is_none());
    w.refused_for("wrong_audience").await;
}

#[tokio::test]
async fn sso_refuses_an_expired_token() {
    let w = world(json!({"ann": user("ann@harbour.test", true, &["mfa"])}), json!({})).await;
    w.manager("ann@harbour.test").await;
    let mut flow = Flow::new();
    let (_, authorize, _) = flow.start(&w.server, &w.id).await;
    let callback = flow.log_in_at_provider(&authorize.unwrap(), "ann", "pw").await;
    // The provider's ID tokens live an hour; repbook's clock is now two hours on.
    w.server.move_clock(Duration::from_secs(2 * 3600)).await;
    let (status, page, session) = flow.deliver(&w.server, &callback).await;
    assert_eq!(status, 401, "{page}");
    assert!(session.is_none());
    w.refused_for("token_expired").await;
}

#[tokio::test]
async fn sso_refuses_a_tampered_signature() {
    let w = world(json!({"ann": user("ann@harbour.test", true, &["mfa"])}), json!({})).await;
    w.manager("ann@harbour.test").await;
    let (status, page) = tampered(&w, "ann", Tamper::BreakSignature).await;
    assert_eq!(status, 401, "{page}");
    w.refused_for("bad_signature").await;
    // Untouched, the same person signs in.
    let (status, page) = tampered(&w, "ann", Tamper::Nothing).await;
    assert_eq!(status, 200, "{page}");
}

#[tokio::test]
async fn sso_refuses_alg_none() {
    let w = world(json!({"ann": user("ann@harbour.test", true, &["mfa"])}), json!({})).await;
    w.manager("ann@harbour.test").await;
    let (status, page) = tampered(&w, "ann", Tamper::AlgNone).await;
    assert_eq!(status, 401, "{page}");
    assert!(page_message(&page).contains("refused"), "{page}");
    w.refused_for("algorithm_refused").await;
}

#[tokio::test]
async fn sso_unlinking_stops_the_link_and_the_next_sign_in_links_again_by_address() {
    let w = world(json!({"ann": user("ann@harbour.test", true, &["mfa"])}), json!({})).await;
    let ann = w.manager("ann@harbour.test").await;
    let (status, _, _) = Flow::new().sign_in(&w.server, &w.id, "ann", "pw").await;
    assert_eq!(status, 200);
    let mut mine = accounts::sign_in(&w.server, &ann).await;
    let (_, links) = mine.get("/api/v1/me/sso-links").await;
    let link = links["links"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = mine.delete(&format!("/api/v1/me/sso-links/{link}")).await;
    assert_eq!(status, 200, "{body}");
    let (_, links) = mine.get("/api/v1/me/sso-links").await;
    assert_eq!(links["links"].as_array().unwrap().len(), 0, "{links}");
    // With the link gone and the provider now sending another address, the provider's account is nobody.
    w.provider
        .set_users(json!({"ann": user("ann@elsewhere.test", true, &["mfa"])}));
    let (status, page, _) = Flow::new().sign_in(&w.server, &w.id, "ann", "pw").await;
    assert_eq!(status, 403, "{page}");
    w.refused_for("not_invited").await;
    // The invited address again: linked again.
    w.provider
        .set_users(json!({"ann": user("ann@harbour.test", true, &["mfa"])}));
    let (status, page, _) = Flow::new().sign_in(&w.server, &w.id, "ann", "pw").await;
    assert_eq!(status, 200, "{page}");
    let (_, links) = mine.get("/api/v1/me/sso-links").await;
    assert_eq!(links["links"].as_array().unwrap().len(), 1, "{links}");
}

#[tokio::test]
async fn sso_refuses_a_nonce_from_another_attempt() {
    let w = world(json!({"ann": user("ann@harbour.test", true, &["mfa"])}), json!({})).await;
    w.manager("ann@harbour.test").await;
    let (status, page) = tampered(&w, "ann", Tamper::Nothing).await;
    assert_eq!(status, 200, "{page}");
    let earlier = w.provider.last_id_token().unwrap();
    // Valid, signed, for repbook and for Ann, within its hour: but the nonce of the earlier attempt.
    let (status, page) = tampered(&w, "ann", Tamper::Replace(earlier)).await;
    assert_eq!(status, 401, "{page}");
    w.refused_for("wrong_nonce").await;
}

#[tokio::test]
async fn sso_key_rotation_fetches_the_keys_once_and_signs_in() {
    let mut w = world(json!({"ann": user("ann@harbour.test", true, &["mfa"])}), json!({})).await;
    w.manager("ann@harbour.test").await;
    for _ in 0..3 {
        let (status, page) = tampered(&w, "ann", Tamper::Nothing).await;
        assert_eq!(status, 200, "{page}");
    }
    assert_eq!(
        w.provider.jwks_fetches(),
        1,
        "keys are fetched with discovery, never at every sign-in"
    );
    w.provider.rotate_keys().await;
    for _ in 0..3 {
        let (status, page) = tampered(&w, "ann", Tamper::Nothing).await;
        assert_eq!(status, 200, "{page}");
    }
    assert_eq!(w.provider.jwks_fetches(), 2, "the unknown kid fetched the keys once");
}

#[tokio::test]
async fn sso_refuses_an_unverified_address() {
    let w = world(json!({"ann": user("ann@harbour.test", false, &["mfa"])}), json!({})).await;
    w.manager("ann@harbour.test").await;
    let (status, page, session) = Flow::new().sign_in(&w.server, &w.id, "ann", "pw").await;
    assert_eq!(status, 403, "{page}");
    assert!(session.is_none());
    assert!(page_message(&page).contains("verified"), "{page}");
    w.refused_for("email_not_verified").await;
}

#[tokio::test]
async fn sso_entra_addresses_count_only_by_the_claim_the_owner_chose() {
    // Entra ID's `email_verified` is not what the xms_edov setting trusts.
    let users = json!({
        "typed": {"password": "pw", "amr": ["mfa"], "claims": {"email": "ann@harbour.test", "email_verified": true}},
        "owned": {"password": "pw", "amr": ["mfa"], "claims": {"email": "ann@harbour.test", "xms_edov": true}},
    });
    let w = world(users, json!({"email_claim": "xms_edov"})).await;
    w.manager("ann@harbour.test").await;
    let (status, page, _) = Flow::new().sign_in(&w.server, &w.id, "typed", "pw").await;
    assert_eq!(status, 403, "{page}");
    assert!(page_message(&page).contains("xms_edov"), "{page}");
    let (status, page, _) = Flow::new().sign_in(&w.server, &w.id, "owned", "pw").await;
    assert_eq!(status, 200, "{page}");
}

#[tokio::test]
async fn sso_refuses_an_uninvited_address() {
    let w = world(json!({"eve": user("eve@harbour.test", true, &["mfa"])}), json!({})).await;
    let (status, page, session) = Flow::new().sign_in(&w.server, &w.id, "eve", "pw").await;
    assert_eq!(status, 403, "{page}");
    assert!(session.is_none());
    let message = page_message(&page);
    assert!(message.contains("ask your practice manager to invite you"), "{message}");
    w.refused_for("not_invited").await;
    let (_, people) = w.server.get("/api/v1/people").await;
    assert!(
        !people.to_string().contains("eve@harbour.test"),
        "no account was made: {people}"
    );
}

#[tokio::test]
async fn sso_refuses_a_disabled_account() {
    let w = world(json!({"ann": user("ann@harbour.test", true, &["mfa"])}), json!({})).await;
    let ann = w.manager("ann@harbour.test").await;
    let (status, _, _) = Flow::new().sign_in(&w.server, &w.id, "ann", "pw").await;
    assert_eq!(status, 200, "linked while active");
    let (status, body) = w
        .server
        .patch(&format!("/api/v1/people/{}", ann.id), json!({"disabled": true}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, page, session) = Flow::new().sign_in(&w.server, &w.id, "ann", "pw").await;
    assert_eq!(status, 403, "{page}");
    assert!(session.is_none());
    assert!(page_message(&page).contains("disabled"), "{page}");
    w.refused_for("account_disabled").await;
}

#[tokio::test]
async fn sso_an_issuer_that_is_down_says_so_and_passwords_still_work() {
    let mut w = world(json!({"ann": user("ann@harbour.test", true, &["mfa"])}), json!({})).await;
    let ann = w.manager("ann@harbour.test").await;
    w.provider.stop();
    let (status, _, page) = Flow::new().start(&w.server, &w.id).await;
    assert_eq!(status, 502, "{page}");
    let message = page_message(&page);
    assert!(message.contains("cannot reach Test ID"), "{message}");
    assert!(message.contains("sign in another way"), "{message}");
    w.refused_for("provider_unreachable").await;
    let (status, test) = w
        .server
        .post(&format!("/api/v1/sso/providers/{}/test", w.id), json!({}))
        .await;
    assert_eq!(status, 502, "{test}");
    // Password and second factor, as ever.
    let mut session = accounts::sign_in(&w.server, &ann).await;
    let (_, view) = session.get("/api/v1/session").await;
    assert_eq!(view["stage"], "full", "{view}");
}

#[tokio::test]
async fn sso_only_needs_a_break_glass_owner_with_a_passkey() {
    let w = world(json!({}), json!({})).await;
    let (owner, _) = accounts::first_owner(&w.server, "olive@harbour.test").await;
    let put = |body: Value| {
        let server = &w.server;
        async move {
            server
                .call(reqwest::Method::PUT, "/api/v1/sso/policy", Some(body))
                .await
        }
    };
    let (status, body) = put(json!({"password_sign_in": false})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "break_glass_needed", "{body}");
    let (status, body) = put(json!({"password_sign_in": false, "break_glass": owner.email})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "break_glass_without_passkey", "{body}");
    let manager = w.manager("ann@harbour.test").await;
    let (status, body) = put(json!({"password_sign_in": false, "break_glass": manager.email})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "break_glass_not_owner", "{body}");
    let (_, policy) = w.server.get("/api/v1/sso/policy").await;
    assert_eq!(policy["password_sign_in"], true, "nothing changed: {policy}");
}

#[tokio::test]
async fn sso_providers_keep_their_secret_and_refuse_bad_settings() {
    let w = world(json!({}), json!({})).await;
    let (status, list) = w.server.get("/api/v1/sso/providers").await;
    assert_eq!(status, 200, "{list}");
    let text = list.to_string();
    assert!(!text.contains(crate::support::oidc::CLIENT_SECRET), "{text}");
    assert_eq!(
        list["providers"][0]["redirect_uri"],
        format!("{}/sso/{}/callback", w.server.base, w.id)
    );
    for (body, words) in [
        (
            json!({"name": "X", "issuer": "http://login.example.com", "client_id": "c", "client_secret": "s"}),
            "https://",
        ),
        (
            json!({"name": "X", "issuer": "https://id.example.com/?t=1", "client_id": "c", "client_secret": "s"}),
            "query",
        ),
        (
            json!({"name": "", "issuer": "https://id.example.com", "client_id": "c", "client_secret": "s"}),
            "name",
        ),
        (
            json!({"name": "Test ID", "issuer": "https://id.example.com", "client_id": "c", "client_secret": "s"}),
            "named Test ID already",
        ),
    ] {
        let (status, body) = w.server.post("/api/v1/sso/providers", body).await;
        assert!(status == 422 || status == 409, "{status} {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(words), "{body}");
    }
    let (status, report) = w
        .server
        .post(&format!("/api/v1/sso/providers/{}/test", w.id), json!({}))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["issuer"], w.provider.issuer.as_str());
    assert!(
        report["algorithms"].as_array().unwrap().iter().any(|a| a == "RS256"),
        "{report}"
    );
}

/// The whole way in Chromium: the sign-in page's "Sign in with" button, the provider's own login page,
/// back to repbook's second factor (TOTP by pyotp); My account's linked sign-in; the owner's Single
/// sign-on tab making SSO the only way, with the break-glass owner's passkey (WebDriver's virtual
/// authenticator) still signing in. Desk and phone width, each state checked by axe-core.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_browser_signs_in_through_the_providers_pages_and_sso_only_keeps_the_break_glass_owner() {
    use crate::mfa::{accept_in_browser, by_name, invite, password_step, sign_out};
    use crate::support::browser::{Admin, Browser};
    let dir = tempfile::tempdir().unwrap();
    let mut env = crate::support::booking::ROOMY_LIMITS.to_vec();
    env.push(("REPBOOK_SIGN_IN_ATTEMPTS_PER_MINUTE", "1000"));
    let server = Server::start_with_env(dir.path(), &env).await;
    let mut provider = Provider::bind().await;
    let id = Provider::register(&server, &provider.issuer, json!({})).await;
    provider
        .launch(
            &[&format!("{}/sso/{id}/callback", server.base)],
            json!({"ann": user("ann@harbour.test", true, &["pwd"])}),
        )
        .await;
    let owner_link = invite(&server, "olive@harbour.test", "owner", None).await;
    let clinic = server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
    let (ann, _) = accounts::invited(&server, None, "ann@harbour.test", "manager", Some(&clinic)).await;

    // The owner (at the page's name, for passkeys) enrols a passkey, then makes SSO the only way.
    let by_name = by_name(&server);
    let browser = Browser::start(1280, 900).await;
    let admin = Admin { browser: &browser };
    browser.virtual_authenticator().await;
    accept_in_browser(
        &browser,
        &admin,
        &by_name,
        &owner_link,
        "Olive Owner",
        "sso-0-owner-invitation",
    )
    .await;
    admin.fill("passkey-name", "Desk laptop").await;
    browser.click("#passkey-add").await;
    browser
        .until("the recovery codes", "document.getElementById('recovery-codes')")
        .await;
    browser.click("#codes-saved").await;
    browser
        .until("the workspace", "!document.getElementById('workspace').hidden")
        .await;
    admin.tab("sso").await;
    let text = admin.panel_text("sso").await;
    assert!(
        text.contains("Test ID") && text.contains(&format!("/sso/{id}/callback")),
        "{text}"
    );
    browser.click("#sso-only").await;
    admin.fill("sso-break-glass", "olive@harbour.test").await;
    let (status, error) = admin.press("#sso-policy-form button[type=submit]").await;
    assert!(status.contains("Single sign-on only"), "{status} {error}");
    admin.shot("sso-tab").await;

    // Ann, at the address the provider sends people back to: the button, the provider's page, back.
    let phone = Browser::start(390, 844).await;
    phone.goto(&format!("{}/", server.base)).await;
    phone
        .until("the provider's button", &format!("document.getElementById('sso-{id}')"))
        .await;
    let folded = phone
        .js("const fold = document.getElementById('break-glass'); return !!fold && !fold.open && fold.contains(document.getElementById('email'));")
        .await;
    assert_eq!(
        folded,
        json!(true),
        "the password form is folded away for the break-glass owner"
    );
    phone.assert_accessible("the sign-in page with single sign-on").await;
    phone.screenshot("sso-1-sign-in-phone").await;
    phone.click(&format!("#sso-{id}")).await;
    phone
        .until(
            "the provider's login page",
            "document.getElementById('provider-submit')",
        )
        .await;
    phone.screenshot("sso-2-provider-login-phone").await;
    phone.click("#login").await;
    phone.keys("ann").await;
    phone.click("#password").await;
    phone.keys("pw").await;
    phone.click("#provider-submit").await;
    phone
        .until(
            "repbook's second factor",
            "document.getElementById('sign-in-heading') && document.getElementById('sign-in-heading').textContent.startsWith('Hello')",
        )
        .await;
    phone.assert_accessible("the second factor after single sign-on").await;
    phone.screenshot("sso-3-second-factor-phone").await;
    let code = accounts::fresh_code(ann.totp_secret.as_deref().unwrap()).await;
    let phone_admin = Admin { browser: &phone };
    phone_admin.fill("code", &code).await;
    phone.keys("\u{e007}").await;
    phone
        .until("the workspace", "!document.getElementById('workspace').hidden")
        .await;
    phone_admin.tab("account").await;
    let text = phone_admin.panel_text("account").await;
    assert!(text.contains("Linked sign-ins") && text.contains("Test ID"), "{text}");
    phone_admin.shot("sso-my-account-phone").await;
    phone.close().await;

    // Ann's password no longer signs her in; the break-glass owner's password and passkey still do.
    let mut session = Session::new(&server);
    let (status, body) = session
        .post("/api/v1/session", json!({"email": ann.email, "password": ann.password}))
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "password_sign_in_off", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("Test ID"), "{body}");
    // Every provider down: the break-glass owner's password and passkey still sign in.
    provider.stop();
    sign_out(&browser).await;
    browser.click("#break-glass summary").await;
    password_step(&browser, &admin, "olive@harbour.test").await;
    let methods = browser
        .js("return !!document.getElementById('second-passkey') && !document.getElementById('code');")
        .await;
    assert_eq!(
        methods,
        json!(true),
        "the break-glass owner finishes with the passkey only"
    );
    browser.click("#second-passkey").await;
    browser
        .until("signed in", "!document.getElementById('workspace').hidden")
        .await;
    browser.close().await;
}

/// `repbook sso` on the server's command line: the secret from a file or standard input (never printed),
/// the redirect URI to register, the provider checked at once; list, test, policy, remove; clear errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_cli_adds_lists_tests_and_removes_providers_without_printing_the_secret() {
    use crate::support::cli;
    let w = world(json!({}), json!({})).await;
    let data_dir = w._dir.path();
    let secret_file = data_dir.with_extension("secret");
    std::fs::write(&secret_file, "the-cli-secret-value\n").unwrap();
    let issuer = w.provider.issuer.clone();
    let out = cli(
        data_dir,
        &[
            "sso",
            "add",
            "--name",
            "Microsoft 365",
            "--issuer",
            &issuer,
            "--client-id",
            "cli-client",
            "--client-secret-file",
            secret_file.to_str().unwrap(),
            "--email-claim",
            "xms-edov",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Register this redirect URI"), "{stdout}");
    assert!(
        stdout.contains(&format!("Reachable: {issuer}")),
        "the provider is checked at once: {stdout}"
    );
    assert!(!stdout.contains("the-cli-secret-value"), "{stdout}");
    let id = stdout
        .split("/sso/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_string();

    // The secret through standard input, as a pipe.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_repbook"))
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "sso",
            "add",
            "--name",
            "Google",
            "--issuer",
            &issuer,
            "--client-id",
            "stdin-client",
            "--client-secret-file",
            "-",
        ])
        .env_remove("REPBOOK_TOKEN")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(b"piped-secret\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    let out = cli(data_dir, &["sso", "list"]);
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{list}");
    for words in [
        "Microsoft 365",
        "Google",
        "Test ID",
        "xms_edov",
        &format!("/sso/{id}/callback"),
    ] {
        assert!(list.contains(words), "{words} in {list}");
    }
    assert!(!list.contains("secret"), "{list}");

    let out = cli(data_dir, &["sso", "test", &id]);
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success() && report.contains("signing key(s)"), "{report}");

    let out = cli(
        data_dir,
        &["sso", "policy", "--sso-only", "--break-glass", "nobody@harbour.test"],
    );
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(error.contains("nobody@harbour.test has no account here"), "{error}");
    let out = cli(data_dir, &["sso", "policy"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Passwords sign in"));

    let out = cli(data_dir, &["sso", "remove", &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(data_dir, &["sso", "remove", &id]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such sign-in provider"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(
        data_dir,
        &[
            "sso",
            "add",
            "--name",
            "X",
            "--issuer",
            "http://login.example.com",
            "--client-id",
            "c",
            "--client-secret-file",
            secret_file.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("https://"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
