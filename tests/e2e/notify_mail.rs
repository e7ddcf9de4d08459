//! What reps and practices receive, read by an independent parser (Python's `email` and `icalendar`) from a
//! real SMTP server (aiosmtpd, STARTTLS with AUTH): headers, both parts, the calendar file in three
//! Australian zones across a daylight-saving change, the UID stable and SEQUENCE rising across book, move
//! and cancel.

use crate::support::smtp::{self, Mail, Smtp, Tls, with_subject};
use crate::support::{Server, env_refs};

use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde_json::json;

/// The next date (at least 3 days away) on which Sydney's clocks change: the Sunday of the change.
fn next_daylight_saving_change() -> Date {
    let sydney = TimeZone::get("Australia/Sydney").unwrap();
    let today = Timestamp::now().to_zoned_datetime(sydney.clone()).date();
    let offset_at_noon = |date: Date| date.at(12, 0, 0, 0).to_zoned_datetime(sydney.clone()).unwrap().offset();
    (3..400)
        .map(|days| today.checked_add(days.days()).unwrap())
        .find(|date| offset_at_noon(*date) != offset_at_noon(date.yesterday().unwrap()))
        .expect("Sydney changes its clocks within a year")
}

struct Visit {
    id: String,
    zone: &'static str,
    local: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_rep_mail_reads_right_in_three_zones_across_a_clock_change() {
    let smtp = Smtp::start(Tls::Starttls).await;
    let dir = tempfile::tempdir().unwrap();
    let env = smtp.env(200);
    let server = Server::start_with_env(dir.path(), &env_refs(&env)).await;

    let change = next_daylight_saving_change();
    let (before, after) = (
        change.checked_sub(2.days()).unwrap(),
        change.checked_add(1.days()).unwrap(),
    );
    let zones = [
        ("Australia/Sydney", "NSW", "Harbour Medical Centre"),
        ("Australia/Brisbane", "QLD", "Riverside GP"),
        ("Australia/Adelaide", "SA", "Torrens Family Practice"),
    ];
    let mut visits = Vec::new();
    for (zone, state, name) in zones {
        let clinic = server.create_clinic(name, zone, state).await;
        let (status, body) = server
            .patch(
                &format!("/api/v1/clinics/{clinic}"),
                json!({"notify_email": [format!("practice@{}.test", state.to_lowercase())]}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let doctor = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
        for (day, time) in [(before, "10:00"), (after, "10:30")] {
            let local = format!("{day}T{time}");
            let (status, body) = server
                .post(
                    &format!("/api/v1/clinics/{clinic}/appointments"),
                    json!({
                        "practitioner_id": doctor,
                        // Markup in a name must reach the HTML part as text, never as markup.
                        "rep": {"name": "Jane <b>Citizen</b>", "company": "Smith & Nephew", "email": "Jane.Citizen@Acme.test"},
                        "start": local, "duration_minutes": 15,
                    }),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            let id = body["id"].as_str().unwrap().to_string();
            visits.push(Visit { id, zone, local });
        }
    }
    smtp.wait_for(visits.len(), Duration::from_secs(30)).await;
    // Nothing more comes: one message per booking, none twice.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received = smtp.read(None);
    let subjects: Vec<String> = received.iter().map(Mail::subject).collect();
    assert_eq!(received.len(), visits.len(), "one message per booking: {subjects:?}");
    // Messages of different visits may arrive in any order: each is matched to its visit by the calendar
    // event's UID, and read again with the calendar shown in the clinic's own zone (Python's zoneinfo).
    let mail_of = |visit: &Visit| -> Mail {
        let mail = received
            .iter()
            .find(|m| m.calendar()["events"][0]["uid"] == format!("{}@repbook", visit.id))
            .unwrap_or_else(|| panic!("no message for {}: {subjects:?}", visit.local));
        let file = std::path::PathBuf::from(mail.0["file"].as_str().unwrap());
        smtp::read_mail(&[file], Some(visit.zone)).remove(0)
    };
    let now = Timestamp::now();
    let mut ids = std::collections::HashSet::new();
    for visit in &visits {
        let mail = mail_of(visit);
        let m = &mail.0;
        assert_eq!(m["defects"], json!([]), "{m}");
        assert!(mail.subject().starts_with("Booked: "), "{m}");
        assert_eq!(m["from"][0]["address"], smtp::FROM, "{m}");
        assert!(
            zones.iter().any(|(_, _, name)| m["from"][0]["name"] == *name),
            "the sender is the clinic: {m}"
        );
        assert_eq!(
            mail.to(),
            vec!["Jane.Citizen@acme.test"],
            "the address as typed, domain in lower case: {m}"
        );
        assert_eq!(
            m["reply_to"].as_array().unwrap().len(),
            1,
            "replies go to the practice: {m}"
        );
        let date: Timestamp = m["date"].as_str().unwrap().parse().unwrap();
        assert!((now - date).as_secs().abs() < 120, "Date is now: {m}");
        let id = mail.message_id();
        assert!(id.starts_with('<') && id.ends_with("@repbook.test>"), "{m}");
        assert!(ids.insert(id), "each message has its own Message-ID");
        let types: Vec<&str> = m["content_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        for part in [
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "text/html",
            "text/calendar",
        ] {
            assert!(types.contains(&part), "{part} in {types:?}");
        }
        assert_eq!(m["html_remote"], json!([]), "no remote content: {m}");
        assert_eq!(m["html_images"], 0);
        assert_eq!(m["html_scripts"], 0);
        assert!(
            m["html_text"]
                .as_str()
                .unwrap()
                .contains("Jane <b>Citizen</b> (Smith & Nephew)"),
            "markup is escaped in the HTML part: {}",
            m["html_text"]
        );
        assert!(mail.text().contains("Jane <b>Citizen</b> (Smith & Nephew)"));

        let calendar = mail.calendar();
        assert_eq!(calendar["method"], "REQUEST", "{m}");
        assert_eq!(calendar["content_type_method"], "REQUEST");
        let event = &calendar["events"][0];
        assert_eq!(event["start_local"], visit.local.as_str(), "{} {event}", visit.zone);
        assert!(
            event["attendee"].as_str().unwrap().contains("Jane.Citizen@acme.test"),
            "{event}"
        );
        // The words a person reads carry the abbreviation Python's zoneinfo gives that instant.
        let abbreviation = event["start_abbreviation"].as_str().unwrap();
        let clock = if visit.local.ends_with("10:00") {
            "10:00 am"
        } else {
            "10:30 am"
        };
        assert!(
            mail.text().contains(&format!("{clock} {abbreviation}")),
            "{} {}: {clock} {abbreviation} in {}",
            visit.zone,
            visit.local,
            mail.text()
        );
    }
    // The change week really changes: Sydney's two visits are in different abbreviations, Brisbane's not.
    let abbreviations: Vec<String> = visits
        .iter()
        .map(|visit| {
            mail_of(visit).calendar()["events"][0]["start_abbreviation"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_ne!(abbreviations[0], abbreviations[1], "{abbreviations:?}");
    assert_eq!(abbreviations[2], abbreviations[3], "{abbreviations:?}");
    assert_ne!(abbreviations[4], abbreviations[5], "{abbreviations:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_calendar_uid_stays_and_sequence_rises_across_book_move_cancel() {
    let smtp = Smtp::start(Tls::Implicit).await;
    let dir = tempfile::tempdir().unwrap();
    let env = smtp.env(200);
    let server = Server::start_with_env(dir.path(), &env_refs(&env)).await;
    let clinic = server.create_clinic("Harbour", "Australia/Sydney", "NSW").await;
    let doctor = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
    let day = crate::support::local_date_in("Australia/Sydney", 6);
    let (status, booked) = server.book(&clinic, &doctor, &format!("{day}T09:00"), 15).await;
    assert_eq!(status, 201, "{booked}");
    let id = booked["id"].as_str().unwrap();
    let (status, body) = server
        .patch(
            &format!("/api/v1/appointments/{id}"),
            json!({"start": format!("{day}T11:45")}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .post(&format!("/api/v1/appointments/{id}/cancel"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");

    smtp.wait_for(3, Duration::from_secs(30)).await;
    let mail = smtp.read(Some("Australia/Sydney"));
    let subjects: Vec<String> = mail.iter().map(Mail::subject).collect();
    assert_eq!(mail.len(), 3, "{subjects:?}");
    let events: Vec<&serde_json::Value> = mail.iter().map(|m| &m.calendar()["events"][0]).collect();
    let methods: Vec<&str> = mail.iter().map(|m| m.calendar()["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["REQUEST", "REQUEST", "CANCEL"], "{subjects:?}");
    assert!(
        subjects[0].starts_with("Booked: ")
            && subjects[1].starts_with("Changed: ")
            && subjects[2].starts_with("Cancelled: "),
        "{subjects:?}"
    );
    assert!(
        events.iter().all(|e| e["uid"] == events[0]["uid"]),
        "one UID: {events:?}"
    );
    let sequences: Vec<i64> = events.iter().map(|e| e["sequence"].as_i64().unwrap()).collect();
    assert!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "SEQUENCE rises: {sequences:?}"
    );
    assert_eq!(events[1]["start_local"], format!("{day}T11:45"));
    assert_eq!(events[2]["status"], "CANCELLED");
    assert!(
        mail[1].text().contains("It was "),
        "the change says what it was: {}",
        mail[1].text()
    );
    assert!(
        with_subject(&mail, "Booked: ")[0].link("/manage/").is_none(),
        "staff bookings carry no rep link"
    );
}
