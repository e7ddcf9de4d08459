//! A graceful stop: SIGTERM with deliveries in flight lets them finish within the drain bound and exits 0;
//! what cannot finish in time stays queued and, after a restart, reaches Bp exactly once.

use crate::support;

use std::time::{Duration, Instant};

use crate::support::pms::{adds_of, assert_bp_matches, ready_clinic, seed, set_faults, sim_log, wait_drained};
use crate::support::{Server, local_date_in};
use serde_json::json;

const SITE: &str = "20001";

async fn book_many(server: &Server, clinic: &support::pms::ClinicSetup, first_day: i64, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..count {
        let day = local_date_in("Australia/Sydney", first_day + (n / 8) as i64);
        let minutes = 8 * 60 + (n % 8) * 30;
        let doctor = &clinic.doctors[n % 2].0;
        let (status, body) = server
            .book(
                &clinic.id,
                doctor,
                &format!("{day}T{:02}:{:02}", minutes / 60, minutes % 60),
                15,
            )
            .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    ids
}

async fn wait_in_flight(server: &Server, clinic: &str, wanted: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, status) = server.get(&format!("/api/v1/clinics/{clinic}/sync")).await;
        if status["in_flight"].as_u64() == Some(wanted) {
            return;
        }
        assert!(Instant::now() < deadline, "never {wanted} in flight: {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_sigterm_lets_deliveries_in_flight_finish_and_nothing_is_lost_or_doubled() {
    let sim = halo_sim::serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), seed(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut env = vec![
        ("REPBOOK_PLUGIN_ALLOW_LOOPBACK", "true"),
        ("REPBOOK_SYNC_SITE_CONCURRENCY", "32"),
        ("REPBOOK_SYNC_CONCURRENCY", "32"),
        ("REPBOOK_RECONCILE_EVERY_SECS", "0"),
    ];
    let mut server = Server::start_with_env(dir.path(), &env).await;
    support::pms::install_halo_bp(&server).await;
    let clinic = ready_clinic(&server, &sim.url(), SITE, "Australia/Sydney", "NSW").await;

    // 20 deliveries in flight, each a 2 s Halo round trip; the drain bound is 10 s.
    set_faults(&sim.url(), SITE, json!({"latency_ms": 2000})).await;
    let mut ids = book_many(&server, &clinic, 5, 20).await;
    wait_in_flight(&server, &clinic.id, 20).await;
    let (took, status) = server.terminate(Duration::from_secs(20));
    println!("SIGTERM with 20 deliveries in flight: exited {status} after {took:?}");
    assert!(status.success(), "{status}");
    assert!(
        took < Duration::from_secs(10),
        "exited after {took:?}, past the 10 s drain bound"
    );
    let held = sim_get_appointments(&sim.url()).await;
    assert_eq!(held, 20, "the deliveries in flight finished before the exit");

    // Deliveries slower than the drain bound: the process still exits in time; the cut ones stay queued.
    set_faults(&sim.url(), SITE, json!({"latency_ms": 6000})).await;
    env.push(("REPBOOK_DRAIN_SECS", "1"));
    let mut server = Server::start_with_env(dir.path(), &env).await;
    ids.extend(book_many(&server, &clinic, 12, 8).await);
    wait_in_flight(&server, &clinic.id, 8).await;
    let (took, status) = server.terminate(Duration::from_secs(10));
    println!("SIGTERM with 8 slow deliveries in flight: exited {status} after {took:?}");
    assert!(status.success(), "{status}");
    assert!(
        took < Duration::from_secs(4),
        "exited after {took:?} with a 1 s drain bound"
    );

    set_faults(&sim.url(), SITE, json!({})).await;
    env.pop();
    let server = Server::start_with_env(dir.path(), &env).await;
    wait_drained(&server, &clinic.id, Duration::from_secs(60)).await;
    assert_eq!(assert_bp_matches(&server, &sim.url(), &clinic).await, 28);
    let log = sim_log(&sim.url(), SITE).await;
    for id in &ids {
        assert_eq!(adds_of(&log, id), 1, "{id} was added {} times", adds_of(&log, id));
    }
}

async fn sim_get_appointments(sim_url: &str) -> usize {
    support::pms::sim_get(sim_url, &format!("/_sim/sites/{SITE}/appointments")).await["appointments"]
        .as_array()
        .unwrap()
        .len()
}
