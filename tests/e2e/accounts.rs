//! Staff accounts through the real binary: invitations by mail (a real aiosmtpd server; each message read
//! by Python's `email`), accepted once, expiring, resent, withdrawn; password resets that sign a person out
//! everywhere; sessions kept in the store across a restart, idling out, ended at once when a person is
//! disabled; personal tokens that never act beyond their maker of today; the attacks the issue names; and
//! no secret in any answer, log line or audit entry.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::accounts::{self, PASSWORD, Session};
use crate::support::booking::ROOMY_LIMITS;
use crate::support::smtp::{Smtp, Tls};
use crate::support::{Server, clock_env, env_refs, local_date_in};

/// A server with mail through a real SMTP server, a clock the test moves, and room for many requests.
async fn mailing_server(dir: &std::path::Path, smtp: &Smtp) -> Server {
    let mut env: Vec<(&'static str, String)> = smtp.env(200);
    env.extend(clock_env(dir));
    env.extend(ROOMY_LIMITS.iter().map(|(k, v)| (*k, v.to_string())));
    env.push(("REPBOOK_SIGN_IN_ATTEMPTS_PER_MINUTE", "10000".into()));
    Server::start_with_env(dir, &env_refs(&env)).await
}

/// The newest message to `to`, waited for (Python's `email` reads every message received).
async fn mail_to(smtp: &Smtp, to: &str, nth: usize) -> crate::support::smtp::Mail {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let theirs: Vec<_> = smtp
            .read(None)
            .into_iter()
            .filter(|m| m.to().iter().any(|t| t.contains(to)))
            .collect();
        if theirs.len() >= nth {
            return theirs[nth - 1].clone();
        }
        assert!(std::time::Instant::now() < deadline, "no message {nth} to {to}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn path_of(link: &str) -> String {
    let at = link.find("://").map(|i| i + 3).unwrap_or(0);
    link[at..]
        .find('/')
        .map(|i| link[at + i..].to_string())
        .unwrap_or_default()
}

async fn audit_actions(server: &Server) -> Vec<(String, String, String)> {
    let (_, trail) = server.get("/api/v1/audit?limit=500").await;
    trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_string(),
                e["actor"]["name"].as_str().unwrap_or_default().to_string(),
                e["detail"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_invitations_by_mail_work_once_expire_and_can_be_resent_or_withdrawn() {
    let smtp = Smtp::start(Tls::Starttls).await;
    let dir = tempfile::tempdir().unwrap();
    let server = mailing_server(dir.path(), &smtp).await;
    let (_, mut owner) = accounts::first_owner(&server, "owner@harbour.test").await;
    let clinic = server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
    let (status, invited) = owner
        .post(
            "/api/v1/people",
            json!({"email": "Mia@Harbour.test", "role": "manager", "clinic": clinic, "name": "Mia Chen"}),
        )
        .await;
    assert_eq!(status, 201, "{invited}");
    assert_eq!(
        (invited["mailed"].clone(), invited["invite_url"].clone()),
        (json!(true), Value::Null)
    );
    assert_eq!(
        invited["person"]["email"], "mia@harbour.test",
        "addresses are kept normalised"
    );
    let mail = mail_to(&smtp, "mia@harbour.test", 1).await;
    assert_eq!(mail.subject(), "Olive Owner invited you to repbook");
    let text = mail.text();
    assert!(text.contains("as practice manager at Harbour GP"), "{text}");
    assert!(
        text.contains("AEDT") || text.contains("AEST"),
        "the expiry in the clinic's zone: {text}"
    );
    let link = path_of(&mail.link("/invite/").expect("the invitation's link"));

    // Seen before accepting; accepted once; the same link again is refused, saying what to do.
    let (status, seen) = server.get(&format!("{link}/invitation")).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["roles"], "practice manager at Harbour GP");
    assert_eq!(seen["invited_by"], "Olive Owner");
    let (mut mia, mia_secret) = accounts::accept(&server, &link, "Mia Chen", true).await;
    let mia_person = accounts::Person {
        id: invited["person"]["id"].as_str().unwrap().to_string(),
        email: "mia@harbour.test".into(),
        password: PASSWORD.into(),
        totp_secret: mia_secret,
    };
    let (status, again) = Session::new(&server)
        .post(&link, json!({"name": "Someone", "password": PASSWORD}))
        .await;
    assert_eq!(status, 404, "{again}");
    assert_eq!(again["error"]["code"], "invitation_used");
    let (status, _) = mia.get(&format!("/api/v1/clinics/{clinic}/appointments")).await;
    assert_eq!(status, 200, "the accepted manager works at once");

    // Resent: a new mail, the old link stops, the new one works.
    let (status, gail) = mia
        .post(
            "/api/v1/people",
            json!({"email": "gail@harbour.test", "role": "front_desk", "clinic": clinic}),
        )
        .await;
    assert_eq!(status, 201, "{gail}");
    let first = path_of(&mail_to(&smtp, "gail@harbour.test", 1).await.link("/invite/").unwrap());
    let invitation = gail["person"]["invitation"]["id"].as_str().unwrap();
    let (status, resent) = mia
        .post(&format!("/api/v1/invitations/{invitation}/resend"), json!({}))
        .await;
    assert_eq!(status, 200, "{resent}");
    let second = path_of(&mail_to(&smtp, "gail@harbour.test", 2).await.link("/invite/").unwrap());
    assert_ne!(first, second);
    assert_eq!(server.get(&format!("{first}/invitation")).await.0, 404);
    assert_eq!(server.get(&format!("{second}/invitation")).await.0, 200);

    // Expired after 72 hours, in words; resending gives a fresh 72 hours.
    server.move_clock(Duration::from_secs(73 * 3600)).await;
    let (status, expired) = server.get(&format!("{second}/invitation")).await;
    assert_eq!(status, 410, "{expired}");
    assert_eq!(expired["error"]["code"], "invitation_expired");
    let words = expired["error"]["message"].as_str().unwrap();
    assert!(
        words.contains("expired on") && words.contains("ask Mia Chen"),
        "{words}"
    );
    // Three days on, Mia's session has long ended: she signs in again.
    assert_eq!(mia.get("/api/v1/me").await.0, 401);
    let mut mia = accounts::sign_in(&server, &mia_person).await;
    let (status, _) = mia
        .post(&format!("/api/v1/invitations/{invitation}/resend"), json!({}))
        .await;
    assert_eq!(status, 200);
    let third = path_of(&mail_to(&smtp, "gail@harbour.test", 3).await.link("/invite/").unwrap());
    assert_eq!(server.get(&format!("{third}/invitation")).await.0, 200);

    // Withdrawn: the link stops and the invited account is gone.
    let (status, _) = mia.delete(&format!("/api/v1/invitations/{invitation}")).await;
    assert_eq!(status, 204);
    assert_eq!(server.get(&format!("{third}/invitation")).await.0, 404);
    let (_, people) = mia.get("/api/v1/people").await;
    assert!(!people.to_string().contains("gail@"), "{people}");

    let actions = audit_actions(&server).await;
    for (action, by) in [
        ("invitation sent", "Olive Owner <owner@harbour.test>"),
        ("invitation accepted", "Mia Chen <mia@harbour.test>"),
        ("invitation sent again", "Mia Chen <mia@harbour.test>"),
        ("invitation withdrawn", "Mia Chen <mia@harbour.test>"),
    ] {
        assert!(
            actions.iter().any(|(a, who, _)| a == action && who == by),
            "{action} by {by}: {actions:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_password_reset_by_mail_signs_out_everywhere_and_keeps_the_factors() {
    let smtp = Smtp::start(Tls::Starttls).await;
    let dir = tempfile::tempdir().unwrap();
    let server = mailing_server(dir.path(), &smtp).await;
    let (owner, _) = accounts::first_owner(&server, "owner@harbour.test").await;
    let mut desk = accounts::sign_in(&server, &owner).await;
    let mut laptop = accounts::sign_in(&server, &owner).await;
    assert_eq!(desk.get("/api/v1/me").await.0, 200);

    // The same answer for an address with an account and one without; only the first is mailed.
    let forgot = |email: &str| {
        let body = json!({ "email": email });
        let server = &server;
        async move { server.post("/api/v1/password/forgot", body).await }
    };
    let known = forgot("owner@harbour.test").await;
    let unknown = forgot("nobody@harbour.test").await;
    assert_eq!(known, unknown);
    assert_eq!(known.0, 202);
    let mail = mail_to(&smtp, "owner@harbour.test", 1).await;
    assert_eq!(mail.subject(), "Reset your repbook password");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        smtp.read(None)
            .iter()
            .all(|m| !m.to().iter().any(|t| t.contains("nobody@")))
    );
    let link = path_of(&mail.link("/reset/").unwrap());

    let (status, seen) = server.get(&format!("{link}/reset")).await;
    assert_eq!((status, seen["email"].clone()), (200, json!("owner@harbour.test")));
    let (status, short) = server.post(&link, json!({"password": "short"})).await;
    assert_eq!(status, 422, "{short}");
    let (status, _) = server
        .post(&link, json!({"password": "a brand new long passphrase"}))
        .await;
    assert_eq!(status, 204);
    for session in [&mut desk, &mut laptop] {
        let (status, body) = session.get("/api/v1/me").await;
        assert_eq!((status, body["error"]["code"].clone()), (401, json!("session_expired")));
    }
    assert_eq!(
        server
            .post(&link, json!({"password": "yet another passphrase"}))
            .await
            .0,
        404
    );
    let mut fresh = Session::new(&server);
    let (status, _) = fresh
        .post(
            "/api/v1/session",
            json!({"email": "owner@harbour.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 401, "the old password is gone");
    let renewed = accounts::Person {
        password: "a brand new long passphrase".into(),
        ..owner
    };
    let mut back = accounts::sign_in(&server, &renewed).await;
    let (status, me) = back.get("/api/v1/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["factors"]["totp"], true, "the second factor stayed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_sessions_survive_a_restart_idle_out_and_end_at_once_when_the_person_is_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let mut env: Vec<(&'static str, String)> = clock_env(dir.path());
    env.push(("REPBOOK_SIGN_IN_ATTEMPTS_PER_MINUTE", "10000".into()));
    let mut server = Server::start_with_env(dir.path(), &env_refs(&env)).await;
    let (owner_person, mut owner) = accounts::first_owner(&server, "owner@harbour.test").await;
    let clinic = server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
    let (fred, mut fred_session) = accounts::invited(
        &server,
        Some(&mut owner),
        "fred@harbour.test",
        "front_desk",
        Some(&clinic),
    )
    .await;
    let (status, made) = fred_session
        .post(
            "/api/v1/tokens",
            json!({"name": "front desk script", "clinic": clinic, "role": "front_desk"}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let token = made["token"].as_str().unwrap().to_string();

    // kill -9 and start again: the sessions are in the store.
    server.kill();
    server = Server::start_with_env(dir.path(), &env_refs(&env)).await;
    for session in [&mut owner, &mut fred_session] {
        session.base = server.base.clone();
        assert_eq!(session.get("/api/v1/me").await.0, 200, "signed in after a restart");
    }
    let (_, listed) = fred_session.get("/api/v1/me/sessions").await;
    let sessions = listed["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{listed}");
    assert_eq!(
        (sessions[0]["current"].clone(), sessions[0]["client"].clone()),
        (json!(true), json!("127.0.0.1"))
    );

    // Idle past 30 minutes: signed out.
    let mut idle = accounts::sign_in(&server, &fred).await;
    server.move_clock(Duration::from_secs(31 * 60)).await;
    let (status, body) = idle.get("/api/v1/me").await;
    assert_eq!((status, body["error"]["code"].clone()), (401, json!("session_expired")));

    // Disabled: every session and token of the person stops at once.
    let mut owner = accounts::sign_in(&server, &owner_person).await;
    let mut fred_again = accounts::sign_in(&server, &fred).await;
    assert_eq!(fred_again.get("/api/v1/me").await.0, 200);
    let with_token = |token: &str| {
        let request = server
            .client()
            .get(format!("{}/api/v1/clinics/{clinic}/appointments", server.base))
            .bearer_auth(token.to_string());
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(with_token(&token).await, 200);
    let (status, disabled) = owner
        .patch(&format!("/api/v1/people/{}", fred.id), json!({"disabled": true}))
        .await;
    assert_eq!(status, 200, "{disabled}");
    assert_eq!(disabled["state"], "disabled");
    assert_eq!(fred_again.get("/api/v1/me").await.0, 401);
    assert_eq!(with_token(&token).await, 401, "a disabled person's token stops");
    let mut try_again = Session::new(&server);
    let (status, refused) = try_again
        .post("/api/v1/session", json!({"email": fred.email, "password": PASSWORD}))
        .await;
    assert_eq!(
        (status, refused["error"]["code"].clone()),
        (401, json!("sign_in_failed"))
    );
    // Enabled again: they sign in; the revoked token stays revoked.
    let (status, _) = owner
        .patch(&format!("/api/v1/people/{}", fred.id), json!({"disabled": false}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(accounts::sign_in(&server, &fred).await.get("/api/v1/me").await.0, 200);
    assert_eq!(with_token(&token).await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_tokens_act_as_made_and_never_beyond_their_makers_role_of_today() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("REPBOOK_SIGN_IN_ATTEMPTS_PER_MINUTE", "10000")];
    let server = Server::start_with_env(dir.path(), &env).await;
    let (_, mut owner) = accounts::first_owner(&server, "owner@harbour.test").await;
    let clinic = server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
    let other = server.create_clinic("Riverside GP", "Australia/Sydney", "NSW").await;
    let (mia, mut mia_session) =
        accounts::invited(&server, Some(&mut owner), "mia@harbour.test", "manager", Some(&clinic)).await;

    // Never beyond its maker: no owner token, no other clinic's.
    for (body, status) in [
        (json!({"name": "x", "role": "owner"}), 403),
        (json!({"name": "x", "clinic": other, "role": "front_desk"}), 404),
        (
            json!({"name": "x", "clinic": clinic, "role": "manager", "expires_days": 400}),
            422,
        ),
    ] {
        let (got, answer) = mia_session.post("/api/v1/tokens", body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
    }
    let (status, made) = mia_session
        .post(
            "/api/v1/tokens",
            json!({"name": "nightly export", "clinic": clinic, "role": "manager", "expires_days": 30}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let token = made["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("rbk_"));
    let call = |method: reqwest::Method, path: String, body: Option<Value>| {
        let mut request = server
            .client()
            .request(method, format!("{}{path}", server.base))
            .bearer_auth(token.clone())
            .header("x-forwarded-for", "203.0.113.40");
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let links = format!("/api/v1/clinics/{clinic}/links");
    assert_eq!(
        call(reqwest::Method::GET, links.clone(), None).await.0,
        200,
        "a manager's token reads links"
    );
    assert_eq!(
        call(reqwest::Method::GET, format!("/api/v1/clinics/{other}/links"), None)
            .await
            .0,
        404
    );
    let (status, me) = call(reqwest::Method::GET, "/api/v1/me".into(), None).await;
    assert_eq!(
        (status, me["error"]["code"].clone()),
        (403, json!("session_required")),
        "a token changes no factor"
    );
    let (status, _) = call(
        reqwest::Method::POST,
        "/api/v1/tokens".into(),
        Some(json!({"name": "wider", "clinic": clinic, "role": "manager"})),
    )
    .await;
    assert_eq!(status, 201, "a token may make one no wider than itself");

    // The maker is demoted: the token follows at once.
    let (status, _) = owner
        .patch(
            &format!("/api/v1/people/{}", mia.id),
            json!({"roles": [{"clinic": clinic, "role": "front_desk"}]}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, refused) = call(reqwest::Method::GET, links.clone(), None).await;
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("practice manager"),
        "{refused}"
    );
    assert_eq!(
        call(
            reqwest::Method::GET,
            format!("/api/v1/clinics/{clinic}/appointments"),
            None
        )
        .await
        .0,
        200
    );

    // Listed with its last use (when, from where), never the token; revoked, it stops.
    let (_, list) = mia_session.get("/api/v1/tokens").await;
    let listed = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "nightly export")
        .unwrap()
        .clone();
    assert_eq!(listed["last_used_from"], "127.0.0.1", "{listed}");
    assert!(listed["last_used_at"].is_string());
    assert!(!list.to_string().contains(&token));
    let (status, _) = mia_session
        .delete(&format!("/api/v1/tokens/{}", made["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        call(
            reqwest::Method::GET,
            format!("/api/v1/clinics/{clinic}/appointments"),
            None
        )
        .await
        .0,
        401
    );
    // The host token is no person: it makes no token.
    let (status, answer) = server
        .post(
            "/api/v1/tokens",
            json!({"name": "root", "clinic": clinic, "role": "front_desk"}),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (403, json!("tokens_belong_to_people"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_attacks_on_roles_and_records_are_refused_and_no_secret_is_ever_shown() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let server = Server::start_logged(
        &data,
        &[("REPBOOK_SIGN_IN_ATTEMPTS_PER_MINUTE", "10000"), ("RUST_LOG", "info")],
        Some(&log),
    )
    .await;
    let (owner_person, mut owner) = accounts::first_owner(&server, "owner@harbour.test").await;
    let a = server.create_clinic("Clinic A", "Australia/Sydney", "NSW").await;
    let b = server.create_clinic("Clinic B", "Australia/Sydney", "NSW").await;
    let doctor_b = server.add_doctor(&b, "Ben", "Okafor", "MED0007654321").await;
    let day = local_date_in("Australia/Sydney", 5);
    let (_, booked_b) = server.book(&b, &doctor_b, &format!("{day}T12:00"), 15).await;
    let appointment_b = booked_b["id"].as_str().unwrap().to_string();
    let (mia, mut mia_session) = accounts::invited(&server, Some(&mut owner), "mia@a.test", "manager", Some(&a)).await;
    let (fred, mut fred_session) =
        accounts::invited(&server, Some(&mut mia_session), "fred@a.test", "front_desk", Some(&a)).await;
    let mut answers: Vec<Value> = Vec::new();

    // Front desk editing their own role: not theirs to change.
    let (status, body) = fred_session
        .patch(
            &format!("/api/v1/people/{}", fred.id),
            json!({"roles": [{"clinic": a, "role": "manager"}]}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("role_required")),
        "{body}"
    );
    answers.push(body);
    // A manager making themselves or anyone a host owner: refused, naming the role needed.
    for attempt in [
        json!({"email": "evil@a.test", "role": "owner"}),
        json!({"email": "mia@a.test", "role": "owner"}),
    ] {
        let (status, body) = mia_session.post("/api/v1/people", attempt).await;
        assert_eq!(status, 403, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("host owner"),
            "{body}"
        );
        answers.push(body);
    }
    let (status, body) = mia_session
        .patch(
            &format!("/api/v1/people/{}", mia.id),
            json!({"roles": [{"clinic": null, "role": "owner"}, {"clinic": a, "role": "manager"}]}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    // A manager of A reading B's appointment by id: the same answer as an id that does not exist.
    let (status, hidden) = mia_session.get(&format!("/api/v1/appointments/{appointment_b}")).await;
    let (missing_status, missing) = mia_session.get("/api/v1/appointments/01JZZZZZZZZZZZZZZZZZZZZZZZ").await;
    assert_eq!((status, missing_status), (404, 404));
    assert_eq!(hidden["error"]["code"], missing["error"]["code"]);
    assert_eq!(
        hidden["error"]["message"]
            .as_str()
            .unwrap()
            .replace(&appointment_b, "ID"),
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .replace("01JZZZZZZZZZZZZZZZZZZZZZZZ", "ID")
    );
    let (_, list) = mia_session.get("/api/v1/clinics").await;
    assert_eq!(
        list["clinics"].as_array().unwrap().len(),
        1,
        "only their clinic is listed: {list}"
    );
    let (status, _) = mia_session.get(&format!("/api/v1/audit?clinic={b}")).await;
    assert_eq!(status, 404, "another clinic's trail is not there for them");
    // A manager cannot lock out someone of another clinic, nor the owner.
    for target in [owner_person.id.as_str()] {
        let (status, body) = mia_session
            .patch(&format!("/api/v1/people/{target}"), json!({"disabled": true}))
            .await;
        assert_eq!(status, 404, "{body}");
    }

    // Everything a person may read of themselves and others holds no secret.
    for path in [
        "/api/v1/me",
        "/api/v1/people",
        "/api/v1/tokens",
        "/api/v1/me/sessions",
        "/api/v1/session",
    ] {
        answers.push(owner.get(path).await.1);
        answers.push(mia_session.get(path).await.1);
    }
    let (_, trail) = server.get("/api/v1/audit?limit=500").await;
    answers.push(trail);
    let backup_free = answers.iter().map(|a| a.to_string()).collect::<Vec<_>>().join("\n");
    let logged = std::fs::read_to_string(&log).unwrap();
    let secrets = [
        owner_person.totp_secret.clone().unwrap(),
        mia.totp_secret.clone().unwrap(),
        PASSWORD.to_string(),
        "$argon2id".to_string(),
        owner.cookie().unwrap().split('=').nth(1).unwrap().to_string(),
    ];
    for secret in &secrets {
        assert!(
            !backup_free.contains(secret.as_str()),
            "a secret in an answer or the trail: {secret}"
        );
        assert!(!logged.contains(secret.as_str()), "a secret in the log: {secret}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_unknown_wrong_and_disabled_get_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("REPBOOK_SIGN_IN_ATTEMPTS_PER_MINUTE", "10000"),
        ("REPBOOK_SIGN_IN_FAILURES_PER_ACCOUNT", "1000"),
        ("REPBOOK_SIGN_IN_FAILURES_PER_ADDRESS", "1000"),
    ];
    let server = Server::start_with_env(dir.path(), &env).await;
    let (_, mut owner) = accounts::first_owner(&server, "owner@harbour.test").await;
    let clinic = server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
    let (gone, _) = accounts::invited(
        &server,
        Some(&mut owner),
        "gone@harbour.test",
        "front_desk",
        Some(&clinic),
    )
    .await;
    let (status, _) = owner
        .patch(&format!("/api/v1/people/{}", gone.id), json!({"disabled": true}))
        .await;
    assert_eq!(status, 200);
    let (_, waiting) = owner
        .post(
            "/api/v1/people",
            json!({"email": "waiting@harbour.test", "role": "front_desk", "clinic": clinic}),
        )
        .await;
    assert_eq!(waiting["invited"], true);
    let mut answers = Vec::new();
    for (email, password) in [
        ("nobody@harbour.test", PASSWORD),
        ("owner@harbour.test", "not the password at all"),
        ("gone@harbour.test", PASSWORD),
        ("waiting@harbour.test", PASSWORD),
    ] {
        let (status, body) = Session::new(&server)
            .post("/api/v1/session", json!({"email": email, "password": password}))
            .await;
        answers.push((status, body));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:#?}");
    assert_eq!(answers[0].0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_a_thousand_wrong_passwords_from_twenty_addresses_are_held_back_and_the_owner_still_gets_in() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("REPBOOK_TRUSTED_PROXIES", "127.0.0.1"),
        ("REPBOOK_SIGN_IN_ATTEMPTS_PER_MINUTE", "100000"),
    ];
    let server = Server::start_with_env(dir.path(), &env).await;
    let (owner, _) = accounts::first_owner(&server, "owner@harbour.test").await;
    // The owner signs in from their desk once: the address becomes theirs.
    let desk = "192.0.2.10";
    let mut at_desk = Session::new(&server).seen_from(desk);
    let (status, _) = at_desk
        .post(
            "/api/v1/session",
            json!({"email": owner.email, "password": owner.password}),
        )
        .await;
    assert_eq!(status, 200);
    let code = accounts::fresh_code(owner.totp_secret.as_deref().unwrap()).await;
    assert_eq!(at_desk.post("/api/v1/session/totp", json!({"code": code})).await.0, 200);

    let mut counts = std::collections::BTreeMap::<u16, usize>::new();
    for n in 0..1000 {
        let mut attacker = Session::new(&server).seen_from(&format!("203.0.113.{}", n % 20 + 1));
        let (status, _) = attacker
            .post(
                "/api/v1/session",
                json!({"email": "owner@harbour.test", "password": format!("guess {n:04} guess")}),
            )
            .await;
        *counts.entry(status).or_default() += 1;
    }
    let checked = counts.get(&401).copied().unwrap_or(0);
    assert!(
        checked <= 30,
        "only a handful of guesses may be checked at all: {counts:?}"
    );
    assert_eq!(checked + counts.get(&429).copied().unwrap_or(0), 1000, "{counts:?}");

    // A new address with the right password waits too (the account is held back)...
    let (status, held) = Session::new(&server)
        .seen_from("198.51.100.77")
        .post(
            "/api/v1/session",
            json!({"email": owner.email, "password": owner.password}),
        )
        .await;
    assert_eq!(
        (status, held["error"]["code"].clone()),
        (429, json!("too_many_attempts")),
        "{held}"
    );
    // ...but the owner's own desk gets in.
    let mut again = Session::new(&server).seen_from(desk);
    let (status, view) = again
        .post(
            "/api/v1/session",
            json!({"email": owner.email, "password": owner.password}),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    let (_, trail) = server.get("/api/v1/audit?action=locked%20out&limit=500").await;
    assert!(
        !trail["entries"].as_array().unwrap().is_empty(),
        "held-back attempts are in the trail"
    );
}

/// The data dir of the release before staff accounts (tests/fixtures/README.md says what it holds).
const BEFORE_ACCOUNTS: &str = "../tests/fixtures/before-accounts.backup";
const OLD_LINK: &str = "/book/L24c8Vo_fDVnzLoD9bEMxP0No0O5cejS1HylJFKHy7k";
const OLD_MANAGE: &str = "/manage/2CIOye5UMvgvmunAPQzDtfLMal2mko_ODxTJUMX4f5k";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_upgrade_keeps_every_record_and_the_host_token_makes_the_owner_before_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(BEFORE_ACCOUNTS);
    let restored = crate::support::cli(dir.path(), &["restore", fixture.to_str().unwrap()]);
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let server = Server::start(dir.path()).await;

    // Every clinic, link and booking is there, and the old trail reads with its actors' kinds.
    let (_, clinics) = server.get("/api/v1/clinics").await;
    let clinic = clinics["clinics"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(clinics["clinics"][0]["name"], "Harbour GP");
    let (_, booked) = server
        .get(&format!(
            "/api/v1/clinics/{clinic}/appointments?from=2027-01-01&to=2027-01-31"
        ))
        .await;
    let reps: Vec<&str> = booked["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rep"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(reps, ["Jane Citizen", "Sam Lee"], "{booked}");
    let (status, _) =
        crate::support::booking::public_get(&server, &format!("{OLD_LINK}/slots?from=2027-01-01&to=2027-01-31")).await;
    assert_eq!(status, 200, "the booking link still works");
    let (status, visit) = crate::support::booking::public_get(&server, &format!("{OLD_MANAGE}/booking")).await;
    assert_eq!(
        (status, visit["rep"]["name"].clone()),
        (200, json!("Sam Lee")),
        "{visit}"
    );
    let (_, trail) = server.get("/api/v1/audit?limit=500").await;
    let kinds: Vec<(&str, &str)> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"]["kind"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&("POST /book/{link}/bookings", "rep")), "{kinds:?}");
    assert!(kinds.contains(&("POST /api/v1/clinics", "host_token")), "{kinds:?}");

    // On the admin page, the host token opens only the owner's making.
    let mut setup = Session::new(&server);
    let (status, view) = setup.post("/api/v1/session", json!({"token": server.token})).await;
    assert_eq!((status, view["stage"].clone()), (200, json!("setup")), "{view}");
    for path in [
        "/api/v1/clinics",
        &format!("/api/v1/clinics/{clinic}/appointments"),
        "/api/v1/people",
        "/api/v1/me",
    ] {
        let (status, body) = setup.get(path).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body["error"]["code"], "owner_required", "{path}: {body}");
    }
    let (status, made) = setup
        .post("/api/v1/owner", json!({"email": "it@harbour.test", "name": "Ivy Tran"}))
        .await;
    assert_eq!(status, 201, "{made}");
    let (mut owner, _) = accounts::accept(&server, made["invite_url"].as_str().unwrap(), "Ivy Tran", true).await;
    let (_, mine) = owner.get("/api/v1/clinics").await;
    assert_eq!(mine["clinics"][0]["id"], clinic.as_str());
    // From now on the host token is the command line's only.
    let (status, refused) = Session::new(&server)
        .post("/api/v1/session", json!({"token": server.token}))
        .await;
    assert_eq!(
        (status, refused["error"]["code"].clone()),
        (403, json!("host_token_not_for_the_page"))
    );
    let (status, again) = setup
        .post("/api/v1/owner", json!({"email": "x@harbour.test", "name": "X"}))
        .await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(
        server.get("/api/v1/clinics").await.0,
        200,
        "the host token still runs the CLI"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_people_tab_invites_changes_a_role_and_disables_in_the_browser() {
    use crate::support::browser::{Admin, Browser};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), &[("REPBOOK_SIGN_IN_ATTEMPTS_PER_MINUTE", "10000")]).await;
    let (_, mut owner) = accounts::first_owner(&server, "owner@harbour.test").await;
    let clinic = server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
    let (mia, _) = accounts::invited(&server, Some(&mut owner), "mia@harbour.test", "manager", Some(&clinic)).await;
    let browser = Browser::start(1280, 900).await;
    let admin = Admin { browser: &browser };
    admin.sign_in_as(&server.base, &mia).await;
    browser
        .until("the workspace", "!document.getElementById('workspace').hidden")
        .await;
    // A manager sees their clinic's tabs and People, never the host's connectors.
    assert!(browser.visible("tab-people").await);
    assert!(!browser.visible("tab-connectors").await);
    assert!(!browser.visible("add-clinic").await, "only the owner adds clinics");

    admin.tab("people").await;
    admin.fill("invite-email", "fred@harbour.test").await;
    admin.fill("invite-name", "Fred Desk").await;
    admin.choose("invite-role", "front_desk").await;
    let (status, error) = admin.press("#invite-form button[type=submit]").await;
    assert!(status.contains("Pass the link below"), "{status} {error}");
    let link = browser.text("invite-link").await;
    assert!(link.contains("/invite/"), "{link}");
    let roles: Vec<String> = serde_json::from_value(
        browser
            .js("return [...document.querySelectorAll('#invite-role option')].map(o => o.value);")
            .await,
    )
    .unwrap();
    assert_eq!(roles, ["front_desk", "manager"], "a manager cannot invite an owner");
    admin.shot("people-invited").await;

    // Fred accepts (outside the browser), then Mia makes him a manager and disables him.
    let path = link[link.find("/invite/").unwrap()..].trim().to_string();
    let (_, _) = accounts::accept(&server, &path, "Fred Desk", true).await;
    admin.tab("people").await;
    let fred_role =
        "select[aria-label='Role of fred at Harbour GP'], select[aria-label='Role of Fred Desk at Harbour GP']";
    browser
        .js(&format!("const s = document.querySelector({fred_role:?}); s.value = 'manager'; s.dispatchEvent(new Event('change')); return 1;"))
        .await;
    browser
        .until(
            "the role change",
            "document.getElementById('status').textContent.includes('now practice manager')",
        )
        .await;
    let (status, error) = admin.press("button[aria-label='Disable: Fred Desk']").await;
    assert!(status.contains("signed out everywhere"), "{status} {error}");
    admin.tab("people").await;
    assert!(admin.panel_text("people").await.contains("Disabled"));
    admin.shot("people-disabled").await;
    let (_, people) = server.get("/api/v1/people").await;
    let fred = people["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["email"] == "fred@harbour.test")
        .unwrap()
        .clone();
    assert_eq!(
        (fred["state"].clone(), fred["roles"][0]["role"].clone()),
        (json!("disabled"), json!("manager")),
        "{fred}"
    );

    // The Activity tab names who did it.
    admin.tab("activity").await;
    let text = admin.panel_text("activity").await;
    assert!(
        text.contains("Disabled an account") && text.contains("mia <mia@harbour.test>"),
        "{text}"
    );
    // Sign-ins of the clinic's people are on its trail too.
    assert!(
        text.contains("Signed in") && text.contains("with a code from an authenticator app"),
        "{text}"
    );
    browser.close().await;
}
