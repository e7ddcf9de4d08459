//! Sync through the real worker and the real halo-bp component, with 50 ms of simulated Halo latency per
//! request: (1) booking -> Bp latency of single bookings and moves, as a multiple of that latency, and
//! the Halo requests each needed; (2) throughput of 2,000 appointments over 20 Bp sites, beside the bound
//! sites × per-site concurrency / latency / requests per appointment. Run with `make bench`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use repbook::app::{App, AppError, Availability};
use repbook::clock::Clock;
use repbook::domain::{
    Clinic, NewAppointment, NewClinic, NewPractitioner, PmsSettingsUpdate, Practitioner, Rep, new_id,
};
use repbook::plugins::egress::OperatorPolicy;
use repbook::plugins::{Registry, Runtime, SandboxLimits};
use repbook::store::Store;
use repbook::sync::{SyncConfig, SyncEngine};
use serde_json::json;

const SITES: usize = 20;
const PER_SITE: usize = 100;
const LATENCY_MS: u64 = 50;
const SITE_CONCURRENCY: usize = 4;
/// Per new appointment: one BP_AddAppointmentEx batch (repbook knows nothing was sent before).
const QUERIES_PER_APPOINTMENT: f64 = 1.0;
/// Single bookings (then moves) timed one at a time on an idle worker.
const SINGLES: usize = 40;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let component = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../plugins/target/wasm32-wasip2/release/halo_bp.wasm"
    ))
    .expect("run `make plugins` first");
    let sites: Vec<_> = (0..SITES)
        .map(|n| json!({"site_id": format!("{}", 30001 + n), "pairing_code": "P", "paired": true, "practice_name": format!("P{n}"),
            "bp": {"locations": [{"id": 1, "name": "Main"}], "appointment_types": [{"code": 126, "name": "Internet"}],
                   "users": [{"id": 1, "title": "Dr", "first_name": "Ana", "surname": "Ng", "ahpra": "MED0001234567"}]}}))
        .collect();
    let seed = halo_sim::Seed::from_json(&json!({"subscription_keys": ["k"], "sites": sites}).to_string()).unwrap();
    let sim = halo_sim::serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), seed).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let limits = SandboxLimits {
        max_concurrent_calls: 128,
        ..Default::default()
    };
    let runtime = Runtime::new(
        dir.path(),
        limits,
        Default::default(),
        OperatorPolicy {
            allowed_hosts: None,
            allow_loopback: true,
            allow_private: false,
        },
    )
    .unwrap();
    let registry = Registry::open(runtime, store.clone()).await.unwrap();
    registry.install(&component).await.unwrap();
    let config = SyncConfig {
        per_site_concurrency: SITE_CONCURRENCY,
        global_concurrency: SITES * SITE_CONCURRENCY,
        reconcile_every: None,
        ..Default::default()
    };
    let engine = SyncEngine::new(store.clone(), registry.clone(), config.clone());
    // The workflows that book and move, as a server runs them (the diary cache stays empty: no time is
    // published, so nothing reads it).
    let app = App::new(
        store.clone(),
        registry.clone(),
        engine.clone(),
        Arc::new(Availability::new(store.clone(), registry.clone(), Default::default())),
        Clock::system(),
        dir.path().to_path_buf(),
        Arc::new(
            repbook::identity::Identity::new(None, "http://127.0.0.1", Default::default(), 1)
                .await
                .unwrap(),
        ),
    );

    let mut clinics = Vec::new();
    for n in 0..SITES {
        let clinic = Clinic::create(
            new_id(),
            NewClinic {
                name: format!("C{n}"),
                timezone: "Australia/Sydney".into(),
                state: "NSW".into(),
                appointment_duration_minutes: 15,
            },
            Timestamp::now(),
        )
        .unwrap();
        store.put_clinic(&clinic).unwrap();
        let update: PmsSettingsUpdate = serde_json::from_value(json!({"connector": "halo-bp", "enabled": true, "site_id": format!("{}", 30001 + n),
            "location_id": 1, "settings": {"base_url": sim.url(), "subscription_key": "k", "rep_visit_type_code": "126"}})).unwrap();
        store
            .update_clinic(&clinic.id, |c| Ok::<_, AppError>(c.pms.apply(update)?))
            .await
            .unwrap();
        engine.validate(&clinic.id).await.unwrap();
        let doctor = Practitioner::create(
            new_id(),
            clinic.id.clone(),
            NewPractitioner {
                title: "Dr".into(),
                first_name: "Ana".into(),
                last_name: "Ng".into(),
                ahpra: "MED0001234567".into(),
            },
        )
        .unwrap();
        store.put_practitioner(&doctor).unwrap();
        // These sites do not disclose AHPRA numbers: the doctor is mapped by hand.
        engine.map_staff(&clinic.id, &doctor.id, Some(1)).await.unwrap();
        clinics.push((store.clinic(&clinic.id).unwrap(), doctor.id));
    }
    {
        let mut sim_state = sim.sim.lock().unwrap();
        for n in 0..SITES {
            sim_state.faults.entry(format!("{}", 30001 + n)).or_default().latency_ms = LATENCY_MS;
        }
    }
    // Single changes, on a site with nothing else to do.
    let singles_engine = SyncEngine::new(store.clone(), registry.clone(), config.clone());
    tokio::spawn(singles_engine.clone().run());
    singles(&app, &store, &sim, &clinics[0]).await;
    singles_engine.stop(Duration::from_secs(5)).await;

    // Throughput: book everything first, then let a fresh worker drain it.
    let next_year = Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).year() + 1;
    for (clinic, doctor) in &clinics[1..] {
        for k in 0..PER_SITE {
            let start = format!(
                "{}-{:02}-{:02}T{:02}:{:02}",
                next_year,
                1 + k / 40,
                1 + k % 40 / 4 * 2,
                9 + k % 4 * 2,
                0
            );
            let new = NewAppointment {
                practitioner_id: doctor.clone(),
                rep: Rep {
                    name: format!("Rep {k}"),
                    company: "Acme".into(),
                    email: String::new(),
                    phone: None,
                },
                start,
                duration_minutes: Some(15),
                notes: String::new(),
            };
            app.book(&clinic.id, new).await.unwrap();
        }
    }
    let engine = SyncEngine::new(store.clone(), registry, config);
    tokio::spawn(engine.clone().run());
    let total = (SITES - 1) * PER_SITE;
    println!(
        "{total} appointments over {} sites, {LATENCY_MS} ms per Halo request, {SITE_CONCURRENCY} in flight per site",
        SITES - 1
    );
    let started = Instant::now();
    while store.outbox_len() > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let measured = total as f64 / elapsed.as_secs_f64();
    let bound = (SITES - 1) as f64 * SITE_CONCURRENCY as f64 / (LATENCY_MS as f64 / 1000.0) / QUERIES_PER_APPOINTMENT;
    println!(
        "delivered in {:.2} s: {measured:.0} appointments/s; bound {bound:.0}/s; {:.0}% of the bound",
        elapsed.as_secs_f64(),
        100.0 * measured / bound
    );
}

fn site_requests(sim: &halo_sim::SimServer, site: &str) -> u64 {
    sim.sim.lock().unwrap().requests.get(site).copied().unwrap_or(0)
}

/// Time from the 2xx of a change to the PMS state "synced" for its version, one change at a time.
async fn until_synced(store: &Store, id: &str, version: u64) -> Duration {
    let started = Instant::now();
    loop {
        if store.pms_record(id).unwrap().status.synced_version == Some(version) {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

fn report(label: &str, mut times: Vec<Duration>, requests: u64) {
    times.sort();
    let latency = Duration::from_millis(LATENCY_MS);
    let p = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "  {label}: p50 {:.1} ms = {:.2} x latency, p90 {:.2} x; {:.2} Halo requests each",
        p(0.5).as_secs_f64() * 1e3,
        p(0.5).as_secs_f64() / latency.as_secs_f64(),
        p(0.9).as_secs_f64() / latency.as_secs_f64(),
        requests as f64 / times.len() as f64
    );
}

/// The first clinic's site: book SINGLES appointments one at a time, then move each once.
async fn singles(app: &App, store: &Arc<Store>, sim: &halo_sim::SimServer, (clinic, doctor): &(Clinic, String)) {
    let site = clinic.pms.site_id.clone().unwrap();
    println!("single changes on an idle worker, {LATENCY_MS} ms per Halo request:");
    let next_year = Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).year() + 1;
    let before = site_requests(sim, &site);
    let mut times = Vec::new();
    let mut booked = Vec::new();
    for k in 0..SINGLES {
        let new = NewAppointment {
            practitioner_id: doctor.clone(),
            rep: Rep {
                name: format!("Single {k}"),
                company: "Acme".into(),
                email: String::new(),
                phone: None,
            },
            start: format!("{next_year}-11-{:02}T{:02}:00", 1 + k / 8, 9 + k % 8),
            duration_minutes: Some(15),
            notes: String::new(),
        };
        let (_, booked_now) = app.book(&clinic.id, new).await.unwrap();
        let appointment = booked_now.appointment;
        times.push(until_synced(store, &appointment.id, 1).await);
        booked.push(appointment);
    }
    report("new booking -> Bp", times, site_requests(sim, &site) - before);
    let before = site_requests(sim, &site);
    let mut times = Vec::new();
    for (k, appointment) in booked.iter().enumerate() {
        let change = repbook::domain::MoveRequest {
            start: Some(format!("{next_year}-11-{:02}T{:02}:30", 1 + k / 8, 9 + k % 8)),
            duration_minutes: None,
        };
        let (_, moved) = app.move_appointment(&appointment.id, change).await.unwrap();
        let moved = moved.appointment;
        times.push(until_synced(store, &moved.id, moved.version).await);
    }
    report(
        "move of a confirmed booking -> Bp",
        times,
        site_requests(sim, &site) - before,
    );
}
