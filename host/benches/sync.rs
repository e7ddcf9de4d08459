//! Sync throughput: 2,000 appointments over 20 Bp sites with 50 ms of simulated Halo latency per request,
//! delivered by the real worker through the real halo-bp component. Printed beside the bound
//! sites × per-site concurrency / latency / queries per appointment. Run with `make bench`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
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
/// Per new appointment: look up by reference, then BP_AddAppointmentEx (the type code is configured).
const QUERIES_PER_APPOINTMENT: f64 = 2.0;

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
    let engine = SyncEngine::new(store.clone(), registry, config);

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
            .update_clinic(&clinic.id, |c| Ok(c.pms.apply(update)?))
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
        store.add_practitioner(&doctor).unwrap();
        engine.sync_staff(&clinic.id).await.unwrap();
        clinics.push((store.clinic(&clinic.id).unwrap(), doctor.id));
    }
    let next_year = Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).year() + 1;
    for (clinic, doctor) in &clinics {
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
            store.book_appointment(clinic, new, Timestamp::now()).await.unwrap();
        }
    }
    {
        let mut sim_state = sim.sim.lock().unwrap();
        for n in 0..SITES {
            sim_state.faults.entry(format!("{}", 30001 + n)).or_default().latency_ms = LATENCY_MS;
        }
    }
    let total = SITES * PER_SITE;
    println!(
        "{total} appointments over {SITES} sites, {LATENCY_MS} ms per Halo request, {SITE_CONCURRENCY} in flight per site"
    );
    let started = Instant::now();
    tokio::spawn(engine.clone().run());
    while store.outbox_len() > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let measured = total as f64 / elapsed.as_secs_f64();
    let bound = SITES as f64 * SITE_CONCURRENCY as f64 / (LATENCY_MS as f64 / 1000.0) / QUERIES_PER_APPOINTMENT;
    println!(
        "delivered in {:.2} s: {measured:.0} appointments/s; bound {bound:.0}/s; {:.0}% of the bound",
        elapsed.as_secs_f64(),
        100.0 * measured / bound
    );
}
