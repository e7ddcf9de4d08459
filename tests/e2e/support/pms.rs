//! A repbook server wired to the Halo + Bp simulator with the real halo-bp component: clinics validated,
//! located and staff-synced, ready to book. Shared by the sync suites.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Server;

/// Weekday sessions 08:00-12:00 and 13:00-18:00 (Monday to Friday; 1 = Sunday in Bp's numbering).
pub fn weekday_sessions(users: &[i64]) -> Vec<Value> {
    let mut sessions = Vec::new();
    for user in users {
        for day in 2..=6 {
            sessions.push(
                json!({"user_id": user, "day_of_week": day, "start": "08:00", "end": "12:00", "slot_minutes": 15}),
            );
            sessions.push(
                json!({"user_id": user, "day_of_week": day, "start": "13:00", "end": "18:00", "slot_minutes": 15}),
            );
        }
    }
    sessions
}

/// A seed with `sites` Bp sites (Site IDs 20001...), each with Dr Ana Ng and Dr Ben Okafor. Like a real
/// integrator's login, it may run the Bp procedures but not read Bp's tables.
pub fn seed(sites: usize) -> halo_sim::Seed {
    let sites: Vec<Value> = (0..sites)
        .map(|n| {
            json!({
                "site_id": format!("{}", 20001 + n),
                "pairing_code": "PAIR42",
                "practice_name": format!("Practice {n}"),
                "bp": {
                    "locations": [{"id": 1, "name": "Main"}],
                    "users": [
                        {"id": 2000000564, "title": "Dr", "first_name": "Ana", "surname": "Ng", "ahpra": "MED0001234567"},
                        {"id": 2000000570, "title": "Dr", "first_name": "Ben", "surname": "Okafor", "ahpra": "MED0007654321"}
                    ],
                    "appointment_types": [{"code": 1, "name": "Standard appt."}, {"code": 126, "name": "Internet"}],
                    "sessions": weekday_sessions(&[2000000564, 2000000570])
                }
            })
        })
        .collect();
    halo_sim::Seed::from_json(&json!({"subscription_keys": ["test-key"], "sites": sites}).to_string()).unwrap()
}

pub struct ClinicSetup {
    pub id: String,
    pub site_id: String,
    pub zone: String,
    pub doctors: Vec<(String, i64)>,
}

pub async fn install_halo_bp(server: &Server) {
    super::install_component(server, super::halo_bp_component()).await;
}

/// Creates a clinic on `site_id`, validates it, picks location 1, syncs its two doctors and, since Bp does
/// not disclose AHPRA numbers to this integrator, maps them by hand as staff sync suggests.
pub async fn ready_clinic(server: &Server, sim_url: &str, site_id: &str, zone: &str, state: &str) -> ClinicSetup {
    let id = server.create_clinic(&format!("Clinic {site_id}"), zone, state).await;
    let (status, body) = server
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/clinics/{id}/pms"),
            Some(json!({"connector": "halo-bp", "send_via": "halo-link", "enabled": true, "site_id": site_id, "pairing_code": "PAIR42",
                        "settings": {"base_url": sim_url, "subscription_key": "test-key", "rep_visit_type_code": "126"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .post(&format!("/api/v1/clinics/{id}/pms/validate"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/clinics/{id}/pms"),
            Some(json!({"location_id": 1})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let ana = server.add_doctor(&id, "Ana", "Ng", "MED0001234567").await;
    let ben = server.add_doctor(&id, "Ben", "Okafor", "MED0007654321").await;
    let (status, body) = server
        .post(&format!("/api/v1/clinics/{id}/staff/sync"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["needs_mapping"], 2, "{body}");
    for (doctor, user) in [(&ana, 2000000564), (&ben, 2000000570)] {
        let (status, body) = server
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/clinics/{id}/staff/{doctor}/pms"),
                Some(json!({ "user_id": user })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    ClinicSetup {
        id,
        site_id: site_id.into(),
        zone: zone.into(),
        doctors: vec![(ana, 2000000564), (ben, 2000000570)],
    }
}

pub async fn sim_get(sim_url: &str, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{sim_url}{path}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The commands a site executed, in order (`kind`, `text`, `parameters`, `outcome`, `wrote`).
pub async fn sim_log(sim_url: &str, site_id: &str) -> Vec<Value> {
    sim_get(sim_url, &format!("/_sim/sites/{site_id}/log")).await["commands"]
        .as_array()
        .unwrap()
        .clone()
}

/// How many commands that ran added an appointment carrying `reference` (the reason text is a parameter).
pub fn adds_of(log: &[Value], reference: &str) -> usize {
    log.iter()
        .filter(|c| c["outcome"] == "ok" && c["text"].as_str().unwrap_or("").contains("BP_AddAppointment"))
        .filter(|c| {
            c["parameters"].as_array().unwrap().iter().any(|p| {
                p["value"]
                    .as_str()
                    .is_some_and(|v| v.ends_with(&format!("repbook ref {reference}")))
            })
        })
        .count()
}

pub async fn set_faults(sim_url: &str, site_id: &str, faults: Value) {
    let status = reqwest::Client::new()
        .put(format!("{sim_url}/_sim/sites/{site_id}/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "faults {faults}");
}

pub async fn site_requests(sim_url: &str, site_id: &str) -> u64 {
    sim_get(sim_url, "/_sim/stats").await["requests"][site_id]
        .as_u64()
        .unwrap_or(0)
}

/// Waits until the clinic has nothing pending for the PMS; panics with the status on timeout.
pub async fn wait_drained(server: &Server, clinic: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let (status, body) = server.get(&format!("/api/v1/clinics/{clinic}/sync")).await;
        if status == 200 && body["outbox"] == 0 && body["appointments"]["pending"] == 0 {
            return body;
        }
        assert!(Instant::now() < deadline, "clinic {clinic} did not drain: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every appointment of a clinic from 2000 on, following the list's pages.
pub async fn all_appointments(server: &Server, clinic: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/clinics/{clinic}/appointments?from=2000-01-01&limit=1000");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let (status, page) = server.get(&path).await;
        assert_eq!(status, 200, "{page}");
        all.extend(page["appointments"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return all,
        }
    }
}

/// Asserts Bp holds exactly repbook's truth for a clinic: each booked appointment once, at its latest
/// date, time and length, for the right doctor; nothing live for cancelled or unknown references.
pub async fn assert_bp_matches(server: &Server, sim_url: &str, clinic: &ClinicSetup) -> usize {
    let ours = all_appointments(server, &clinic.id).await;
    let bp = sim_get(sim_url, &format!("/_sim/sites/{}/appointments", clinic.site_id)).await["appointments"]
        .as_array()
        .unwrap()
        .clone();
    let reference_of = |record: &Value| {
        record["reason"]
            .as_str()
            .unwrap()
            .rsplit("repbook ref ")
            .next()
            .unwrap()
            .to_string()
    };
    let live: Vec<&Value> = bp.iter().filter(|r| r["record_status"] == 1).collect();
    for appointment in &ours {
        let reference = appointment["reference"].as_str().unwrap();
        let records: Vec<&&Value> = live.iter().filter(|r| reference_of(r) == reference).collect();
        if appointment["status"] == "booked" {
            assert_eq!(
                records.len(),
                1,
                "booked {reference} must be in Bp exactly once: {records:?}"
            );
            let record = records[0];
            let user = clinic
                .doctors
                .iter()
                .find(|(id, _)| appointment["practitioner_id"] == id.as_str())
                .unwrap()
                .1;
            assert_eq!(record["date"], appointment["local_date"], "{reference}");
            assert_eq!(record["time"], appointment["local_seconds"], "{reference}");
            assert_eq!(
                record["length"].as_i64().unwrap(),
                appointment["duration_minutes"].as_i64().unwrap() * 60,
                "{reference}"
            );
            assert_eq!(record["user_id"], user, "{reference}");
        } else {
            assert!(
                records.is_empty(),
                "cancelled {reference} is still live in Bp: {records:?}"
            );
        }
    }
    for record in &live {
        let reference = reference_of(record);
        assert!(
            ours.iter()
                .any(|a| a["reference"] == reference.as_str() && a["status"] == "booked"),
            "Bp holds {reference}, which repbook does not have booked"
        );
    }
    ours.len()
}

/// The simulator, and a repbook server allowed to reach it with halo-bp installed.
pub struct Setup {
    pub sim: halo_sim::SimServer,
    pub server: Server,
    pub dir: tempfile::TempDir,
}

pub async fn start(seed: halo_sim::Seed, env: &[(&str, &str)]) -> Setup {
    let sim = halo_sim::serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), seed).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut env = env.to_vec();
    env.push(("REPBOOK_PLUGIN_ALLOW_LOOPBACK", "true"));
    let server = Server::start_with_env(dir.path(), &env).await;
    install_halo_bp(&server).await;
    Setup { sim, server, dir }
}
