//! Load through the real binary over loopback: 64 clients book, move and list through the admin API and read
//! slots and book through reps' links for LOAD_SECONDS (60 by default) while the sync drains to halo-sim (4
//! Bp sites, the real halo-bp component). Prints per-route p50/p99 and counts, 5xx, the server's RSS before,
//! at its peak and after, and checks afterwards that every acknowledged write is in repbook as acknowledged
//! and in Bp exactly once. Run with `make bench` or `cargo bench --bench load`.

#[path = "../../tests/e2e/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::booking::{ROOMY_LIMITS, link, publish, weekday};
use support::pms::{ClinicSetup, assert_bp_matches, ready_clinic, seed, start, wait_drained};
use support::{local_date_in, rss_kib};

const CLIENTS: usize = 64;
const SITES: usize = 4;

#[derive(Default)]
struct Stats {
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    statuses: BTreeMap<(&'static str, u16), u64>,
}

/// What an acknowledged write said: the appointment and its start as last acknowledged.
type Acknowledged = Mutex<HashMap<String, (String, String)>>;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A unique (weekday, 15-minute slot) for Dr Okafor's admin bookings, so they never collide with each
/// other and always fall in his Bp sessions (weekdays), from the first Monday two weeks out.
fn admin_slot(n: u64) -> String {
    let first_monday = (14..21)
        .find(|offset| weekday(&local_date_in("Australia/Sydney", *offset)) == "mon")
        .unwrap_or(14);
    let k = (n / 36) as i64;
    let day = local_date_in("Australia/Sydney", first_monday + (k / 5) * 7 + k % 5);
    let minutes = 8 * 60 + (n % 36) * 15;
    let minutes = if minutes >= 12 * 60 { minutes + 60 } else { minutes };
    format!("{day}T{:02}:{:02}", minutes / 60, minutes % 60)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds: u64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let mut env: Vec<(&str, &str)> = ROOMY_LIMITS.to_vec();
    env.push(("RUST_LOG", "error"));
    let setup = start(seed(SITES), &env).await;
    let sim_url = format!("http://{}", setup.sim.addr);
    let server = Arc::new(setup.server);
    let mut clinics: Vec<ClinicSetup> = Vec::new();
    let mut links = Vec::new();
    for n in 0..SITES {
        let clinic = ready_clinic(&server, &sim_url, &format!("{}", 20001 + n), "Australia/Sydney", "NSW").await;
        let (status, body) = server
            .patch(
                &format!("/api/v1/clinics/{}", clinic.id),
                json!({"link_daily_cap": 1000, "booking_lead_hours": 0}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        for offset in 1..=5 {
            let day = local_date_in("Australia/Sydney", offset);
            publish(
                &server,
                &clinic.id,
                json!({"weekday": weekday(&day), "start": "08:00", "end": "18:00", "slot_minutes": 15, "practitioner_id": clinic.doctors[0].0}),
            )
            .await;
        }
        links.push(link(&server, &clinic.id, "All reps", &[]).await);
        clinics.push(clinic);
    }
    let pid = server.pid();
    let rss_before = rss_kib(pid);
    let rss_peak = Arc::new(AtomicU64::new(rss_before));
    let running = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, running) = (rss_peak.clone(), running.clone());
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    let stats = Arc::new(Mutex::new(Stats::default()));
    let acknowledged: Arc<Acknowledged> = Arc::default();
    let counter = Arc::new(AtomicU64::new(0));
    let clinics = Arc::new(clinics);
    let links = Arc::new(links);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (server, stats, acknowledged, counter, clinics, links) = (
            server.clone(),
            stats.clone(),
            acknowledged.clone(),
            counter.clone(),
            clinics.clone(),
            links.clone(),
        );
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut mine: Vec<String> = Vec::new();
            let mut step = client as u64;
            while Instant::now() < deadline {
                step += 1;
                let clinic = &clinics[(step as usize) % clinics.len()];
                let link = &links[(step as usize) % links.len()];
                let (route, request) = match step % 10 {
                    0..=2 => {
                        let start = admin_slot(counter.fetch_add(1, Ordering::Relaxed));
                        let body = json!({"practitioner_id": clinic.doctors[1].0, "start": start, "duration_minutes": 15,
                            "rep": {"name": "Load Rep", "company": format!("Co {client}"), "email": format!("load{client}@acme.test")}});
                        ("POST /clinics/{c}/appointments", http.post(format!("{}/api/v1/clinics/{}/appointments", server.base, clinic.id)).bearer_auth(&server.token).json(&body))
                    }
                    3 if !mine.is_empty() => {
                        let id = mine[(step as usize) % mine.len()].clone();
                        let start = admin_slot(counter.fetch_add(1, Ordering::Relaxed));
                        ("PATCH /appointments/{id}", http.patch(format!("{}/api/v1/appointments/{id}", server.base)).bearer_auth(&server.token).json(&json!({"start": start})))
                    }
                    4 | 5 => ("GET /clinics/{c}/appointments", http.get(format!("{}/api/v1/clinics/{}/appointments?limit=100", server.base, clinic.id)).bearer_auth(&server.token)),
                    6..=8 => ("GET /book/{link}/slots", http.get(format!("{}{link}/slots", server.base))),
                    _ => {
                        // A rep books the first slot of a day the link offers; a 409 means someone was quicker.
                        let offset = 1 + (step % 5) as i64;
                        let day = local_date_in("Australia/Sydney", offset);
                        let minutes = 8 * 60 + ((step / 10) % 40) * 15;
                        let start = format!("{day}T{:02}:{:02}", minutes / 60, minutes % 60);
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        let body = json!({"start": start, "practitioner_id": clinic.doctors[0].0,
                            "rep": {"name": "Walk-in Rep", "company": format!("Rep Co {n}"), "email": format!("rep{n}@reps.test")}});
                        ("POST /book/{link}/bookings", http.post(format!("{}{link}/bookings", server.base)).json(&body))
                    }
                };
                let started = Instant::now();
                let response = request.send().await;
                let took = started.elapsed();
                let (status, body) = match response {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        (status, response.json::<Value>().await.unwrap_or(Value::Null))
                    }
                    Err(_) => (0, Value::Null),
                };
                {
                    let mut stats = stats.lock().unwrap();
                    stats.latencies.entry(route).or_default().push(took);
                    *stats.statuses.entry((route, status)).or_default() += 1;
                }
                let id = body["id"].as_str().map(str::to_string);
                match (route, status, id) {
                    ("POST /clinics/{c}/appointments", 201, Some(id)) | ("PATCH /appointments/{id}", 200, Some(id)) => {
                        let start = body["local_start"].as_str().unwrap_or_default().to_string();
                        acknowledged.lock().unwrap().insert(id.clone(), (clinic.id.clone(), start));
                        if route.starts_with("POST") {
                            mine.push(id);
                        }
                    }
                    _ => {}
                }
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    let drain_started = Instant::now();
    for clinic in clinics.iter() {
        wait_drained(&server, &clinic.id, Duration::from_secs(300)).await;
    }
    let drained_in = drain_started.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    running.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let rss_after = rss_kib(pid);

    // Every acknowledged write is in repbook as acknowledged, and Bp holds exactly repbook's truth.
    let acknowledged = acknowledged.lock().unwrap().clone();
    let mut lost = 0;
    for (id, (_, start)) in &acknowledged {
        let (status, body) = server.get(&format!("/api/v1/appointments/{id}")).await;
        if status != 200
            || body["local_start"]
                .as_str()
                .is_some_and(|s| !s.starts_with(start.get(..16).unwrap_or(start)))
        {
            lost += 1;
        }
    }
    let mut in_bp = 0;
    for clinic in clinics.iter() {
        in_bp += assert_bp_matches(&server, &sim_url, clinic).await;
    }

    let stats = stats.lock().unwrap();
    let total: usize = stats.latencies.values().map(Vec::len).sum();
    let server_errors: u64 = stats
        .statuses
        .iter()
        .filter(|((_, s), _)| *s >= 500 || *s == 0)
        .map(|(_, n)| n)
        .sum();
    println!(
        "load: {CLIENTS} clients for {seconds} s over {SITES} clinics; {total} requests ({:.0}/s)",
        total as f64 / seconds as f64
    );
    println!("{:<34} {:>8} {:>10} {:>10}  statuses", "route", "count", "p50", "p99");
    for (route, latencies) in &stats.latencies {
        let mut sorted = latencies.clone();
        sorted.sort();
        let statuses: Vec<String> = stats
            .statuses
            .iter()
            .filter(|((r, _), _)| r == route)
            .map(|((_, s), n)| format!("{s}×{n}"))
            .collect();
        println!(
            "{route:<34} {:>8} {:>10.2?} {:>10.2?}  {}",
            sorted.len(),
            percentile(&sorted, 0.5),
            percentile(&sorted, 0.99),
            statuses.join(" ")
        );
    }
    println!("5xx or no answer: {server_errors}");
    println!(
        "acknowledged writes: {} ({} lost); appointments checked against Bp: {in_bp}; queue drained {drained_in:.1?} after the load stopped",
        acknowledged.len(),
        lost
    );
    println!(
        "server RSS: before {} MiB, peak {} MiB, after {} MiB",
        rss_before / 1024,
        rss_peak.load(Ordering::Relaxed) / 1024,
        rss_after / 1024
    );
    assert_eq!(server_errors, 0, "5xx under load");
    assert_eq!(lost, 0, "acknowledged writes lost");
}
