//! The Halo Cloud Integrator routes: getSites, getSite, pair-site and immediate queries, with the
//! reference's shapes and statuses. Errors use the OpenAPI's nested envelope `{"error": {...}}` (503 and
//! 504 included, as the OpenAPI declares them); the 429 that the API gateway adds uses the troubleshooting
//! page's flat `{status, statusText, message}`. Unknown routes answer 404 "Operation Not Found".
//!
//! `query` is the immediate query route; the rest is here: the sites, pairing, auth and the envelopes.

mod query;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::state::{Sim, Site};

type Shared = Arc<Mutex<Sim>>;

pub fn router(sim: Shared) -> Router {
    Router::new()
        .route("/integrator/sites", get(get_sites))
        .route("/integrator/sites/{guid}", get(get_site))
        .route("/integrator/pair-site", post(pair_site))
        .route(
            "/integrator/sites/{guid}/queries/immediate",
            post(query::immediate_query),
        )
        .fallback(|| async { nested(StatusCode::NOT_FOUND, "Operation Not Found") })
        .method_not_allowed_fallback(|| async { nested(StatusCode::NOT_FOUND, "Operation Not Found") })
        .with_state(sim)
}

fn lock(sim: &Shared) -> std::sync::MutexGuard<'_, Sim> {
    sim.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn status_text(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

/// The OpenAPI examples' envelope.
fn nested(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(
            json!({"error": {"status": status.as_u16(), "statusText": status_text(status), "message": message}}),
        ),
    )
        .into_response()
}

/// The troubleshooting page's envelope.
fn flat(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"status": status.as_u16(), "statusText": status_text(status), "message": message})),
    )
        .into_response()
}

fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The gateway's checks: the subscription key, then the integrator-wide IP allowlist and call quota
/// (the latter two are faults set on any site, since they concern the integrator, not a site).
fn authorise(sim: &Sim, headers: &HeaderMap) -> Result<(), Box<Response>> {
    match headers.get("ocp-apim-subscription-key").and_then(|v| v.to_str().ok()) {
        None => {
            return Err(Box::new(nested(
                StatusCode::UNAUTHORIZED,
                "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.",
            )));
        }
        Some(key) if sim.keys.iter().any(|k| k == key) => {}
        Some(_) => return Err(Box::new(nested(StatusCode::UNAUTHORIZED, "Subscription Key Invalid"))),
    }
    if sim.faults.values().any(|f| f.ip_not_allowed) {
        return Err(Box::new(nested(StatusCode::FORBIDDEN, "Caller Ip Not Allowed")));
    }
    if sim.faults.values().any(|f| f.quota_exceeded) {
        return Err(Box::new(nested(
            StatusCode::FORBIDDEN,
            "Out of call volume quota. Quota will be replenished in 00:10:00.",
        )));
    }
    Ok(())
}

fn site_json(sim: &Sim, site: &Site) -> Value {
    let stamp = now();
    json!({
        "id": site.guid,
        "pmsType": "BestPractice",
        "availability": sim.availability(site),
        "status": site.seed.status,
        "haloLinkVersion": site.seed.halo_link_version,
        "enrichedAt": stamp,
        "catalogue": [{"name": "Patients", "isDefault": true}],
        "practiceMetadata": {
            "pmsType": "BestPractice",
            "practiceName": site.seed.practice_name,
            "practiceManagementSiteId": site.seed.site_id,
            "practiceManagementVersion": "7.4.0",
        },
        "name": site.seed.practice_name,
        "practiceManagementSiteId": site.seed.site_id,
        "practiceManagementName": "Best Practice",
        "practiceManagementVersion": "7.4.0",
        "createdAt": "2024-03-01T00:00:00Z",
        "authoritative": site.seed.authoritative,
        "clientTimestampUTC": stamp,
        "heartbeatTimestampUTC": stamp,
    })
}

/// The two query parameters getSites and pair-site both require.
fn site_query(query: &HashMap<String, String>) -> Result<(&String, &String), Box<Response>> {
    match (
        query.get("practiceManagementSiteId"),
        query.get("practiceManagementName"),
    ) {
        (Some(site_id), Some(pms)) => Ok((site_id, pms)),
        _ => Err(Box::new(nested(
            StatusCode::BAD_REQUEST,
            "Required parameters 'practiceManagementSiteId' and 'practiceManagementName' are missing",
        ))),
    }
}

const PMS_NAMES: [&str; 3] = ["Best Practice", "Zedmed", "D4w"];

async fn get_sites(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let sim = lock(&sim);
    if let Err(denied) = authorise(&sim, &headers) {
        return *denied;
    }
    let (site_id, pms) = match site_query(&query) {
        Ok(pair) => pair,
        Err(missing) => return *missing,
    };
    if !PMS_NAMES.contains(&pms.as_str()) {
        return nested(
            StatusCode::BAD_REQUEST,
            &format!("'{pms}' is not a valid practiceManagementName"),
        );
    }
    let sites: Vec<Value> = if pms == "Best Practice" {
        sim.sites
            .iter()
            .filter(|s| &s.seed.site_id == site_id)
            .map(|s| site_json(&sim, s))
            .collect()
    } else {
        vec![]
    };
    axum::Json(json!({ "sites": sites })).into_response()
}

enum Lookup<'a> {
    Current(&'a Site),
    Retired,
    Unknown,
}

fn find<'a>(sim: &'a Sim, guid: &str) -> Lookup<'a> {
    if let Some(site) = sim.sites.iter().find(|s| s.guid.eq_ignore_ascii_case(guid)) {
        Lookup::Current(site)
    } else if sim
        .sites
        .iter()
        .any(|s| s.retired_guids.iter().any(|g| g.eq_ignore_ascii_case(guid)))
    {
        Lookup::Retired
    } else {
        Lookup::Unknown
    }
}

async fn get_site(State(sim): State<Shared>, headers: HeaderMap, Path(guid): Path<String>) -> Response {
    let mut sim = lock(&sim);
    if let Err(denied) = authorise(&sim, &headers) {
        return *denied;
    }
    let site_id = match find(&sim, &guid) {
        Lookup::Current(site) => site.seed.site_id.clone(),
        Lookup::Retired => return nested(StatusCode::FORBIDDEN, "Forbidden"),
        Lookup::Unknown => return nested(StatusCode::NOT_FOUND, "The server cannot find the requested resource."),
    };
    *sim.requests.entry(site_id).or_default() += 1;
    match find(&sim, &guid) {
        Lookup::Current(site) if !site.paired => nested(StatusCode::FORBIDDEN, "Forbidden"),
        Lookup::Current(site) => axum::Json(site_json(&sim, site)).into_response(),
        _ => nested(StatusCode::NOT_FOUND, "The server cannot find the requested resource."),
    }
}

async fn pair_site(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut sim = lock(&sim);
    if let Err(denied) = authorise(&sim, &headers) {
        return *denied;
    }
    let (site_id, pms) = match site_query(&query) {
        Ok(pair) => pair,
        Err(missing) => return *missing,
    };
    if pms != "Best Practice" {
        return nested(StatusCode::NOT_FOUND, "Site not found");
    }
    let Some(code) = query.get("pairingCode") else {
        return nested(StatusCode::BAD_REQUEST, "Required parameter 'pairingCode' is missing");
    };
    *sim.requests.entry(site_id.clone()).or_default() += 1;
    let Some(index) = sim
        .sites
        .iter()
        .position(|s| &s.seed.site_id == site_id && s.seed.authoritative)
    else {
        return nested(StatusCode::NOT_FOUND, "Site not found");
    };
    if sim.sites[index].seed.pairing_code.as_deref() != Some(code.as_str()) {
        return nested(
            StatusCode::BAD_GATEWAY,
            "The practice management software returned an unexpected result code.",
        );
    }
    sim.sites[index].paired = true;
    axum::Json(site_json(&sim, &sim.sites[index])).into_response()
}
