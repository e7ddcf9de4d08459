//! Reps booking themselves: published times seen through booking links, the clinic's rules, approval,
//! swaps, manage links, ICS files, abuse limits. Every test runs the real binary on its own data dir and
//! talks to it over loopback HTTP as a rep's browser and the clinic's staff would.

use crate::support;

use std::collections::HashSet;
use std::time::Duration;

use crate::support::booking::*;
use crate::support::pms::{self, adds_of, assert_bp_matches, ready_clinic, sim_log, wait_drained};
use crate::support::{Server, local_date_in};
use serde_json::{Value, json};

async fn server() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), &ROOMY_LIMITS).await;
    (server, dir)
}

fn starts(slots: &[Value]) -> Vec<(String, Option<String>)> {
    slots
        .iter()
        .map(|s| {
            (
                s["local_start"].as_str().unwrap().to_string(),
                s["practitioner_id"].as_str().map(str::to_string),
            )
        })
        .collect()
}

#[tokio::test]
async fn rep_booking_a_link_sees_only_its_categories_and_only_free_slots() {
    let (server, _dir) = server().await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    let specialist = category(&server, &c.id, "Specialist Services").await;
    let general = category(&server, &c.id, "General Pharma").await;
    let day = local_date_in("Australia/Sydney", 4);
    let weekday = weekday(&day);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday, "start": "12:00", "end": "12:30", "slot_minutes": 15,
        "practitioner_id": c.ana, "categories": [specialist]}),
    )
    .await;
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday, "start": "14:00", "end": "14:30", "slot_minutes": 15,
        "practitioner_id": c.ben, "categories": [general]}),
    )
    .await;
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday, "start": "16:00", "end": "16:15"}),
    )
    .await;

    let specialist_link = link(&server, &c.id, "Specialist reps", &[&specialist]).await;
    let general_link = link(&server, &c.id, "General reps", &[&general]).await;
    let open_link = link(&server, &c.id, "Everyone else", &[]).await;

    let seen = starts(&slots(&server, &specialist_link, &day, &day).await);
    let at = |time: &str| format!("{day}T{time}");
    assert_eq!(
        seen,
        vec![
            (at("12:00"), Some(c.ana.clone())),
            (at("12:15"), Some(c.ana.clone())),
            (at("16:00"), None)
        ],
        "the specialist link sees its own times and the time for every rep"
    );
    let seen = starts(&slots(&server, &general_link, &day, &day).await);
    assert_eq!(
        seen,
        vec![
            (at("14:00"), Some(c.ben.clone())),
            (at("14:15"), Some(c.ben.clone())),
            (at("16:00"), None)
        ]
    );
    let seen = starts(&slots(&server, &open_link, &day, &day).await);
    assert_eq!(
        seen,
        vec![(at("16:00"), None)],
        "a link without categories sees only times for every rep"
    );

    // A time the link cannot see cannot be booked through it either.
    let (status, body) = book(
        &server,
        &general_link,
        &at("12:00"),
        Some(&c.ana),
        rep("Gia", "Acme", "gia@acme.test"),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "slot_taken", "{body}");

    let (status, body) = book(
        &server,
        &specialist_link,
        &at("12:15"),
        Some(&c.ana),
        rep("Sam Secret", "Zeta Labs", "sam@zeta.test"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "booked");
    assert_eq!(body["appointment"]["with"], "Dr Ana Ng");
    assert_eq!(body["appointment"]["zone"], "AEDT", "{body}");

    // Taken slots vanish for everyone, and nothing about who took them is shown.
    let (status, raw) = public_get(&server, &format!("{specialist_link}/slots?from={day}&to={day}")).await;
    assert_eq!(status, 200);
    let text = raw.to_string();
    for secret in ["Sam Secret", "Zeta", "sam@zeta.test"] {
        assert!(!text.contains(secret), "slot list shows '{secret}': {text}");
    }
    assert_eq!(
        starts(raw["slots"].as_array().unwrap()),
        vec![(at("12:00"), Some(c.ana.clone())), (at("16:00"), None)]
    );
    assert_eq!(raw["clinic"]["timezone"], "Australia/Sydney");
}

#[tokio::test]
async fn rep_booking_two_reps_on_one_slot_at_once_exactly_one_wins_and_the_other_hears_the_next_free_slot() {
    let (server, _dir) = server().await;
    let c = clinic(&server, "Australia/Melbourne", "VIC").await;
    let day = local_date_in("Australia/Melbourne", 5);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "12:30", "end": "13:30", "slot_minutes": 20,
        "practitioner_id": c.ana}),
    )
    .await;
    let url = link(&server, &c.id, "All reps", &[]).await;
    let wanted = format!("{day}T12:30");

    for round in 0..3 {
        let mut racers = tokio::task::JoinSet::new();
        for n in 0..8 {
            let base = server.base.clone();
            let url = url.clone();
            let wanted = wanted.clone();
            let ana = c.ana.clone();
            racers.spawn(async move {
                let response = reqwest::Client::new()
                    .post(format!("{base}{url}/bookings"))
                    .json(&json!({"start": wanted, "practitioner_id": ana,
                        "rep": rep(&format!("Rep {round}-{n}"), &format!("Company {round}-{n}"), &format!("r{round}-{n}@x.test"))}))
                    .send()
                    .await
                    .unwrap();
                (response.status().as_u16(), response.json::<Value>().await.unwrap())
            });
        }
        let mut won = Vec::new();
        let mut refused = Vec::new();
        while let Some(result) = racers.join_next().await {
            let (status, body) = result.unwrap();
            match status {
                201 => won.push(body),
                409 => refused.push(body),
                other => panic!("unexpected {other}: {body}"),
            }
        }
        if round == 0 {
            assert_eq!(won.len(), 1, "exactly one of 8 reps gets 12:30: {won:?}");
            assert_eq!(refused.len(), 7);
            for body in &refused {
                assert_eq!(body["error"]["code"], "slot_taken", "{body}");
                let message = body["error"]["message"].as_str().unwrap();
                assert!(
                    message.contains(&format!("{day} 12:50")) && message.contains(&format!("{day}T12:50")),
                    "the refusal names the next free slot: {message}"
                );
            }
        } else {
            assert!(won.is_empty(), "the slot stays taken: {won:?}");
        }
    }

    let (status, list) = server
        .get(&format!("/api/v1/clinics/{}/appointments?from={day}&to={day}", c.id))
        .await;
    assert_eq!(status, 200);
    let held: Vec<&Value> = list["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] == "booked")
        .collect();
    assert_eq!(held.len(), 1, "one booking in the store: {list}");
    assert!(held[0]["local_start"].as_str().unwrap().ends_with("T12:30"));
}

/// Many races at once, each on its own slot, with every request released together: however the server
/// interleaves them, each slot ends up with exactly one booking.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rep_booking_many_simultaneous_races_never_double_book() {
    let (server, _dir) = server().await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    set_rules(&server, &c.id, json!({"link_daily_cap": 1000})).await;
    let day = local_date_in("Australia/Sydney", 5);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "08:00", "end": "12:00", "slot_minutes": 5,
        "practitioner_id": c.ben}),
    )
    .await;
    let url = link(&server, &c.id, "All reps", &[]).await;
    let slots: Vec<String> = slots(&server, &url, &day, &day)
        .await
        .iter()
        .map(|s| s["local_start"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(slots.len(), 48);
    const RACERS: usize = 6;
    let gate = std::sync::Arc::new(tokio::sync::Barrier::new(slots.len() * RACERS));
    let mut racers = tokio::task::JoinSet::new();
    for (s, start) in slots.iter().enumerate() {
        for n in 0..RACERS {
            let (base, url, start, ben, gate) = (
                server.base.clone(),
                url.clone(),
                start.clone(),
                c.ben.clone(),
                gate.clone(),
            );
            racers.spawn(async move {
                let request = reqwest::Client::new()
                    .post(format!("{base}{url}/bookings"))
                    .json(&json!({"start": start, "practitioner_id": ben,
                        "rep": rep("Racer", &format!("Company {s}-{n}"), &format!("r{s}-{n}@x.test"))}));
                gate.wait().await;
                (start, request.send().await.unwrap().status().as_u16())
            });
        }
    }
    let mut winners = std::collections::HashMap::<String, usize>::new();
    while let Some(result) = racers.join_next().await {
        let (start, status) = result.unwrap();
        assert!(status == 201 || status == 409, "{start}: {status}");
        if status == 201 {
            *winners.entry(start).or_default() += 1;
        }
    }
    let (_, list) = server
        .get(&format!("/api/v1/clinics/{}/appointments?from={day}&to={day}", c.id))
        .await;
    let stored = list["appointments"].as_array().unwrap().len();
    let doubled: Vec<_> = winners.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "slots booked twice: {doubled:?}");
    assert_eq!(winners.len(), slots.len(), "every slot was taken by someone");
    assert_eq!(stored, slots.len(), "{list}");
}

#[tokio::test]
async fn rep_booking_approval_holds_the_slot_and_only_an_approved_booking_reaches_bp() {
    let pms::Setup { sim, server, dir: _dir } = pms::start(pms::seed(1), &ROOMY_LIMITS).await;
    let setup = ready_clinic(&server, &sim.url(), "20001", "Australia/Brisbane", "QLD").await;
    let ana = &setup.doctors[0].0;
    let day = local_date_in("Australia/Brisbane", 6);
    publish(
        &server,
        &setup.id,
        json!({"weekday": weekday(&day), "start": "13:00", "end": "14:00", "slot_minutes": 30,
        "practitioner_id": ana, "approval_required": true}),
    )
    .await;
    let url = link(&server, &setup.id, "All reps", &[]).await;
    let one = format!("{day}T13:00");
    let two = format!("{day}T13:30");

    let (status, first) = book(&server, &url, &one, Some(ana), rep("Ria", "Acme", "ria@acme.test")).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["status"], "requested");
    assert!(first["appointment"]["request_expires_at"].is_string(), "{first}");
    let (_, second) = book(&server, &url, &two, Some(ana), rep("Lou", "Beta", "lou@beta.test")).await;
    assert_eq!(second["status"], "requested", "{second}");

    // A request holds its slot: nobody else is offered it or can take it, not even staff.
    assert!(slots(&server, &url, &day, &day).await.is_empty());
    let (status, body) = book(&server, &url, &one, Some(ana), rep("Other", "Gamma", "o@gamma.test")).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = server.book(&setup.id, ana, &one, 30).await;
    assert_eq!(status, 409, "staff cannot double-book a requested slot: {body}");

    // The approval queue lists both; nothing has gone to Bp.
    let (_, queue) = server
        .get(&format!("/api/v1/clinics/{}/appointments?status=requested", setup.id))
        .await;
    let queued: Vec<&str> = queue["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["reference"].as_str().unwrap())
        .collect();
    let first_ref = first["appointment"]["reference"].as_str().unwrap();
    let second_ref = second["appointment"]["reference"].as_str().unwrap();
    assert_eq!(queued.len(), 2, "{queue}");
    wait_drained(&server, &setup.id, Duration::from_secs(10)).await;
    let log = sim_log(&sim.url(), "20001").await;
    assert_eq!(
        adds_of(&log, first_ref) + adds_of(&log, second_ref),
        0,
        "requests are not sent to Bp"
    );

    let id_of = |reference: &str| {
        queue["appointments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["reference"] == reference)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (status, approved) = server
        .post(&format!("/api/v1/appointments/{}/approve", id_of(first_ref)), json!({}))
        .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "booked");
    let (status, declined) = server
        .post(
            &format!("/api/v1/appointments/{}/decline", id_of(second_ref)),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{declined}");
    assert_eq!(declined["status"], "declined");

    // A decided request cannot be decided again.
    let (status, body) = server
        .post(
            &format!("/api/v1/appointments/{}/approve", id_of(second_ref)),
            json!({}),
        )
        .await;
    assert_eq!(status, 409, "{body}");

    // The rep sees the outcome through the manage link; the declined slot is open again.
    let (_, mine) = public_get(&server, &format!("{}/booking", first["manage_url"].as_str().unwrap())).await;
    assert_eq!(mine["status"], "booked", "{mine}");
    let open = starts(&slots(&server, &url, &day, &day).await);
    assert_eq!(open, vec![(two.clone(), Some(ana.clone()))]);

    wait_drained(&server, &setup.id, Duration::from_secs(20)).await;
    let log = sim_log(&sim.url(), "20001").await;
    assert_eq!(adds_of(&log, first_ref), 1, "the approved booking reached Bp once");
    assert_eq!(adds_of(&log, second_ref), 0, "the declined one never did");
    assert_bp_matches(&server, &sim.url(), &setup).await;
}

#[tokio::test]
async fn rep_booking_rules_open_bookings_per_rep_company_interval_daily_cap_and_cutoffs() {
    let (server, _dir) = server().await;
    let c = clinic(&server, "Australia/Adelaide", "SA").await;
    let first_day = local_date_in("Australia/Adelaide", 3);
    let next_week = local_date_in("Australia/Adelaide", 10);
    for doctor in [&c.ana, &c.ben] {
        publish(
            &server,
            &c.id,
            json!({"weekday": weekday(&first_day), "start": "09:00", "end": "10:00",
            "slot_minutes": 15, "practitioner_id": doctor}),
        )
        .await;
    }
    let url = link(&server, &c.id, "All reps", &[]).await;
    let at = |day: &str, time: &str| format!("{day}T{time}");

    // One open booking per rep (by email, whatever its case) by default.
    let (status, kim) = book(
        &server,
        &url,
        &at(&first_day, "09:00"),
        Some(&c.ana),
        rep("Kim", "Acme", "kim@acme.test"),
    )
    .await;
    assert_eq!(status, 201, "{kim}");
    let (status, body) = book(
        &server,
        &url,
        &at(&first_day, "09:15"),
        Some(&c.ben),
        rep("Kim", "Acme", "KIM@Acme.test"),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "too_many_open_bookings", "{body}");
    // Cancelling frees the allowance.
    let (status, body) = public_post(
        &server,
        &format!("{}/cancel", kim["manage_url"].as_str().unwrap()),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled");
    let (status, body) = book(
        &server,
        &url,
        &at(&first_day, "09:15"),
        Some(&c.ben),
        rep("Kim", "Acme", "kim@acme.test"),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // One visit per company per doctor every 4 weeks, when the clinic says so.
    set_rules(
        &server,
        &c.id,
        json!({"company_visit_interval_weeks": 4, "max_open_bookings_per_rep": 5}),
    )
    .await;
    let (status, body) = book(
        &server,
        &url,
        &at(&next_week, "09:00"),
        Some(&c.ben),
        rep("Lee", "ACME ", "lee@acme.test"),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "company_visited_recently", "{body}");
    let (status, body) = book(
        &server,
        &url,
        &at(&next_week, "09:00"),
        Some(&c.ana),
        rep("Lee", "Acme", "lee@acme.test"),
    )
    .await;
    assert_eq!(status, 201, "another doctor is fine: {body}");
    set_rules(&server, &c.id, json!({"company_visit_interval_weeks": null})).await;
    let (status, body) = book(
        &server,
        &url,
        &at(&next_week, "09:15"),
        Some(&c.ben),
        rep("Lee", "Acme", "lee@acme.test"),
    )
    .await;
    assert_eq!(status, 201, "the rule is off again: {body}");

    // A daily cap per link: this link has taken 4 bookings today.
    set_rules(&server, &c.id, json!({"link_daily_cap": 4})).await;
    let (status, body) = book(
        &server,
        &url,
        &at(&next_week, "09:30"),
        Some(&c.ben),
        rep("Max", "Delta", "max@delta.test"),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "link_daily_cap", "{body}");
    let fresh = link(&server, &c.id, "Second link", &[]).await;
    let (status, max) = book(
        &server,
        &fresh,
        &at(&next_week, "09:30"),
        Some(&c.ben),
        rep("Max", "Delta", "max@delta.test"),
    )
    .await;
    assert_eq!(status, 201, "another link has its own cap: {max}");

    // Cut-offs: cancel and swap close this many hours before the visit. 12 days: Max's visit is 10 local
    // days away, so its cut-off has passed at any hour of the day (10 days exactly would not be, before
    // 09:30 in Adelaide).
    set_rules(
        &server,
        &c.id,
        json!({"cancel_cutoff_hours": 288, "swap_cutoff_hours": 288}),
    )
    .await;
    let (_, lee_list) = server
        .get(&format!(
            "/api/v1/clinics/{}/appointments?from={first_day}&to={first_day}",
            c.id
        ))
        .await;
    assert!(!lee_list["appointments"].as_array().unwrap().is_empty());
    let manage = max["manage_url"].as_str().unwrap();
    let (_, view) = public_get(&server, &format!("{manage}/booking")).await;
    assert_eq!(view["cancel_until"], Value::Null, "{view}");
    let (status, body) = public_post(&server, &format!("{manage}/cancel"), json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "cancel_cutoff_passed", "{body}");
    let (status, body) = public_post(
        &server,
        &format!("{manage}/swap"),
        json!({"start": at(&next_week, "09:45"), "practitioner_id": c.ben}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "swap_cutoff_passed", "{body}");
    let (_, still) = public_get(&server, &format!("{manage}/booking")).await;
    assert_eq!(still["status"], "booked");
    assert_eq!(still["local_start"], at(&next_week, "09:30"));

    // Lead time: nothing inside it is offered.
    set_rules(&server, &c.id, json!({"booking_lead_hours": 24 * 5})).await;
    let seen = slots(&server, &url, &first_day, &first_day).await;
    assert!(seen.is_empty(), "slots inside the lead time are offered: {seen:?}");
    // Horizon: nothing beyond it.
    set_rules(
        &server,
        &c.id,
        json!({"booking_lead_hours": 0, "booking_horizon_days": 7}),
    )
    .await;
    assert!(slots(&server, &url, &next_week, &next_week).await.is_empty());
    assert!(!slots(&server, &url, &first_day, &first_day).await.is_empty());
}

#[tokio::test]
async fn rep_booking_a_swap_takes_the_new_slot_before_it_lets_the_old_one_go() {
    let (server, _dir) = server().await;
    let c = clinic(&server, "Australia/Hobart", "TAS").await;
    let day = local_date_in("Australia/Hobart", 4);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "10:00", "end": "11:00", "slot_minutes": 20,
        "practitioner_id": c.ana}),
    )
    .await;
    let url = link(&server, &c.id, "All reps", &[]).await;
    let at = |time: &str| format!("{day}T{time}");

    let (_, mine) = book(
        &server,
        &url,
        &at("10:00"),
        Some(&c.ana),
        rep("Ola", "Acme", "ola@acme.test"),
    )
    .await;
    let (_, theirs) = book(
        &server,
        &url,
        &at("10:20"),
        Some(&c.ana),
        rep("Pat", "Beta", "pat@beta.test"),
    )
    .await;
    assert_eq!(theirs["status"], "booked", "{theirs}");
    let manage = mine["manage_url"].as_str().unwrap().to_string();

    // The new slot is taken: the swap is refused and the old slot stays the rep's.
    let (status, body) = public_post(
        &server,
        &format!("{manage}/swap"),
        json!({"start": at("10:20"), "practitioner_id": c.ana}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains(&at("10:40")),
        "names the next free slot: {body}"
    );
    let (_, view) = public_get(&server, &format!("{manage}/booking")).await;
    assert_eq!(view["local_start"], at("10:00"), "{view}");
    assert_eq!(
        starts(&slots(&server, &url, &day, &day).await),
        vec![(at("10:40"), Some(c.ana.clone()))]
    );

    // The swap slots a rep is offered include their own.
    let (status, offered) = public_get(&server, &format!("{manage}/slots?from={day}&to={day}")).await;
    assert_eq!(status, 200, "{offered}");
    assert_eq!(
        starts(offered["slots"].as_array().unwrap()),
        vec![(at("10:00"), Some(c.ana.clone())), (at("10:40"), Some(c.ana.clone()))]
    );

    // A free slot: one step, same booking, the old slot open again.
    let (status, swapped) = public_post(
        &server,
        &format!("{manage}/swap"),
        json!({"start": at("10:40"), "practitioner_id": c.ana}),
    )
    .await;
    assert_eq!(status, 200, "{swapped}");
    assert_eq!(swapped["local_start"], at("10:40"));
    assert_eq!(swapped["reference"], mine["appointment"]["reference"]);
    assert_eq!(
        starts(&slots(&server, &url, &day, &day).await),
        vec![(at("10:00"), Some(c.ana.clone()))]
    );
    let (_, list) = server
        .get(&format!("/api/v1/clinics/{}/appointments?from={day}&to={day}", c.id))
        .await;
    let booked: Vec<&str> = list["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] == "booked")
        .map(|a| a["local_start"].as_str().unwrap())
        .collect();
    assert_eq!(booked, vec![at("10:20"), at("10:40")]);
}

#[tokio::test]
async fn rep_booking_a_wrong_link_and_a_revoked_link_answer_alike() {
    let (server, _dir) = server().await;
    let c = clinic(&server, "Australia/Perth", "WA").await;
    let day = local_date_in("Australia/Perth", 4);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "12:00", "end": "13:00", "practitioner_id": c.ben}),
    )
    .await;
    let url = link(&server, &c.id, "Territory 7", &[]).await;
    let (_, booked) = book(
        &server,
        &url,
        &format!("{day}T12:00"),
        Some(&c.ben),
        rep("Quinn", "Acme", "q@acme.test"),
    )
    .await;
    let manage = booked["manage_url"].as_str().unwrap().to_string();

    let (_, links) = server.get(&format!("/api/v1/clinics/{}/links", c.id)).await;
    let link_id = links["links"][0]["id"].as_str().unwrap().to_string();
    let (status, _) = server
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/clinics/{}/links/{link_id}", c.id),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (_, links) = server.get(&format!("/api/v1/clinics/{}/links", c.id)).await;
    assert_eq!(links["links"][0]["revoked"], true, "{links}");

    let wrong = "/book/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for (revoked, unknown) in [
        (url.clone(), wrong.to_string()),
        (
            format!("{url}/slots?from={day}&to={day}"),
            format!("{wrong}/slots?from={day}&to={day}"),
        ),
    ] {
        let a = public_text(&server, &revoked).await;
        let b = public_text(&server, &unknown).await;
        assert_eq!(a.0, 404, "{revoked}");
        assert_eq!(a, b, "a revoked link answers exactly like a wrong one");
    }
    let body = json!({"start": format!("{day}T12:15"), "practitioner_id": c.ben, "rep": rep("R", "C", "r@c.test")});
    let a = public_post(&server, &format!("{url}/bookings"), body.clone()).await;
    let b = public_post(&server, &format!("{wrong}/bookings"), body).await;
    assert_eq!(a.0, 404);
    assert_eq!(a, b);
    let a = public_get(&server, "/manage/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/booking").await;
    assert_eq!(a.0, 404);
    assert_eq!(a, b, "a wrong manage token answers like a wrong link");

    // Bookings made through a revoked link stay, and their manage links work.
    let (status, view) = public_get(&server, &format!("{manage}/booking")).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["status"], "booked");
}

#[tokio::test]
async fn rep_booking_opening_links_never_changes_anything() {
    let (server, _dir) = server().await;
    let c = clinic(&server, "Australia/Darwin", "NT").await;
    let day = local_date_in("Australia/Darwin", 4);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "12:00", "end": "13:00", "practitioner_id": c.ana}),
    )
    .await;
    let url = link(&server, &c.id, "All reps", &[]).await;
    let (_, booked) = book(
        &server,
        &url,
        &format!("{day}T12:00"),
        Some(&c.ana),
        rep("Uma", "Acme", "u@acme.test"),
    )
    .await;
    let manage = booked["manage_url"].as_str().unwrap().to_string();
    let snapshot = || async {
        let (_, list) = server
            .get(&format!("/api/v1/clinics/{}/appointments?from=2000-01-01", c.id))
            .await;
        list
    };
    // The sync worker records where the new booking stands with the PMS a moment after it is made: take
    // the snapshot once that has settled, so only the GETs below could change it.
    let mut before = snapshot().await;
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let again = snapshot().await;
        if again == before {
            break;
        }
        before = again;
    }

    // What a mail scanner or link preview does: GET everything, several times, and try GET on the POSTs.
    for _ in 0..3 {
        for path in [
            url.clone(),
            format!("{url}/slots"),
            manage.clone(),
            format!("{manage}/booking"),
            format!("{manage}/booking.ics"),
            format!("{manage}/slots"),
        ] {
            let (status, _, _) = public_text(&server, &path).await;
            assert_eq!(status, 200, "{path}");
        }
        for path in [
            format!("{manage}/cancel"),
            format!("{manage}/swap"),
            format!("{url}/bookings"),
        ] {
            let (status, _, _) = public_text(&server, &path).await;
            assert_eq!(status, 405, "GET {path} must not act");
        }
    }
    assert_eq!(snapshot().await, before, "GETs changed stored bookings");
}

#[tokio::test]
async fn rep_booking_ics_gives_the_right_instant_in_every_australian_zone_and_says_when_cancelled() {
    let (server, dir) = server().await;
    let zones = [
        ("Australia/Sydney", "NSW"),
        ("Australia/Melbourne", "VIC"),
        ("Australia/Brisbane", "QLD"),
        ("Australia/Adelaide", "SA"),
        ("Australia/Perth", "WA"),
        ("Australia/Hobart", "TAS"),
        ("Australia/Darwin", "NT"),
        ("Australia/Lord_Howe", "NSW"),
    ];
    let python = python();
    let check = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/checkers/ics_check.py");
    let parse = |ics: &str, zone: &str, local: &str| {
        let file = dir.path().join("visit.ics");
        std::fs::write(&file, ics).unwrap();
        let output = std::process::Command::new(&python)
            .arg(&check)
            .arg(&file)
            .args([zone, local])
            .output()
            .expect("run the ICS checker");
        assert!(
            output.status.success(),
            "icalendar refused the file: {}\n{ics}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    for (zone, state) in zones {
        let c = clinic(&server, zone, state).await;
        set_rules(
            &server,
            &c.id,
            json!({"visiting_instructions": "Park at the back; sign in at reception, please."}),
        )
        .await;
        let day = local_date_in(zone, 3);
        publish(
            &server,
            &c.id,
            json!({"weekday": weekday(&day), "start": "12:30", "end": "13:30", "slot_minutes": 20,
            "practitioner_id": c.ana}),
        )
        .await;
        let url = link(&server, &c.id, "All reps", &[]).await;
        let local = format!("{day}T12:50");
        let (status, booked) = book(&server, &url, &local, Some(&c.ana), rep("Vic", "Acme", "vic@acme.test")).await;
        assert_eq!(status, 201, "{booked}");
        let manage = booked["manage_url"].as_str().unwrap();

        let (status, kind, ics) = public_text(&server, &format!("{manage}/booking.ics")).await;
        assert_eq!(status, 200);
        assert!(kind.starts_with("text/calendar"), "{kind}");
        let read = parse(&ics, zone, &local);
        assert_eq!(read["version"], "2.0", "{read}");
        assert_eq!(read["method"], "PUBLISH", "{read}");
        assert_eq!(read["prodid"].as_array().unwrap().len(), 1, "one PRODID: {read}");
        let event = &read["events"][0];
        assert_eq!(read["events"].as_array().unwrap().len(), 1);
        assert_eq!(event["start"], read["expected_start"], "{zone}: {read}");
        let start: jiff::Timestamp = event["start"].as_str().unwrap().parse().unwrap();
        let end: jiff::Timestamp = event["end"].as_str().unwrap().parse().unwrap();
        assert_eq!((end - start).as_secs(), 20 * 60, "{read}");
        assert_eq!(event["status"], "CONFIRMED");
        assert!(
            event["description"]
                .as_str()
                .unwrap()
                .contains("Park at the back; sign in at reception, please."),
            "{read}"
        );
        assert!(event["summary"].as_str().unwrap().contains("Dr Ana Ng"), "{read}");

        let (status, _) = public_post(&server, &format!("{manage}/cancel"), json!({})).await;
        assert_eq!(status, 200);
        let (_, _, cancelled_ics) = public_text(&server, &format!("{manage}/booking.ics")).await;
        let cancelled = parse(&cancelled_ics, zone, &local);
        let after = &cancelled["events"][0];
        assert_eq!(cancelled["method"], "CANCEL", "{cancelled}");
        assert_eq!(after["status"], "CANCELLED");
        assert_eq!(after["uid"], event["uid"], "the same event, so calendars replace it");
        assert!(
            after["sequence"].as_i64() > event["sequence"].as_i64(),
            "{event} -> {after}"
        );
        assert_eq!(after["start"], event["start"]);
    }
}

#[tokio::test]
async fn rep_booking_a_sydney_tuesday_session_keeps_its_wall_clock_slots_across_both_dst_changes() {
    let (server, _dir) = server().await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    set_rules(
        &server,
        &c.id,
        json!({"booking_horizon_days": 366, "booking_lead_hours": 0}),
    )
    .await;
    publish(
        &server,
        &c.id,
        json!({"weekday": "tue", "start": "12:30", "end": "13:30", "slot_minutes": 20,
        "practitioner_id": c.ana}),
    )
    .await;
    let url = link(&server, &c.id, "All reps", &[]).await;
    let transitions = support::next_transitions("Australia/Sydney");
    assert_eq!(transitions.len(), 2);
    let mut offsets_seen = HashSet::new();
    for (change_day, before, after) in transitions {
        let change: jiff::civil::Date = change_day.parse().unwrap();
        // The Tuesday before the change (a Sunday) and the Tuesday after it.
        let tuesday_before = change - jiff::Span::new().days(5);
        let tuesday_after = change + jiff::Span::new().days(2);
        for (tuesday, offset) in [(tuesday_before, before), (tuesday_after, after)] {
            let day = tuesday.to_string();
            let seen = slots(&server, &url, &day, &day).await;
            let local: Vec<&str> = seen.iter().map(|s| s["local_start"].as_str().unwrap()).collect();
            assert_eq!(
                local,
                vec![format!("{day}T12:30"), format!("{day}T12:50"), format!("{day}T13:10")],
                "Tuesday {day} around the change on {change_day}"
            );
            let sign = if offset >= 0 { '+' } else { '-' };
            let expected = format!("{sign}{:02}:{:02}", offset.abs() / 3600, offset.abs() % 3600 / 60);
            for slot in &seen {
                let start = slot["start"].as_str().unwrap();
                assert!(start.ends_with(&expected), "{start} should carry {expected}");
                offsets_seen.insert(expected.clone());
            }
        }
    }
    assert_eq!(
        offsets_seen.len(),
        2,
        "both AEST and AEDT were crossed: {offsets_seen:?}"
    );
}

#[tokio::test]
async fn rep_booking_public_routes_are_rate_limited_and_take_small_bodies_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        dir.path(),
        &[
            ("REPBOOK_PUBLIC_READS_PER_MINUTE", "1000"),
            ("REPBOOK_PUBLIC_WRITES_PER_MINUTE", "3"),
            ("REPBOOK_PUBLIC_PER_LINK_PER_MINUTE", "1000"),
        ],
    )
    .await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    let day = local_date_in("Australia/Sydney", 4);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "12:00", "end": "13:00", "practitioner_id": c.ana}),
    )
    .await;
    let url = link(&server, &c.id, "All reps", &[]).await;

    let huge = "x".repeat(20 * 1024);
    let (status, body) = book(
        &server,
        &url,
        &format!("{day}T12:00"),
        Some(&c.ana),
        rep(&huge, "Acme", "a@acme.test"),
    )
    .await;
    assert_eq!(status, 413, "{body}");

    let mut statuses = Vec::new();
    for n in 0..4 {
        let (status, body) = book(
            &server,
            &url,
            "not-a-time",
            None,
            rep("Al", "Acme", &format!("a{n}@acme.test")),
        )
        .await;
        statuses.push((status, body["error"]["code"].clone()));
    }
    assert_eq!(
        statuses[..2].iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![422, 422],
        "{statuses:?}"
    );
    assert_eq!(
        statuses[3].0, 429,
        "the fourth write in a minute is refused: {statuses:?}"
    );
    assert_eq!(statuses[3].1, "rate_limited");
    let response = reqwest::Client::new()
        .post(format!("{}{url}/bookings", server.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert!(response.headers().get("retry-after").is_some());

    // Reads have their own allowance, and the admin API is not limited by the public one.
    let (status, _) = public_get(&server, &format!("{url}/slots")).await;
    assert_eq!(status, 200);
    let (status, _) = server.get(&format!("/api/v1/clinics/{}", c.id)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn rep_booking_capabilities_are_long_random_and_only_their_hash_is_stored() {
    let (mut server, dir) = server().await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    let day = local_date_in("Australia/Sydney", 4);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "08:00", "end": "12:00", "slot_minutes": 15,
        "practitioner_id": c.ana}),
    )
    .await;
    set_rules(&server, &c.id, json!({"link_daily_cap": 100})).await;
    let url = link(&server, &c.id, "All reps", &[]).await;
    let mut tokens = HashSet::new();
    for n in 0..12 {
        let local = format!("{day}T{:02}:{:02}", 8 + n / 4, n % 4 * 15);
        let (status, booked) = book(
            &server,
            &url,
            &local,
            Some(&c.ana),
            rep("Wes", "Acme", &format!("w{n}@acme.test")),
        )
        .await;
        assert_eq!(status, 201, "{booked}");
        let token = booked["manage_url"]
            .as_str()
            .unwrap()
            .trim_start_matches("/manage/")
            .to_string();
        assert!(token.len() >= 43, "256 random bits in base64url: {token}");
        assert!(
            token
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'),
            "{token}"
        );
        let reference = booked["appointment"]["reference"].as_str().unwrap();
        assert!(!token.contains(reference));
        tokens.insert(token);
    }
    assert_eq!(tokens.len(), 12);
    let capability = url.trim_start_matches("/book/");
    assert!(capability.len() >= 43, "{capability}");

    server.kill();
    let mut stored = Vec::new();
    for entry in walk(dir.path()) {
        stored.extend(std::fs::read(entry).unwrap_or_default());
    }
    for token in &tokens {
        assert!(
            !stored.windows(token.len()).any(|w| w == token.as_bytes()),
            "a manage token is stored in the clear"
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test]
async fn rep_booking_publishing_needs_a_doctor_and_bad_input_says_what_to_fix() {
    let (server, _dir) = server().await;
    let empty = server.create_clinic("No doctors yet", "Australia/Sydney", "NSW").await;
    let (status, body) = server
        .post(
            &format!("/api/v1/clinics/{empty}/times"),
            json!({"weekday": "tue", "start": "12:30", "end": "13:30"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "no_staff");

    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    let cases = [
        (
            json!({"weekday": "tusday", "start": "12:30", "end": "13:30"}),
            "weekday",
        ),
        (json!({"weekday": "t", "start": "12:30", "end": "13:30"}), "weekday"),
        (json!({"weekday": "tue", "start": "13:30", "end": "12:30"}), "end"),
        (
            json!({"weekday": "tue", "start": "12:30", "end": "13:30", "slot_minutes": 2}),
            "slot_minutes",
        ),
        (json!({"weekday": "tue", "start": "25:00", "end": "26:00"}), "start"),
        (
            json!({"weekday": "tue", "start": "12:30", "end": "13:30", "practitioner_id": "nobody"}),
            "practitioner_id",
        ),
        (
            json!({"weekday": "tue", "start": "12:30", "end": "13:30", "categories": ["nope"]}),
            "categories",
        ),
        (
            json!({"weekday": "tue", "start": "12:30", "end": "13:30", "from": "2027-02-01", "until": "2027-01-01"}),
            "until",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = server
            .post(&format!("/api/v1/clinics/{}/times", c.id), body.clone())
            .await;
        assert_eq!(status, 422, "{body} -> {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(field),
            "{body}: the message should name {field}: {message}"
        );
    }
    let (status, body) = server
        .post(
            &format!("/api/v1/clinics/{}/times", c.id),
            json!({"weekday": "tue", "start": "12:30", "end": "13:30", "color": "red"}),
        )
        .await;
    assert_eq!(status, 400, "unknown fields are refused: {body}");
    let (status, body) = server
        .patch(&format!("/api/v1/clinics/{}", c.id), json!({"booking_horizon_days": 0}))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = server
        .patch(
            &format!("/api/v1/clinics/{}", c.id),
            json!({"clinic_visit_practitioner_id": "nobody"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");

    // A rep's bad input, on the public side.
    let day = local_date_in("Australia/Sydney", 4);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "12:30", "end": "13:30", "practitioner_id": c.ana}),
    )
    .await;
    let url = link(&server, &c.id, "All reps", &[]).await;
    for (rep_body, field) in [
        (rep("", "Acme", "a@acme.test"), "name"),
        (rep("Al", "", "a@acme.test"), "company"),
        (rep("Al", "Acme", "not-an-email"), "email"),
    ] {
        let (status, body) = book(&server, &url, &format!("{day}T12:30"), Some(&c.ana), rep_body).await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(field), "{body}");
    }
    let (status, body) = public_get(&server, &format!("{url}/slots?from={day}&to=2099-01-01")).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = public_get(&server, &format!("{url}/slots?from=tomorrow")).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("YYYY-MM-DD"),
        "{body}"
    );
}
