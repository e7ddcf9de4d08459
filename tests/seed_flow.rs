//! The seed's whole flow through the real binary, the real halo-bp component and the Halo + Bp simulator:
//! validate (invalid Site ID, pairing, locations), location and duration, staff sync by AHPRA, sync,
//! resend, move and cancel, time zones landing on the right Bp day, fault classes, hostile rep names.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, local_date_in, next_transitions};

const SITE: &str = "12345";

struct Flow {
    server: Server,
    sim: halo_sim::SimServer,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Flow {
    async fn start() -> Flow {
        let support::pms::Setup { sim, server, dir } = support::pms::start(halo_sim::Seed::demo(), &[]).await;
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
            "pairing_code": "ABC123", "settings": {"base_url": self.sim.url(), "subscription_key": "demo-subscription-key"}}))
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

    /// A validated clinic at location 1 with Dr Ng and Dr Okafor synced.
    async fn ready_clinic(&self, zone: &str, state: &str) -> (String, String, String) {
        let clinic = self.clinic(zone, state).await;
        assert_eq!(self.validate(&clinic).await.0, 200);
        assert_eq!(self.set_pms(&clinic, json!({"location_id": 1})).await.0, 200);
        let ana = self.server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
        let ben = self.server.add_doctor(&clinic, "Ben", "Okafor", "MED0007654321").await;
        let (status, body) = self
            .server
            .post(&format!("/api/v1/clinics/{clinic}/staff/sync"), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        (clinic, ana, ben)
    }

    async fn bp(&self) -> Vec<Value> {
        let body: Value = self
            .http
            .get(format!("{}/_sim/sites/{SITE}/appointments", self.sim.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["appointments"].as_array().unwrap().clone()
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

    async fn faults(&self, faults: Value) {
        let status = self
            .http
            .put(format!("{}/_sim/sites/{SITE}/faults", self.sim.url()))
            .json(&faults)
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success());
    }

    async fn wait_state(&self, appointment: &str, wanted: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, body) = self.server.get(&format!("/api/v1/appointments/{appointment}")).await;
            if body["pms"]["state"] == wanted {
                return body;
            }
            assert!(Instant::now() < deadline, "appointment never reached {wanted}: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_flow_from_site_id_to_appointments_in_bp() {
    let flow = Flow::start().await;
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

    // Sync Staff: exact AHPRA matches; a mistyped one names its near match.
    let ana = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
    let ben = server.add_doctor(&clinic, "Ben", "Okafor", "MED0007654321").await;
    let chloe = server.add_doctor(&clinic, "Chloe", "Singh", "MED0005550010").await;
    let (status, body) = server
        .post(&format!("/api/v1/clinics/{clinic}/staff/sync"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["summary"],
        json!({"synced": 2, "not_in_pms": 0, "ahpra_mismatch": 1})
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

    // Resend: still exactly one.
    let (status, body) = server
        .post(&format!("/api/v1/appointments/{first_id}/resend"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["delivered"]["outcome"]["action"], "unchanged");
    assert_eq!(flow.bp_for(first_id).await.len(), 1);

    // Move and cancel follow, on the same Bp record.
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
    let (status, _) = server
        .post(&format!("/api/v1/appointments/{first_id}/cancel"), json!({}))
        .await;
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while flow.bp_for(first_id).await[0]["record_status"] != 0 {
        assert!(Instant::now() < deadline, "cancel never reached Bp");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Mapping the mismatched doctor by hand, then Resend, un-parks the appointment.
    let (status, body) = server
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/clinics/{clinic}/staff/{chloe}/pms"),
            Some(json!({"user_id": 2000000571})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let unmatched_id = unmatched["id"].as_str().unwrap();
    let (status, body) = server
        .post(&format!("/api/v1/appointments/{unmatched_id}/resend"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["appointment"]["pms"]["state"], "synced");
    assert_eq!(flow.bp_for(unmatched_id).await[0]["user_id"], 2000000571);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_flow_time_zones_land_on_the_clinic_local_day_in_bp() {
    let flow = Flow::start().await;
    let mut expected = Vec::new();
    // Sydney across both DST changes: 03:30 on the day clocks spring forward, the second 02:30 on the day
    // they fall back. Bp stores wall-clock values, so both land as written.
    let (sydney, ana, _) = flow.ready_clinic("Australia/Sydney", "NSW").await;
    for (date, before, after) in next_transitions("Australia/Sydney") {
        let (start, seconds) = if after > before {
            (format!("{date}T03:30"), 12_600)
        } else {
            (format!("{date}T02:30+10:00"), 9_000)
        };
        let (status, body) = flow.server.book(&sydney, &ana, &start, 15).await;
        assert_eq!(status, 201, "{body}");
        expected.push((body["id"].as_str().unwrap().to_string(), date, seconds));
    }
    // Early-morning bookings: in UTC they fall on the previous day; Bp must get the clinic-local day.
    for (zone, state, hour) in [
        ("Australia/Adelaide", "SA", 8),
        ("Australia/Perth", "WA", 7),
        ("Australia/Brisbane", "QLD", 6),
    ] {
        let (clinic, _, ben) = flow.ready_clinic(zone, state).await;
        let date = local_date_in(zone, 20 + hour as i64);
        let (status, body) = flow.server.book(&clinic, &ben, &format!("{date}T0{hour}:45"), 15).await;
        assert_eq!(status, 201, "{body}");
        expected.push((body["id"].as_str().unwrap().to_string(), date, hour * 3600 + 45 * 60));
        let (status, _) = flow
            .server
            .post(&format!("/api/v1/clinics/{clinic}/sync"), json!({}))
            .await;
        assert_eq!(status, 202);
    }
    let (status, _) = flow
        .server
        .post(&format!("/api/v1/clinics/{sydney}/sync"), json!({}))
        .await;
    assert_eq!(status, 202);
    for (id, date, seconds) in expected {
        flow.wait_state(&id, "synced").await;
        let in_bp = flow.bp_for(&id).await;
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
    let flow = Flow::start().await;
    let (clinic, ana, _) = flow.ready_clinic("Australia/Sydney", "NSW").await;
    let locations = format!("/api/v1/clinics/{clinic}/pms/locations");
    for (faults, code) in [
        (json!({"offline": true}), "site_offline"),
        (json!({"unreachable": true}), "unknown_outcome"),
        (json!({"rate_limit_next": 1, "retry_after_seconds": 3}), "rate_limited"),
        (json!({"error_500_next": 1}), "transient"),
    ] {
        flow.faults(faults.clone()).await;
        let (status, body) = flow.server.get(&locations).await;
        assert_eq!(
            (status, body["error"]["code"].as_str().unwrap_or("")),
            (503, code),
            "{faults}: {body}"
        );
        flow.faults(json!({})).await;
    }
    // A rate limit says when to come back.
    flow.faults(json!({"rate_limit_next": 1, "retry_after_seconds": 3}))
        .await;
    let (_, body) = flow.server.get(&locations).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("3000 ms"), "{body}");
    flow.faults(json!({})).await;

    // GUID changed: 403 on the old one; the connector re-resolves by Site ID and carries on.
    flow.http
        .post(format!("{}/_sim/sites/{SITE}/change-guid", flow.sim.url()))
        .send()
        .await
        .unwrap();
    let (status, body) = flow.server.get(&locations).await;
    assert_eq!(status, 200, "{body}");
    let (_, clinic_view) = flow.server.get(&format!("/api/v1/clinics/{clinic}")).await;
    assert_eq!(clinic_view["pms"]["validated"], true);

    // A wrong subscription key: auth. A wrong AHPRA column: SQL Server's message passes through.
    flow.set_pms(&clinic, json!({"settings": {"subscription_key": "not-the-key"}}))
        .await;
    let (status, body) = flow.server.get(&locations).await;
    assert_eq!(
        (status, body["error"]["code"].as_str().unwrap()),
        (422, "auth"),
        "{body}"
    );
    flow.set_pms(
        &clinic,
        json!({"settings": {"subscription_key": "demo-subscription-key", "ahpra_column": "AHPRA_NO"}}),
    )
    .await;
    let (status, body) = flow
        .server
        .post(&format!("/api/v1/clinics/{clinic}/staff/sync"), json!({}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str().unwrap()),
        (422, "rejected"),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid column name 'AHPRA_NO'"),
        "{body}"
    );
    flow.set_pms(&clinic, json!({"settings": {"ahpra_column": ""}})).await;

    // 504 after the write took effect: the outcome is unknown, and the retry finds it instead of
    // booking a second one.
    flow.faults(json!({"timeout_after_write_next": 1})).await;
    let day = local_date_in("Australia/Sydney", 30);
    let (_, booked) = flow.server.book(&clinic, &ana, &format!("{day}T10:00"), 15).await;
    let id = booked["id"].as_str().unwrap();
    flow.wait_state(id, "synced").await;
    assert_eq!(
        flow.bp_for(id).await.len(),
        1,
        "a write that happened must not be repeated"
    );

    // Slot taken in Bp: parked as a conflict naming the time.
    let taken = json!({"user_id": 2000000564, "date": day, "time": 11 * 3600, "length": 900, "appointment_type": 1, "location_id": 1, "reason": "Patient"});
    flow.http
        .post(format!("{}/_sim/sites/{SITE}/appointments", flow.sim.url()))
        .json(&taken)
        .send()
        .await
        .unwrap();
    let (_, clash) = flow.server.book(&clinic, &ana, &format!("{day}T11:00"), 15).await;
    let parked = flow.wait_state(clash["id"].as_str().unwrap(), "needs_attention").await;
    let reason = parked["pms"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("conflict") && reason.contains(&format!("{day} at 11:00")),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_flow_hostile_rep_name_is_stored_and_shown_verbatim_in_bp() {
    let flow = Flow::start().await;
    let (clinic, ana, _) = flow.ready_clinic("Australia/Sydney", "NSW").await;
    let name = "O'Brien'); DROP TABLE Appointments;--";
    let day = local_date_in("Australia/Sydney", 12);
    let (status, booked) = flow
        .server
        .post(
            &format!("/api/v1/clinics/{clinic}/appointments"),
            json!({"practitioner_id": ana, "rep": {"name": name, "company": "Acme Pharma", "email": "ob@acme.test"}, "start": format!("{day}T13:00")}),
        )
        .await;
    assert_eq!(status, 201, "{booked}");
    assert_eq!(booked["rep"]["name"], name);
    let id = booked["id"].as_str().unwrap();
    flow.wait_state(id, "synced").await;
    let in_bp = flow.bp_for(id).await;
    assert_eq!(
        in_bp[0]["reason"],
        format!("[REP] {name} (Acme Pharma) - repbook ref {id}")
    );
    assert_eq!(flow.bp().await.len(), 1, "Bp's appointments are all still there");
}
