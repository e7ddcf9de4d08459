//! The CalDAV connector against a real CalDAV server (Radicale, started by each test), read back by an
//! independent client (Python's caldav): validation errors, one event per appointment at the right instant
//! in three zones, moves and cancels, an outage in the middle of a sync, and switching a clinic between
//! halo-bp and caldav with the server running.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::support::pms::{self, adds_of, assert_bp_matches, ready_clinic, sim_get, sim_log, wait_drained};
use crate::support::radicale::{PASSWORD, Radicale, USER};
use crate::support::{Server, local_date_in};
use serde_json::{Value, json};

const PRACTITIONERS: &str = "1|Dr Ana Ng|MED0001234567|ana@clinic.example; 2|Dr Ben Okafor|MED0007654321";

fn caldav_component() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/target/wasm32-wasip2/release/caldav.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run `make plugins` first", path.display()))
}

async fn install_caldav(server: &Server) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/plugins", server.base))
        .bearer_auth(&server.token)
        .header("content-type", "application/wasm")
        .body(caldav_component())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
}

async fn start_server() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        dir.path(),
        &[
            ("REPBOOK_PLUGIN_ALLOW_LOOPBACK", "true"),
            ("REPBOOK_SYNC_PROBE_CAP_MS", "500"),
            ("REPBOOK_SYNC_BACKOFF_CAP_MS", "1000"),
        ],
    )
    .await;
    install_caldav(&server).await;
    (server, dir)
}

fn caldav_settings(radicale: &Radicale, calendar: &str, password: &str) -> Value {
    json!({"connector": "caldav", "enabled": true, "site_id": calendar,
           "settings": {"server_url": radicale.home(), "username": USER, "password": password, "practitioners": PRACTITIONERS}})
}

async fn put_pms(server: &Server, clinic: &str, body: Value) -> (u16, Value) {
    server
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/clinics/{clinic}/pms"),
            Some(body),
        )
        .await
}

/// A clinic sending to `calendar` on `radicale`: validated, location chosen, two doctors matched by AHPRA.
async fn caldav_clinic(
    server: &Server,
    radicale: &Radicale,
    calendar: &str,
    zone: &str,
    state: &str,
) -> (String, Vec<String>) {
    let id = server.create_clinic(&format!("Clinic {calendar}"), zone, state).await;
    let ana = server.add_doctor(&id, "Ana", "Ng", "MED0001234567").await;
    let ben = server.add_doctor(&id, "Ben", "Okafor", "MED0007654321").await;
    let (status, body) = put_pms(server, &id, caldav_settings(radicale, calendar, PASSWORD)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .post(&format!("/api/v1/clinics/{id}/pms/validate"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = put_pms(server, &id, json!({"location_id": 1})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .post(&format!("/api/v1/clinics/{id}/staff/sync"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["summary"]["synced"], 2,
        "matched by AHPRA from the practitioners setting: {body}"
    );
    (id, vec![ana, ben])
}

fn utc_of(rfc3339: &str) -> String {
    let instant: jiff::Timestamp = rfc3339.parse().unwrap();
    instant.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The calendar holds exactly repbook's truth: one event per delivered appointment, at its instant, booked
/// ones confirmed and cancelled ones cancelled; nothing else.
async fn assert_calendar_matches(server: &Server, radicale: &Radicale, clinic: &str, calendar: &str) -> usize {
    let (_, ours) = server
        .get(&format!("/api/v1/clinics/{clinic}/appointments?from=2000-01-01"))
        .await;
    let ours = ours["appointments"].as_array().unwrap().clone();
    let events = radicale.events(calendar);
    let mut by_uid: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for event in &events {
        by_uid
            .entry(event["uid"].as_str().unwrap().to_string())
            .or_default()
            .push(event);
    }
    for (uid, list) in &by_uid {
        assert_eq!(list.len(), 1, "{uid} is in the calendar {} times", list.len());
        assert!(
            ours.iter().any(|a| a["reference"] == uid.as_str()),
            "the calendar holds {uid}, unknown to repbook"
        );
    }
    let mut booked = 0;
    for appointment in &ours {
        let reference = appointment["reference"].as_str().unwrap();
        let event = by_uid.get(reference).map(|l| l[0]);
        match appointment["status"].as_str().unwrap() {
            "booked" => {
                booked += 1;
                let event = event.unwrap_or_else(|| panic!("booked {reference} is not in the calendar"));
                assert_eq!(
                    event["start"],
                    utc_of(appointment["start"].as_str().unwrap()),
                    "{reference}"
                );
                assert_eq!(
                    event["end"],
                    utc_of(appointment["end"].as_str().unwrap()),
                    "{reference}"
                );
                assert_eq!(event["status"], "CONFIRMED", "{reference}");
                assert_eq!(event["href"], format!("{reference}.ics"));
            }
            _ => {
                if let Some(event) = event {
                    assert_eq!(
                        event["status"], "CANCELLED",
                        "{reference} is cancelled in repbook: {event}"
                    );
                }
            }
        }
    }
    booked
}

#[tokio::test]
async fn caldav_validation_names_a_wrong_password_a_missing_calendar_a_plain_folder_and_a_dead_server() {
    let mut radicale = Radicale::start().await;
    radicale.make_collection("rep-visits", true).await;
    radicale.make_collection("documents", false).await;
    let (server, _dir) = start_server().await;
    let clinic = server.create_clinic("Validating GP", "Australia/Sydney", "NSW").await;
    let validate = || async {
        server
            .post(&format!("/api/v1/clinics/{clinic}/pms/validate"), json!({}))
            .await
    };

    let (status, _) = put_pms(
        &server,
        &clinic,
        caldav_settings(&radicale, "rep-visits", "wrong-password"),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = validate().await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("auth")), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("user name and password"),
        "{body}"
    );

    put_pms(
        &server,
        &clinic,
        caldav_settings(&radicale, "no-such-calendar", PASSWORD),
    )
    .await;
    let (_, body) = validate().await;
    assert_eq!(body["error"]["code"], "site_not_found", "{body}");
    put_pms(&server, &clinic, caldav_settings(&radicale, "documents", PASSWORD)).await;
    let (_, body) = validate().await;
    assert_eq!(body["error"]["code"], "invalid_config", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("not a calendar"),
        "{body}"
    );

    put_pms(&server, &clinic, caldav_settings(&radicale, "rep-visits", PASSWORD)).await;
    let (status, body) = validate().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["site"]["practice_name"], "rep-visits");
    assert_eq!(body["locations"][0]["id"], 1);

    radicale.kill();
    let (status, body) = validate().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "site_offline", "{body}");

    // The password never comes back.
    let (_, shown) = server.get(&format!("/api/v1/clinics/{clinic}")).await;
    assert!(!shown.to_string().contains(PASSWORD));
    assert_eq!(shown["pms"]["secrets_set"], json!(["password"]));
}

#[tokio::test]
async fn caldav_bookings_moves_and_cancels_land_as_one_event_each_at_the_right_instant_in_three_zones() {
    let radicale = Radicale::start().await;
    let (server, _dir) = start_server().await;
    for (zone, state, calendar) in [
        ("Australia/Sydney", "NSW", "sydney"),
        ("Australia/Adelaide", "SA", "adelaide"),
        ("Australia/Perth", "WA", "perth"),
    ] {
        radicale.make_collection(calendar, true).await;
        let (clinic, doctors) = caldav_clinic(&server, &radicale, calendar, zone, state).await;
        let mut ids = Vec::new();
        for (n, day) in [3, 4, 5, 6].into_iter().enumerate() {
            let date = local_date_in(zone, day);
            let (status, body) = server
                .book(&clinic, &doctors[n % 2], &format!("{date}T12:30"), 20)
                .await;
            assert_eq!(status, 201, "{body}");
            ids.push(body["id"].as_str().unwrap().to_string());
        }
        wait_drained(&server, &clinic, Duration::from_secs(20)).await;
        assert_eq!(assert_calendar_matches(&server, &radicale, &clinic, calendar).await, 4);

        // A move (time and doctor) and a cancel are applied to the same events.
        let later = local_date_in(zone, 9);
        let (status, body) = server
            .patch(
                &format!("/api/v1/appointments/{}", ids[0]),
                json!({"start": format!("{later}T09:10"), "duration_minutes": 30}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, _) = server
            .post(&format!("/api/v1/appointments/{}/cancel", ids[1]), json!({}))
            .await;
        assert_eq!(status, 200);
        wait_drained(&server, &clinic, Duration::from_secs(20)).await;
        assert_eq!(assert_calendar_matches(&server, &radicale, &clinic, calendar).await, 3);
        let events = radicale.events(calendar);
        assert_eq!(
            events.len(),
            4,
            "a cancelled visit stays as a cancelled event: {events:?}"
        );

        // Reconciliation reads the calendar back through the connector and finds nothing to repair.
        let (status, report) = server
            .post(&format!("/api/v1/clinics/{clinic}/sync/reconcile"), json!({}))
            .await;
        assert_eq!(status, 200, "{report}");
        for field in ["missing", "misplaced", "should_be_cancelled", "duplicated", "unknown"] {
            assert_eq!(report[field], json!([]), "{field}: {report}");
        }
        // Resending a confirmed appointment changes nothing in the calendar.
        let (status, resent) = server
            .post(&format!("/api/v1/appointments/{}/resend", ids[2]), json!({}))
            .await;
        assert_eq!(status, 200, "{resent}");
        assert_eq!(resent["delivered"]["outcome"]["action"], "unchanged", "{resent}");
    }
}

#[tokio::test]
async fn caldav_radicale_killed_in_the_middle_of_a_sync_loses_nothing_and_doubles_nothing() {
    let mut radicale = Radicale::start().await;
    radicale.make_collection("rep-visits", true).await;
    let (server, _dir) = start_server().await;
    let (clinic, doctors) = caldav_clinic(&server, &radicale, "rep-visits", "Australia/Sydney", "NSW").await;
    let mut booked = 0;
    for day in 3..9 {
        let date = local_date_in("Australia/Sydney", day);
        for (n, time) in ["09:00", "09:20", "09:40", "10:00", "10:20"].iter().enumerate() {
            let (status, body) = server
                .book(&clinic, &doctors[n % 2], &format!("{date}T{time}"), 20)
                .await;
            assert_eq!(status, 201, "{body}");
            booked += 1;
            if booked == 12 {
                // Down in the middle of the stream of deliveries.
                radicale.kill();
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, status) = server.get(&format!("/api/v1/clinics/{clinic}/sync")).await;
    assert!(
        status["appointments"]["pending"].as_u64().unwrap() > 0,
        "some wait while the server is down: {status}"
    );
    radicale.run().await;
    wait_drained(&server, &clinic, Duration::from_secs(60)).await;
    assert_eq!(
        assert_calendar_matches(&server, &radicale, &clinic, "rep-visits").await,
        booked
    );
    assert_eq!(radicale.events("rep-visits").len(), booked, "no event twice");
}

#[tokio::test]
async fn switch_connector_from_halo_bp_to_caldav_and_back_with_the_server_running() {
    let pms::Setup { sim, server, dir: _dir } = pms::start(
        pms::seed(1),
        &[
            ("REPBOOK_SYNC_PROBE_CAP_MS", "500"),
            ("REPBOOK_SYNC_BACKOFF_CAP_MS", "1000"),
        ],
    )
    .await;
    install_caldav(&server).await;
    let radicale = Radicale::start().await;
    radicale.make_collection("rep-visits", true).await;
    let setup = ready_clinic(&server, &sim.url(), "20001", "Australia/Sydney", "NSW").await;
    let clinic = setup.id.clone();
    let doctors: Vec<String> = setup.doctors.iter().map(|(id, _)| id.clone()).collect();

    // 20 appointments delivered by halo-bp.
    let mut ids = Vec::new();
    for n in 0..20 {
        let date = local_date_in("Australia/Sydney", 3 + n / 5);
        let time = ["09:00", "09:20", "09:40", "10:00", "10:20"][n as usize % 5];
        let (status, body) = server
            .book(&clinic, &doctors[n as usize % 2], &format!("{date}T{time}"), 20)
            .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    wait_drained(&server, &clinic, Duration::from_secs(30)).await;
    assert_eq!(assert_bp_matches(&server, &sim.url(), &setup).await, 20);
    let bp_before = sim_get(&sim.url(), "/_sim/sites/20001/appointments").await;

    // The choice is shown before it is made.
    let (status, preview) = server
        .get(&format!("/api/v1/clinics/{clinic}/pms/switch?to=caldav"))
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["from"], "halo-bp");
    assert_eq!(preview["to"], "caldav");
    assert_eq!(preview["held_by_current"], 20, "{preview}");
    let choices: Vec<&str> = preview["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["old_appointments"].as_str().unwrap())
        .collect();
    assert_eq!(choices, ["leave", "cancel"]);

    // Switch to CalDAV, leaving Bp's 20 where they are.
    let mut switch = caldav_settings(&radicale, "rep-visits", PASSWORD);
    switch["old_appointments"] = json!("leave");
    let (status, switched) = server
        .post(&format!("/api/v1/clinics/{clinic}/pms/switch"), switch)
        .await;
    assert_eq!(status, 200, "{switched}");
    assert_eq!(switched["requeued"], 20, "{switched}");
    let (status, body) = server
        .post(&format!("/api/v1/clinics/{clinic}/pms/validate"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    put_pms(&server, &clinic, json!({"location_id": 1})).await;
    let (_, staff) = server
        .post(&format!("/api/v1/clinics/{clinic}/staff/sync"), json!({}))
        .await;
    assert_eq!(staff["summary"]["synced"], 2, "{staff}");

    // 5 more booked and 3 moved, all for the new connector.
    for n in 0..5 {
        let date = local_date_in("Australia/Sydney", 10 + n);
        let (status, body) = server
            .book(&clinic, &doctors[n as usize % 2], &format!("{date}T14:00"), 20)
            .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    for id in &ids[..3] {
        let date = local_date_in("Australia/Sydney", 20);
        let minutes = ids.iter().position(|i| i == id).unwrap() * 30;
        let (status, body) = server
            .patch(
                &format!("/api/v1/appointments/{id}"),
                json!({"start": format!("{date}T{:02}:{:02}", 13 + minutes / 60, minutes % 60)}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    wait_drained(&server, &clinic, Duration::from_secs(30)).await;
    assert_eq!(
        assert_calendar_matches(&server, &radicale, &clinic, "rep-visits").await,
        25,
        "Radicale holds what repbook holds"
    );
    let bp_after = sim_get(&sim.url(), "/_sim/sites/20001/appointments").await;
    assert_eq!(
        bp_after, bp_before,
        "left as chosen: Bp still holds the 20 as they were"
    );
    let (_, one) = server.get(&format!("/api/v1/appointments/{}", ids[5])).await;
    assert_eq!(one["pms"]["delivered_by"], "caldav", "{one}");

    // And back to Bp, cancelling in the calendar this time: Bp ends up with exactly repbook's 25.
    let (_, preview) = server
        .get(&format!("/api/v1/clinics/{clinic}/pms/switch?to=halo-bp"))
        .await;
    assert_eq!(preview["held_by_current"], 25, "{preview}");
    let back = json!({"connector": "halo-bp", "send_via": "halo-link", "enabled": true, "site_id": "20001",
        "settings": {"base_url": sim.url(), "subscription_key": "test-key", "rep_visit_type_code": "126"}, "old_appointments": "cancel"});
    let (status, switched) = server.post(&format!("/api/v1/clinics/{clinic}/pms/switch"), back).await;
    assert_eq!(status, 200, "{switched}");
    assert_eq!(switched["cancelled_in_old"], 25, "{switched}");
    let (status, body) = server
        .post(&format!("/api/v1/clinics/{clinic}/pms/validate"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    put_pms(&server, &clinic, json!({"location_id": 1})).await;
    for (doctor, user) in &setup.doctors {
        let (status, body) = server
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/clinics/{clinic}/staff/{doctor}/pms"),
                Some(json!({"user_id": user})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    wait_drained(&server, &clinic, Duration::from_secs(30)).await;
    assert_eq!(assert_bp_matches(&server, &sim.url(), &setup).await, 25);
    let log = sim_log(&sim.url(), "20001").await;
    for id in &ids[..20] {
        let (_, appointment) = server.get(&format!("/api/v1/appointments/{id}")).await;
        assert_eq!(
            adds_of(&log, appointment["reference"].as_str().unwrap()),
            1,
            "Bp's record was found again, not added twice"
        );
    }
    let events = radicale.events("rep-visits");
    assert!(
        events.iter().all(|e| e["status"] == "CANCELLED"),
        "cancelled in the calendar as chosen: {events:?}"
    );
    assert_eq!(events.len(), 25);
}

/// A change undone before it was sent writes nothing: with the CalDAV server down, a visit is moved and
/// moved back; when the server returns, the event's file is not written again (a CalDAV connector would
/// PUT it whole, unlike halo-bp, which already skips a move to where Bp holds it).
#[tokio::test]
async fn security_a_move_undone_while_the_calendar_was_down_is_not_written_again() {
    let mut radicale = Radicale::start().await;
    radicale.make_collection("rep-visits", true).await;
    let (server, _dir) = start_server().await;
    let (clinic, doctors) = caldav_clinic(&server, &radicale, "rep-visits", "Australia/Sydney", "NSW").await;
    let date = local_date_in("Australia/Sydney", 4);
    let (status, body) = server.book(&clinic, &doctors[0], &format!("{date}T09:00"), 20).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    wait_drained(&server, &clinic, Duration::from_secs(30)).await;
    let files = |dir: &Path| -> Vec<(std::path::PathBuf, std::time::SystemTime, Vec<u8>)> {
        let mut found: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "ics"))
            .map(|p| {
                let modified = std::fs::metadata(&p).unwrap().modified().unwrap();
                let bytes = std::fs::read(&p).unwrap();
                (p, modified, bytes)
            })
            .collect();
        found.sort();
        found
    };
    let before = files(&radicale.calendar_dir("rep-visits"));
    assert_eq!(before.len(), 1, "{before:?}");

    radicale.kill();
    for start in ["10:00", "09:00"] {
        let (status, body) = server
            .call(
                reqwest::Method::PATCH,
                &format!("/api/v1/appointments/{id}"),
                Some(json!({"start": format!("{date}T{start}")})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    radicale.run().await;
    wait_drained(&server, &clinic, Duration::from_secs(60)).await;
    let after = files(&radicale.calendar_dir("rep-visits"));
    assert_eq!(after, before, "the event was written again for a move that was undone");
    assert_eq!(
        assert_calendar_matches(&server, &radicale, &clinic, "rep-visits").await,
        1
    );
}
