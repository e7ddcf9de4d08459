//! Slots that follow the doctor's real diary in Bp: halo-bp reads it through the documented procedures
//! (`BP_GetAllSessions`, `BP_GetFreeAppointments`), the host caches it per doctor and day and subtracts it
//! from the published times. An away day, a patient appointment added in Bp and a day outside the doctor's
//! sessions each take slots away; clinic-wide times are untouched; an offline PMS leaves the rep's page fast
//! and saying since when it was not checked. Also: 0.1.0 and 0.2.0 components side by side, and a hot swap
//! between a 0.1.0 and a 0.2.0 version of one connector (`wit_versions_`).

use crate::support;

use std::time::{Duration, Instant};

use crate::support::booking::{ROOMY_LIMITS, link, public_get, publish, slots, weekday};
use crate::support::pms::{self, ready_clinic, set_faults};
use crate::support::{Server, component, local_date_in};
use serde_json::{Value, json};

const FAST_DIARY: [(&str, &str); 2] = [
    ("REPBOOK_AVAILABILITY_TTL_SECS", "1"),
    ("REPBOOK_AVAILABILITY_REFRESH_SECS", "1"),
];

async fn setup() -> (pms::Setup, pms::ClinicSetup) {
    let mut env = ROOMY_LIMITS.to_vec();
    env.extend(FAST_DIARY);
    let setup = pms::start(pms::seed(1), &env).await;
    let clinic = ready_clinic(&setup.server, &setup.sim.url(), "20001", "Australia/Sydney", "NSW").await;
    (setup, clinic)
}

/// A weekday at least 3 days out (Bp sessions run Monday to Friday).
fn weekday_ahead(from: i64) -> String {
    (from..from + 7)
        .map(|d| local_date_in("Australia/Sydney", d))
        .find(|d| !["sat", "sun"].contains(&weekday(d)))
        .unwrap()
}

async fn refresh(server: &Server, clinic: &str) -> Value {
    let (status, view) = server
        .post(&format!("/api/v1/clinics/{clinic}/availability/refresh"), json!({}))
        .await;
    assert_eq!(status, 200, "{view}");
    view
}

fn starts_of(slots: &[Value], practitioner: Option<&str>) -> Vec<String> {
    slots
        .iter()
        .filter(|s| s["practitioner_id"].as_str() == practitioner)
        .map(|s| s["local_start"].as_str().unwrap()[11..].to_string())
        .collect()
}

#[tokio::test]
async fn pms_availability_an_away_day_offers_nothing_for_that_doctor_only() {
    let (pms::Setup { sim, server, dir: _dir }, clinic) = setup().await;
    let (ana, ana_user) = clinic.doctors[0].clone();
    let ben = clinic.doctors[1].0.clone();
    let day = weekday_ahead(3);
    for doctor in [&ana, &ben] {
        publish(&server, &clinic.id, json!({"weekday": weekday(&day), "start": "09:00", "end": "10:00", "slot_minutes": 20, "practitioner_id": doctor})).await;
    }
    publish(
        &server,
        &clinic.id,
        json!({"weekday": weekday(&day), "start": "12:00", "end": "12:40", "slot_minutes": 20}),
    )
    .await;
    let url = link(&server, &clinic.id, "All reps", &[]).await;
    refresh(&server, &clinic.id).await;
    let before = slots(&server, &url, &day, &day).await;
    assert_eq!(
        starts_of(&before, Some(&ana)),
        ["09:00", "09:20", "09:40"],
        "{before:?}"
    );

    let response = reqwest::Client::new()
        .post(format!("{}/_sim/sites/20001/away", sim.url()))
        .json(&json!({"user_id": ana_user, "date": day}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let view = refresh(&server, &clinic.id).await;
    let after = slots(&server, &url, &day, &day).await;
    assert!(
        starts_of(&after, Some(&ana)).is_empty(),
        "Dr Ng is away that day: {after:?}"
    );
    assert_eq!(
        starts_of(&after, Some(&ben)),
        ["09:00", "09:20", "09:40"],
        "Dr Okafor is not"
    );
    assert_eq!(
        starts_of(&after, None),
        ["12:00", "12:20"],
        "times with the whole clinic are untouched"
    );
    let ana_view = view["doctors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["practitioner_id"] == ana.as_str())
        .unwrap();
    assert!(
        ana_view["last_read"].is_string() && ana_view["last_error"].is_null(),
        "{view}"
    );

    // Nor can the away day be booked by asking for it directly.
    let (status, body) = support::booking::book(
        &server,
        &url,
        &format!("{day}T09:00"),
        Some(&ana),
        support::booking::rep("Al", "Acme", "al@acme.test"),
    )
    .await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn pms_availability_a_patient_booked_in_bp_removes_the_overlapping_slot_within_the_refresh_bound() {
    let (pms::Setup { sim, server, dir: _dir }, clinic) = setup().await;
    let (ana, ana_user) = clinic.doctors[0].clone();
    let day = weekday_ahead(4);
    // Rep slots of 15 minutes, like the doctor's Bp appointment book: Bp says which of its own slots are free.
    publish(
        &server,
        &clinic.id,
        json!({"weekday": weekday(&day), "start": "09:00", "end": "10:00", "slot_minutes": 15, "practitioner_id": ana}),
    )
    .await;
    let url = link(&server, &clinic.id, "All reps", &[]).await;
    refresh(&server, &clinic.id).await;
    assert_eq!(
        starts_of(&slots(&server, &url, &day, &day).await, Some(&ana)),
        ["09:00", "09:15", "09:30", "09:45"]
    );

    // Reception books a patient at 09:30 for 15 minutes in Bp itself.
    let response = reqwest::Client::new()
        .post(format!("{}/_sim/sites/20001/appointments", sim.url()))
        .json(
            &json!({"user_id": ana_user, "patient_id": 77, "date": day, "time": 9 * 3600 + 30 * 60, "length": 900,
                      "appointment_type": 1, "location_id": 1, "reason": "Patient"}),
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    // The background refresh alone (TTL 1 s, every 1 s) takes it in: no refresh call here.
    let inserted = Instant::now();
    let bound = Duration::from_secs(5);
    loop {
        let offered = starts_of(&slots(&server, &url, &day, &day).await, Some(&ana));
        if offered == ["09:00", "09:15", "09:45"] {
            eprintln!(
                "pms_availability: a patient booked in Bp left the offered slots after {:?}",
                inserted.elapsed()
            );
            break;
        }
        assert!(
            inserted.elapsed() < bound,
            "09:30 still offered after {bound:?}: {offered:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, metrics) = server.get("/metrics").await;
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    assert!(
        metrics.contains(&format!(
            "repbook_availability_queries_total{{clinic=\"{}\"}}",
            clinic.id
        )),
        "{metrics}"
    );
    let removed = metrics
        .lines()
        .find(|l| {
            l.starts_with(&format!(
                "repbook_availability_slots_removed_total{{clinic=\"{}\"}}",
                clinic.id
            ))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap();
    assert!(removed > 0, "{metrics}");
}

#[tokio::test]
async fn pms_availability_a_day_outside_the_doctors_sessions_offers_nothing_for_that_doctor() {
    let (
        pms::Setup {
            sim: _sim,
            server,
            dir: _dir,
        },
        clinic,
    ) = setup().await;
    let ana = clinic.doctors[0].0.clone();
    // Bp sessions run Monday to Friday, 08:00-12:00 and 13:00-18:00.
    let saturday = (3..10)
        .map(|d| local_date_in("Australia/Sydney", d))
        .find(|d| weekday(d) == "sat")
        .unwrap();
    let weekday_date = weekday_ahead(3);
    publish(
        &server,
        &clinic.id,
        json!({"weekday": "sat", "start": "09:00", "end": "10:00", "slot_minutes": 20, "practitioner_id": ana}),
    )
    .await;
    publish(
        &server,
        &clinic.id,
        json!({"weekday": "sat", "start": "10:00", "end": "10:40", "slot_minutes": 20}),
    )
    .await;
    publish(&server, &clinic.id, json!({"weekday": weekday(&weekday_date), "start": "11:40", "end": "13:20", "slot_minutes": 20, "practitioner_id": ana})).await;
    let url = link(&server, &clinic.id, "All reps", &[]).await;
    refresh(&server, &clinic.id).await;
    let offered = slots(&server, &url, &saturday, &saturday).await;
    assert!(
        starts_of(&offered, Some(&ana)).is_empty(),
        "Dr Ng has no Saturday session: {offered:?}"
    );
    assert_eq!(
        starts_of(&offered, None),
        ["10:00", "10:20"],
        "clinic-wide Saturday times stay"
    );
    // On a weekday, the lunch break between the two sessions is not offered either.
    let offered = slots(&server, &url, &weekday_date, &weekday_date).await;
    assert_eq!(starts_of(&offered, Some(&ana)), ["11:40", "13:00"], "{offered:?}");
}

#[tokio::test]
async fn pms_availability_an_offline_or_slow_pms_keeps_the_page_fast_and_says_since_when() {
    let (pms::Setup { sim, server, dir: _dir }, clinic) = setup().await;
    let ana = clinic.doctors[0].0.clone();
    let day = weekday_ahead(3);
    publish(
        &server,
        &clinic.id,
        json!({"weekday": weekday(&day), "start": "09:00", "end": "10:00", "slot_minutes": 20, "practitioner_id": ana}),
    )
    .await;
    let url = link(&server, &clinic.id, "All reps", &[]).await;
    refresh(&server, &clinic.id).await;
    let (_, fresh) = public_get(&server, &format!("{url}/slots?from={day}&to={day}")).await;
    assert_eq!(fresh["pms_check"]["fresh"], true, "{fresh}");
    assert!(fresh["pms_check"]["note"].is_null());

    for (fault, faults) in [
        ("offline", json!({"offline": true})),
        ("5 s latency", json!({"latency_ms": 5000})),
    ] {
        set_faults(&sim.url(), "20001", faults).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let mut took = Vec::new();
        let mut last = Value::Null;
        for _ in 0..100 {
            let started = Instant::now();
            let (status, body) = public_get(&server, &format!("{url}/slots?from={day}&to={day}")).await;
            took.push(started.elapsed());
            assert_eq!(status, 200, "{body}");
            last = body;
        }
        took.sort();
        eprintln!(
            "pms_availability: slots with the PMS {fault}: p50 {:?}, p99 {:?} over 100 requests",
            took[49], took[98]
        );
        assert_eq!(last["pms_check"]["fresh"], false, "{last}");
        let note = last["pms_check"]["note"].as_str().unwrap();
        assert!(note.starts_with("not checked against the PMS since"), "{note}");
        assert_eq!(
            starts_of(last["slots"].as_array().unwrap(), Some(&ana)).len(),
            3,
            "the last known diary still applies"
        );
        set_faults(&sim.url(), "20001", json!({})).await;
    }
    // The admin side says why the diary is not current.
    set_faults(&sim.url(), "20001", json!({"offline": true})).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let view = refresh(&server, &clinic.id).await;
    let ana_view = view["doctors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["practitioner_id"] == ana.as_str())
        .unwrap();
    assert!(ana_view["last_error"].as_str().unwrap().contains("offline"), "{view}");
}

async fn install(server: &Server, bytes: Vec<u8>) -> Value {
    crate::support::install_component(server, bytes).await
}

async fn echo_clinic(server: &Server, name: &str) -> String {
    let clinic = server.create_clinic(name, "Australia/Sydney", "NSW").await;
    let (status, body) = server
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/clinics/{clinic}/pms"),
            Some(json!({"connector": "echo", "enabled": true, "site_id": "S1"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    clinic
}

#[tokio::test]
async fn wit_versions_0_1_and_0_2_components_run_side_by_side_in_one_server() {
    let (
        pms::Setup {
            sim: _sim,
            server,
            dir: _dir,
        },
        bp_clinic,
    ) = setup().await;
    install(&server, component("echo")).await;
    let (_, list) = server.get("/api/v1/plugins").await;
    let contracts: Vec<(String, String)> = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["versions"][0]["wit_version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(contracts.contains(&("echo".into(), "0.1.0".into())), "{contracts:?}");
    assert!(contracts.contains(&("halo-bp".into(), "0.2.0".into())), "{contracts:?}");

    let echo = echo_clinic(&server, "Echo GP").await;
    for _ in 0..3 {
        let (status, body) = server
            .post(&format!("/api/v1/clinics/{echo}/pms/validate"), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["site"]["practice_name"], "1.0.0 practice S1");
        let (status, body) = server
            .post(&format!("/api/v1/clinics/{}/pms/validate", bp_clinic.id), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, view) = server.get(&format!("/api/v1/clinics/{echo}/availability")).await;
    assert_eq!(status, 200);
    assert_eq!(view["reads_diaries"], false, "a 0.1.0 connector has no diary to read");
    let (_, view) = server
        .get(&format!("/api/v1/clinics/{}/availability", bp_clinic.id))
        .await;
    assert_eq!(view["reads_diaries"], true);
}

#[tokio::test]
async fn wit_versions_hot_swap_between_a_0_1_and_a_0_2_version_of_one_connector() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = ROOMY_LIMITS.to_vec();
    env.extend(FAST_DIARY);
    let server = Server::start_with_env(dir.path(), &env).await;
    install(&server, component("echo")).await;
    let v3 = install(&server, component("echo-v3")).await;
    assert_eq!(v3["version"], "3.0.0");
    let clinic = echo_clinic(&server, "Swap GP").await;
    let ana = server.add_doctor(&clinic, "Ana", "Ng", "MED0001234567").await;
    let validate = || async {
        let (status, body) = server
            .post(&format!("/api/v1/clinics/{clinic}/pms/validate"), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        body["site"]["practice_name"].as_str().unwrap().to_string()
    };
    assert_eq!(
        validate().await,
        "1.0.0 practice S1",
        "the first version installed stays active"
    );

    let (status, _) = server
        .post("/api/v1/plugins/echo/activate", json!({"version": "3.0.0"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(validate().await, "3.0.0 practice S1", "now the 0.2.0 component answers");
    let (status, body) = server
        .post(&format!("/api/v1/clinics/{clinic}/staff/sync"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = server
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/clinics/{clinic}/pms"),
            Some(json!({"location_id": 1})),
        )
        .await;
    assert_eq!(status, 200);
    // Its diary (Dr Ng, user 1, is away on every 1st of the month and busy 12:00-13:00 each day) applies.
    let day = local_date_in("Australia/Sydney", 3);
    publish(
        &server,
        &clinic,
        json!({"weekday": weekday(&day), "start": "11:40", "end": "13:20", "slot_minutes": 20, "practitioner_id": ana}),
    )
    .await;
    let url = link(&server, &clinic, "All reps", &[]).await;
    refresh(&server, &clinic).await;
    let offered = starts_of(&slots(&server, &url, &day, &day).await, Some(&ana));
    if day.ends_with("-01") {
        assert!(offered.is_empty(), "{offered:?}");
    } else {
        assert_eq!(
            offered,
            ["11:40", "13:00"],
            "12:00-13:00 is busy in the 0.2.0 connector's diary"
        );
    }

    let (status, _) = server.post("/api/v1/plugins/echo/rollback", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        validate().await,
        "1.0.0 practice S1",
        "rolled back to the 0.1.0 component, no restart"
    );
    let (_, view) = server.get(&format!("/api/v1/clinics/{clinic}/availability")).await;
    assert_eq!(view["reads_diaries"], false);
    let offered = starts_of(&slots(&server, &url, &day, &day).await, Some(&ana));
    assert_eq!(
        offered.len(),
        5,
        "without a diary every published slot is offered again: {offered:?}"
    );
}
