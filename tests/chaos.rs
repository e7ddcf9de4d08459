//! Chaos: 300 operations (creates, moves, cancels) across 5 clinics on 5 Bp sites, while the simulator
//! injects 503s, 504s before and after the write, 429s with Retry-After, latency spikes and GUID changes,
//! and the host is SIGKILLed and restarted at random moments. At the end Bp matches repbook exactly.
//! Each test prints its seed; `CHAOS_SEED=n cargo test -- chaos` replays one.

mod support;

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use support::Server;
use support::pms::{ClinicSetup, assert_bp_matches, install_halo_bp, ready_clinic, seed, set_faults, wait_drained};

const CLINICS: usize = 5;
const OPERATIONS: usize = 300;
const KILLS: usize = 6;
const ZONES: [(&str, &str); 5] = [
    ("Australia/Sydney", "NSW"),
    ("Australia/Adelaide", "SA"),
    ("Australia/Perth", "WA"),
    ("Australia/Brisbane", "QLD"),
    ("Australia/Lord_Howe", "NSW"),
];

fn server_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("REPBOOK_PLUGIN_ALLOW_LOOPBACK", "true"),
        ("REPBOOK_SYNC_BACKOFF_BASE_MS", "50"),
        ("REPBOOK_SYNC_BACKOFF_CAP_MS", "2000"),
        ("REPBOOK_SYNC_PROBE_CAP_MS", "500"),
        ("REPBOOK_RECONCILE_EVERY_SECS", "0"),
    ]
}

fn random_fault(rng: &mut StdRng) -> (Value, &'static str) {
    match rng.random_range(0..7) {
        0 => (json!({"offline": true}), "offline 503"),
        1 => (json!({"unreachable": true}), "unreachable 504"),
        2 => (json!({"timeout_after_write_next": 3}), "504 after commit"),
        3 => (
            json!({"rate_limit_next": 4, "retry_after_seconds": 1}),
            "429 Retry-After",
        ),
        4 => (json!({"latency_ms": 300}), "latency spike"),
        5 => (json!({"error_500_next": 3}), "500"),
        _ => (Value::Null, "GUID change"),
    }
}

/// Books, moves or cancels; a request that meets a killed server counts as not done.
async fn operate(server: &Server, rng: &mut StdRng, clinic: &ClinicSetup, live: &mut Vec<String>) {
    let day = |rng: &mut StdRng| support::local_date_in(&clinic.zone, rng.random_range(3..60));
    let start = |rng: &mut StdRng| {
        format!(
            "{}T{:02}:{:02}",
            day(rng),
            rng.random_range(8..18),
            [0, 15, 30, 45][rng.random_range(0..4)]
        )
    };
    let roll = rng.random_range(0..100);
    if live.is_empty() || roll < 55 {
        let doctor = &clinic.doctors[rng.random_range(0..clinic.doctors.len())].0;
        let start = start(rng);
        let (status, body) = server
            .book(&clinic.id, doctor, &start, [15, 20, 30][rng.random_range(0..3)])
            .await;
        if status == 201 {
            live.push(body["id"].as_str().unwrap().to_string());
        }
    } else if roll < 85 {
        let id = live[rng.random_range(0..live.len())].clone();
        let start = start(rng);
        server
            .patch(&format!("/api/v1/appointments/{id}"), json!({"start": start}))
            .await;
    } else {
        let id = live.swap_remove(rng.random_range(0..live.len()));
        server
            .post(&format!("/api/v1/appointments/{id}/cancel"), json!({}))
            .await;
    }
}

async fn chaos(default_seed: u64) {
    let seed_value = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_seed);
    println!("chaos seed {seed_value} (replay with CHAOS_SEED={seed_value})");
    let mut rng = StdRng::seed_from_u64(seed_value);
    let sim = halo_sim::serve(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        seed(CLINICS),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = server_env();
    let mut server = Server::start_with_env(dir.path(), &env).await;
    install_halo_bp(&server).await;
    let mut clinics = Vec::new();
    for (n, (zone, state)) in ZONES.iter().enumerate() {
        clinics.push(ready_clinic(&server, &sim.url(), &format!("{}", 20001 + n), zone, state).await);
    }

    let mut kill_at: Vec<usize> = (0..KILLS).map(|_| rng.random_range(10..OPERATIONS)).collect();
    kill_at.sort();
    let mut live: Vec<Vec<String>> = vec![Vec::new(); CLINICS];
    let mut faulted: Vec<String> = Vec::new();
    for op in 0..OPERATIONS {
        if op % 15 == 0 {
            // Clear the previous faults, start new ones.
            for site in faulted.drain(..) {
                set_faults(&sim.url(), &site, json!({})).await;
            }
            for _ in 0..2 {
                let site = clinics[rng.random_range(0..CLINICS)].site_id.clone();
                let (fault, name) = random_fault(&mut rng);
                if fault.is_null() {
                    reqwest::Client::new()
                        .post(format!("{}/_sim/sites/{site}/change-guid", sim.url()))
                        .send()
                        .await
                        .unwrap();
                } else {
                    set_faults(&sim.url(), &site, fault).await;
                    faulted.push(site.clone());
                }
                println!("op {op}: {name} on site {site}");
            }
        }
        if kill_at.first() == Some(&op) {
            while kill_at.first() == Some(&op) {
                kill_at.remove(0);
            }
            println!("op {op}: SIGKILL");
            server.kill();
            server = Server::start_with_env(dir.path(), &env).await;
        }
        let c = rng.random_range(0..CLINICS);
        operate(&server, &mut rng, &clinics[c], &mut live[c]).await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..15))).await;
    }
    for site in faulted.drain(..) {
        set_faults(&sim.url(), &site, json!({})).await;
    }

    let mut total = 0;
    for clinic in &clinics {
        let status = wait_drained(&server, &clinic.id, Duration::from_secs(120)).await;
        assert_eq!(status["appointments"]["needs_attention"], 0, "parked: {status}");
        total += assert_bp_matches(&server, &sim.url(), clinic).await;
    }
    println!("seed {seed_value}: {total} appointments across {CLINICS} clinics match Bp exactly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_seed_1_bp_matches_repbook_after_faults_and_kills() {
    chaos(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_seed_2_bp_matches_repbook_after_faults_and_kills() {
    chaos(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_seed_3_bp_matches_repbook_after_faults_and_kills() {
    chaos(3).await;
}
