//! What guards the rep's side, pinned where the house step moves it: the per-link rate limit keyed on the
//! capability whatever the client address, the clinic lock that makes a slot's claim and its write one step
//! (with the window between them widened by a test hook, so the race is certain rather than lucky), and
//! an approval request that expires on the clinic's clock: its slot frees and it cannot be approved.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::booking::*;
use crate::support::{Server, clock_env, env_refs, local_date_in};

/// A client whose connections come from `127.0.0.n` (any 127/8 address reaches the loopback server).
fn client_from(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
        .build()
        .unwrap()
}

async fn status_of(client: &reqwest::Client, url: String) -> u16 {
    client.get(url).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn rep_booking_a_link_over_its_quota_is_refused_from_every_address_while_other_capabilities_answer() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        dir.path(),
        &[
            ("REPBOOK_PUBLIC_READS_PER_MINUTE", "1000"),
            ("REPBOOK_PUBLIC_WRITES_PER_MINUTE", "1000"),
            ("REPBOOK_PUBLIC_PER_LINK_PER_MINUTE", "5"),
        ],
    )
    .await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    let day = local_date_in("Australia/Sydney", 6);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "12:00", "end": "13:00", "practitioner_id": c.ana}),
    )
    .await;
    let busy = link(&server, &c.id, "Busy link", &[]).await;
    let quiet = link(&server, &c.id, "Quiet link", &[]).await;
    let (status, booked) = book(
        &server,
        &quiet,
        &format!("{day}T12:00"),
        Some(&c.ana),
        rep("Al", "Acme", "al@acme.test"),
    )
    .await;
    assert_eq!(status, 201, "{booked}");
    let manage = booked["manage_url"].as_str().unwrap().to_string();

    // Five reads of the busy link, each from another address: all within the link's quota.
    for n in 0..5u8 {
        let status = status_of(&client_from(10 + n), format!("{}{busy}/slots", server.base)).await;
        assert_eq!(status, 200, "read {n} of 5");
    }
    // The sixth, from an address never seen before: the link is spent, whoever asks.
    let response = client_from(20)
        .get(format!("{}{busy}/slots", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert!(response.headers().get("retry-after").is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    // Another link and a manage link are counted apart and still answer, from that same address.
    assert_eq!(
        status_of(&client_from(20), format!("{}{quiet}/slots", server.base)).await,
        200
    );
    assert_eq!(
        status_of(&client_from(20), format!("{}{manage}/booking", server.base)).await,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rep_booking_the_clinic_lock_makes_claim_and_write_one_step_even_with_a_wide_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = ROOMY_LIMITS.to_vec();
    // Every booking waits 300 ms between finding its slot open and writing it: without the clinic's lock,
    // all eight would find it open.
    env.push(("REPBOOK_TEST_CLAIM_DELAY_MS", "300"));
    let server = Server::start_with_env(dir.path(), &env).await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    let day = local_date_in("Australia/Sydney", 5);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "12:30", "end": "13:30", "slot_minutes": 20, "practitioner_id": c.ana}),
    )
    .await;
    let url = link(&server, &c.id, "All reps", &[]).await;
    let mut racers = tokio::task::JoinSet::new();
    for n in 0..8 {
        let (base, url, ana, day) = (server.base.clone(), url.clone(), c.ana.clone(), day.clone());
        racers.spawn(async move {
            let response = reqwest::Client::new()
                .post(format!("{base}{url}/bookings"))
                .json(&json!({"start": format!("{day}T12:30"), "practitioner_id": ana,
                              "rep": rep("Racer", &format!("Company {n}"), &format!("r{n}@x.test"))}))
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = racers.join_next().await {
        statuses.push(status.unwrap());
    }
    statuses.sort();
    assert_eq!(
        statuses,
        vec![201, 409, 409, 409, 409, 409, 409, 409],
        "one claim of the slot wins"
    );
    let (_, list) = server
        .get(&format!("/api/v1/clinics/{}/appointments?from={day}&to={day}", c.id))
        .await;
    assert_eq!(list["appointments"].as_array().unwrap().len(), 1, "{list}");
}

#[tokio::test]
async fn rep_booking_an_expired_request_frees_its_slot_and_can_no_longer_be_approved() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = clock_env(dir.path());
    env.extend(ROOMY_LIMITS.iter().map(|(k, v)| (*k, v.to_string())));
    let server = Server::start_with_env(dir.path(), &env_refs(&env)).await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    let day = local_date_in("Australia/Sydney", 10);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "12:00", "end": "12:30", "slot_minutes": 15,
               "practitioner_id": c.ana, "approval_required": true}),
    )
    .await;
    let url = link(&server, &c.id, "All reps", &[]).await;
    let offered = |slots: Vec<Value>| -> Vec<String> {
        slots
            .iter()
            .map(|s| s["local_start"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, held) = book(
        &server,
        &url,
        &format!("{day}T12:00"),
        Some(&c.ana),
        rep("Al", "Acme", "al@acme.test"),
    )
    .await;
    assert_eq!(status, 201, "{held}");
    assert_eq!(held["status"], "requested");
    let id = held["appointment"]["reference"].as_str().unwrap().to_string();
    assert_eq!(
        offered(slots(&server, &url, &day, &day).await),
        vec![format!("{day}T12:15")]
    );

    // 72 hours is the default expiry; the visit is ten days away, so it is what applies.
    server.move_clock(Duration::from_secs(73 * 3600)).await;
    assert_eq!(
        offered(slots(&server, &url, &day, &day).await),
        vec![format!("{day}T12:00"), format!("{day}T12:15")],
        "the expired request no longer holds 12:00"
    );
    // Refused because it expired, whether or not housekeeping (every 200 ms here) has recorded it yet.
    let (status, refused) = server
        .post(&format!("/api/v1/appointments/{id}/approve"), json!({}))
        .await;
    assert_eq!(status, 409, "{refused}");
    let code = refused["error"]["code"].as_str().unwrap();
    assert!(code == "request_expired" || code == "not_a_request", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap().to_lowercase();
    assert!(message.contains("expired"), "the refusal says why: {refused}");
    // Housekeeping (every 200 ms here) records it as expired.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, shown) = server.get(&format!("/api/v1/appointments/{id}")).await;
        if shown["status"] == "expired" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never marked expired: {shown}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, taken) = book(
        &server,
        &url,
        &format!("{day}T12:00"),
        Some(&c.ana),
        rep("Bo", "Globex", "bo@globex.test"),
    )
    .await;
    assert_eq!(status, 201, "{taken}");
    assert_eq!(taken["status"], "requested");
}
