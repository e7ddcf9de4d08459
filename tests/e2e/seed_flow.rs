//! The seed's whole flow through the real binary, the real halo-bp component and the Halo + Bp simulator,
//! on sites that, like a real integrator login, may run Bp's procedures but not read its tables:
//! validate (invalid Site ID, pairing, locations), location and duration, staff sync (AHPRA where Bp
//! discloses it, mapping by hand where it does not), sync, resend, move and cancel, time zones landing on
//! the right Bp day, fault classes, hostile rep names. The simulator's command log shows what was sent.

use crate::support;

use std::time::{Duration, Instant};

use crate::support::pms::{adds_of, ready_clinic, seed, set_faults, sim_get, sim_log};
use crate::support::{Server, local_date_in, next_transitions};
use serde_json::{Value, json};

const SITE: &str = "12345";

struct Flow {
    server: Server,
    sim: halo_sim::SimServer,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// The demo practice; `read_tables` decides whether this integrator may SELECT from Bp's tables.
fn demo_seed(read_tables: bool) -> halo_sim::Seed {
    let mut seed = halo_sim::Seed::demo();
    for site in &mut seed.sites {
        site.select_permission = read_tables;
    }
    seed
}

impl Flow {
    async fn start(seed: halo_sim::Seed) -> Flow {
        let support::pms::Setup { sim, server, dir } = support::pms::start(seed, &[]).await;
        Flow {
            server,
            sim,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    async fn clinic(&self, zone: &str, state: &str) -> String {
        let clinic = self.server.create_clinic("Harbour GP", zone, state).await;
        self.set_pms(&clinic, json!({"connector": "halo-bp", "send_via": "halo-link", "enabled": true, "site_id": SITE,
            "pairing_code": "ABC123", "settings": {"base_url": self.sim.url(), "subscription_key": "demo-subscription-key",
            "rep_visit_type_code": "126"}}))
            .await;
        clinic
    }

    async fn set_pms(&self, clinic: &str, body: Value) -> (u16, Value) {
        self.server
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/clinics/{clinic}/pms"),
                Some(body),
            )
            .await
    }

    async fn validate(&self, clinic: &str) -> (u16, Value) {
        self.server
            .post(&format!("/api/v1/clinics/{clinic}/pms/validate"), json!({}))
            .await
    }

    async fn map(&self, clinic: &str, staff: &str, user: i64) {
        let (status, body) = self
            .server
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/clinics/{clinic}/staff/{staff}/pms"),
                Some(json!({ "user_id": user })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    async fn bp(&self) -> Vec<Value> {
        sim_get(&self.sim.url(), &format!("/_sim/sites/{SITE}/appointments")).await["appointments"]
            .as_array()
            .unwrap()
            .clone()
    }

    async fn bp_for(&self, reference: &str) -> Vec<Value> {
        self.bp()
            .await
            .into_iter()
            .filter(|a| {
                a["reason"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("repbook ref {reference}"))
            })
            .collect()
    }

    async fn clear_log(&self) {
        self.http
            .delete(format!("{}/_sim/sites/{SITE}/log", self.sim.url()))
            .send()
            .await
            .unwrap();
    }

    async fn wait_state(&self, appointment: &str, wanted: &str) -> Value {
        wait_state(&self.server, appointment, wanted).await
    }
}

async fn wait_state(server: &Server, appointment: &str, wanted: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = server.get(&format!("/api/v1/appointments/{appointment}")).await;
        if body["pms"]["state"] == wanted {
            return body;
        }
        assert!(Instant::now() < deadline, "appointment never reached {wanted}: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Commands that mention `reference` in a parameter.
fn commands_for<'a>(log: &'a [Value], reference: &str) -> Vec<&'a Value> {
    log.iter()
        .filter(|c| c["parameters"].to_string().contains(reference) || c["text"].as_str().unwrap().contains(reference))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_flow_from_site_id_to_appointments_in_bp() {
    let flow = Flow::start(demo_seed(false)).await;
    let server = &flow.server;
    let clinic = flow.clinic("Australia/Sydney", "NSW").await;

    // Locations are offered only once the Site ID is valid.
    let (status, body) = server.get(&format!("/api/v1/clinics/{clinic}/pms/locations")).await;
    assert_eq!(status, 409, "{body}");

    // An unknown Site ID: the troubleshooting answer.
    flow.set_pms(&clinic, json!({"site_id": "99999"})).await;
    let (status, body) = flow.validate(&clinic).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "site_not_found");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Halo Link is not installed") && message.contains("Validate again"),
        "{message}"
    );

    // The right Site ID with a wrong pairing code, then the right one.
    flow.set_pms(&clinic, json!({"site_id": SITE, "pairing_code": "WRONG1"}))
        .await;
    let (status, body) = flow.validate(&clinic).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "not_paired");
    flow.set_pms(&clinic, json!({"pairing_code": "ABC123"})).await;
    let (status, body) = flow.validate(&clinic).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["valid"], true);
    assert_eq!(body["site"]["practice_name"], "Harbour Medical Centre");
    assert_eq!(body["locations"].as_array().unwrap().len(), 2);

    // Pick the location (checked against Bp's list) and the duration.
    let (status, body) = flow.set_pms(&clinic, json!({"location_id": 7})).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = flow.set_pms(&clinic, json!({"location_id": 1})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["pms"]["location_name"], "Harbour Medical Centre");
    assert!(!body.to_string().contains("demo-subscription-key"));
    let (status, _) = server
        .patch(
            &format!("/api/v1/clinics/{clinic}"),
            json!({"appointment_duration_minutes": 20}),
        )
        .await;
    assert_eq!(status, 200);

    // Sync Staff: this Bp does not disclose AHPRA numbers, so each doctor is named with the Bp user of the
    // same name, to be mapped by hand.
    let ana = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
    let ben = server.add_doctor(&clinic, "Ben", "Okafor", "MED0007654321").await;
    let chloe = server.add_doctor(&clinic, "Chloe", "Singh", "MED0005550010").await;
    let (status, body) = server
        .post(&format!("/api/v1/clinics/{clinic}/staff/sync"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["needs_mapping"], 3, "{body}");
    let ana_link = &body["staff"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == ana.as_str())
        .unwrap()["pms"];
    assert!(
        ana_link["reason"].as_str().unwrap().contains("Bp user 2000000564"),
        "{ana_link}"
    );
    flow.map(&clinic, &ana, 2000000564).await;
    flow.map(&clinic, &ben, 2000000570).await;

    // Book, then Sync Appointments: Bp holds each at the clinic-local date, seconds and length, with the
    // Internet type (code 126 in this database) and the reference tag.
    let day = local_date_in("Australia/Sydney", 14);
    let (_, first) = server.book(&clinic, &ana, &format!("{day}T09:30"), 20).await;
    let (_, second) = server.book(&clinic, &ben, &format!("{day}T14:00"), 15).await;
    let (_, unmatched) = server.book(&clinic, &chloe, &format!("{day}T11:00"), 15).await;
    let (status, body) = server.post(&format!("/api/v1/clinics/{clinic}/sync"), json!({})).await;
    assert_eq!(status, 202, "{body}");
    let first_id = first["id"].as_str().unwrap();
    let synced = flow.wait_state(first_id, "synced").await;
    flow.wait_state(second["id"].as_str().unwrap(), "synced").await;
    let parked = flow
        .wait_state(unmatched["id"].as_str().unwrap(), "needs_attention")
        .await;
    assert!(
        parked["pms"]["reason"].as_str().unwrap().contains("Sync Staff"),
        "{parked}"
    );

    let in_bp = flow.bp_for(first_id).await;
    assert_eq!(in_bp.len(), 1);
    let record = &in_bp[0];
    assert_eq!(record["date"], day.as_str());
    assert_eq!(record["time"], 9 * 3600 + 30 * 60);
    assert_eq!(record["length"], 20 * 60);
    assert_eq!(record["appointment_type"], 126);
    assert_eq!(record["location_id"], 1);
    assert_eq!(record["user_id"], 2000000564);
    assert_eq!(
        record["reason"],
        format!("[REP] Jane Citizen (Acme Pharma) - repbook ref {first_id}")
    );
    assert_eq!(synced["pms"]["pms_id"], record["record_id"].to_string());

    // What travelled: the rep's name only as a parameter value, never in SQL text; no raw-table read; and
    // "Sync Appointments" added each appointment exactly once.
    let log = sim_log(&flow.sim.url(), SITE).await;
    assert!(
        log.iter().all(|c| !c["text"].as_str().unwrap().contains("Jane")),
        "user text in SQL text"
    );
    assert!(log.iter().any(|c| c["parameters"].to_string().contains("Jane Citizen")));
    assert!(log.iter().all(|c| c["outcome"] != "229"), "a table read was attempted");
    assert_eq!(adds_of(&log, first_id), 1);

    // Resend looks before it writes, and finds the record: still exactly one.
    let (status, body) = server
        .post(&format!("/api/v1/appointments/{first_id}/resend"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["delivered"]["outcome"]["action"], "unchanged", "{body}");
    assert_eq!(flow.bp_for(first_id).await.len(), 1);
    assert_eq!(
        adds_of(&sim_log(&flow.sim.url(), SITE).await, first_id),
        1,
        "a resend added again"
    );

    // Move and cancel follow on the same Bp record, each in one Halo request (the RecordID is known).
    flow.clear_log().await;
    let (status, _) = server
        .patch(
            &format!("/api/v1/appointments/{first_id}"),
            json!({"start": format!("{day}T16:15")}),
        )
        .await;
    assert_eq!(status, 200);
    flow.wait_state(first_id, "synced").await;
    let moved = flow.bp_for(first_id).await;
    assert_eq!(
        (moved.len(), &moved[0]["time"], &moved[0]["record_id"]),
        (1, &json!(16 * 3600 + 15 * 60), &record["record_id"])
    );
    let log = sim_log(&flow.sim.url(), SITE).await;
    assert_eq!(commands_for(&log, &record["record_id"].to_string()).len(), 1, "{log:?}");
    flow.clear_log().await;
    let (status, _) = server
        .post(&format!("/api/v1/appointments/{first_id}/cancel"), json!({}))
        .await;
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while flow.bp_for(first_id).await[0]["record_status"] != 0 {
        assert!(Instant::now() < deadline, "cancel never reached Bp");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = sim_log(&flow.sim.url(), SITE).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["text"], "BPSPATIENTS.dbo.BP_CancelAppointment");

    // Mapping the unmatched doctor by hand, then Resend, un-parks the appointment.
    flow.map(&clinic, &chloe, 2000000571).await;
    let unmatched_id = unmatched["id"].as_str().unwrap();
    let (status, body) = server
        .post(&format!("/api/v1/appointments/{unmatched_id}/resend"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["appointment"]["pms"]["state"], "synced");
    assert_eq!(flow.bp_for(unmatched_id).await[0]["user_id"], 2000000571);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_flow_staff_sync_matches_ahpra_exactly_where_bp_discloses_it() {
    let flow = Flow::start(demo_seed(true)).await;
    let clinic = flow.clinic("Australia/Sydney", "NSW").await;
    assert_eq!(flow.validate(&clinic).await.0, 200);
    flow.set_pms(&clinic, json!({"settings": {"ahpra_column": "REGISTRATIONNO"}}))
        .await;
    let _ana = flow.server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
    let _ben = flow.server.add_doctor(&clinic, "Ben", "Okafor", "MED0007654321").await;
    let chloe = flow.server.add_doctor(&clinic, "Chloe", "Singh", "MED0005550010").await;
    let sync_path = format!("/api/v1/clinics/{clinic}/staff/sync");
    let sync = || flow.server.post(&sync_path, json!({}));
    let (status, body) = sync().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["summary"],
        json!({"synced": 2, "not_in_pms": 0, "ahpra_mismatch": 1, "needs_mapping": 0})
    );
    let chloe_link = body["staff"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == chloe.as_str())
        .unwrap()["pms"]
        .clone();
    assert_eq!(chloe_link["state"], "ahpra_mismatch");
    assert!(
        chloe_link["reason"].as_str().unwrap().contains("MED0005550001"),
        "{chloe_link}"
    );

    // A column Bp does not have (SQL Server error 207): nobody is matched by AHPRA any more, and each
    // doctor says why and whom to map.
    flow.set_pms(&clinic, json!({"settings": {"ahpra_column": "AHPRA_NO"}}))
        .await;
    let (status, body) = sync().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["needs_mapping"], 3, "{body}");
    let log = sim_log(&flow.sim.url(), SITE).await;
    assert_eq!(log.last().unwrap()["outcome"], "207", "{:?}", log.last());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_flow_time_zones_land_on_the_clinic_local_day_in_bp() {
    let setup = support::pms::start(seed(1), &[]).await;
    let (sim, server) = (&setup.sim, &setup.server);
    let mut expected = Vec::new();
    // Sydney across both DST changes: 03:30 on the day clocks spring forward, the second 02:30 on the day
    // they fall back. Bp stores wall-clock values, so both land as written.
    let sydney = ready_clinic(server, &sim.url(), "20001", "Australia/Sydney", "NSW").await;
    for (date, before, after) in next_transitions("Australia/Sydney") {
        let (start, seconds) = if after > before {
            (format!("{date}T03:30"), 12_600)
        } else {
            (format!("{date}T02:30+10:00"), 9_000)
        };
        let (status, body) = server.book(&sydney.id, &sydney.doctors[0].0, &start, 15).await;
        assert_eq!(status, 201, "{body}");
        expected.push((body["id"].as_str().unwrap().to_string(), date, seconds));
    }
    // Early-morning bookings: in UTC they fall on the previous day; Bp must get the clinic-local day.
    for (zone, state, hour) in [
        ("Australia/Adelaide", "SA", 8),
        ("Australia/Perth", "WA", 7),
        ("Australia/Brisbane", "QLD", 6),
    ] {
        let clinic = ready_clinic(server, &sim.url(), "20001", zone, state).await;
        let date = local_date_in(zone, 20 + hour as i64);
        let (status, body) = server
            .book(&clinic.id, &clinic.doctors[1].0, &format!("{date}T0{hour}:45"), 15)
            .await;
        assert_eq!(status, 201, "{body}");
        expected.push((body["id"].as_str().unwrap().to_string(), date, hour * 3600 + 45 * 60));
    }
    for (id, date, seconds) in expected {
        wait_state(server, &id, "synced").await;
        let bp = sim_get(&sim.url(), "/_sim/sites/20001/appointments").await["appointments"]
            .as_array()
            .unwrap()
            .clone();
        let in_bp: Vec<&Value> = bp
            .iter()
            .filter(|a| a["reason"].as_str().unwrap().ends_with(&id))
            .collect();
        assert_eq!(in_bp.len(), 1);
        assert_eq!(
            (in_bp[0]["date"].as_str().unwrap(), in_bp[0]["time"].as_i64().unwrap()),
            (date.as_str(), seconds as i64),
            "{id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_flow_fault_classes_map_to_connector_errors_and_guid_change_heals() {
    let setup = support::pms::start(seed(1), &[]).await;
    let (sim, server) = (&setup.sim, &setup.server);
    let clinic = ready_clinic(server, &sim.url(), "20001", "Australia/Sydney", "NSW").await;
    let site = "20001";
    let locations = format!("/api/v1/clinics/{}/pms/locations", clinic.id);
    for (faults, status_code, code) in [
        (json!({"offline": true}), 503, "site_offline"),
        (json!({"unreachable": true}), 503, "site_offline"),
        (
            json!({"rate_limit_next": 1, "retry_after_seconds": 3}),
            503,
            "rate_limited",
        ),
        (json!({"error_500_next": 1}), 503, "transient"),
        (json!({"ip_not_allowed": true}), 422, "auth"),
        (json!({"quota_exceeded": true}), 503, "rate_limited"),
    ] {
        set_faults(&sim.url(), site, faults.clone()).await;
        let (status, body) = server.get(&locations).await;
        assert_eq!(
            (status, body["error"]["code"].as_str().unwrap_or("")),
            (status_code, code),
            "{faults}: {body}"
        );
        set_faults(&sim.url(), site, json!({})).await;
    }
    // A rate limit says when to come back; the IP refusal says what to ask Halo.
    set_faults(
        &sim.url(),
        site,
        json!({"rate_limit_next": 1, "retry_after_seconds": 3}),
    )
    .await;
    let (_, body) = server.get(&locations).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("3000 ms"), "{body}");
    set_faults(&sim.url(), site, json!({"ip_not_allowed": true})).await;
    let (_, body) = server.get(&locations).await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("allowlist"),
        "{body}"
    );
    set_faults(&sim.url(), site, json!({})).await;

    // Forbidden on the same GUID: not paired any more, or no longer the authoritative site.
    let http = reqwest::Client::new();
    let change_site = |change: Value| {
        http.patch(format!("{}/_sim/sites/{site}/site", sim.url()))
            .json(&change)
            .send()
    };
    change_site(json!({"paired": false})).await.unwrap();
    let (status, body) = server.get(&locations).await;
    assert_eq!(
        (status, body["error"]["code"].as_str().unwrap()),
        (422, "not_paired"),
        "{body}"
    );
    change_site(json!({"paired": true, "authoritative": false}))
        .await
        .unwrap();
    let (status, body) = server.get(&locations).await;
    assert_eq!(
        (status, body["error"]["code"].as_str().unwrap()),
        (422, "not_authoritative"),
        "{body}"
    );
    change_site(json!({"authoritative": true})).await.unwrap();

    // GUID changed: 403 on the old one; the connector re-resolves by Site ID and carries on.
    http.post(format!("{}/_sim/sites/{site}/change-guid", sim.url()))
        .send()
        .await
        .unwrap();
    let (status, body) = server.get(&locations).await;
    assert_eq!(status, 200, "{body}");

    // A wrong subscription key: auth.
    let pms_path = format!("/api/v1/clinics/{}/pms", clinic.id);
    let set_pms = |body: Value| server.call(reqwest::Method::PUT, &pms_path, Some(body));
    set_pms(json!({"settings": {"subscription_key": "not-the-key"}})).await;
    let (status, body) = server.get(&locations).await;
    assert_eq!(
        (status, body["error"]["code"].as_str().unwrap()),
        (422, "auth"),
        "{body}"
    );
    set_pms(json!({"settings": {"subscription_key": "test-key"}})).await;

    // 504 after the write took effect: the outcome is unknown, and the retry finds it instead of booking
    // a second one; the RecordID repbook keeps is Bp's.
    let (ana, ben) = (&clinic.doctors[0].0, &clinic.doctors[1].0);
    set_faults(&sim.url(), site, json!({"timeout_after_write_next": 1})).await;
    let day = local_date_in("Australia/Sydney", 30);
    let (_, booked) = server.book(&clinic.id, ana, &format!("{day}T10:00"), 15).await;
    let id = booked["id"].as_str().unwrap();
    let synced = wait_state(server, id, "synced").await;
    let bp = sim_get(&sim.url(), &format!("/_sim/sites/{site}/appointments")).await["appointments"]
        .as_array()
        .unwrap()
        .clone();
    let records: Vec<&Value> = bp
        .iter()
        .filter(|a| a["reason"].as_str().unwrap().ends_with(id))
        .collect();
    assert_eq!(records.len(), 1, "a write that happened must not be repeated");
    assert_eq!(synced["pms"]["pms_id"], records[0]["record_id"].to_string());
    assert_eq!(adds_of(&sim_log(&sim.url(), site).await, id), 1, "the add was repeated");

    // 504 before anything ran (site unreachable): not delivered until the site answers, then delivered.
    set_faults(&sim.url(), site, json!({"unreachable": true})).await;
    let (_, waiting) = server.book(&clinic.id, ben, &format!("{day}T10:00"), 15).await;
    let waiting_id = waiting["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, pending) = server.get(&format!("/api/v1/appointments/{waiting_id}")).await;
    assert_eq!(pending["pms"]["state"], "pending", "{pending}");
    set_faults(&sim.url(), site, json!({})).await;
    let synced = wait_state(server, waiting_id, "synced").await;
    assert!(synced["pms"]["pms_id"].is_string(), "{synced}");

    // Retry-After is honoured: the retry comes no sooner than the site asked.
    set_faults(
        &sim.url(),
        site,
        json!({"rate_limit_next": 1, "retry_after_seconds": 3}),
    )
    .await;
    let started = Instant::now();
    let (_, limited) = server.book(&clinic.id, ana, &format!("{day}T12:00"), 15).await;
    wait_state(server, limited["id"].as_str().unwrap(), "synced").await;
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "retried {:?} after a 429 with Retry-After: 3",
        started.elapsed()
    );

    // Slot taken in Bp: parked as a conflict naming the time.
    let taken = json!({"user_id": 2000000564, "patient_id": 1, "date": day, "time": 11 * 3600, "length": 900, "appointment_type": 1, "location_id": 1, "reason": "Patient"});
    http.post(format!("{}/_sim/sites/{site}/appointments", sim.url()))
        .json(&taken)
        .send()
        .await
        .unwrap();
    let (_, clash) = server.book(&clinic.id, ana, &format!("{day}T11:00"), 15).await;
    let parked = wait_state(server, clash["id"].as_str().unwrap(), "needs_attention").await;
    let reason = parked["pms"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("conflict") && reason.contains(&format!("{day} at 11:00")),
        "{reason}"
    );

    // No rep-visit type code: parked with the setting to fix, not an SQL error.
    set_pms(json!({"settings": {"rep_visit_type_code": ""}})).await;
    let (_, untyped) = server.book(&clinic.id, ben, &format!("{day}T15:00"), 15).await;
    let parked = wait_state(server, untyped["id"].as_str().unwrap(), "needs_attention").await;
    assert!(
        parked["pms"]["reason"]
            .as_str()
            .unwrap()
            .contains("rep_visit_type_code"),
        "{parked}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_flow_hostile_rep_name_is_stored_and_shown_verbatim_in_bp() {
    let setup = support::pms::start(seed(1), &[]).await;
    let (sim, server) = (&setup.sim, &setup.server);
    let clinic = ready_clinic(server, &sim.url(), "20001", "Australia/Sydney", "NSW").await;
    let day = local_date_in("Australia/Sydney", 12);
    // The practice's own appointments, which an injection would hit.
    let http = reqwest::Client::new();
    for hour in [9, 10] {
        http.post(format!("{}/_sim/sites/20001/appointments", sim.url()))
            .json(
                &json!({"user_id": 2000000570, "patient_id": 7, "date": day, "time": hour * 3600, "length": 900,
                          "appointment_type": 1, "location_id": 1, "reason": "Patient review"}),
            )
            .send()
            .await
            .unwrap();
    }
    let before = sim_get(&sim.url(), "/_sim/sites/20001/appointments").await["appointments"].clone();
    let name = "O'Brien'); DROP TABLE Appointments;--";
    let (status, booked) = server
        .post(
            &format!("/api/v1/clinics/{}/appointments", clinic.id),
            json!({"practitioner_id": clinic.doctors[0].0, "rep": {"name": name, "company": "Acme Pharma", "email": "ob@acme.test"}, "start": format!("{day}T13:00")}),
        )
        .await;
    assert_eq!(status, 201, "{booked}");
    assert_eq!(booked["rep"]["name"], name);
    let id = booked["id"].as_str().unwrap();
    wait_state(server, id, "synced").await;
    let after = sim_get(&sim.url(), "/_sim/sites/20001/appointments").await["appointments"]
        .as_array()
        .unwrap()
        .clone();
    let ours: Vec<&Value> = after
        .iter()
        .filter(|a| a["reason"].as_str().unwrap().ends_with(id))
        .collect();
    assert_eq!(
        ours[0]["reason"],
        format!("[REP] {name} (Acme Pharma) - repbook ref {id}")
    );
    for record in before.as_array().unwrap() {
        assert!(after.contains(record), "the practice's appointment {record} changed");
    }
    let log = sim_log(&sim.url(), "20001").await;
    assert!(log.iter().all(|c| !c["text"].as_str().unwrap().contains("O'Brien")));
    assert!(log.iter().any(|c| c["parameters"].to_string().contains("DROP TABLE")));
}
