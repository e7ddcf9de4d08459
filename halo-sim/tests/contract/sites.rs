//! The simulator's site endpoints, envelopes and faults, checked against `shared/reference/halo-api.md`
//! and `halo-integrator-subset.json` alone: the subscription key, getSites / getSite / pair-site, both error
//! envelopes, unknown routes, and every fault under `/_sim/`.

use std::time::{Duration, Instant};

use crate::common::{GUID, KEY, input, rows, start};
use reqwest::Method;
use serde_json::{Value, json};

const SITES: &str = "/integrator/sites?practiceManagementSiteId=12345&practiceManagementName=Best%20Practice";

#[tokio::test]
async fn contract_the_subscription_key_is_required_and_checked() {
    let sim = start(false).await;
    let missing = sim.http.get(sim.url(SITES)).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {"status": 401, "statusText": "Unauthorized", "message":
            "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."}})
    );
    let wrong = sim
        .http
        .get(sim.url(SITES))
        .header("Ocp-Apim-Subscription-Key", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Subscription Key Invalid");
}

#[tokio::test]
async fn contract_get_sites_exchanges_the_bp_site_id_for_its_halo_sites() {
    let sim = start(false).await;
    let (status, _, body) = sim.send(Method::GET, SITES, None).await;
    assert_eq!(status, 200);
    let sites = body["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 2, "the authoritative site and a non-authoritative copy");
    let live = sites.iter().find(|s| s["authoritative"] == true).unwrap();
    assert_eq!(live["id"], GUID);
    assert_eq!(live["pmsType"], "BestPractice");
    assert_eq!(live["practiceManagementName"], "Best Practice");
    assert_eq!(live["practiceManagementSiteId"], "12345");
    assert_eq!(live["practiceMetadata"]["practiceName"], "Halo Clinic South");
    assert_eq!(live["status"], "active");
    assert_eq!(live["availability"], "online");
    assert!(
        live["catalogue"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "Patients")
    );
    assert!(live["heartbeatTimestampUTC"].as_str().unwrap().ends_with('Z'));
    let copy = sites.iter().find(|s| s["authoritative"] == false).unwrap();
    assert_eq!(copy["availability"], "offline");

    // No 404 is declared: an unknown Site ID is an empty list.
    let (status, _, body) = sim
        .send(
            Method::GET,
            "/integrator/sites?practiceManagementSiteId=999&practiceManagementName=Best%20Practice",
            None,
        )
        .await;
    assert_eq!((status, body), (200, json!({"sites": []})));
    // Another PMS of the enum: none of these sites.
    let (status, _, body) = sim
        .send(
            Method::GET,
            "/integrator/sites?practiceManagementSiteId=12345&practiceManagementName=Zedmed",
            None,
        )
        .await;
    assert_eq!((status, body), (200, json!({"sites": []})));
    // Both query parameters are required; the name is the spaced enum value.
    for path in [
        "/integrator/sites?practiceManagementSiteId=12345",
        "/integrator/sites?practiceManagementName=Best%20Practice",
        "/integrator/sites?practiceManagementSiteId=12345&practiceManagementName=BestPractice",
    ] {
        let (status, _, body) = sim.send(Method::GET, path, None).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["status"], 400, "{path}: {body}");
    }
}

#[tokio::test]
async fn contract_get_site_and_pair_site() {
    let sim = start(false).await;
    let (status, _, body) = sim.send(Method::GET, &format!("/integrator/sites/{GUID}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], GUID, "one site object, not a list");
    let (status, _, body) = sim
        .send(
            Method::GET,
            "/integrator/sites/00000000-0000-4000-8000-000000000000",
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (404, Some("The server cannot find the requested resource."))
    );

    // Site 777 is not paired: its site answers 403 until pair-site with the practice's code.
    let sites = sim
        .send(
            Method::GET,
            "/integrator/sites?practiceManagementSiteId=777&practiceManagementName=Best%20Practice",
            None,
        )
        .await
        .2;
    let guid = sites["sites"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        sim.send(Method::GET, &format!("/integrator/sites/{guid}"), None)
            .await
            .0,
        403
    );
    let pair = |code: Option<&str>| {
        let mut path =
            "/integrator/pair-site?practiceManagementSiteId=777&practiceManagementName=Best%20Practice".to_string();
        if let Some(code) = code {
            path.push_str(&format!("&pairingCode={code}"));
        }
        path
    };
    let (status, _, body) = sim.send(Method::POST, &pair(None), None).await;
    assert_eq!(status, 400, "pairingCode is required for Best Practice: {body}");
    let (status, _, body) = sim.send(Method::POST, &pair(Some("WRONG")), None).await;
    assert_eq!(status, 502);
    assert_eq!(
        body["error"]["message"],
        "The practice management software returned an unexpected result code."
    );
    let (status, _, body) = sim.send(Method::POST, &pair(Some("XYZ789")), None).await;
    assert_eq!((status, body["id"].as_str()), (200, Some(guid.as_str())));
    assert_eq!(
        sim.send(Method::GET, &format!("/integrator/sites/{guid}"), None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn contract_unknown_routes_answer_404_operation_not_found() {
    let sim = start(false).await;
    for (method, path) in [
        (Method::GET, "/integrator/nothing"),
        (Method::DELETE, &format!("/integrator/sites/{GUID}") as &str),
    ] {
        let (status, _, body) = sim.send(method, path, None).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["error"]["message"], "Operation Not Found", "{path}");
    }
}

async fn locations(sim: &crate::common::Sim) -> (u16, Option<String>, Value) {
    sim.send(
        Method::POST,
        &format!("/integrator/sites/{GUID}/queries/immediate"),
        Some(json!({"command": {"text": "BPSPATIENTS.dbo.BP_GetPracticeLocations", "type": "storedProcedure"}})),
    )
    .await
}

#[tokio::test]
async fn contract_faults_answer_with_the_documented_statuses_and_envelopes() {
    let sim = start(false).await;
    let faults = |f: Value| sim.control(Method::PUT, "/_sim/sites/12345/faults", Some(f));
    faults(json!({"offline": true})).await;
    let (status, _, body) = locations(&sim).await;
    assert_eq!(status, 503);
    assert_eq!(
        body,
        json!({"error": {"status": 503, "statusText": "Service Unavailable", "message":
            "Site could not be contacted, please try again later or contact a system administrator."}})
    );
    faults(json!({"unreachable": true})).await;
    let (status, _, body) = locations(&sim).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (504, Some("Site is unreachable"))
    );
    faults(json!({"rate_limit_next": 1, "retry_after_seconds": 2})).await;
    let (status, retry_after, body) = locations(&sim).await;
    assert_eq!((status, retry_after.as_deref()), (429, Some("2")));
    assert_eq!(
        body,
        json!({"status": 429, "statusText": "Too Many Requests", "message": "Rate Limit Exceeded"}),
        "the gateway's flat envelope"
    );
    assert_eq!(locations(&sim).await.0, 200, "only the next request was limited");
    faults(json!({"error_500_next": 1})).await;
    let (status, _, body) = locations(&sim).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (500, Some("Failed to create query container in CosmosDB."))
    );
    faults(json!({"ip_not_allowed": true})).await;
    let (status, _, body) = sim.send(Method::GET, SITES, None).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (403, Some("Caller Ip Not Allowed"))
    );
    faults(json!({"quota_exceeded": true})).await;
    let (status, _, body) = locations(&sim).await;
    assert_eq!(status, 403);
    assert!(body["error"]["message"].as_str().unwrap().contains("quota"), "{body}");
    faults(json!({"latency_ms": 300})).await;
    let started = Instant::now();
    assert_eq!(locations(&sim).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        sim.control(Method::GET, "/_sim/sites/12345/faults", None).await["latency_ms"],
        300
    );

    // 504 after the write took effect: the appointment exists although the answer says it timed out.
    faults(json!({"timeout_after_write_next": 1})).await;
    let add = json!({"text": "BPSPATIENTS.dbo.BP_AddAppointmentEx", "type": "storedProcedure", "parameters": [
        input("@aptdate", "Date", "2030-07-01"), input("@apttime", "Int", "36000"), input("@appointmenttype", "Int", "18"),
        input("@aptlen", "Int", "900"), input("@practitionerid", "Int", "12"), input("@patientid", "Int", "0"),
        input("@reason", "NVarChar", "rep visit")]});
    let (status, body) = sim.query(add.clone()).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (504, Some("Query took more than 30 seconds to return a result."))
    );
    assert_eq!(sim.appointments().await.len(), 1, "the write happened");
    let (status, _) = sim.query(add).await;
    assert_eq!(status, 200, "the fault applied to one write only");
}

#[tokio::test]
async fn contract_control_routes_change_the_site_and_show_what_it_ran() {
    let sim = start(false).await;
    // A GUID change: the old GUID answers 403, getSites shows the new one.
    let new_guid = sim.control(Method::POST, "/_sim/sites/12345/change-guid", None).await["guid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(locations(&sim).await.0, 403);
    let sites = sim.send(Method::GET, SITES, None).await.2;
    assert!(
        sites["sites"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == new_guid.as_str())
    );

    // Site flags: unpaired, then not authoritative.
    let path = format!("/integrator/sites/{new_guid}/queries/immediate");
    let command = json!({"command": {"text": "BPSPATIENTS.dbo.BP_GetPracticeLocations", "type": "storedProcedure"}});
    sim.control(Method::PATCH, "/_sim/sites/12345/site", Some(json!({"paired": false})))
        .await;
    assert_eq!(sim.send(Method::POST, &path, Some(command.clone())).await.0, 403);
    sim.control(
        Method::PATCH,
        "/_sim/sites/12345/site",
        Some(json!({"paired": true, "authoritative": false})),
    )
    .await;
    assert_eq!(sim.send(Method::POST, &path, Some(command.clone())).await.0, 403);
    let sites = sim.send(Method::GET, SITES, None).await.2;
    assert!(
        sites["sites"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["authoritative"] == false)
    );
    sim.control(
        Method::PATCH,
        "/_sim/sites/12345/site",
        Some(json!({"authoritative": true})),
    )
    .await;
    let (status, _, answer) = sim.send(Method::POST, &path, Some(command)).await;
    assert_eq!(status, 200);
    assert_eq!(rows(&answer).len(), 2);

    // Every command a site ran, with its parameters and outcome; and the request count.
    let log = sim.control(Method::GET, "/_sim/sites/12345/log", None).await["commands"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(log.last().unwrap()["text"], "BPSPATIENTS.dbo.BP_GetPracticeLocations");
    assert_eq!(log.last().unwrap()["outcome"], "ok");
    let stats = sim.control(Method::GET, "/_sim/stats", None).await;
    assert!(stats["requests"]["12345"].as_u64().unwrap() >= 3, "{stats}");
    sim.control(Method::DELETE, "/_sim/sites/12345/log", None).await;
    assert!(
        sim.control(Method::GET, "/_sim/sites/12345/log", None).await["commands"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Tampering with Bp's appointments, away days and sessions.
    let created = sim
        .control(
            Method::POST,
            "/_sim/sites/12345/appointments",
            Some(
                json!({"user_id": 12, "patient_id": 9, "date": "2030-07-01", "time": 36000, "length": 900,
                        "appointment_type": 1, "location_id": 1, "reason": "Check-up"}),
            ),
        )
        .await;
    let record = created["record_id"].as_i64().unwrap();
    sim.control(
        Method::PATCH,
        &format!("/_sim/sites/12345/appointments/{record}"),
        Some(json!({"time": 39600})),
    )
    .await;
    assert_eq!(sim.appointments().await[0]["time"], 39600);
    sim.control(
        Method::POST,
        "/_sim/sites/12345/away",
        Some(json!({"user_id": 12, "date": "2030-07-01"})),
    )
    .await;
    sim.control(
        Method::POST,
        "/_sim/sites/12345/sessions",
        Some(json!({"user_id": 2000000570, "day_of_week": 7, "start": "09:00", "end": "10:00"})),
    )
    .await;
    let (status, _, answer) = sim
        .send(
            Method::POST,
            &format!("/integrator/sites/{new_guid}/queries/immediate"),
            Some(json!({"command": {"text": "BPSPATIENTS.dbo.BP_GetAllSessions", "type": "storedProcedure"}})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        rows(&answer)
            .iter()
            .any(|r| r["UserID"] == 2000000570 && r["DayOfWeek"] == 7)
    );
    let http = reqwest::Client::new();
    let deleted = http
        .delete(sim.url(&format!("/_sim/sites/12345/appointments/{record}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(sim.appointments().await.is_empty());
    let _ = KEY;
}
