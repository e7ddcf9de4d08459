//! The sync scheduler keeps each site's state to itself: a site that recovers from an outage does not
//! cut short another site's Retry-After, and a commit wakes the worker without any other event.

use crate::support;

use std::time::{Duration, Instant};

use crate::support::local_date_in;
use crate::support::pms::{ready_clinic, seed, set_faults, sim_get, start, wait_drained};
use serde_json::json;

async fn wait_synced(server: &support::Server, id: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (_, body) = server.get(&format!("/api/v1/appointments/{id}")).await;
        if body["pms"]["state"] == "synced" {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{id} not synced within {limit:?}: {body}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_site_recovery_does_not_cut_short_another_sites_retry_after() {
    let setup = start(
        seed(2),
        &[
            ("REPBOOK_RECONCILE_EVERY_SECS", "0"),
            ("REPBOOK_SYNC_BACKOFF_BASE_MS", "200"),
            ("REPBOOK_SYNC_PROBE_CAP_MS", "500"),
        ],
    )
    .await;
    let (sim, server) = (&setup.sim, &setup.server);
    let a = ready_clinic(server, &sim.url(), "20001", "Australia/Sydney", "NSW").await;
    let b = ready_clinic(server, &sim.url(), "20002", "Australia/Perth", "WA").await;

    // Site A goes offline and its queue pauses.
    set_faults(&sim.url(), "20001", json!({"offline": true})).await;
    let day = local_date_in("Australia/Sydney", 9);
    let mut waiting_on_a = Vec::new();
    for hour in [9, 10, 11] {
        let (_, body) = server
            .book(&a.id, &a.doctors[0].0, &format!("{day}T{hour:02}:00"), 15)
            .await;
        waiting_on_a.push(body["id"].as_str().unwrap().to_string());
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.get(&format!("/api/v1/clinics/{}/sync", a.id)).await.1["site"]["paused"] != true {
        assert!(Instant::now() < deadline, "site A never paused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Site B answers 429 with Retry-After: 6 s.
    set_faults(
        &sim.url(),
        "20002",
        json!({"rate_limit_next": 1, "retry_after_seconds": 6}),
    )
    .await;
    let day_b = local_date_in("Australia/Perth", 9);
    let limited_at = Instant::now();
    let (_, body) = server.book(&b.id, &b.doctors[0].0, &format!("{day_b}T09:00"), 15).await;
    let on_b = body["id"].as_str().unwrap().to_string();

    // Meanwhile A comes back: its own queue resumes at once...
    tokio::time::sleep(Duration::from_millis(500)).await;
    set_faults(&sim.url(), "20001", json!({})).await;
    for id in &waiting_on_a {
        wait_synced(server, id, Duration::from_secs(10)).await;
    }
    let a_back = limited_at.elapsed();
    // ...while B still waits out its Retry-After.
    let b_done = limited_at.elapsed() + wait_synced(server, &on_b, Duration::from_secs(20)).await;
    println!("site A delivered {a_back:?} after B's 429; B delivered {b_done:?} after it (Retry-After 6 s)");
    assert!(a_back < Duration::from_secs(6), "A took {a_back:?}");
    assert!(
        b_done >= Duration::from_secs(6),
        "B retried after {b_done:?}, before its Retry-After of 6 s"
    );
    let requests_b = sim_get(&sim.url(), "/_sim/stats").await["requests"]["20002"]
        .as_u64()
        .unwrap();
    println!("requests to site B: {requests_b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_a_commit_wakes_the_worker_without_any_other_event() {
    // The worker's safety-net wake is an hour away: only the store's commit signal can wake it.
    let setup = start(
        seed(1),
        &[
            ("REPBOOK_RECONCILE_EVERY_SECS", "0"),
            ("REPBOOK_SYNC_IDLE_WAKE_MS", "3600000"),
        ],
    )
    .await;
    let (sim, server) = (&setup.sim, &setup.server);
    let clinic = ready_clinic(server, &sim.url(), "20001", "Australia/Sydney", "NSW").await;
    let day = local_date_in("Australia/Sydney", 9);
    let (_, body) = server
        .book(&clinic.id, &clinic.doctors[0].0, &format!("{day}T09:00"), 15)
        .await;
    let id = body["id"].as_str().unwrap().to_string();
    wait_synced(server, &id, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = server
        .patch(
            &format!("/api/v1/appointments/{id}"),
            json!({"start": format!("{day}T15:30")}),
        )
        .await;
    assert_eq!(status, 200);
    let took = wait_synced(server, &id, Duration::from_secs(5)).await;
    wait_drained(server, &clinic.id, Duration::from_secs(5)).await;
    let bp = sim_get(&sim.url(), "/_sim/sites/20001/appointments").await;
    assert_eq!(bp["appointments"][0]["time"], 15 * 3600 + 30 * 60);
    println!("the move reached Bp {took:?} after its commit");
}
