//! Visits as they happen: the front desk marks the day's visits (arrived, no-show once started, the
//! clinic could not see them), corrects a mark the same day, and the trail names who marked; webhooks
//! hear `appointment.arrived` and `appointment.no_show` (verified with the `standardwebhooks` package by
//! the receiver), and the PMS hears nothing. The no-show limit pauses a rep whose address (in any
//! spelling) reaches it, at that clinic only, until the manager lifts it. On a test clock.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::support::accounts;
use crate::support::booking::{ROOMY_LIMITS, book, clinic, link, publish_noons, rep, set_rules};
use crate::support::webhooks::Receiver;
use crate::support::{Server, clock_env, local_date_in};

async fn start(dir: &std::path::Path) -> Server {
    let mut env: Vec<(&str, String)> = clock_env(dir);
    env.extend(ROOMY_LIMITS.iter().map(|(k, v)| (*k, v.to_string())));
    env.push(("REPBOOK_PLUGIN_ALLOW_LOOPBACK", "true".into()));
    env.push(("REPBOOK_WEBHOOK_RETRY_BASE_MS", "200".into()));
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start_with_env(dir, &refs).await
}

/// Moves the server's clock to `local` (YYYY-MM-DDTHH:MM) in Sydney.
async fn clock_to(server: &Server, local: &str) {
    let target = jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M", local)
        .unwrap()
        .to_zoned_datetime(jiff::tz::TimeZone::get("Australia/Sydney").unwrap())
        .unwrap()
        .timestamp();
    let ahead: i64 = std::fs::read_to_string(crate::support::clock_file(&server.data_dir))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    let by = target.as_second() - Timestamp::now().as_second() - ahead;
    assert!(by > 0, "the clock only moves forward ({local})");
    server.move_clock(Duration::from_secs(by as u64)).await;
}

async fn mark(session: &mut accounts::Session, id: &str, mark: &str) -> (u16, Value) {
    session
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/appointments/{id}/attendance"),
            Some(json!({"mark": mark})),
        )
        .await
}

#[tokio::test]
async fn attendance_marks_the_day_corrects_a_mark_and_names_who_marked() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    let tomorrow = local_date_in("Australia/Sydney", 1);
    let (status, early) = server.book(&c.id, &c.ana, &format!("{tomorrow}T10:00"), 15).await;
    assert_eq!(status, 201, "{early}");
    let (status, late) = server.book(&c.id, &c.ben, &format!("{tomorrow}T15:00"), 15).await;
    assert_eq!(status, 201, "{late}");
    let (early, late) = (early["id"].as_str().unwrap(), late["id"].as_str().unwrap());
    let receiver = Receiver::start().await;
    let (status, hook) = server
        .post(
            &format!("/api/v1/clinics/{}/webhooks", c.id),
            json!({"url": receiver.url(), "events": []}),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    receiver.set(json!({"mode": "ok", "secrets": [hook["secret"]]}));
    let (fred, mut desk) = accounts::invited(&server, None, "fred@clinic.test", "front_desk", Some(&c.id)).await;

    let (status, body) = mark(&mut desk, early, "arrived").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["error"]["code"], "not_today",
        "marks are made on the visit's day: {body}"
    );

    clock_to(&server, &format!("{tomorrow}T10:30")).await;
    // A day on, the session has idled out: Fred signs in again.
    let mut desk = accounts::sign_in(&server, &fred).await;
    let (status, body) = mark(&mut desk, late, "no_show").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "not_started");
    assert!(body["error"]["message"].as_str().unwrap().contains("3:00 pm"), "{body}");
    let (status, body) = mark(&mut desk, late, "arrived").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["attendance"]["mark"], "arrived");
    assert_eq!(body["attendance"]["marked_by"], "fred <fred@clinic.test>");
    let (status, body) = mark(&mut desk, early, "no_show").await;
    assert_eq!(status, 200, "{body}");

    let (status, day) = desk.get(&format!("/api/v1/clinics/{}/today", c.id)).await;
    assert_eq!(status, 200, "{day}");
    assert_eq!(day["date"], tomorrow.as_str());
    let visits = day["visits"].as_array().unwrap();
    let order: Vec<(&str, &Value)> = visits
        .iter()
        .map(|v| (v["id"].as_str().unwrap(), &v["attendance"]["mark"]))
        .collect();
    assert_eq!(
        order,
        vec![(early, &json!("no_show")), (late, &json!("arrived"))],
        "{day}"
    );

    // A mistap corrected the same day: taken back, then marked as the clinic's own failing.
    let (status, body) = desk.delete(&format!("/api/v1/appointments/{early}/attendance")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["attendance"], Value::Null);
    let (status, body) = mark(&mut desk, early, "clinic_unavailable").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 1, "a mark is nothing to the PMS: the version stays");

    let (_, trail) = server.get("/api/v1/audit?limit=100").await;
    let marks: Vec<&Value> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().contains("/attendance") && e["outcome"] == "200")
        .collect();
    assert_eq!(marks.len(), 4, "{trail:#}");
    assert!(
        marks
            .iter()
            .all(|e| e["actor"]["name"].as_str().unwrap().starts_with("fred")),
        "{marks:#?}"
    );

    // The next day the marks stand as they are.
    clock_to(&server, &format!("{}T09:00", local_date_in("Australia/Sydney", 2))).await;
    let mut desk = accounts::sign_in(&server, &fred).await;
    let (status, body) = mark(&mut desk, early, "arrived").await;
    assert_eq!(status, 409, "{body}");

    let log = receiver
        .wait_until(Duration::from_secs(20), |log| {
            log.iter()
                .filter(|e| e["type"] == "appointment.arrived" || e["type"] == "appointment.no_show")
                .count()
                >= 2
        })
        .await;
    let kinds: Vec<&str> = log
        .iter()
        .filter_map(|e| e["type"].as_str())
        .filter(|t| t.contains("arrived") || t.contains("no_show"))
        .collect();
    assert_eq!(
        kinds.iter().filter(|t| **t == "appointment.arrived").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|t| **t == "appointment.no_show").count(),
        1,
        "{kinds:?}"
    );
    assert!(
        log.iter()
            .all(|e| e["verified"].as_array().is_some_and(|v| v.iter().any(|b| b == true))),
        "{log:#?}"
    );
    let arrived = log.iter().find(|e| e["type"] == "appointment.arrived").unwrap();
    assert_eq!(arrived["body"]["data"]["attendance"]["mark"], "arrived", "{arrived:#}");
}

#[tokio::test]
async fn attendance_no_show_limit_pauses_a_rep_in_any_spelling_at_that_clinic_until_lifted() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    let other = clinic(&server, "Australia/Sydney", "NSW").await;
    let rules = json!({"booking_lead_hours": 0, "max_open_bookings_per_rep": 5,
                       "no_show_limit": {"count": 2, "days": 180, "block_days": 90}});
    set_rules(&server, &c.id, rules.clone()).await;
    set_rules(&server, &other.id, rules).await;
    let (d1, d2, d8) = (
        local_date_in("Australia/Sydney", 1),
        local_date_in("Australia/Sydney", 2),
        local_date_in("Australia/Sydney", 8),
    );
    publish_noons(&server, &c.id, &c.ana, &[&d1, &d2], Some(15)).await;
    publish_noons(&server, &other.id, &other.ana, &[&d1], Some(15)).await;
    let here = link(&server, &c.id, "Reps", &[]).await;
    let there = link(&server, &other.id, "Reps", &[]).await;
    for (day, spelling) in [(&d1, "Ann@Acme.test"), (&d2, "ann@ACME.test")] {
        let (status, body) = book(
            &server,
            &here,
            &format!("{day}T12:00"),
            Some(&c.ana),
            rep("Ann", "Acme", spelling),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let (_, list) = server.get(&format!("/api/v1/clinics/{}/appointments", c.id)).await;
    let ids: Vec<String> = list["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{list}");
    for (id, day) in ids.iter().zip([&d1, &d2]) {
        clock_to(&server, &format!("{day}T12:20")).await;
        let (status, body) = server
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/appointments/{id}/attendance"),
                Some(json!({"mark": "no_show"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    // A third spelling: still Ann, still paused here; the refusal says why, until when, and what to do.
    let (status, body) = book(
        &server,
        &here,
        &format!("{d8}T12:00"),
        Some(&c.ana),
        rep("Ann", "Acme", "ANN@acme.test"),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "paused_after_no_shows", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("until") && message.contains("2 of your visits") && message.contains("call the clinic"),
        "{message}"
    );
    // Another rep books; and another clinic knows nothing of Ann's no-shows.
    let (status, body) = book(
        &server,
        &here,
        &format!("{d8}T12:15"),
        Some(&c.ana),
        rep("Bo", "Beta", "bo@beta.test"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let d8_there = local_date_in("Australia/Sydney", 8);
    let (status, body) = book(
        &server,
        &there,
        &format!("{d8_there}T12:00"),
        Some(&other.ana),
        rep("Ann", "Acme", "ann@acme.test"),
    )
    .await;
    assert_eq!(status, 201, "no-shows stay with the clinic: {body}");

    let (status, blocks) = server.get(&format!("/api/v1/clinics/{}/no-show-blocks", c.id)).await;
    assert_eq!(status, 200, "{blocks}");
    let found = blocks["blocks"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{blocks}");
    assert_eq!(found[0]["rep_email"], "ann@acme.test");
    assert_eq!(found[0]["no_shows"], 2);
    let lift = format!(
        "/api/v1/clinics/{}/no-show-blocks/{}",
        c.id,
        found[0]["id"].as_str().unwrap()
    );
    let (status, lifted) = server.call(reqwest::Method::DELETE, &lift, None).await;
    assert_eq!(status, 200, "{lifted}");
    let (status, body) = book(
        &server,
        &here,
        &format!("{d8}T12:30"),
        Some(&c.ana),
        rep("Ann", "Acme", "ann@acme.test"),
    )
    .await;
    assert_eq!(status, 201, "lifted: {body}");
    let (_, blocks) = server.get(&format!("/api/v1/clinics/{}/no-show-blocks", c.id)).await;
    assert_eq!(blocks["blocks"].as_array().unwrap().len(), 0, "{blocks}");
}

#[tokio::test]
async fn attendance_no_show_limit_is_checked_as_a_setting() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    let (status, body) = server
        .patch(
            &format!("/api/v1/clinics/{}", c.id),
            json!({"no_show_limit": {"count": 0, "days": 180, "block_days": 90}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no_show_limit.count is 0"),
        "{body}"
    );
    let (status, body) = server
        .patch(
            &format!("/api/v1/clinics/{}", c.id),
            json!({"no_show_limit": {"count": 2, "days": 180, "block_days": 90}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["no_show_limit"]["count"], 2, "{body}");
    let (status, body) = server
        .patch(&format!("/api/v1/clinics/{}", c.id), json!({"no_show_limit": null}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["no_show_limit"], Value::Null, "{body}");
}

/// The Today tab at tablet width, as the receptionist uses it: the day's visits in time order, a tap for
/// each mark (the API's refusal shown as it is), Undo; axe-core on each state; screenshots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attendance_browser_today_at_tablet_width() {
    use crate::support::browser::{Admin, Browser};
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    let tomorrow = local_date_in("Australia/Sydney", 1);
    let (_, early) = server.book(&c.id, &c.ana, &format!("{tomorrow}T10:00"), 15).await;
    let (_, late) = server.book(&c.id, &c.ben, &format!("{tomorrow}T15:00"), 15).await;
    clock_to(&server, &format!("{tomorrow}T10:30")).await;
    let (fred, _) = accounts::invited(&server, None, "fred@clinic.test", "front_desk", Some(&c.id)).await;
    let browser = Browser::start(820, 1180).await;
    let admin = Admin { browser: &browser };
    admin.sign_in_as(&server.base, &fred).await;
    browser
        .until("the workspace", "!document.getElementById('workspace').hidden")
        .await;
    admin.tab("today").await;
    let text = admin.panel_text("today").await;
    let (first, second) = (text.find("10:00 am").unwrap(), text.find("3:00 pm").unwrap());
    assert!(first < second, "in time order: {text}");
    assert!(
        !text.contains("Reps paused"),
        "the managers' part is not the front desk's: {text}"
    );
    admin.shot("today-tablet").await;

    let (_, error) = admin
        .press("button[aria-label^='Did not come: Jane Citizen (Acme Pharma) at 3:00 pm']")
        .await;
    assert!(error.contains("only after the start"), "the API's words: {error}");
    let (status, error) = admin
        .press("button[aria-label^='Did not come: Jane Citizen (Acme Pharma) at 10:00 am']")
        .await;
    assert!(status.contains("did not come"), "{status} {error}");
    admin.tab("today").await;
    let (status, error) = admin
        .press("button[aria-label^='Arrived: Jane Citizen (Acme Pharma) at 3:00 pm']")
        .await;
    assert!(status.contains("arrived"), "{status} {error}");
    admin.tab("today").await;
    admin.shot("today-marked-tablet").await;
    let (_, shown) = server
        .get(&format!("/api/v1/appointments/{}", early["id"].as_str().unwrap()))
        .await;
    assert_eq!(shown["attendance"]["mark"], "no_show", "{shown}");
    let (status, _) = admin
        .press("button[aria-label^='Undo the mark for Jane Citizen (Acme Pharma) at 3:00 pm']")
        .await;
    assert!(status.contains("taken back"), "{status}");
    let (_, shown) = server
        .get(&format!("/api/v1/appointments/{}", late["id"].as_str().unwrap()))
        .await;
    assert_eq!(shown["attendance"], Value::Null, "{shown}");
    browser.close().await;
}
