//! Outage: the Bp site is offline for two minutes while 50 appointments wait. The worker pauses the
//! site's queue and probes its health with backoff instead of sending every item, so the requests the
//! simulator receives stay under a stated bound; everything is delivered within 30 s of the site's return.

use std::time::{Duration, Instant};

use crate::support::local_date_in;
use crate::support::pms::{assert_bp_matches, ready_clinic, seed, set_faults, site_requests, start, wait_drained};
use serde_json::json;

const OUTAGE: Duration = Duration::from_secs(120);
/// Up to 3 failed deliveries (the pause threshold) plus one per concurrent slot, then probes at
/// 1, 2, 4, 8 and every 15 s after: about 15 in two minutes. 30 leaves room for timing.
const REQUEST_BOUND: u64 = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_two_minutes_offline_stays_bounded_and_delivers_within_30s_of_return() {
    let setup = start(seed(1), &[("REPBOOK_RECONCILE_EVERY_SECS", "0")]).await;
    let (sim, server) = (&setup.sim, &setup.server);
    let clinic = ready_clinic(server, &sim.url(), "20001", "Australia/Sydney", "NSW").await;

    set_faults(&sim.url(), "20001", json!({"offline": true})).await;
    let before = site_requests(&sim.url(), "20001").await;
    let started = Instant::now();
    for n in 0..50 {
        let day = local_date_in("Australia/Sydney", 5 + n / 16);
        let minutes = 8 * 60 + (n % 16) * 30;
        let doctor = &clinic.doctors[(n % 2) as usize].0;
        let (status, body) = server
            .book(
                &clinic.id,
                doctor,
                &format!("{day}T{:02}:{:02}", minutes / 60, minutes % 60),
                15,
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    tokio::time::sleep(OUTAGE.saturating_sub(started.elapsed())).await;
    let during = site_requests(&sim.url(), "20001").await - before;
    let (_, status) = server.get(&format!("/api/v1/clinics/{}/sync", clinic.id)).await;
    println!("requests to the offline site in {OUTAGE:?}: {during} (bound {REQUEST_BOUND}); status: {status}");
    assert!(during <= REQUEST_BOUND, "{during} requests reached the offline site");
    assert_eq!(status["site"]["paused"], true, "{status}");
    assert_eq!(status["outbox"], 50);

    set_faults(&sim.url(), "20001", json!({})).await;
    let back = Instant::now();
    wait_drained(server, &clinic.id, Duration::from_secs(30)).await;
    println!("all 50 delivered {:?} after the site came back", back.elapsed());
    assert_eq!(assert_bp_matches(server, &sim.url(), &clinic).await, 50);
}
