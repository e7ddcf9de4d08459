//! What the rep-booking suites share: a clinic with doctors and published times, booking links, and the
//! rep's side of the API, reached like a rep's browser reaches it (no token).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use jiff::civil::Date;
use serde_json::{Value, json};

use super::Server;

/// Public-route and per-address connection limits high enough for suites that send many requests at once
/// from one loopback address (hundreds of concurrent reps); the suites that test the limits set their own.
pub const ROOMY_LIMITS: [(&str, &str); 5] = [
    ("REPBOOK_PUBLIC_READS_PER_MINUTE", "100000"),
    ("REPBOOK_WRONG_TOKENS_PER_MINUTE", "100000"),
    ("REPBOOK_PUBLIC_WRITES_PER_MINUTE", "100000"),
    ("REPBOOK_PUBLIC_PER_LINK_PER_MINUTE", "100000"),
    ("REPBOOK_CONNECTIONS_PER_ADDRESS", "100000"),
];

/// A GET or POST on a public route, without the admin token, as a rep's browser sends it.
pub async fn public(server: &Server, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", server.base));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("public request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

pub async fn public_get(server: &Server, path: &str) -> (u16, Value) {
    public(server, reqwest::Method::GET, path, None).await
}

pub async fn public_post(server: &Server, path: &str, body: Value) -> (u16, Value) {
    public(server, reqwest::Method::POST, path, Some(body)).await
}

/// The raw body and content type of a public GET.
pub async fn public_text(server: &Server, path: &str) -> (u16, String, String) {
    let response = reqwest::get(format!("{}{path}", server.base))
        .await
        .expect("public GET");
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, kind, response.text().await.unwrap_or_default())
}

/// "mon".."sun" for a date.
pub fn weekday(date: &str) -> &'static str {
    let date: Date = date.parse().expect("date");
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][date.weekday().to_monday_zero_offset() as usize]
}

pub async fn category(server: &Server, clinic: &str, name: &str) -> String {
    let (status, body) = server
        .post(&format!("/api/v1/clinics/{clinic}/categories"), json!({ "name": name }))
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// Publishes a weekly time; `time` is the API body. Returns its id.
pub async fn publish(server: &Server, clinic: &str, time: Value) -> String {
    let (status, body) = server.post(&format!("/api/v1/clinics/{clinic}/times"), time).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// Creates a booking link for some categories; returns its path, `/book/<capability>`.
pub async fn link(server: &Server, clinic: &str, label: &str, categories: &[&str]) -> String {
    let (status, body) = server
        .post(
            &format!("/api/v1/clinics/{clinic}/links"),
            json!({ "label": label, "categories": categories }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["url"].as_str().unwrap().to_string()
}

pub fn rep(name: &str, company: &str, email: &str) -> Value {
    json!({ "name": name, "company": company, "email": email, "phone": null })
}

/// Open slots a link sees between two clinic-local dates.
pub async fn slots(server: &Server, link: &str, from: &str, to: &str) -> Vec<Value> {
    let (status, body) = public_get(server, &format!("{link}/slots?from={from}&to={to}")).await;
    assert_eq!(status, 200, "{body}");
    body["slots"].as_array().unwrap().clone()
}

/// A rep books `start` (clinic-local) with `practitioner` through `link`.
pub async fn book(server: &Server, link: &str, start: &str, practitioner: Option<&str>, rep: Value) -> (u16, Value) {
    public_post(
        server,
        &format!("{link}/bookings"),
        json!({ "start": start, "practitioner_id": practitioner, "rep": rep }),
    )
    .await
}

/// Publishes `doctor`'s 12:00–13:00 on the weekday of each of `days` (in `slot_minutes` slots, else the
/// clinic's appointment length).
pub async fn publish_noons(server: &Server, clinic: &str, doctor: &str, days: &[&str], slot_minutes: Option<u32>) {
    for day in days {
        let mut time = json!({"weekday": weekday(day), "start": "12:00", "end": "13:00", "practitioner_id": doctor});
        if let Some(minutes) = slot_minutes {
            time["slot_minutes"] = json!(minutes);
        }
        publish(server, clinic, time).await;
    }
}

/// Changes clinic settings through the admin API.
pub async fn set_rules(server: &Server, clinic: &str, rules: Value) {
    let (status, body) = server.patch(&format!("/api/v1/clinics/{clinic}"), rules).await;
    assert_eq!(status, 200, "{body}");
}

/// A clinic with Dr Ana Ng and Dr Ben Okafor and the default rules.
pub struct BookingClinic {
    pub id: String,
    pub ana: String,
    pub ben: String,
}

pub async fn clinic(server: &Server, zone: &str, state: &str) -> BookingClinic {
    let id = server.create_clinic(&format!("Clinic in {zone}"), zone, state).await;
    let ana = server.add_doctor(&id, "Ana", "Ng", "MED0001234567").await;
    let ben = server.add_doctor(&id, "Ben", "Okafor", "MED0007654321").await;
    BookingClinic { id, ana, ben }
}

/// A Python with the `icalendar` library, as `make test-deps` sets it up (override: REPBOOK_TEST_PYTHON).
pub fn python() -> PathBuf {
    if let Ok(python) = std::env::var("REPBOOK_TEST_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run `make test-deps` (it makes a venv with icalendar and radicale)",
        venv.display()
    );
    venv
}
