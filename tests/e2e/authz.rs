//! Who may call what, for every admin route the live server's OpenAPI document names: each is called by
//! the host token, the owner, a practice manager of clinic A, front desk of clinic A, a manager of clinic
//! B, a disabled account's session, a revoked token and nobody, against clinic A's records. The answer
//! every (route, caller) pair must get comes from one table below (`CLASSES`); a route missing from it
//! fails the test, so a new route cannot ship unclassified.

use std::collections::BTreeMap;
use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::accounts::{self, Session};
use crate::support::booking::ROOMY_LIMITS;
use crate::support::{Server, local_date_in};

/// Who a route is for (its role extractor, and where the app narrows it further).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// At least front desk at the clinic of the request.
    FrontDesk,
    /// At least practice manager there.
    Manager,
    /// The host owner (or the host token).
    Owner,
    /// A manager anywhere (the app shows each only what is theirs).
    AnyManager,
    /// Anyone signed in.
    Staff,
    /// A person's own session (My account), never a token.
    Session,
    /// The host token, to make the first owner (which exists here: allowed, then refused as a conflict).
    Setup,
    /// A person of clinic A, on the People routes: hidden from clinic B's manager.
    PersonOfA,
    /// A token of A's manager: theirs and the owner's to revoke, hidden from others.
    OwnToken,
    /// Signing out: the session's own.
    SignOut,
}

/// Every admin route, classified. Keep it in step with the role extractor each handler names.
const CLASSES: &[(&str, &str, Class)] = &[
    ("GET", "/api/v1/appointments/{id}", Class::FrontDesk),
    ("PATCH", "/api/v1/appointments/{id}", Class::FrontDesk),
    ("POST", "/api/v1/appointments/{id}/approve", Class::FrontDesk),
    ("PUT", "/api/v1/appointments/{id}/attendance", Class::FrontDesk),
    ("DELETE", "/api/v1/appointments/{id}/attendance", Class::FrontDesk),
    ("POST", "/api/v1/appointments/{id}/cancel", Class::FrontDesk),
    ("POST", "/api/v1/appointments/{id}/decline", Class::FrontDesk),
    ("POST", "/api/v1/appointments/{id}/resend", Class::FrontDesk),
    ("GET", "/api/v1/audit", Class::AnyManager),
    ("GET", "/api/v1/backup", Class::Owner),
    ("GET", "/api/v1/clinics", Class::Staff),
    ("POST", "/api/v1/clinics", Class::Owner),
    ("GET", "/api/v1/clinics/{clinic}", Class::FrontDesk),
    ("DELETE", "/api/v1/clinics/{clinic}", Class::Owner),
    ("PATCH", "/api/v1/clinics/{clinic}", Class::Manager),
    ("GET", "/api/v1/clinics/{clinic}/appointments", Class::FrontDesk),
    ("POST", "/api/v1/clinics/{clinic}/appointments", Class::FrontDesk),
    ("GET", "/api/v1/clinics/{clinic}/availability", Class::FrontDesk),
    ("POST", "/api/v1/clinics/{clinic}/availability/refresh", Class::Manager),
    ("GET", "/api/v1/clinics/{clinic}/categories", Class::FrontDesk),
    ("POST", "/api/v1/clinics/{clinic}/categories", Class::Manager),
    ("DELETE", "/api/v1/clinics/{clinic}/categories/{id}", Class::Manager),
    ("GET", "/api/v1/clinics/{clinic}/closed", Class::FrontDesk),
    ("POST", "/api/v1/clinics/{clinic}/closed", Class::Manager),
    ("DELETE", "/api/v1/clinics/{clinic}/closed/{date}", Class::Manager),
    ("GET", "/api/v1/clinics/{clinic}/doctor", Class::Manager),
    ("GET", "/api/v1/clinics/{clinic}/links", Class::Manager),
    ("POST", "/api/v1/clinics/{clinic}/links", Class::Manager),
    ("DELETE", "/api/v1/clinics/{clinic}/links/{id}", Class::Manager),
    ("POST", "/api/v1/clinics/{clinic}/links/{id}/renew", Class::Manager),
    ("GET", "/api/v1/clinics/{clinic}/messages", Class::FrontDesk),
    ("GET", "/api/v1/clinics/{clinic}/no-show-blocks", Class::Manager),
    ("DELETE", "/api/v1/clinics/{clinic}/no-show-blocks/{id}", Class::Manager),
    ("PUT", "/api/v1/clinics/{clinic}/pms", Class::Manager),
    ("GET", "/api/v1/clinics/{clinic}/pms/locations", Class::Manager),
    ("POST", "/api/v1/clinics/{clinic}/pms/reset", Class::Manager),
    ("GET", "/api/v1/clinics/{clinic}/pms/switch", Class::Manager),
    ("POST", "/api/v1/clinics/{clinic}/pms/switch", Class::Manager),
    ("POST", "/api/v1/clinics/{clinic}/pms/validate", Class::Manager),
    ("GET", "/api/v1/clinics/{clinic}/staff", Class::FrontDesk),
    ("POST", "/api/v1/clinics/{clinic}/staff", Class::Manager),
    ("POST", "/api/v1/clinics/{clinic}/staff/sync", Class::Manager),
    ("PUT", "/api/v1/clinics/{clinic}/staff/{id}/pms", Class::Manager),
    ("GET", "/api/v1/clinics/{clinic}/sync", Class::FrontDesk),
    ("POST", "/api/v1/clinics/{clinic}/sync", Class::Manager),
    ("POST", "/api/v1/clinics/{clinic}/sync/reconcile", Class::Manager),
    ("POST", "/api/v1/clinics/{clinic}/sync/retry-parked", Class::Manager),
    ("GET", "/api/v1/clinics/{clinic}/times", Class::FrontDesk),
    ("GET", "/api/v1/clinics/{clinic}/today", Class::FrontDesk),
    ("POST", "/api/v1/clinics/{clinic}/times", Class::Manager),
    ("DELETE", "/api/v1/clinics/{clinic}/times/{id}", Class::Manager),
    ("GET", "/api/v1/clinics/{clinic}/waitlist", Class::FrontDesk),
    ("DELETE", "/api/v1/clinics/{clinic}/waitlist/{entry}", Class::FrontDesk),
    ("GET", "/api/v1/clinics/{clinic}/webhooks", Class::Manager),
    ("POST", "/api/v1/clinics/{clinic}/webhooks", Class::Manager),
    ("GET", "/api/v1/clinics/{clinic}/webhooks/{id}", Class::Manager),
    ("DELETE", "/api/v1/clinics/{clinic}/webhooks/{id}", Class::Manager),
    ("PATCH", "/api/v1/clinics/{clinic}/webhooks/{id}", Class::Manager),
    (
        "GET",
        "/api/v1/clinics/{clinic}/webhooks/{id}/deliveries",
        Class::Manager,
    ),
    (
        "POST",
        "/api/v1/clinics/{clinic}/webhooks/{id}/deliveries/{delivery}/retry",
        Class::Manager,
    ),
    ("POST", "/api/v1/clinics/{clinic}/webhooks/{id}/rotate", Class::Manager),
    ("POST", "/api/v1/clinics/{clinic}/webhooks/{id}/test", Class::Manager),
    ("DELETE", "/api/v1/invitations/{id}", Class::PersonOfA),
    ("POST", "/api/v1/invitations/{id}/resend", Class::PersonOfA),
    ("GET", "/api/v1/mail", Class::Staff),
    ("POST", "/api/v1/mail/test", Class::Owner),
    ("GET", "/api/v1/me", Class::Session),
    ("PATCH", "/api/v1/me", Class::Session),
    ("GET", "/api/v1/me/passkeys", Class::Session),
    ("POST", "/api/v1/me/passkeys", Class::Session),
    ("POST", "/api/v1/me/passkeys/options", Class::Session),
    ("DELETE", "/api/v1/me/passkeys/{id}", Class::Session),
    ("POST", "/api/v1/me/recovery-codes", Class::Session),
    ("GET", "/api/v1/me/sessions", Class::Session),
    ("DELETE", "/api/v1/me/sessions/{id}", Class::Session),
    ("GET", "/api/v1/me/sso-links", Class::Session),
    ("DELETE", "/api/v1/me/sso-links/{id}", Class::Session),
    ("GET", "/api/v1/me/totp", Class::Session),
    ("POST", "/api/v1/me/totp", Class::Session),
    ("DELETE", "/api/v1/me/totp", Class::Session),
    ("POST", "/api/v1/me/totp/confirm", Class::Session),
    ("POST", "/api/v1/messages/{id}/cancel", Class::Manager),
    ("POST", "/api/v1/messages/{id}/retry", Class::Manager),
    ("POST", "/api/v1/owner", Class::Setup),
    ("GET", "/api/v1/people", Class::AnyManager),
    ("POST", "/api/v1/people", Class::AnyManager),
    ("GET", "/api/v1/people/{id}", Class::PersonOfA),
    ("PATCH", "/api/v1/people/{id}", Class::PersonOfA),
    ("POST", "/api/v1/people/{id}/reset-factors", Class::PersonOfA),
    ("GET", "/api/v1/plugins", Class::AnyManager),
    ("POST", "/api/v1/plugins", Class::Owner),
    ("POST", "/api/v1/plugins/{name}/activate", Class::Owner),
    ("POST", "/api/v1/plugins/{name}/rollback", Class::Owner),
    ("DELETE", "/api/v1/plugins/{name}/versions/{version}", Class::Owner),
    ("POST", "/api/v1/reps/forget", Class::Owner),
    ("DELETE", "/api/v1/session", Class::SignOut),
    ("GET", "/api/v1/sso/policy", Class::Owner),
    ("PUT", "/api/v1/sso/policy", Class::Owner),
    ("GET", "/api/v1/sso/providers", Class::Owner),
    ("POST", "/api/v1/sso/providers", Class::Owner),
    ("DELETE", "/api/v1/sso/providers/{id}", Class::Owner),
    ("POST", "/api/v1/sso/providers/{id}/test", Class::Owner),
    ("GET", "/api/v1/tokens", Class::Staff),
    ("POST", "/api/v1/tokens", Class::Staff),
    ("DELETE", "/api/v1/tokens/{id}", Class::OwnToken),
    ("GET", "/metrics", Class::Owner),
];

/// The callers, in the order each route is called (the ones that may act last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Nobody,
    RevokedToken,
    Disabled,
    ManagerB,
    FrontDeskA,
    ManagerA,
    Owner,
    HostToken,
}

const CALLERS: [Who; 8] = [
    Who::Nobody,
    Who::RevokedToken,
    Who::Disabled,
    Who::ManagerB,
    Who::FrontDeskA,
    Who::ManagerA,
    Who::Owner,
    Who::HostToken,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Past the role check: any answer but 401, 403 or the not-found of a hidden record.
    Allowed,
    /// As if the record did not exist: 404 with the not-found code of what the path names.
    Hidden,
    /// 403, naming the role needed (or what the session must do first).
    Forbidden,
    /// 401.
    Unauthenticated,
}

fn expect(class: Class, who: Who) -> Expect {
    use Expect::*;
    if matches!(who, Who::Nobody | Who::RevokedToken | Who::Disabled) {
        return Unauthenticated;
    }
    let rank = |who: Who| match who {
        Who::FrontDeskA => 1,
        Who::ManagerA => 2,
        _ => 3,
    };
    match class {
        Class::FrontDesk | Class::Manager if who == Who::ManagerB => Hidden,
        Class::FrontDesk => Allowed,
        Class::Manager if rank(who) >= 2 => Allowed,
        Class::Manager => Forbidden,
        Class::Owner if matches!(who, Who::Owner | Who::HostToken) => Allowed,
        Class::Owner => Forbidden,
        Class::AnyManager if who == Who::FrontDeskA => Forbidden,
        Class::AnyManager | Class::Staff => Allowed,
        Class::Session if who == Who::HostToken => Forbidden,
        Class::Session => Allowed,
        Class::Setup if who == Who::HostToken => Allowed,
        Class::Setup => Forbidden,
        Class::PersonOfA if who == Who::FrontDeskA => Forbidden,
        Class::PersonOfA if who == Who::ManagerB => Hidden,
        Class::PersonOfA => Allowed,
        Class::OwnToken if matches!(who, Who::FrontDeskA | Who::ManagerB) => Hidden,
        Class::OwnToken => Allowed,
        Class::SignOut if who == Who::HostToken => Unauthenticated,
        Class::SignOut => Allowed,
    }
}

/// The not-found code a hidden record of this route answers with (the same as a missing one's).
fn hidden_code(template: &str) -> &'static str {
    if template == "/api/v1/me" || template.starts_with("/api/v1/me/") {
        // Only ever one's own: nothing is hidden by role there.
        "(nothing is hidden)"
    } else if template.starts_with("/api/v1/appointments/") {
        "appointment_not_found"
    } else if template.starts_with("/api/v1/clinics/{clinic}") {
        "clinic_not_found"
    } else if template.starts_with("/api/v1/people/") || template.starts_with("/api/v1/invitations/") {
        "person_not_found"
    } else {
        "not_found"
    }
}

struct World {
    server: Server,
    mail_dir: std::path::PathBuf,
    clinic_a: String,
    doctor_a: String,
    people: BTreeMap<Who, (accounts::Person, Session)>,
    revoked_token: String,
    message_a: String,
    target: String,
    next_slot: u32,
    next_day: i64,
}

impl World {
    /// A fresh record of clinic A for a path parameter, so a caller that may delete or change it never
    /// spoils the next caller's request.
    async fn fill(&mut self, template: &str) -> String {
        let mut path = String::new();
        let segments: Vec<&str> = template.split('/').collect();
        for (n, segment) in segments.iter().enumerate() {
            if n > 0 {
                path.push('/');
            }
            let owner = segments.get(n.wrapping_sub(1)).copied().unwrap_or_default();
            let value = match *segment {
                "{clinic}" => self.clinic_a.clone(),
                "{id}" => self.id_for(owner, template).await,
                "{date}" => self.closed_date().await,
                "{entry}" | "{delivery}" => "no-such-thing".into(),
                "{name}" => "halo-bp".into(),
                "{version}" => "0.0.1".into(),
                other => other.to_string(),
            };
            path.push_str(&value);
        }
        path
    }

    async fn id_for(&mut self, collection: &str, template: &str) -> String {
        let a = self.clinic_a.clone();
        let n = self.bump();
        let server = &self.server;
        match collection {
            "appointments" => self.appointment().await,
            "categories" => created(
                server
                    .post(
                        &format!("/api/v1/clinics/{a}/categories"),
                        json!({"name": format!("Category {n}")}),
                    )
                    .await,
            ),
            "times" => {
                let (start, end) = (format!("{:02}:00", 6 + n % 12), format!("{:02}:30", 6 + n % 12));
                let weekday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][(n / 12 % 7) as usize];
                created(
                    server
                        .post(
                            &format!("/api/v1/clinics/{a}/times"),
                            json!({"weekday": weekday, "start": start, "end": end, "slot_minutes": 15}),
                        )
                        .await,
                )
            }
            "links" => created(
                server
                    .post(&format!("/api/v1/clinics/{a}/links"), json!({"label": "Reps"}))
                    .await,
            ),
            "webhooks" => {
                let (status, added) = server
                    .post(
                        &format!("/api/v1/clinics/{a}/webhooks"),
                        json!({"url": "http://127.0.0.1:9/hook"}),
                    )
                    .await;
                assert_eq!(status, 201, "{added}");
                added["endpoint"]["id"]
                    .as_str()
                    .or(added["id"].as_str())
                    .unwrap()
                    .to_string()
            }
            "staff" => self.doctor_a.clone(),
            "messages" => self.message_a.clone(),
            "people" => self.target.clone(),
            "invitations" => {
                let (_, manager) = self.people.get_mut(&Who::ManagerA).unwrap();
                let (status, invited) = manager
                    .post(
                        "/api/v1/people",
                        json!({"email": format!("invitee{n}@a.test"), "role": "front_desk", "clinic": a}),
                    )
                    .await;
                assert_eq!(status, 201, "{invited}");
                invited["person"]["invitation"]["id"].as_str().unwrap().to_string()
            }
            "tokens" => {
                let (_, manager) = self.people.get_mut(&Who::ManagerA).unwrap();
                let (status, made) = manager
                    .post(
                        "/api/v1/tokens",
                        json!({"name": "script", "clinic": a, "role": "front_desk"}),
                    )
                    .await;
                assert_eq!(status, 201, "{made}");
                made["id"].as_str().unwrap().to_string()
            }
            "passkeys" => "no-such-passkey".into(),
            "sso-links" => "no-such-link".into(),
            "no-show-blocks" => "no-such-block".into(),
            // A provider needs no outside service to exist: discovery happens only at `test` and sign-in.
            "providers" => {
                let (status, added) = server
                    .post(
                        "/api/v1/sso/providers",
                        json!({"name": format!("Provider {n}"), "issuer": format!("http://127.0.0.1:9/p{n}"),
                               "client_id": "repbook", "client_secret": "s3cret"}),
                    )
                    .await;
                assert_eq!(status, 201, "{added}");
                added["id"].as_str().unwrap().to_string()
            }
            "sessions" => "others".into(),
            other => panic!("no fixture for {{id}} under {other} in {template}"),
        }
    }

    fn bump(&mut self) -> u32 {
        self.next_slot += 1;
        self.next_slot
    }

    async fn appointment(&mut self) -> String {
        let n = self.bump();
        let day = local_date_in("Australia/Sydney", 2 + i64::from(n / 40));
        let minutes = 7 * 60 + (n % 40) * 15;
        let start = format!("{day}T{:02}:{:02}", minutes / 60, minutes % 60);
        let (status, booked) = self.server.book(&self.clinic_a, &self.doctor_a, &start, 15).await;
        assert_eq!(status, 201, "{booked}");
        booked["id"].as_str().unwrap().to_string()
    }

    async fn closed_date(&mut self) -> String {
        self.next_day += 1;
        let date = local_date_in("Australia/Sydney", 200 + self.next_day);
        let (status, body) = self
            .server
            .post(
                &format!("/api/v1/clinics/{}/closed", self.clinic_a),
                json!({"date": date, "reason": "Closed"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        date
    }

    async fn call(&mut self, who: Who, method: &str, path: &str) -> (u16, Value) {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let body = matches!(method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
        match who {
            Who::HostToken => self.server.call(method, path, body).await,
            Who::Nobody | Who::RevokedToken => {
                let mut request = self
                    .server
                    .client()
                    .request(method, format!("{}{path}", self.server.base));
                if who == Who::RevokedToken {
                    request = request.bearer_auth(&self.revoked_token);
                }
                if let Some(body) = body {
                    request = request.json(&body);
                }
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
            }
            _ => {
                let (_, session) = self.people.get_mut(&who).unwrap();
                session.call(method, path, body).await
            }
        }
    }
}

fn created((status, body): (u16, Value)) -> String {
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authz_every_admin_route_answers_each_role_as_its_table_row_says() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mail_dir = dir.path().join("mail");
    std::fs::create_dir_all(&data).unwrap();
    let mut env: Vec<(&str, String)> = ROOMY_LIMITS.iter().map(|(k, v)| (*k, v.to_string())).collect();
    env.extend([
        ("REPBOOK_PLUGIN_ALLOW_LOOPBACK", "true".to_string()),
        ("REPBOOK_MAIL_DIR", mail_dir.display().to_string()),
        ("REPBOOK_MAIL_FROM", "visits@harbour.test".to_string()),
        ("REPBOOK_SIGN_IN_ATTEMPTS_PER_MINUTE", "10000".to_string()),
    ]);
    let server = Server::start_with_env(&data, &crate::support::env_refs(&env)).await;

    let (owner, mut owner_session) = accounts::first_owner(&server, "owner@host.test").await;
    let clinic_a = server.create_clinic("Clinic A", "Australia/Sydney", "NSW").await;
    let clinic_b = server.create_clinic("Clinic B", "Australia/Sydney", "NSW").await;
    let doctor_a = server.add_doctor(&clinic_a, "Ana", "Ng", "MED0001234567").await;
    let mail = Path::new(&mail_dir);
    let manager_a = accounts::invited_by_mail(
        &server,
        &mut owner_session,
        mail,
        "mia@a.test",
        "manager",
        Some(&clinic_a),
    )
    .await;
    let mut manager_a_session = manager_a.1.clone();
    let front_a = accounts::invited_by_mail(
        &server,
        &mut manager_a_session,
        mail,
        "fred@a.test",
        "front_desk",
        Some(&clinic_a),
    )
    .await;
    let manager_b = accounts::invited_by_mail(
        &server,
        &mut owner_session,
        mail,
        "max@b.test",
        "manager",
        Some(&clinic_b),
    )
    .await;
    let disabled = accounts::invited_by_mail(
        &server,
        &mut manager_a_session,
        mail,
        "dora@a.test",
        "front_desk",
        Some(&clinic_a),
    )
    .await;
    let target = accounts::invited_by_mail(
        &server,
        &mut manager_a_session,
        mail,
        "tess@a.test",
        "front_desk",
        Some(&clinic_a),
    )
    .await;
    let (status, gone) = manager_a_session
        .patch(&format!("/api/v1/people/{}", disabled.0.id), json!({"disabled": true}))
        .await;
    assert_eq!(status, 200, "{gone}");
    let (status, made) = manager_a_session
        .post(
            "/api/v1/tokens",
            json!({"name": "old script", "clinic": clinic_a, "role": "front_desk"}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let revoked_token = made["token"].as_str().unwrap().to_string();
    let (status, _) = manager_a_session
        .delete(&format!("/api/v1/tokens/{}", made["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200);
    // A message of clinic A: a staff booking mails its rep.
    let day = local_date_in("Australia/Sydney", 30);
    let (status, _) = server.book(&clinic_a, &doctor_a, &format!("{day}T12:00"), 15).await;
    assert_eq!(status, 201);
    let (_, messages) = server.get(&format!("/api/v1/clinics/{clinic_a}/messages")).await;
    let message_a = messages["messages"][0]["id"]
        .as_str()
        .expect("a message of clinic A")
        .to_string();

    let mut people = BTreeMap::new();
    people.insert(Who::Owner, (owner, owner_session));
    people.insert(Who::ManagerA, (manager_a.0, manager_a_session));
    people.insert(Who::FrontDeskA, front_a);
    people.insert(Who::ManagerB, manager_b);
    people.insert(Who::Disabled, disabled);
    let mut world = World {
        server,
        mail_dir: mail_dir.clone(),
        clinic_a,
        doctor_a,
        people,
        revoked_token,
        message_a,
        target: target.0.id,
        next_slot: 0,
        next_day: 0,
    };

    let doc: Value = world
        .server
        .client()
        .get(format!("{}/api/v1/openapi.json", world.server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let public = operation["security"] == json!([{}]);
            if !public && ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                routes.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    let unclassified: Vec<String> = routes
        .iter()
        .filter(|(m, p)| !CLASSES.iter().any(|(cm, cp, _)| cm == m && cp == p))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(
        unclassified.is_empty(),
        "admin routes with no row in CLASSES (add one, for the role its handler asks): {unclassified:#?}"
    );
    let stale: Vec<String> = CLASSES
        .iter()
        .filter(|(m, p, _)| !routes.iter().any(|(rm, rp)| rm == m && rp == p))
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    assert!(
        stale.is_empty(),
        "rows for routes the document does not name: {stale:#?}"
    );

    let mut wrong = Vec::new();
    let mut calls = 0;
    for (method, template, class) in CLASSES {
        for who in CALLERS {
            let wanted = expect(*class, who);
            let path = world.fill(template).await;
            let (status, body) = world.call(who, method, &path).await;
            calls += 1;
            let code = body["error"]["code"].as_str().unwrap_or_default().to_string();
            let fits = match wanted {
                Expect::Allowed => {
                    let hidden = status == 404 && code == hidden_code(template);
                    !([401, 403, 500].contains(&status) || hidden)
                }
                Expect::Hidden => status == 404 && code == hidden_code(template),
                Expect::Forbidden => status == 403,
                Expect::Unauthenticated => status == 401,
            };
            if !fits {
                wrong.push(format!(
                    "{method} {template} as {who:?}: expected {wanted:?}, got {status} {body}"
                ));
            }
            if *class == Class::SignOut && status == 204 {
                // Signed out: sign the person in again for the routes after this one.
                let (person, _) = world.people.get(&who).unwrap().clone();
                let session = accounts::sign_in(&world.server, &person).await;
                world.people.insert(who, (person, session));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {calls} answers broke the table:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(calls >= 90 * 8, "only {calls} calls");
    let _ = &world.mail_dir;
}
