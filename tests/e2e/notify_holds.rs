//! The rep proves the address: with mail on, a booking through a link holds its slot until the rep confirms
//! by the link in the email (read from a real SMTP server). A squatting run with invented addresses puts
//! nothing into the PMS (halo-sim) and lapses; a held slot is offered to nobody else; 50 concurrent
//! bookings for one slot still give one hold; confirming after the hold lapsed says so; opening the link
//! changes nothing; only confirmed bookings count toward the per-rep limit, on the normalised address.

use crate::support::booking::*;
use crate::support::pms::{assert_bp_matches, install_halo_bp, ready_clinic, sim_get, wait_drained};
use crate::support::smtp::{Smtp, Tls, with_subject};
use crate::support::{Server, clock_env, env_refs, local_date_in};

use std::time::Duration;

use serde_json::{Value, json};

/// A weekday at least `days` ahead (the simulator's doctors have sessions Monday to Friday).
fn weekday_from(zone: &str, days: i64) -> String {
    (days..days + 7)
        .map(|n| local_date_in(zone, n))
        .find(|d| !matches!(weekday(d), "sat" | "sun"))
        .unwrap()
}

/// The path of the confirmation link mailed to `to` (the newest such message).
pub(crate) async fn confirmation_link(smtp: &Smtp, to: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mail = smtp.read(None);
        if let Some(link) = mail
            .iter()
            .rev()
            .filter(|m| m.to() == [to] && m.subject().starts_with("Confirm your rep visit"))
            .find_map(|m| m.link("/confirm/"))
        {
            let path = link.split_once("://").unwrap().1;
            return path[path.find('/').unwrap()..].to_string();
        }
        assert!(std::time::Instant::now() < deadline, "no confirmation mail to {to}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_hold_squatters_put_nothing_in_the_pms_lapse_and_a_real_rep_confirms() {
    let smtp = Smtp::start(Tls::Plain).await;
    let sim = halo_sim::serve(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        crate::support::pms::seed(1),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut env = smtp.env(100);
    env.extend(clock_env(dir.path()));
    env.extend(ROOMY_LIMITS.iter().map(|(k, v)| (*k, v.to_string())));
    env.push(("REPBOOK_PLUGIN_ALLOW_LOOPBACK", "true".into()));
    let server = Server::start_with_env(dir.path(), &env_refs(&env)).await;
    install_halo_bp(&server).await;
    let clinic = ready_clinic(&server, &sim.url(), "20001", "Australia/Sydney", "NSW").await;
    let (ana, _) = clinic.doctors[0].clone();
    let day = weekday_from("Australia/Sydney", 6);
    publish(
        &server,
        &clinic.id,
        json!({"weekday": weekday(&day), "start": "09:00", "end": "11:00", "practitioner_id": ana}),
    )
    .await;
    let link = link(&server, &clinic.id, "Reps", &[]).await;
    let offered = slots(&server, &link, &day, &day).await;
    assert_eq!(offered.len(), 8, "{offered:?}");

    // The squatter takes every slot with invented names and addresses: each is only held.
    for (n, slot) in offered.iter().enumerate() {
        let start = &slot["start"].as_str().unwrap()[..16];
        let (status, body) = book(
            &server,
            &link,
            start,
            Some(&ana),
            rep(
                &format!("Nobody {n}"),
                "Nothing Pty Ltd",
                &format!("nobody{n}@invented{n}.test"),
            ),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["status"], "held", "{body}");
        assert_eq!(
            body["manage_url"],
            Value::Null,
            "no manage link before the address is proven"
        );
        assert!(body["hold_until"].as_str().is_some(), "{body}");
    }
    // Held slots are offered to nobody else...
    assert!(slots(&server, &link, &day, &day).await.is_empty());
    let (status, body) = book(
        &server,
        &link,
        &format!("{day}T09:00"),
        Some(&ana),
        rep("Jane", "Acme", "jane@acme.test"),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    // ...and none of them reaches Bp.
    smtp.wait_for(8, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let bp = sim_get(&sim.url(), "/_sim/sites/20001/appointments").await;
    assert_eq!(bp["appointments"].as_array().unwrap().len(), 0, "{bp}");

    // The holds lapse after 30 minutes (the clinic's default): every slot is free again, Bp still empty,
    // and no mail goes to the unproven addresses about it.
    let squatter_link = confirmation_link(&smtp, "nobody0@invented0.test").await;
    server.move_clock(Duration::from_secs(31 * 60)).await;
    let freed = {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let offered = slots(&server, &link, &day, &day).await;
            if offered.len() == 8 || std::time::Instant::now() > deadline {
                break offered;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    assert_eq!(freed.len(), 8, "{freed:?}");
    let (status, body) = public_post(&server, &squatter_link, json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "hold_expired", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("book again"),
        "{body}"
    );
    // Housekeeping marks the lapsed holds expired on its next round (the slots were free already).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let states = loop {
        let (_, listed) = server.get(&format!("/api/v1/clinics/{}/appointments", clinic.id)).await;
        let states: Vec<String> = listed["appointments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["status"].as_str().unwrap().to_string())
            .collect();
        if states.iter().all(|s| s == "expired") || std::time::Instant::now() > deadline {
            break states;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(states.iter().all(|s| s == "expired"), "{states:?}");
    assert_eq!(smtp.received().len(), 8, "nothing more to invented addresses");

    // A real rep books, opens the link from the mail (which changes nothing), and confirms.
    let (status, body) = book(
        &server,
        &link,
        &format!("{day}T09:00"),
        Some(&ana),
        rep("Jane Citizen", "Acme", "Jane@Acme.test"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "held");
    let confirm = confirmation_link(&smtp, "Jane@acme.test").await;
    let (status, kind, page) = public_text(&server, &confirm).await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(page.contains("<button"), "the page confirms with a button: {page}");
    let (status, visit) = public_get(&server, &format!("{confirm}/visit")).await;
    assert_eq!(status, 200, "{visit}");
    assert_eq!(
        visit["status"], "held",
        "opening the link (as a mail scanner does) confirms nothing: {visit}"
    );
    let (status, confirmed) = public_post(&server, &confirm, json!({})).await;
    assert_eq!(status, 200, "{confirmed}");
    assert_eq!(confirmed["status"], "booked", "{confirmed}");
    let manage = confirmed["manage_url"].as_str().unwrap().to_string();
    let (status, managed) = public_get(&server, &format!("{manage}/booking")).await;
    assert_eq!(status, 200, "{managed}");
    // Confirming again says it is done, and where the link is.
    let (status, again) = public_post(&server, &confirm, json!({})).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["error"]["code"], "already_confirmed", "{again}");

    // The booked mail carries the manage link and the calendar file; Bp holds this one visit only.
    let mail = smtp.wait_for(10, Duration::from_secs(30)).await;
    let booked = with_subject(&mail, "Booked: ");
    let subjects: Vec<String> = mail.iter().map(|m| m.subject()).collect();
    assert_eq!(booked.len(), 1, "{subjects:#?}");
    assert!(booked[0].link(&manage).is_some(), "{:?}", booked[0].0["links"]);
    assert_eq!(booked[0].calendar()["method"], "REQUEST");
    wait_drained(&server, &clinic.id, Duration::from_secs(30)).await;
    assert_bp_matches(&server, &sim.url(), &clinic).await;
    let bp = sim_get(&sim.url(), "/_sim/sites/20001/appointments").await;
    assert_eq!(
        bp["appointments"].as_array().unwrap().len(),
        1,
        "only the confirmed visit: {bp}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_hold_fifty_concurrent_bookings_for_one_slot_give_one_hold() {
    let smtp = Smtp::start(Tls::Plain).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = smtp.env(100);
    env.extend(ROOMY_LIMITS.iter().map(|(k, v)| (*k, v.to_string())));
    let server = Server::start_with_env(dir.path(), &env_refs(&env)).await;
    let c = clinic(&server, "Australia/Perth", "WA").await;
    let day = local_date_in("Australia/Perth", 5);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "14:00", "end": "14:15", "practitioner_id": c.ana}),
    )
    .await;
    let link = link(&server, &c.id, "Reps", &[]).await;
    let mut racers = tokio::task::JoinSet::new();
    for n in 0..50 {
        let (url, start) = (format!("{}{link}/bookings", server.base), format!("{day}T14:00"));
        let ana = c.ana.clone();
        racers.spawn(async move {
            let response = reqwest::Client::new()
                .post(url)
                .json(&json!({"start": start, "practitioner_id": ana, "rep": rep(&format!("Rep {n}"), &format!("Co {n}"), &format!("rep{n}@co{n}.test"))}))
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        });
    }
    let answers: Vec<(u16, Value)> = racers.join_all().await;
    let held: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 201).map(|(_, b)| b).collect();
    assert_eq!(held.len(), 1, "one hold: {answers:?}");
    assert_eq!(held[0]["status"], "held");
    assert!(
        answers
            .iter()
            .filter(|(s, _)| *s != 201)
            .all(|(s, b)| *s == 409 && b["error"]["code"] == "slot_taken"),
        "{answers:?}"
    );
    assert!(
        slots(&server, &link, &day, &day).await.is_empty(),
        "the held slot is offered to nobody"
    );
    smtp.wait_for(1, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.received().len(), 1, "one confirmation mail");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_hold_only_confirmed_bookings_count_toward_the_rep_limit_on_the_normalised_address() {
    let smtp = Smtp::start(Tls::Plain).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = smtp.env(100);
    env.extend(ROOMY_LIMITS.iter().map(|(k, v)| (*k, v.to_string())));
    let server = Server::start_with_env(dir.path(), &env_refs(&env)).await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    set_rules(&server, &c.id, json!({"max_open_bookings_per_rep": 1})).await;
    let day = local_date_in("Australia/Sydney", 6);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "09:00", "end": "10:00", "practitioner_id": c.ana}),
    )
    .await;
    let link = link(&server, &c.id, "Reps", &[]).await;
    // Three spellings of one mailbox: case, a trailing dot, a fullwidth letter and a zero-width space.
    let spellings = ["Al@Acme.test", "al@acme.test.", "\u{FF41}l@acme.test\u{200B}"];
    for (spelling, time) in spellings.iter().zip(["09:00", "09:15", "09:30"]) {
        let (status, body) = book(
            &server,
            &link,
            &format!("{day}T{time}"),
            Some(&c.ana),
            rep("Al", "Acme", spelling),
        )
        .await;
        assert_eq!(status, 201, "holds do not count: {spelling:?} {body}");
    }
    smtp.wait_for(3, Duration::from_secs(30)).await;
    let mut links = Vec::new();
    for message in smtp.read(None) {
        let link = message.link("/confirm/").unwrap();
        let path = link.split_once("://").unwrap().1;
        links.push(path[path.find('/').unwrap()..].to_string());
    }
    let (status, body) = public_post(&server, &links[0], json!({})).await;
    assert_eq!(status, 200, "{body}");
    for other in &links[1..] {
        let (status, body) = public_post(&server, other, json!({})).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["code"], "too_many_open_bookings", "{body}");
    }
}
