//! Control and inspection routes under `/_sim/` (no subscription key): set faults per Bp Site ID, change
//! a site's Halo GUID or flags, list and tamper with what Bp holds, add sessions and away days, read the
//! commands each site executed, count requests.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::bp::BpAppointment;
use crate::state::{Faults, Sim};

type Shared = Arc<Mutex<Sim>>;

pub fn router(sim: Shared) -> Router {
    Router::new()
        .route("/_sim/sites", get(sites))
        .route("/_sim/sites/{site_id}/faults", put(set_faults).get(get_faults))
        .route("/_sim/sites/{site_id}/change-guid", post(change_guid))
        .route("/_sim/sites/{site_id}/away", post(add_away))
        .route("/_sim/sites/{site_id}/sessions", post(add_session))
        .route("/_sim/sites/{site_id}/site", axum::routing::patch(change_site))
        .route("/_sim/sites/{site_id}/log", get(command_log).delete(clear_log))
        .route("/_sim/sites/{site_id}/appointments", get(appointments).post(insert))
        .route(
            "/_sim/sites/{site_id}/appointments/{record_id}",
            axum::routing::patch(tamper).delete(remove),
        )
        .route("/_sim/stats", get(stats))
        .with_state(sim)
}

fn lock(sim: &Shared) -> std::sync::MutexGuard<'_, Sim> {
    sim.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": format!("{what} not found")})),
    )
        .into_response()
}

async fn sites(State(sim): State<Shared>) -> Json<serde_json::Value> {
    let sim = lock(&sim);
    let sites: Vec<_> = sim
        .sites
        .iter()
        .map(|s| {
            json!({"site_id": s.seed.site_id, "guid": s.guid, "authoritative": s.seed.authoritative, "paired": s.paired,
                   "availability": sim.availability(s), "faults": sim.faults(&s.seed.site_id)})
        })
        .collect();
    Json(json!({ "sites": sites }))
}

async fn set_faults(
    State(sim): State<Shared>,
    Path(site_id): Path<String>,
    Json(faults): Json<Faults>,
) -> Json<Faults> {
    lock(&sim).faults.insert(site_id, faults.clone());
    Json(faults)
}

async fn get_faults(State(sim): State<Shared>, Path(site_id): Path<String>) -> Json<Faults> {
    Json(lock(&sim).faults(&site_id))
}

async fn change_guid(State(sim): State<Shared>, Path(site_id): Path<String>) -> Response {
    match lock(&sim).change_guid(&site_id) {
        Some(guid) => Json(json!({ "guid": guid })).into_response(),
        None => not_found("authoritative site"),
    }
}

#[derive(Deserialize)]
struct Away {
    user_id: i64,
    date: String,
}

async fn add_away(State(sim): State<Shared>, Path(site_id): Path<String>, Json(away): Json<Away>) -> Response {
    match lock(&sim).bps.get_mut(&site_id) {
        Some(bp) => {
            bp.add_away(away.user_id, away.date);
            StatusCode::NO_CONTENT.into_response()
        }
        None => not_found("site"),
    }
}

async fn appointments(State(sim): State<Shared>, Path(site_id): Path<String>) -> Response {
    match lock(&sim).bps.get(&site_id) {
        Some(bp) => Json(json!({ "appointments": bp.appointments.values().collect::<Vec<_>>() })).into_response(),
        None => not_found("site"),
    }
}

async fn add_session(
    State(sim): State<Shared>,
    Path(site_id): Path<String>,
    Json(session): Json<crate::seed::SessionSeed>,
) -> Response {
    match lock(&sim).bps.get_mut(&site_id) {
        Some(bp) => {
            bp.seed.sessions.push(session);
            StatusCode::NO_CONTENT.into_response()
        }
        None => not_found("site"),
    }
}

/// Flags of the authoritative site of a Bp Site ID (or of every site with that id for `select_permission`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteChange {
    authoritative: Option<bool>,
    paired: Option<bool>,
    status: Option<String>,
    availability: Option<String>,
    select_permission: Option<bool>,
}

async fn change_site(
    State(sim): State<Shared>,
    Path(site_id): Path<String>,
    Json(change): Json<SiteChange>,
) -> Response {
    let mut sim = lock(&sim);
    let mut found = false;
    for site in sim
        .sites
        .iter_mut()
        .filter(|s| s.seed.site_id == site_id && s.seed.bp.is_some())
    {
        found = true;
        if let Some(value) = change.authoritative {
            site.seed.authoritative = value;
        }
        if let Some(value) = change.paired {
            site.paired = value;
        }
        if let Some(value) = &change.status {
            site.seed.status = value.clone();
        }
        if let Some(value) = &change.availability {
            site.seed.availability = value.clone();
        }
        if let Some(value) = change.select_permission {
            site.seed.select_permission = value;
        }
    }
    if found {
        StatusCode::NO_CONTENT.into_response()
    } else {
        not_found("site")
    }
}

async fn command_log(State(sim): State<Shared>, Path(site_id): Path<String>) -> Json<serde_json::Value> {
    let sim = lock(&sim);
    Json(json!({ "commands": sim.log.get(&site_id).cloned().unwrap_or_default() }))
}

async fn clear_log(State(sim): State<Shared>, Path(site_id): Path<String>) -> StatusCode {
    lock(&sim).log.remove(&site_id);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppointment {
    user_id: i64,
    #[serde(default)]
    patient_id: i64,
    date: jiff::civil::Date,
    time: i64,
    length: i64,
    appointment_type: i64,
    location_id: i64,
    reason: String,
}

async fn insert(State(sim): State<Shared>, Path(site_id): Path<String>, Json(raw): Json<RawAppointment>) -> Response {
    match lock(&sim).bps.get_mut(&site_id) {
        Some(bp) => {
            let id = bp.insert_raw(BpAppointment {
                record_id: 0,
                record_status: 1,
                user_id: raw.user_id,
                patient_id: raw.patient_id,
                date: raw.date,
                time: raw.time,
                length: raw.length,
                appointment_type: raw.appointment_type,
                location_id: raw.location_id,
                reason: raw.reason,
                appointment_code: 1,
            });
            (StatusCode::CREATED, Json(json!({ "record_id": id }))).into_response()
        }
        None => not_found("site"),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Tamper {
    date: Option<jiff::civil::Date>,
    time: Option<i64>,
    length: Option<i64>,
    record_status: Option<i64>,
    reason: Option<String>,
}

async fn tamper(
    State(sim): State<Shared>,
    Path((site_id, record_id)): Path<(String, i64)>,
    Json(change): Json<Tamper>,
) -> Response {
    let mut sim = lock(&sim);
    let Some(appointment) = sim
        .bps
        .get_mut(&site_id)
        .and_then(|bp| bp.appointments.get_mut(&record_id))
    else {
        return not_found("appointment");
    };
    if let Some(date) = change.date {
        appointment.date = date;
    }
    if let Some(time) = change.time {
        appointment.time = time;
    }
    if let Some(length) = change.length {
        appointment.length = length;
    }
    if let Some(status) = change.record_status {
        appointment.record_status = status;
    }
    if let Some(reason) = change.reason {
        appointment.reason = reason;
    }
    Json(json!(appointment)).into_response()
}

async fn remove(State(sim): State<Shared>, Path((site_id, record_id)): Path<(String, i64)>) -> Response {
    match lock(&sim)
        .bps
        .get_mut(&site_id)
        .and_then(|bp| bp.appointments.remove(&record_id))
    {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found("appointment"),
    }
}

async fn stats(State(sim): State<Shared>) -> Json<serde_json::Value> {
    let sim = lock(&sim);
    Json(json!({ "requests": sim.requests, "total": sim.requests.values().sum::<u64>() }))
}
