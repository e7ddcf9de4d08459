//! The audit trail and reps' personal information, through the real binary: who did what, when and from
//! where (sign-ins right and wrong, admin changes by token and by page, a rep's booking, move and
//! cancellation, a booking a rule refused), with no secret and no rep's address in it; past visits lose
//! the rep's details after the clinic's retention; `repbook rep forget` removes them at once, from the
//! visits and the trail, and says so in the trail.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::booking::{ROOMY_LIMITS, book, clinic, link, publish_noons, rep, set_rules};
use crate::support::{Server, cli, clock_env, env_refs, local_date_in};

async fn trail(server: &Server, query: &str) -> Vec<Value> {
    let (status, body) = server.get(&format!("/api/v1/audit{query}")).await;
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().unwrap().clone()
}

fn find<'a>(entries: &'a [Value], action: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["action"] == action).collect()
}

#[tokio::test]
async fn audit_trail_says_who_did_what_from_where_and_keeps_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut env: Vec<(&str, &str)> = ROOMY_LIMITS.to_vec();
    env.push(("REPBOOK_TRUSTED_PROXIES", "127.0.0.1"));
    let server = Server::start_with_env(dir.path(), &env).await;
    let http = reqwest::Client::new();
    let from = |address: &'static str| ("x-forwarded-for", address);

    // Sign-ins on the admin page: a wrong host token, then the right one (a new host: it makes the owner),
    // from the manager's desk.
    let wrong_token = "not-the-token-but-long-enough-to-look-real-1234";
    for (token, expect) in [(wrong_token, 401), (server.token.as_str(), 200)] {
        let response = http
            .post(format!("{}/api/v1/session", server.base))
            .header(from("198.51.100.10").0, from("198.51.100.10").1)
            .json(&json!({ "token": token }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expect);
    }

    // Admin changes: a clinic and its times by token (the CLI's way), a link.
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    set_rules(
        &server,
        &c.id,
        json!({"company_visit_interval_weeks": 4, "max_open_bookings_per_rep": 5, "booking_lead_hours": 0}),
    )
    .await;
    let day = local_date_in("Australia/Sydney", 3);
    let next_day = local_date_in("Australia/Sydney", 4);
    publish_noons(&server, &c.id, &c.ana, &[&day, &next_day], Some(30)).await;
    let book_path = link(&server, &c.id, "Reps", &[]).await;
    let capability = book_path.trim_start_matches("/book/").to_string();

    // A rep books, moves and cancels from their own address (through the trusted proxy).
    let rep_request = |path: String, body: Value| {
        let http = http.clone();
        let url = format!("{}{path}", server.base);
        async move {
            let response = http
                .post(url)
                .header("x-forwarded-for", "203.0.113.9")
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, booked) = rep_request(
        format!("{book_path}/bookings"),
        json!({"start": format!("{day}T12:00"), "practitioner_id": c.ana,
               "rep": {"name": "Ria Tan", "company": "Acme Pharma", "email": "ria@acme.test"}}),
    )
    .await;
    assert_eq!(status, 201, "{booked}");
    let manage = booked["manage_url"].as_str().unwrap().to_string();
    let (status, body) = rep_request(
        format!("{manage}/swap"),
        json!({"start": format!("{day}T12:30"), "practitioner_id": c.ana}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // A colleague from the same company asks for the same doctor the next day: the rule says no, and the
    // clinic sees who asked and why, while the refusal names nobody else.
    let (status, refused) = book(
        &server,
        &book_path,
        &format!("{next_day}T12:00"),
        Some(&c.ana),
        rep("Sam Lee", "Acme Pharma", "sam@acme.test"),
    )
    .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "company_visited_recently");
    let words = refused["error"]["message"].as_str().unwrap();
    assert!(!words.contains("Ria") && !words.contains(&day), "{words}");

    let (status, body) = rep_request(format!("{manage}/cancel"), json!({})).await;
    assert_eq!(status, 200, "{body}");

    let everything = trail(&server, "?limit=500").await;
    let mine = trail(&server, &format!("?clinic={}&limit=500", c.id)).await;
    let refused = find(&everything, "sign-in refused");
    let signed = find(&everything, "signed in");
    assert_eq!((refused.len(), signed.len()), (1, 1), "{everything:#?}");
    let outcomes: Vec<(&str, &str, &str)> = [refused[0], signed[0]]
        .iter()
        .map(|e| {
            (
                e["outcome"].as_str().unwrap(),
                e["client"].as_str().unwrap(),
                e["actor"]["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("bad_token", "198.51.100.10", "anyone"),
            ("setup", "198.51.100.10", "host_token")
        ],
        "{everything:#?}"
    );
    let created = find(&everything, "POST /api/v1/clinics");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["actor"]["kind"], "host_token");
    assert_eq!(created[0]["actor"]["name"], "host token");
    assert_eq!(created[0]["role"], "owner");
    assert_eq!(
        created[0]["clinic_id"],
        Value::Null,
        "the clinic did not exist before the request"
    );
    assert_eq!(find(&mine, "POST /api/v1/clinics/{clinic}/links").len(), 1, "{mine:#?}");
    for (action, what) in [
        ("POST /book/{link}/bookings", "booked through a link"),
        ("POST /manage/{token}/swap", "moved by the rep"),
        ("POST /manage/{token}/cancel", "cancelled by the rep"),
    ] {
        let entries = find(&mine, action);
        assert_eq!(entries.len(), 1, "{action}: {mine:#?}");
        let entry = entries[0];
        assert_eq!(entry["actor"]["kind"], "rep");
        assert_eq!(entry["client"], "203.0.113.9");
        let detail = entry["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(what) && detail.contains("Ria Tan") && detail.contains("Dr Ana Ng"),
            "{detail}"
        );
    }
    let refusals = find(&mine, "booking refused");
    assert_eq!(refusals.len(), 1, "{mine:#?}");
    assert_eq!(refusals[0]["outcome"], "company_visited_recently");
    let detail = refusals[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("Sam Lee (Acme Pharma)") && detail.contains("one visit per company"),
        "{detail}"
    );
    assert_eq!(
        trail(&server, &format!("?clinic={}&action=booking%20refused", c.id))
            .await
            .len(),
        1
    );

    // Nothing secret anywhere in it, and no rep's address.
    let text = serde_json::to_string(&everything).unwrap();
    let manage_token = manage.trim_start_matches("/manage/");
    for secret in [
        server.token.as_str(),
        wrong_token,
        capability.as_str(),
        manage_token,
        "ria@acme.test",
        "sam@acme.test",
    ] {
        assert!(!text.contains(secret), "the audit trail holds {secret}");
    }

    // The CLI shows the same trail.
    let printed = cli(
        &server.data_dir,
        &["audit", "--clinic", &c.id, "--server", &server.base],
    );
    let printed = String::from_utf8_lossy(&printed.stdout);
    assert!(
        printed.contains("booking refused") && printed.contains("203.0.113.9"),
        "{printed}"
    );
    println!(
        "audit trail: {} entries in all, {} for the clinic",
        everything.len(),
        mine.len()
    );
}

/// Past visits lose the rep's name, address and phone after the clinic's retention (the visit, its time
/// and doctor stay); a rep who asks is forgotten at once, from every visit and from the trail; both are
/// in the trail, without the address.
#[tokio::test]
async fn audit_retention_and_forgetting_a_rep_remove_their_details_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = clock_env(dir.path());
    env.extend(ROOMY_LIMITS.iter().map(|(k, v)| (*k, v.to_string())));
    let server = Server::start_with_env(dir.path(), &env_refs(&env)).await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    set_rules(
        &server,
        &c.id,
        json!({"rep_data_retention_days": 1, "max_open_bookings_per_rep": 5, "booking_lead_hours": 0}),
    )
    .await;
    let day = local_date_in("Australia/Sydney", 2);
    let later = local_date_in("Australia/Sydney", 20);
    publish_noons(&server, &c.id, &c.ana, &[&day, &later], Some(30)).await;
    let book_path = link(&server, &c.id, "Reps", &[]).await;
    let mut ids = Vec::new();
    for (start, who) in [
        (format!("{day}T12:00"), rep("Old Visit", "Acme", "old@acme.test")),
        (
            format!("{later}T12:00"),
            rep("Future Visit", "Acme", "future@acme.test"),
        ),
        (
            format!("{later}T12:30"),
            rep("Forget Me", "Beta", "Forget.Me@Beta.test"),
        ),
    ] {
        let (status, body) = book(&server, &book_path, &start, Some(&c.ana), who).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["appointment"]["reference"].as_str().unwrap().to_string());
    }
    let rep_of = |id: String| {
        let server = &server;
        async move {
            let (status, body) = server.get(&format!("/api/v1/appointments/{id}")).await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };

    // Four days on, the first visit ended over a day ago: its rep details go at the next housekeeping.
    server.move_clock(Duration::from_secs(4 * 24 * 3600)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let old = loop {
        let old = rep_of(ids[0].clone()).await;
        if old["rep"]["name"] == "(removed)" || std::time::Instant::now() > deadline {
            break old;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(old["rep"]["name"], "(removed)", "{old}");
    assert_eq!(old["rep"]["email"], "", "{old}");
    assert_eq!(old["rep"]["company"], "Acme", "the company is not personal information");
    assert_eq!(old["practitioner_id"], c.ana.as_str());
    assert_eq!(old["status"], "booked");
    let future = rep_of(ids[1].clone()).await;
    assert_eq!(future["rep"]["name"], "Future Visit", "a future visit keeps its rep");

    // The rep asks to be forgotten, in another spelling of their address.
    let forgot = cli(
        &server.data_dir,
        &[
            "rep",
            "forget",
            " forget.me@beta.TEST. ",
            "--server",
            &server.base,
            "--json",
        ],
    );
    assert!(forgot.status.success(), "{}", String::from_utf8_lossy(&forgot.stderr));
    let forgot: Value = serde_json::from_slice(&forgot.stdout).unwrap();
    assert_eq!(forgot["visits"], 1, "{forgot}");
    assert!(
        forgot["audit_entries"].as_u64().unwrap() >= 1,
        "their booking was in the trail: {forgot}"
    );
    let gone = rep_of(ids[2].clone()).await;
    assert_eq!(gone["rep"]["name"], "(removed)", "{gone}");
    assert_eq!(
        gone["start"],
        rep_of(ids[2].clone()).await["start"],
        "the visit itself stays"
    );

    let entries = trail(&server, &format!("?clinic={}&limit=500", c.id)).await;
    let text = serde_json::to_string(&entries).unwrap();
    for words in ["Forget Me", "Old Visit"] {
        assert!(!text.contains(words), "the trail still names {words}");
    }
    assert!(text.contains("Future Visit"), "a rep within retention is still named");
    let removals = find(&entries, "rep details removed");
    let said: Vec<&str> = removals.iter().map(|e| e["detail"].as_str().unwrap()).collect();
    assert!(
        said.iter().any(|d| d.contains("retention")) && said.iter().any(|d| d.contains("request")),
        "{said:?}"
    );

    // A refused address is said plainly.
    let (status, body) = server
        .post("/api/v1/reps/forget", json!({"email": "not an address"}))
        .await;
    assert_eq!(status, 422, "{body}");
}
