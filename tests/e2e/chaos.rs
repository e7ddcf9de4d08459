//! Chaos: 300 operations (creates, moves, cancels) across 5 clinics on 5 Bp sites, while the simulator
//! injects 503s, 504s before and after the write, 429s with Retry-After, latency spikes and GUID changes,
//! and the host is SIGKILLed and restarted at random moments. The test keeps its own model of what every
//! acknowledged request asked for; at the end repbook and Bp both match that model exactly.
//! Each test prints its seed; `CHAOS_SEED=n cargo test -- chaos` replays one.

use crate::support;

use std::collections::HashMap;
use std::time::Duration;

use crate::support::Server;
use crate::support::pms::{ClinicSetup, install_halo_bp, ready_clinic, seed, set_faults, sim_get, wait_drained};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

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

/// What the test expects of one appointment, from the answers it was given.
#[derive(Debug, Clone)]
struct Expected {
    clinic: usize,
    user_id: i64,
    start: String,
    minutes: u32,
    cancelled: bool,
}

/// Books, moves or cancels, and records in `model` what each acknowledged request changed. Requests
/// never meet a killed server (kills happen between operations), so every answer is definitive.
async fn operate(
    server: &Server,
    rng: &mut StdRng,
    index: usize,
    clinic: &ClinicSetup,
    live: &mut Vec<String>,
    model: &mut HashMap<String, Expected>,
) {
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
        let (doctor, user_id) = clinic.doctors[rng.random_range(0..clinic.doctors.len())].clone();
        let start = start(rng);
        let minutes = [15, 20, 30][rng.random_range(0..3)];
        let (status, body) = server.book(&clinic.id, &doctor, &start, minutes).await;
        match status {
            201 => {
                let id = body["id"].as_str().unwrap().to_string();
                model.insert(
                    id.clone(),
                    Expected {
                        clinic: index,
                        user_id,
                        start,
                        minutes,
                        cancelled: false,
                    },
                );
                live.push(id);
            }
            409 | 422 => {}
            other => panic!("booking answered {other}: {body}"),
        }
    } else if roll < 85 {
        let id = live[rng.random_range(0..live.len())].clone();
        let start = start(rng);
        let (status, body) = server
            .patch(&format!("/api/v1/appointments/{id}"), json!({"start": start}))
            .await;
        match status {
            200 => model.get_mut(&id).unwrap().start = start,
            409 | 422 => {}
            other => panic!("move answered {other}: {body}"),
        }
    } else {
        let id = live.swap_remove(rng.random_range(0..live.len()));
        let (status, body) = server
            .post(&format!("/api/v1/appointments/{id}/cancel"), json!({}))
            .await;
        assert_eq!(status, 200, "cancel: {body}");
        model.get_mut(&id).unwrap().cancelled = true;
    }
}

/// Repbook and Bp both hold exactly what the model says: each booked appointment once, at the start,
/// length and doctor last acknowledged; nothing live for cancelled ones; nothing else tagged in Bp.
async fn assert_matches_model(
    server: &Server,
    sim_url: &str,
    clinics: &[ClinicSetup],
    model: &HashMap<String, Expected>,
) {
    for (id, expected) in model {
        let (_, ours) = server.get(&format!("/api/v1/appointments/{id}")).await;
        assert_eq!(
            ours["local_start"],
            expected.start.as_str(),
            "repbook lost a move of {id}: {ours}"
        );
        assert_eq!(ours["status"] == "cancelled", expected.cancelled, "{id}: {ours}");
    }
    for (index, clinic) in clinics.iter().enumerate() {
        let bp = sim_get(sim_url, &format!("/_sim/sites/{}/appointments", clinic.site_id)).await["appointments"]
            .as_array()
            .unwrap()
            .clone();
        let live: Vec<&Value> = bp.iter().filter(|r| r["record_status"] == 1).collect();
        let mut tagged = 0;
        for (id, expected) in model.iter().filter(|(_, e)| e.clinic == index) {
            let records: Vec<&&Value> = live
                .iter()
                .filter(|r| r["reason"].as_str().unwrap().ends_with(&format!("repbook ref {id}")))
                .collect();
            if expected.cancelled {
                assert!(records.is_empty(), "cancelled {id} is live in Bp: {records:?}");
                continue;
            }
            tagged += 1;
            assert_eq!(records.len(), 1, "{id} must be in Bp exactly once: {records:?}");
            let (date, time) = expected.start.split_once('T').unwrap();
            let (h, m) = time.split_once(':').unwrap();
            let seconds = h.parse::<i64>().unwrap() * 3600 + m.parse::<i64>().unwrap() * 60;
            let record = records[0];
            assert_eq!(
                (
                    record["date"].as_str().unwrap(),
                    record["time"].as_i64().unwrap(),
                    record["length"].as_i64().unwrap(),
                    record["user_id"].as_i64().unwrap()
                ),
                (date, seconds, expected.minutes as i64 * 60, expected.user_id),
                "{id} in Bp"
            );
        }
        let live_tagged = live
            .iter()
            .filter(|r| r["reason"].as_str().unwrap().contains("repbook ref "))
            .count();
        assert_eq!(
            live_tagged, tagged,
            "Bp of clinic {index} holds appointments the model does not"
        );
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
    let mut model: HashMap<String, Expected> = HashMap::new();
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
        operate(&server, &mut rng, c, &clinics[c], &mut live[c], &mut model).await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..15))).await;
    }
    for site in faulted.drain(..) {
        set_faults(&sim.url(), &site, json!({})).await;
    }

    for clinic in &clinics {
        let status = wait_drained(&server, &clinic.id, Duration::from_secs(120)).await;
        assert_eq!(status["appointments"]["needs_attention"], 0, "parked: {status}");
    }
    assert_matches_model(&server, &sim.url(), &clinics, &model).await;
    let cancelled = model.values().filter(|e| e.cancelled).count();
    println!(
        "seed {seed_value}: {} appointments ({cancelled} cancelled) across {CLINICS} clinics: repbook and Bp match the model",
        model.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_seed_1_repbook_and_bp_match_what_was_acknowledged_after_faults_and_kills() {
    chaos(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_seed_2_repbook_and_bp_match_what_was_acknowledged_after_faults_and_kills() {
    chaos(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_seed_3_repbook_and_bp_match_what_was_acknowledged_after_faults_and_kills() {
    chaos(3).await;
}
