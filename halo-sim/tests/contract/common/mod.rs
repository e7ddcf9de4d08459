//! Helpers for the contract suites: a simulator on loopback seeded with the reference's own example
//! values (user 12, location 1, type 1, Bp Site ID 12345, pairing code ABC123), and a client that sends
//! what an integrator would.

#![allow(dead_code)]

use base64::Engine;
use serde_json::{Value, json};

pub const KEY: &str = "contract-key";
pub const GUID: &str = "97382672-48c2-b7b5-f112-b1d72bd7c244";

pub fn seed(select_permission: bool) -> halo_sim::Seed {
    let sessions: Vec<Value> = (2..=6)
        .map(|day| json!({"user_id": 12, "day_of_week": day, "start": "09:00", "end": "12:00", "slot_minutes": 15}))
        .collect();
    halo_sim::Seed::from_json(
        &json!({
            "subscription_keys": [KEY],
            "sites": [
                {"site_id": "12345", "guid": GUID, "pairing_code": "ABC123", "paired": true, "practice_name": "Halo Clinic South",
                 "select_permission": select_permission,
                 "bp": {
                    "locations": [{"id": 1, "name": "Main"}, {"id": 2, "name": "North"}],
                    "users": [
                        {"id": 12, "title": "Dr", "first_name": "Sam", "surname": "Smith", "ahpra": "MED0001234567", "provider_no": "2345671A"},
                        {"id": 2000000570, "title": "Dr", "first_name": "Ben", "surname": "Okafor", "location_id": 2},
                        {"id": 2000000580, "first_name": "Dana", "surname": "Reception", "has_appointments": false, "group": "Receptionist"}
                    ],
                    "appointment_types": [{"code": 1, "name": "Standard appt."}, {"code": 18, "name": "Drug rep."}],
                    "sessions": sessions,
                    "patients": [{"id": 9, "first_name": "Pat", "surname": "Example"}]
                 }},
                {"site_id": "12345", "pairing_code": "ABC123", "authoritative": false, "availability": "offline",
                 "practice_name": "Halo Clinic South (backup)"},
                {"site_id": "777", "pairing_code": "XYZ789", "practice_name": "Unpaired Practice",
                 "bp": {"locations": [{"id": 1, "name": "Main"}], "users": [], "appointment_types": []}}
            ]
        })
        .to_string(),
    )
    .unwrap()
}

pub struct Sim {
    pub server: halo_sim::SimServer,
    pub http: reqwest::Client,
}

pub async fn start(select_permission: bool) -> Sim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Sim {
        server: halo_sim::serve(listener, seed(select_permission)).unwrap(),
        http: reqwest::Client::new(),
    }
}

impl Sim {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    /// A request with the subscription key; returns status, headers' Retry-After, body.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Option<String>, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .header("Ocp-Apim-Subscription-Key", KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let text = response.text().await.unwrap();
        (
            status,
            retry_after,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// An immediate query on the authoritative Bp site.
    pub async fn query(&self, command: Value) -> (u16, Value) {
        let (status, _, body) = self
            .send(
                reqwest::Method::POST,
                &format!("/integrator/sites/{GUID}/queries/immediate"),
                Some(json!({ "command": command })),
            )
            .await;
        (status, body)
    }

    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap_or(Value::Null)
    }

    pub async fn appointments(&self) -> Vec<Value> {
        self.control(reqwest::Method::GET, "/_sim/sites/12345/appointments", None)
            .await["appointments"]
            .as_array()
            .unwrap()
            .clone()
    }
}

/// The decoded `result.data` rows of a successful reader query.
pub fn rows(answer: &Value) -> Vec<Value> {
    assert_eq!(answer["status"], "successful", "{answer}");
    let data = answer["result"]["data"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
    serde_json::from_slice::<Value>(&bytes)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// The SQL Server error number of an executionFailed answer (mssql).
pub fn sql_error(status: u16, answer: &Value) -> i64 {
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["status"], "executionFailed", "{answer}");
    assert_eq!(answer["errorDetails"]["errorType"], "mssql", "{answer}");
    answer["errorDetails"]["errorCode"].as_i64().unwrap()
}

pub fn input(name: &str, kind: &str, value: &str) -> Value {
    json!({"name": name, "direction": "input", "type": kind, "value": value})
}
