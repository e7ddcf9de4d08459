//! An acknowledged write survives SIGKILL: 512 bookings from 16 concurrent clients, then a move or a cancel
//! of each from the same clients, the server killed right after the last 2xx; every acknowledged change
//! and its outbox entry is found again. The store's background flush is off here, so nothing but the
//! durability wait before each 2xx can have saved them: remove that wait and this test loses writes.

use std::collections::HashMap;
use std::sync::Arc;

use crate::support::{Server, local_date_in};
use repbook::domain::{AppointmentStatus, PmsSyncState};
use repbook::store::Store;
use serde_json::{Value, json};

const CLIENTS: usize = 16;
const PER_CLIENT: usize = 32;
const DOCTORS: usize = 4;

/// What the last acknowledged write of an appointment said.
#[derive(Debug, Clone)]
struct Acked {
    version: u64,
    local_start: String,
    cancelled: bool,
}

fn acked(body: &Value) -> Acked {
    Acked {
        version: body["version"].as_u64().unwrap(),
        local_start: body["local_start"].as_str().unwrap().to_string(),
        cancelled: body["status"] == "cancelled",
    }
}

async fn send(http: &reqwest::Client, token: &str, request: reqwest::RequestBuilder) -> Value {
    let response = request.bearer_auth(token).send().await.expect("request");
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    let _ = http;
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_after_last_ack_loses_no_booking_move_cancel_or_outbox_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_env(dir.path(), &[("REPBOOK_STORE_FLUSH_EVERY_MS", "0")]).await;
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
    let (base, token) = (server.base.clone(), server.token.clone());

    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (base, token, clinic, doctors) = (base.clone(), token.clone(), clinic.clone(), doctors.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut acks: HashMap<String, Acked> = HashMap::new();
            let mut ids = Vec::new();
            for n in 0..PER_CLIENT {
                let i = client * PER_CLIENT + n;
                let slot = i / DOCTORS;
                let day = local_date_in("Australia/Sydney", 20 + (slot / 30) as i64);
                let minutes = 8 * 60 + (slot % 30) * 15;
                let body = json!({
                    "practitioner_id": doctors[i % DOCTORS],
                    "rep": {"name": format!("Rep {i}"), "company": "Acme", "email": "rep@acme.test"},
                    "start": format!("{day}T{:02}:{:02}", minutes / 60, minutes % 60),
                    "duration_minutes": 15,
                });
                let request = http
                    .post(format!("{base}/api/v1/clinics/{clinic}/appointments"))
                    .json(&body);
                let booked = send(&http, &token, request).await;
                let id = booked["id"].as_str().unwrap().to_string();
                acks.insert(id.clone(), acked(&booked));
                ids.push((id, day, minutes));
            }
            // Each appointment is moved a week on (same doctor, same time: never an overlap) or cancelled.
            for (n, (id, day, minutes)) in ids.into_iter().enumerate() {
                let request = if n % 3 == 0 {
                    http.post(format!("{base}/api/v1/appointments/{id}/cancel"))
                } else {
                    let later: jiff::civil::Date = day.parse().unwrap();
                    let later = later.checked_add(jiff::Span::new().days(70)).unwrap();
                    http.patch(format!("{base}/api/v1/appointments/{id}"))
                        .json(&json!({"start": format!("{later}T{:02}:{:02}", minutes / 60, minutes % 60)}))
                };
                let changed = send(&http, &token, request).await;
                acks.insert(id, acked(&changed));
            }
            acks
        }));
    }
    let mut acknowledged: HashMap<String, Acked> = HashMap::new();
    for client in clients {
        acknowledged.extend(client.await.unwrap());
    }
    // The last 2xx has just arrived: kill at once.
    server.kill();
    assert_eq!(acknowledged.len(), CLIENTS * PER_CLIENT);

    {
        let store = Arc::new(Store::open(dir.path()).expect("reopen after SIGKILL"));
        let mut queued: HashMap<String, u64> = HashMap::new();
        for (_, entry) in store.outbox_entries().unwrap() {
            let version = queued.entry(entry.appointment_id.clone()).or_default();
            *version = (*version).max(entry.version);
        }
        let clinic = store.clinic(&clinic).unwrap();
        let tz = clinic.tz();
        let mut still_queued = 0;
        for (id, ack) in &acknowledged {
            let appointment = store
                .appointment(id)
                .unwrap_or_else(|e| panic!("acknowledged appointment {id} lost: {e}"));
            assert_eq!(
                appointment.version, ack.version,
                "{id}: an acknowledged change was lost"
            );
            assert_eq!(
                appointment.status == AppointmentStatus::Cancelled,
                ack.cancelled,
                "{id}"
            );
            let local = repbook::domain::rfc3339_in(appointment.start, &tz);
            assert_eq!(&local[..16], ack.local_start, "{id}");
            // The change's outbox entry is still queued, or the sync worker consumed it, which it does only
            // in the transaction that records the outcome (here: no PMS, so "not applicable").
            if queued.get(id) == Some(&ack.version) {
                still_queued += 1;
            } else {
                let record = store.pms_record(id).unwrap();
                assert_eq!(
                    record.version, appointment.version,
                    "{id}: the outcome is about its last change"
                );
                assert_eq!(
                    record.status.state,
                    PmsSyncState::NotApplicable,
                    "outbox entry for {id} lost without an outcome"
                );
                assert!(
                    record.status.updated_at.is_some(),
                    "outbox entry for {id} lost without an outcome"
                );
            }
        }
        println!(
            "{} acknowledged appointments (booked, then moved or cancelled) found; {still_queued} changes still queued, the rest consumed with an outcome",
            acknowledged.len()
        );
    }

    let restarted = Server::start(dir.path()).await;
    let (_, list) = restarted
        .get(&format!("/api/v1/clinics/{clinic}/appointments?status=booked"))
        .await;
    let booked = acknowledged.values().filter(|a| !a.cancelled).count();
    assert_eq!(list["appointments"].as_array().unwrap().len(), booked);
}

async fn flushes(server: &Server) -> u64 {
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", server.base))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("repbook_store_flushes_total "))
        .unwrap()
        .parse()
        .unwrap()
}

/// The other half of the promise, checked write by write: no booking, move or cancel is acknowledged
/// before a flush that started after it. (The kill test above can be saved by sled writing its buffer out
/// when the next transaction starts; this one cannot.)
#[tokio::test]
async fn durability_every_acknowledged_change_waited_for_its_flush() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), &[("REPBOOK_STORE_FLUSH_EVERY_MS", "0")]).await;
    let clinic = server.create_clinic("Harbour GP", "Australia/Sydney", "NSW").await;
    let doctor = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
    let day = local_date_in("Australia/Sydney", 12);
    for n in 0..6 {
        let before = flushes(&server).await;
        let (status, booked) = server
            .book(&clinic, &doctor, &format!("{day}T{:02}:00", 8 + n), 15)
            .await;
        assert_eq!(status, 201, "{booked}");
        assert!(
            flushes(&server).await > before,
            "booking {n} was acknowledged without a flush"
        );
        let id = booked["id"].as_str().unwrap();
        let before = flushes(&server).await;
        let (status, moved) = server
            .patch(
                &format!("/api/v1/appointments/{id}"),
                json!({"start": format!("{day}T{:02}:30", 8 + n)}),
            )
            .await;
        assert_eq!(status, 200, "{moved}");
        assert!(
            flushes(&server).await > before,
            "move {n} was acknowledged without a flush"
        );
        let before = flushes(&server).await;
        let (status, cancelled) = server
            .post(&format!("/api/v1/appointments/{id}/cancel"), json!({}))
            .await;
        assert_eq!(status, 200, "{cancelled}");
        assert!(
            flushes(&server).await > before,
            "cancel {n} was acknowledged without a flush"
        );
    }
}

/// The same promise on the rep's side and the approval queue: a booking through a link, a swap and a
/// cancel through the manage link, and staff approving a request are each acknowledged only after a flush
/// that started after them.
#[tokio::test]
async fn durability_every_acknowledged_rep_change_waited_for_its_flush() {
    use crate::support::booking::{ROOMY_LIMITS, book, clinic, link, public_post, publish, rep, weekday};
    let dir = tempfile::tempdir().unwrap();
    let mut env = ROOMY_LIMITS.to_vec();
    env.push(("REPBOOK_STORE_FLUSH_EVERY_MS", "0"));
    let server = Server::start_with_env(dir.path(), &env).await;
    let c = clinic(&server, "Australia/Sydney", "NSW").await;
    let day = local_date_in("Australia/Sydney", 9);
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "09:00", "end": "11:00", "slot_minutes": 15, "practitioner_id": c.ana}),
    )
    .await;
    publish(
        &server,
        &c.id,
        json!({"weekday": weekday(&day), "start": "14:00", "end": "15:00", "slot_minutes": 15,
               "practitioner_id": c.ben, "approval_required": true}),
    )
    .await;
    let url = link(&server, &c.id, "All reps", &[]).await;
    for n in 0..4 {
        let before = flushes(&server).await;
        let (status, booked) = book(
            &server,
            &url,
            &format!("{day}T09:{:02}", n * 15),
            Some(&c.ana),
            rep("Rep", &format!("Company {n}"), &format!("rep{n}@x.test")),
        )
        .await;
        assert_eq!(status, 201, "{booked}");
        assert!(
            flushes(&server).await > before,
            "rep booking {n} was acknowledged without a flush"
        );
        let manage = booked["manage_url"].as_str().unwrap().to_string();

        let before = flushes(&server).await;
        let (status, swapped) = public_post(
            &server,
            &format!("{manage}/swap"),
            json!({"start": format!("{day}T10:{:02}", n * 15), "practitioner_id": c.ana}),
        )
        .await;
        assert_eq!(status, 200, "{swapped}");
        assert!(
            flushes(&server).await > before,
            "swap {n} was acknowledged without a flush"
        );

        let before = flushes(&server).await;
        let (status, cancelled) = public_post(&server, &format!("{manage}/cancel"), json!({})).await;
        assert_eq!(status, 200, "{cancelled}");
        assert!(
            flushes(&server).await > before,
            "rep cancel {n} was acknowledged without a flush"
        );

        let (status, requested) = book(
            &server,
            &url,
            &format!("{day}T14:{:02}", n * 15),
            Some(&c.ben),
            rep("Rep", &format!("Other {n}"), &format!("other{n}@x.test")),
        )
        .await;
        assert_eq!(status, 201, "{requested}");
        assert_eq!(requested["status"], "requested");
        let id = requested["appointment"]["reference"].as_str().unwrap();
        let before = flushes(&server).await;
        let (status, approved) = server
            .post(&format!("/api/v1/appointments/{id}/approve"), json!({}))
            .await;
        assert_eq!(status, 200, "{approved}");
        assert!(
            flushes(&server).await > before,
            "approval {n} was acknowledged without a flush"
        );
    }
}
