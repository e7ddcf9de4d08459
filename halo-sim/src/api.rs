//! The Halo Cloud Integrator routes: getSites, getSite, pair-site and immediate queries, with the
//! reference's shapes, statuses and both error envelopes (nested `{"error": {...}}` as in the OpenAPI
//! examples; flat `{status, statusText, message}` for 429/503/504 as on the troubleshooting page).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bp::{Bp, Command, CommandType, Outcome};
use crate::state::{Sim, Site, uuid_v4};

type Shared = Arc<Mutex<Sim>>;

pub fn router(sim: Shared) -> Router {
    Router::new()
        .route("/integrator/sites", get(get_sites))
        .route("/integrator/sites/{guid}", get(get_site))
        .route("/integrator/pair-site", post(pair_site))
        .route("/integrator/sites/{guid}/queries/immediate", post(immediate_query))
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

fn authorise(sim: &Sim, headers: &HeaderMap) -> Result<(), Response> {
    match headers.get("ocp-apim-subscription-key").and_then(|v| v.to_str().ok()) {
        None => Err(nested(
            StatusCode::UNAUTHORIZED,
            "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.",
        )),
        Some(key) if sim.keys.iter().any(|k| k == key) => Ok(()),
        Some(_) => Err(nested(StatusCode::UNAUTHORIZED, "Subscription Key Invalid")),
    }
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
fn site_query(query: &HashMap<String, String>) -> Result<(&String, &String), Response> {
    match (
        query.get("practiceManagementSiteId"),
        query.get("practiceManagementName"),
    ) {
        (Some(site_id), Some(pms)) => Ok((site_id, pms)),
        _ => Err(nested(
            StatusCode::BAD_REQUEST,
            "Required parameters 'practiceManagementSiteId' and 'practiceManagementName' are missing",
        )),
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
        return denied;
    }
    let (site_id, pms) = match site_query(&query) {
        Ok(pair) => pair,
        Err(missing) => return missing,
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
        return denied;
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
        return denied;
    }
    let (site_id, pms) = match site_query(&query) {
        Ok(pair) => pair,
        Err(missing) => return missing,
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryBody {
    max_time_in_queue: Option<u64>,
    #[allow(dead_code)]
    catalogue: Option<String>,
    command: CommandBody,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommandBody {
    text: String,
    execution_mode: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    parameters: Vec<ParameterBody>,
}

#[derive(Deserialize)]
struct ParameterBody {
    name: String,
    #[serde(default)]
    direction: Option<String>,
    #[serde(rename = "type", default)]
    #[allow(dead_code)]
    kind: Option<String>,
    value: Option<String>,
    #[allow(dead_code)]
    size: Option<i64>,
}

fn query_base(sim: &Sim, guid: &str, status: &str, max_time: u64, size: usize) -> serde_json::Map<String, Value> {
    let stamp = now();
    let mut base = serde_json::Map::new();
    for (k, v) in [
        ("id", json!(uuid_v4())),
        ("integratorId", json!(sim.integrator_id)),
        ("siteId", json!(guid)),
        ("mode", json!("immediate")),
        ("status", json!(status)),
        ("maxTimeInQueue", json!(max_time)),
        ("commandSize", json!(size)),
        ("requestSize", json!(size)),
        ("createdAt", json!(stamp)),
        ("updatedAt", json!(stamp)),
        (
            "statusTiming",
            json!({"initialising": {"startTime": stamp, "endTime": stamp}, "executing": {"startTime": stamp, "endTime": stamp}}),
        ),
        ("completedAt", json!(stamp)),
    ] {
        base.insert(k.into(), v);
    }
    base
}

async fn immediate_query(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(guid): Path<String>,
    body: Bytes,
) -> Response {
    // Checks and faults that answer before the site executes anything.
    let (site_id, latency) = {
        let mut sim = lock(&shared);
        if let Err(denied) = authorise(&sim, &headers) {
            return denied;
        }
        let site = match find(&sim, &guid) {
            Lookup::Current(site) => site,
            Lookup::Retired => return nested(StatusCode::FORBIDDEN, "Forbidden"),
            Lookup::Unknown => return nested(StatusCode::NOT_FOUND, "The server cannot find the requested resource."),
        };
        if !site.seed.authoritative || !site.paired {
            return nested(StatusCode::FORBIDDEN, "Forbidden");
        }
        let site_id = site.seed.site_id.clone();
        *sim.requests.entry(site_id.clone()).or_default() += 1;
        let faults = sim.faults.entry(site_id.clone()).or_default();
        if faults.offline {
            return flat(
                StatusCode::SERVICE_UNAVAILABLE,
                "Site could not be contacted, please try again later or contact a system administrator.",
            );
        }
        if faults.unreachable {
            return flat(StatusCode::GATEWAY_TIMEOUT, "Site is unreachable");
        }
        if faults.rate_limit_next > 0 {
            faults.rate_limit_next -= 1;
            let retry_after = faults.retry_after_seconds.max(1);
            let mut response = flat(StatusCode::TOO_MANY_REQUESTS, "Rate Limit Exceeded");
            response.headers_mut().insert("retry-after", retry_after.into());
            return response;
        }
        if faults.error_500_next > 0 {
            faults.error_500_next -= 1;
            return nested(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Failed to create query container in CosmosDB.",
            );
        }
        (site_id, faults.latency_ms)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let request: QueryBody = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return nested(StatusCode::BAD_REQUEST, &format!("Invalid request body: {e}")),
    };
    let max_time = request.max_time_in_queue.unwrap_or(30_000);
    if max_time > 60_000 {
        return nested(StatusCode::BAD_REQUEST, "maxTimeInQueue must be between 0 and 60000");
    }
    let kind = match request.command.kind.as_deref().unwrap_or("text") {
        "text" => CommandType::Text,
        "storedProcedure" => CommandType::StoredProcedure,
        other => {
            return nested(
                StatusCode::BAD_REQUEST,
                &format!("'{other}' is not a valid command type"),
            );
        }
    };
    let mode = request
        .command
        .execution_mode
        .clone()
        .unwrap_or_else(|| "reader".into());
    if !["reader", "nonQuery", "scalar"].contains(&mode.as_str()) {
        return nested(
            StatusCode::BAD_REQUEST,
            &format!("'{mode}' is not a valid executionMode"),
        );
    }
    let command = Command {
        text: request.command.text.clone(),
        kind,
        params: request
            .command
            .parameters
            .iter()
            .filter(|p| p.direction.as_deref().unwrap_or("input") != "returnValue")
            .map(|p| (p.name.trim_start_matches('@').to_ascii_lowercase(), p.value.clone()))
            .collect(),
    };
    let mut sim = lock(&shared);
    let write = Bp::is_write(&command);
    let Some(bp) = sim.bps.get_mut(&site_id) else {
        return nested(StatusCode::FORBIDDEN, "Forbidden");
    };
    let executed = bp.execute(&command);
    let size = body.len();
    let result = match executed {
        Err(error) => {
            let mut failed = query_base(&sim, &guid, "executionFailed", max_time, size);
            failed.insert("errorCode".into(), json!(error.number));
            failed.insert("errorMessage".into(), json!(error.message));
            failed.insert(
                "errorDetails".into(),
                json!({"errorType": "mssql", "errorCode": error.number, "errorMessage": error.message}),
            );
            return (StatusCode::BAD_REQUEST, axum::Json(Value::Object(failed))).into_response();
        }
        Ok(Outcome::Rows(rows)) if mode == "nonQuery" => json!({"rowsAffected": rows.len(), "size": 0}),
        Ok(Outcome::Rows(rows)) => {
            let data = serde_json::to_vec(&rows).unwrap_or_default();
            json!({"rows": rows.len(), "size": data.len(), "data": base64::engine::general_purpose::STANDARD.encode(&data)})
        }
        Ok(Outcome::Affected(n)) if mode == "nonQuery" => json!({"rowsAffected": n, "size": 0}),
        Ok(Outcome::Affected(n)) => {
            let data = serde_json::to_vec(&json!([{"RowsAffected": n}])).unwrap_or_default();
            json!({"rows": 1, "size": data.len(), "data": base64::engine::general_purpose::STANDARD.encode(&data)})
        }
    };
    if write {
        let faults = sim.faults.entry(site_id).or_default();
        if faults.timeout_after_write_next > 0 {
            faults.timeout_after_write_next -= 1;
            return flat(
                StatusCode::GATEWAY_TIMEOUT,
                "Query took more than 30 seconds to return a result.",
            );
        }
    }
    let mut done = query_base(&sim, &guid, "successful", max_time, size);
    done.insert("metrics".into(), json!({"sqlExecutionDuration": 3}));
    done.insert("result".into(), result);
    done.insert("resultSize".into(), json!(size));
    axum::Json(Value::Object(done)).into_response()
}
