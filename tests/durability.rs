//! An acknowledged write survives SIGKILL: 512 bookings from 16 concurrent clients, the server killed
//! right after the last 2xx, then every acknowledged booking and its outbox entry is found again.

mod support;

use std::collections::HashSet;
use std::sync::Arc;

use repbook::domain::PmsSyncState;
use repbook::store::{OutboxOp, Store};
use support::{Server, local_date_in};

const CLIENTS: usize = 16;
const PER_CLIENT: usize = 32;
const DOCTORS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_after_last_ack_loses_no_booking_or_outbox_entry() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let zone = "Australia/Sydney";
    let clinic = server.create_clinic("Harbour GP", zone, "NSW").await;
    let mut doctors = Vec::new();
    for n in 0..DOCTORS {
        doctors.push(
            server
                .add_doctor(&clinic, "Doc", &format!("Number{n}"), &format!("MED{:010}", n + 1))
                .await,
        );
    }
    let server = Arc::new(tokio::sync::Mutex::new(Some(server)));
    let base = server
        .lock()
        .await
        .as_ref()
        .map(|s| (s.base.clone(), s.token.clone()))
        .unwrap();

    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (base, token) = base.clone();
        let clinic = clinic.clone();
        let doctors = doctors.clone();
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut acknowledged = Vec::new();
            for n in 0..PER_CLIENT {
                let i = client * PER_CLIENT + n;
                let slot = i / DOCTORS;
                let day = local_date_in("Australia/Sydney", 20 + (slot / 30) as i64);
                let minutes = 8 * 60 + (slot % 30) * 15;
                let body = serde_json::json!({
                    "practitioner_id": doctors[i % DOCTORS],
                    "rep": {"name": format!("Rep {i}"), "company": "Acme", "email": "rep@acme.test"},
                    "start": format!("{day}T{:02}:{:02}", minutes / 60, minutes % 60),
                    "duration_minutes": 15,
                });
                let response = http
                    .post(format!("{base}/api/v1/clinics/{clinic}/appointments"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .expect("booking request");
                let status = response.status();
                let value: serde_json::Value = response.json().await.unwrap();
                assert_eq!(status, 201, "{value}");
                acknowledged.push(value["id"].as_str().unwrap().to_string());
            }
            acknowledged
        }));
    }
    let mut acknowledged = HashSet::new();
    for client in clients {
        acknowledged.extend(client.await.unwrap());
    }
    // The last 2xx has just arrived: kill at once.
    server.lock().await.as_mut().unwrap().kill();
    assert_eq!(acknowledged.len(), CLIENTS * PER_CLIENT);

    {
        let store = Store::open(dir.path()).expect("reopen after SIGKILL");
        let outboxed: HashSet<String> = store
            .outbox_entries()
            .unwrap()
            .into_iter()
            .filter(|(_, e)| e.op == OutboxOp::Create)
            .map(|(_, e)| e.appointment_id)
            .collect();
        let mut still_queued = 0;
        for id in &acknowledged {
            let appointment = store
                .appointment(id)
                .unwrap_or_else(|e| panic!("acknowledged booking {id} lost: {e}"));
            assert_eq!(appointment.version, 1);
            // The entry is either still queued, or the sync worker consumed it, which it does only in the
            // transaction that records the outcome (here: this clinic has no PMS, so not applicable).
            if outboxed.contains(id) {
                still_queued += 1;
            } else {
                assert_eq!(
                    appointment.pms.state,
                    PmsSyncState::NotApplicable,
                    "outbox entry for {id} lost without an outcome"
                );
                assert!(
                    appointment.pms.updated_at.is_some(),
                    "outbox entry for {id} lost without an outcome"
                );
            }
        }
        println!(
            "{} acknowledged bookings found; {still_queued} outbox entries still queued, the rest consumed with an outcome",
            acknowledged.len()
        );
    }

    let restarted = Server::start(dir.path()).await;
    let (_, list) = restarted.get(&format!("/api/v1/clinics/{clinic}/appointments")).await;
    let listed: HashSet<String> = list["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, acknowledged);
}
