//! Reconciliation: appointments deleted, moved and added behind repbook's back in Bp are reported and
//! repaired; repbook's truth wins.

use std::time::Duration;

use crate::support::local_date_in;
use crate::support::pms::{assert_bp_matches, ready_clinic, seed, sim_get, start, wait_drained};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_reports_and_repairs_changes_made_behind_repbooks_back() {
    let setup = start(seed(1), &[("REPBOOK_RECONCILE_EVERY_SECS", "0")]).await;
    let (sim, server) = (&setup.sim, &setup.server);
    let clinic = ready_clinic(server, &sim.url(), "20001", "Australia/Sydney", "NSW").await;
    let day = local_date_in("Australia/Sydney", 10);
    let mut ids = Vec::new();
    for hour in [9, 10, 11, 12] {
        let (status, body) = server
            .book(&clinic.id, &clinic.doctors[0].0, &format!("{day}T{hour:02}:00"), 15)
            .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    wait_drained(server, &clinic.id, Duration::from_secs(30)).await;
    let records = sim_get(&sim.url(), "/_sim/sites/20001/appointments").await["appointments"]
        .as_array()
        .unwrap()
        .clone();
    let record_of = |id: &str| {
        records
            .iter()
            .find(|r| r["reason"].as_str().unwrap().ends_with(id))
            .unwrap()["record_id"]
            .as_i64()
            .unwrap()
    };
    let http = reqwest::Client::new();
    let site = format!("{}/_sim/sites/20001/appointments", sim.url());
    // Deleted, moved, cancelled in Bp; plus a tagged appointment repbook never made.
    http.delete(format!("{site}/{}", record_of(&ids[0])))
        .send()
        .await
        .unwrap();
    http.patch(format!("{site}/{}", record_of(&ids[1])))
        .json(&json!({"time": 15 * 3600}))
        .send()
        .await
        .unwrap();
    http.patch(format!("{site}/{}", record_of(&ids[2])))
        .json(&json!({"record_status": 0}))
        .send()
        .await
        .unwrap();
    let stranger = "01ZZZZZZZZZZZZZZZZZZZZZZZZ";
    http.post(&site)
        .json(&json!({"user_id": 2000000570, "date": day, "time": 8 * 3600, "length": 900, "appointment_type": 126, "location_id": 1,
                      "reason": format!("[REP] Someone (Elsewhere) - repbook ref {stranger}")}))
        .send()
        .await
        .unwrap();

    let (status, report) = server
        .post(&format!("/api/v1/clinics/{}/sync/reconcile", clinic.id), json!({}))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["missing"], json!([ids[0].clone(), ids[2].clone()]), "{report}");
    assert_eq!(report["misplaced"], json!([ids[1].clone()]), "{report}");
    assert_eq!(report["unknown"], json!([stranger]), "{report}");
    assert_eq!(report["repairs"], 4, "{report}");
    wait_drained(server, &clinic.id, Duration::from_secs(30)).await;
    assert_bp_matches(server, &sim.url(), &clinic).await;

    // The same picture in Prometheus form.
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", server.base))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "repbook_appointments{{clinic=\"{}\",pms_state=\"synced\"}} 4",
            clinic.id
        )),
        "{metrics}"
    );
    assert!(metrics.contains("repbook_sync_reconciliations_total 1"), "{metrics}");

    // A second run finds nothing to fix.
    let (_, again) = server
        .post(&format!("/api/v1/clinics/{}/sync/reconcile", clinic.id), json!({}))
        .await;
    assert_eq!(again["repairs"], 0, "{again}");
}
