//! The simulator answers as the reference says: subscription key, site lookup, pairing, and SQL Server's
//! errors for anything but the connector's parameterised statements.

use base64::Engine;
use serde_json::{Value, json};

async fn start() -> (halo_sim::SimServer, reqwest::Client) {
    let server = halo_sim::serve(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        halo_sim::Seed::demo(),
    )
    .unwrap();
    (server, reqwest::Client::new())
}

const KEY: &str = "demo-subscription-key";

#[tokio::test]
async fn subscription_key_and_site_lookup_follow_the_reference() {
    let (sim, http) = start().await;
    let url = format!(
        "{}/integrator/sites?practiceManagementSiteId=12345&practiceManagementName=Best%20Practice",
        sim.url()
    );
    let missing = http.get(&url).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let body: Value = missing.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Access denied due to missing subscription key")
    );
    let sites: Value = http
        .get(&url)
        .header("Ocp-Apim-Subscription-Key", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sites = sites["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 2, "the authoritative site and its backup copy");
    assert_eq!(sites.iter().filter(|s| s["authoritative"] == true).count(), 1);
    let unknown: Value = http
        .get(format!(
            "{}/integrator/sites?practiceManagementSiteId=999&practiceManagementName=Best%20Practice",
            sim.url()
        ))
        .header("Ocp-Apim-Subscription-Key", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unknown, json!({"sites": []}));
    let bad_name = http
        .get(format!(
            "{}/integrator/sites?practiceManagementSiteId=12345&practiceManagementName=BestPractice",
            sim.url()
        ))
        .header("Ocp-Apim-Subscription-Key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_name.status(), 400);
}

#[tokio::test]
async fn pairing_needs_the_practices_code_and_queries_need_pairing() {
    let (sim, http) = start().await;
    let guid = "497f6eca-6276-4993-bfeb-53cbbbba6f08";
    let query = json!({"command": {"text": "BPSPATIENTS.dbo.BP_GetPracticeLocations", "type": "storedProcedure", "executionMode": "reader"}});
    let before = http
        .post(format!("{}/integrator/sites/{guid}/queries/immediate", sim.url()))
        .header("Ocp-Apim-Subscription-Key", KEY)
        .json(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(before.status(), 403);
    let pair = |code: &str| {
        http.post(format!("{}/integrator/pair-site?practiceManagementSiteId=12345&practiceManagementName=Best%20Practice&pairingCode={code}", sim.url()))
            .header("Ocp-Apim-Subscription-Key", KEY)
            .send()
    };
    assert_eq!(pair("NOPE").await.unwrap().status(), 502);
    assert_eq!(pair("ABC123").await.unwrap().status(), 200);
    let answer: Value = http
        .post(format!("{}/integrator/sites/{guid}/queries/immediate", sim.url()))
        .header("Ocp-Apim-Subscription-Key", KEY)
        .json(&query)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], "successful");
    let rows: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(answer["result"]["data"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(rows[0]["LocationName"], "Harbour Medical Centre   ", "Bp pads names");
}

#[tokio::test]
async fn spliced_values_and_unknown_procedures_fail_as_sql_server_would() {
    let (sim, http) = start().await;
    sim.sim.lock().unwrap().sites[0].paired = true;
    let guid = "497f6eca-6276-4993-bfeb-53cbbbba6f08";
    let send = |command: Value| {
        http.post(format!("{}/integrator/sites/{guid}/queries/immediate", sim.url()))
            .header("Ocp-Apim-Subscription-Key", KEY)
            .json(&json!({ "command": command }))
            .send()
    };
    let spliced = "SELECT RECORDID AS RecordID FROM BPSPATIENTS.dbo.APPOINTMENTS WHERE REASON LIKE '%O''Brien%'";
    let response = send(json!({"text": spliced, "type": "text"})).await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "executionFailed");
    assert_eq!(body["errorDetails"]["errorType"], "mssql");
    assert_eq!(body["errorDetails"]["errorCode"], 102);
    let response = send(json!({"text": "BPSPATIENTS.dbo.BP_DropEverything", "type": "storedProcedure"}))
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorDetails"]["errorCode"], 2812);
    // A parameter that is not a number where Bp wants an int.
    let response = send(
        json!({"text": "BPSPATIENTS.dbo.BP_CancelAppointment", "type": "storedProcedure", "executionMode": "nonQuery",
        "parameters": [{"name": "@aptid", "type": "Int", "value": "1; DROP TABLE x"}]}),
    )
    .await
    .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorDetails"]["errorCode"], 8114);
}
