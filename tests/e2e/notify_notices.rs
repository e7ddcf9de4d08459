//! Who hears of what, read from a real SMTP server: the practice of a request waiting (with the way to
//! approve it), of a rep's swap and cancellation; the rep of approval and decline; a reminder a day before
//! (none for a visit booked inside that day, none for one cancelled since); the day's agenda at 07:00 only on
//! days with visits; and PMS trouble once per problem and once when resolved, never once per retry.

use crate::support::booking::*;
use crate::support::pms::{install_halo_bp, ready_clinic, set_faults};
use crate::support::smtp::{Mail, Smtp, Tls, with_subject};
use crate::support::{Server, clock_env, env_refs, local_date_in};

use std::time::{Duration, Instant};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde_json::json;

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_string()
}

/// Waits until a message whose subject starts with `prefix` has arrived `count` times in all.
async fn until_subject(smtp: &Smtp, prefix: &str, count: usize) -> Vec<Mail> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mail = smtp.read(None);
        if with_subject(&mail, prefix).len() >= count {
            return mail;
        }
        let subjects: Vec<String> = mail.iter().map(Mail::subject).collect();
        assert!(Instant::now() < deadline, "no '{prefix}' x{count}: {subjects:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn subjects(mail: &[Mail]) -> Vec<String> {
    mail.iter().map(Mail::subject).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_practice_hears_of_requests_swaps_and_cancellations_and_the_rep_of_decisions() {
    let smtp = Smtp::start(Tls::Plain).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = smtp.env(100);
    env.extend(ROOMY_LIMITS.iter().map(|(k, v)| (*k, v.to_string())));
    env.push(("REPBOOK_ADMIN_URL", "https://admin.harbour.test".into()));
    let server = Server::start_with_env(dir.path(), &env_refs(&env)).await;
    let c = clinic(&server, "Australia/Melbourne", "VIC").await;
    set_rules(
        &server,
        &c.id,
        json!({"notify_email": ["practice@harbour.test", "manager@harbour.test"]}),
    )
    .await;
    let day = local_date_in("Australia/Melbourne", 6);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "09:00", "end": "10:00", "practitioner_id": c.ana, "approval_required": true}),
    )
    .await;
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "14:00", "end": "15:00", "practitioner_id": c.ben}),
    )
    .await;
    let link = link(&server, &c.id, "Reps", &[]).await;

    // Two requests, each confirmed by its rep: the rep hears it waits, the practice that it waits.
    let mut confirmed = Vec::new();
    for (n, time) in ["09:00", "09:30"].iter().enumerate() {
        let email = format!("rep{n}@pharma.test");
        let (status, body) = book(
            &server,
            &link,
            &format!("{day}T{time}"),
            Some(&c.ana),
            rep(&format!("Rep {n}"), "Pharma", &email),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let mail = until_subject(&smtp, "Confirm your rep visit", n + 1).await;
        let confirm = mail
            .iter()
            .rev()
            .find(|m| m.to() == [email.as_str()])
            .unwrap()
            .link("/confirm/")
            .unwrap();
        let (status, body) = public_post(&server, &path_of(&confirm), json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "requested", "{body}");
        confirmed.push(body);
    }
    let mail = until_subject(&smtp, "Request waiting: ", 2).await;
    let waiting = with_subject(&mail, "Request waiting: ");
    assert_eq!(waiting[0].to(), ["practice@harbour.test", "manager@harbour.test"]);
    let approve = waiting[0]
        .link("/requests")
        .unwrap_or_else(|| panic!("a way to approve: {}", waiting[0].text()));
    assert!(approve.starts_with("https://admin.harbour.test/"), "{approve}");
    let received = with_subject(&mail, "Requested: ");
    assert_eq!(received.len(), 2);
    assert!(
        received[0].text().contains("approves or declines"),
        "{}",
        received[0].text()
    );

    // The practice approves one and declines the other: each rep hears, the approved with a calendar file.
    let id = |n: usize| confirmed[n]["appointment"]["reference"].as_str().unwrap().to_string();
    let (status, body) = server
        .post(&format!("/api/v1/appointments/{}/approve", id(0)), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .post(&format!("/api/v1/appointments/{}/decline", id(1)), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let mail = until_subject(&smtp, "Declined: ", 1).await;
    let approved = until_subject(&smtp, "Approved: ", 1).await;
    let approved = with_subject(&approved, "Approved: ")[0].clone();
    assert_eq!(approved.to(), ["rep0@pharma.test"]);
    assert_eq!(approved.calendar()["method"], "REQUEST");
    assert_eq!(with_subject(&mail, "Declined: ")[0].to(), ["rep1@pharma.test"]);

    // A booked visit the rep swaps and then cancels through the manage link: the practice hears of each.
    let (status, body) = book(
        &server,
        &link,
        &format!("{day}T14:00"),
        Some(&c.ben),
        rep("Lee", "Globex", "lee@globex.test"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let mail = until_subject(&smtp, "Confirm your rep visit", 3).await;
    let confirm = mail
        .iter()
        .rev()
        .find(|m| m.to() == ["lee@globex.test"])
        .unwrap()
        .link("/confirm/")
        .unwrap();
    let (status, body) = public_post(&server, &path_of(&confirm), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let manage = body["manage_url"].as_str().unwrap().to_string();
    let (status, body) = public_post(
        &server,
        &format!("{manage}/swap"),
        json!({"start": format!("{day}T14:30"), "practitioner_id": c.ben}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = public_post(&server, &format!("{manage}/cancel"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let mail = until_subject(&smtp, "Cancelled by the rep: ", 1).await;
    let moved = with_subject(&mail, "Moved by the rep: ");
    assert_eq!(moved.len(), 1, "{:#?}", subjects(&mail));
    assert!(moved[0].text().contains("2:30 pm"), "{}", moved[0].text());
    assert_eq!(moved[0].to(), ["practice@harbour.test", "manager@harbour.test"]);
    // The rep is told too, with calendar updates that a calendar applies in order.
    let lee: Vec<&Mail> = mail.iter().filter(|m| m.to() == ["lee@globex.test"]).collect();
    let methods: Vec<&str> = lee.iter().filter_map(|m| m.calendar()["method"].as_str()).collect();
    assert_eq!(
        methods,
        ["REQUEST", "REQUEST", "CANCEL"],
        "{:#?}",
        lee.iter().map(|m| m.subject()).collect::<Vec<_>>()
    );
}

/// The instant a clinic-local date and time stands for.
fn at(zone: &str, day: Date, hour: i8, minute: i8) -> Timestamp {
    day.at(hour, minute, 0, 0)
        .to_zoned_datetime(TimeZone::get(zone).unwrap())
        .unwrap()
        .timestamp()
}

/// Moves the server's clock so that it reads `when` (give or take the time the test takes).
async fn clock_to(server: &Server, when: Timestamp) {
    let file = crate::support::clock_file(&server.data_dir);
    let now: i64 = std::fs::read_to_string(&file)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    let wanted = when.as_second() - Timestamp::now().as_second();
    server
        .move_clock(Duration::from_secs((wanted - now).max(0) as u64))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_reminders_and_the_daily_agenda_follow_the_clinics_clock() {
    const ZONE: &str = "Australia/Brisbane";
    let smtp = Smtp::start(Tls::Plain).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = smtp.env(100);
    env.extend(clock_env(dir.path()));
    let server = Server::start_with_env(dir.path(), &env_refs(&env)).await;
    let clinic = server.create_clinic("Riverside GP", ZONE, "QLD").await;
    set_rules(
        &server,
        &clinic,
        json!({"notify_email": ["practice@riverside.test"], "reminder_hours": 24, "daily_agenda_local_time": "07:00"}),
    )
    .await;
    let ana = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
    let today = Timestamp::now().to_zoned_datetime(TimeZone::get(ZONE).unwrap()).date();
    let visit_day = today.checked_add(3.days()).unwrap();
    let staff_book = |start: String, email: &'static str| {
        let server = &server;
        let (clinic, ana) = (&clinic, &ana);
        async move {
            let (status, body) = server
                .post(
                    &format!("/api/v1/clinics/{clinic}/appointments"),
                    json!({"practitioner_id": ana, "start": start, "duration_minutes": 15,
                           "rep": {"name": "Rep", "company": "Co", "email": email}}),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            body["id"].as_str().unwrap().to_string()
        }
    };
    staff_book(format!("{visit_day}T10:00"), "kept@co.test").await;
    let dropped = staff_book(format!("{visit_day}T11:00"), "dropped@co.test").await;
    let (status, body) = server
        .post(&format!("/api/v1/appointments/{dropped}/cancel"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    until_subject(&smtp, "Cancelled: ", 1).await;

    // 23 hours before the visit: the reminder for the kept visit, none for the cancelled one.
    let eve = visit_day.yesterday().unwrap();
    clock_to(&server, at(ZONE, eve, 11, 0)).await;
    let mail = until_subject(&smtp, "Reminder: ", 1).await;
    let reminders = with_subject(&mail, "Reminder: ");
    assert_eq!(reminders[0].to(), ["kept@co.test"]);
    assert!(reminders[0].text().contains("10:00 am AEST"), "{}", reminders[0].text());
    // A visit booked inside the window gets its booking mail and no reminder.
    staff_book(format!("{eve}T15:00"), "late@co.test").await;
    until_subject(&smtp, "Booked: ", 3).await;

    // The visit day at 07:00: the agenda, listing the day's booked visit only.
    clock_to(&server, at(ZONE, visit_day, 7, 1)).await;
    let mail = until_subject(&smtp, "Today at ", 1).await;
    let agenda = with_subject(&mail, "Today at ")[0].clone();
    assert_eq!(agenda.to(), ["practice@riverside.test"]);
    assert!(agenda.subject().contains("1 rep visit"), "{}", agenda.subject());
    assert!(
        agenda.text().contains("10:00 am AEST") && !agenda.text().contains("11:00 am"),
        "{}",
        agenda.text()
    );
    // A day without visits sends nothing, and nothing goes twice.
    clock_to(&server, at(ZONE, visit_day.tomorrow().unwrap(), 7, 30)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mail = smtp.read(None);
    let all = subjects(&mail);
    assert_eq!(with_subject(&mail, "Reminder: ").len(), 1, "{all:#?}");
    assert_eq!(with_subject(&mail, "Today at ").len(), 1, "{all:#?}");
    // Booked x3, Cancelled, Reminder, agenda: the eve's 15:00 visit was booked after that day's 07:00.
    assert_eq!(mail.len(), 6, "{all:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_pms_trouble_is_told_once_per_problem_and_once_when_resolved() {
    let smtp = Smtp::start(Tls::Plain).await;
    let sim = halo_sim::serve(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        crate::support::pms::seed(1),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut env = smtp.env(100);
    env.extend(clock_env(dir.path()));
    env.push(("REPBOOK_PLUGIN_ALLOW_LOOPBACK", "true".into()));
    env.push(("REPBOOK_SYNC_BACKOFF_BASE_MS", "50".into()));
    env.push(("REPBOOK_SYNC_BACKOFF_CAP_MS", "200".into()));
    env.push(("REPBOOK_SYNC_PROBE_CAP_MS", "300".into()));
    let server = Server::start_with_env(dir.path(), &env_refs(&env)).await;
    install_halo_bp(&server).await;
    let clinic = ready_clinic(&server, &sim.url(), "20001", "Australia/Sydney", "NSW").await;
    set_rules(&server, &clinic.id, json!({"notify_email": ["practice@clinic.test"]})).await;
    // A doctor who was never matched to a Bp user: her visit cannot be sent and waits for a person.
    let chloe = server.add_doctor(&clinic.id, "Chloe", "Singh", "MED0009999999").await;
    let day = local_date_in("Australia/Sydney", 7);
    let (status, parked) = server.book(&clinic.id, &chloe, &format!("{day}T11:00"), 15).await;
    assert_eq!(status, 201, "{parked}");
    let mail = until_subject(&smtp, "Not in your PMS: ", 1).await;
    let notice = with_subject(&mail, "Not in your PMS: ")[0].clone();
    assert_eq!(notice.to(), ["practice@clinic.test"]);
    assert!(notice.text().contains("Sync Staff"), "the reason: {}", notice.text());
    // Retrying while it still fails tells nobody again.
    for _ in 0..3 {
        let (status, body) = server
            .post(&format!("/api/v1/clinics/{}/sync/retry-parked", clinic.id), json!({}))
            .await;
        assert!(status < 300, "{body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Mapped by hand and sent: one more message, that it arrived.
    let (status, body) = server
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/clinics/{}/staff/{chloe}/pms", clinic.id),
            Some(json!({"user_id": 2000000564})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .post(&format!("/api/v1/clinics/{}/sync/retry-parked", clinic.id), json!({}))
        .await;
    assert!(status < 300, "{body}");
    let mail = until_subject(&smtp, "Now in your PMS: ", 1).await;
    assert_eq!(
        with_subject(&mail, "Not in your PMS: ").len(),
        1,
        "{:#?}",
        subjects(&mail)
    );

    // The site goes offline (Halo Link stopped): nothing for the first minutes, one message after 15,
    // however long it stays down, and one when it answers again.
    set_faults(&sim.url(), "20001", json!({"offline": true})).await;
    let (status, body) = server
        .book(&clinic.id, &clinic.doctors[0].0, &format!("{day}T12:00"), 15)
        .await;
    assert_eq!(status, 201, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, sync) = server.get(&format!("/api/v1/clinics/{}/sync", clinic.id)).await;
        if sync["site"]["paused"] == true && sync["site"]["offline_since"].is_string() {
            break;
        }
        assert!(Instant::now() < deadline, "the site never showed offline: {sync}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        with_subject(&smtp.read(None), "Your PMS has not answered").is_empty(),
        "not before 15 minutes"
    );
    server.move_clock(Duration::from_secs(16 * 60)).await;
    until_subject(&smtp, "Your PMS has not answered", 1).await;
    server.move_clock(Duration::from_secs(60 * 60)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    set_faults(&sim.url(), "20001", json!({})).await;
    let mail = until_subject(&smtp, "Your PMS answers again", 1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mail = if mail.len() < smtp.received().len() {
        smtp.read(None)
    } else {
        mail
    };
    let all = subjects(&mail);
    assert_eq!(with_subject(&mail, "Your PMS has not answered").len(), 1, "{all:#?}");
    assert_eq!(with_subject(&mail, "Your PMS answers again").len(), 1, "{all:#?}");
}
