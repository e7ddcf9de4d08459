//! The Halo Cloud Integrator routes: getSites, getSite, pair-site and immediate queries, with the
//! reference's shapes and statuses. Errors use the OpenAPI's nested envelope `{"error": {...}}` (503 and
//! 504 included, as the OpenAPI declares them); the 429 that the API gateway adds uses the troubleshooting
//! page's flat `{status, statusText, message}`. Unknown routes answer 404 "Operation Not Found".

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

use crate::exec::{self, Direction, Executed, Param};
use crate::sql::{SqlType, Value as SqlValue};
use crate::state::{LoggedCommand, LoggedParameter, Sim, Site, uuid_v4};

type Shared = Arc<Mutex<Sim>>;

pub fn router(sim: Shared) -> Router {
    Router::new()
        .route("/integrator/sites", get(get_sites))
        .route("/integrator/sites/{guid}", get(get_site))
        .route("/integrator/pair-site", post(pair_site))
        .route("/integrator/sites/{guid}/queries/immediate", post(immediate_query))
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryBody {
    max_time_in_queue: Option<i64>,
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
    kind: Option<String>,
    value: Option<String>,
    #[allow(dead_code)]
    size: Option<i64>,
}

/// The OpenAPI's SqlDbType enum, and the SQL type each value is converted to.
const SQL_DB_TYPES: &[(&str, SqlType)] = &[
    ("BigInt", SqlType::Int),
    ("Binary", SqlType::Text),
    ("Bit", SqlType::Bit),
    ("Char", SqlType::Text),
    ("String", SqlType::Text),
    ("Date", SqlType::Date),
    ("DateTime", SqlType::DateTime),
    ("DateTime2", SqlType::DateTime),
    ("DateTimeOffset", SqlType::DateTime),
    ("Decimal", SqlType::Text),
    ("Float", SqlType::Text),
    ("Image", SqlType::Text),
    ("Int", SqlType::Int),
    ("Money", SqlType::Text),
    ("NChar", SqlType::Text),
    ("NText", SqlType::Text),
    ("NVarChar", SqlType::Text),
    ("Real", SqlType::Text),
    ("SmallDateTime", SqlType::DateTime),
    ("SmallInt", SqlType::Int),
    ("SmallMoney", SqlType::Text),
    ("Structured", SqlType::Text),
    ("Text", SqlType::Text),
    ("Time", SqlType::Text),
    ("Timestamp", SqlType::Text),
    ("TinyInt", SqlType::Int),
    ("Udt", SqlType::Text),
    ("UniqueIdentifier", SqlType::Text),
    ("VarBinary", SqlType::Text),
    ("VarChar", SqlType::Text),
    ("Variant", SqlType::Text),
    ("Xml", SqlType::Text),
];

/// The .NET type name in Halo Link's conversion message for a SqlDbType.
fn clr_name(db_type: &str) -> &'static str {
    match db_type {
        "Int" => "Int32",
        "BigInt" => "Int64",
        "SmallInt" => "Int16",
        "TinyInt" => "Byte",
        "Bit" => "Boolean",
        "Date" | "DateTime" | "DateTime2" | "SmallDateTime" => "DateTime",
        "DateTimeOffset" => "DateTimeOffset",
        "UniqueIdentifier" => "Guid",
        "Binary" | "VarBinary" | "Image" | "Timestamp" => "Byte[]",
        _ => "String",
    }
}

/// Checks a parameter's direction, SqlDbType and value, as Halo Link does before building the command.
fn parameter(body: &ParameterBody, stored_procedure: bool) -> Result<Param, String> {
    let direction = match body.direction.as_deref().unwrap_or("input") {
        "input" => Direction::Input,
        "output" => Direction::Output,
        "inputOutput" => Direction::InputOutput,
        "returnValue" => Direction::ReturnValue,
        other => {
            return Err(format!(
                "'{other}' is not a valid parameter direction for '{}'",
                body.name
            ));
        }
    };
    let db_type = body.kind.as_deref().unwrap_or("NVarChar");
    let Some((db_type, kind)) = SQL_DB_TYPES.iter().find(|(name, _)| *name == db_type) else {
        return Err(format!(
            "'{db_type}' is not a valid SqlDbType for parameter '{}'",
            body.name
        ));
    };
    if !body.name.starts_with('@') || body.name.len() < 2 {
        return Err(format!("parameter name '{}' must start with @", body.name));
    }
    let failed = || {
        format!(
            "Failed to convert parameter value from a String to a {}.",
            clr_name(db_type)
        )
    };
    let value = match (&body.value, direction) {
        (_, Direction::Output | Direction::ReturnValue) | (None, _) => SqlValue::Null,
        (Some(text), _) => {
            // Halo's known issue: with storedProcedure, NVarChar over 4000 characters fails to convert.
            if stored_procedure && *db_type == "NVarChar" && text.chars().count() > 4000 {
                return Err(failed());
            }
            let converted = match kind {
                SqlType::Int => text
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *db_type != "Int" || i32::try_from(*n).is_ok())
                    .map(SqlValue::Int),
                SqlType::Bit => match text.trim().to_ascii_lowercase().as_str() {
                    "1" | "true" => Some(SqlValue::Int(1)),
                    "0" | "false" => Some(SqlValue::Int(0)),
                    _ => None,
                },
                SqlType::Date | SqlType::DateTime => SqlValue::Text(text.clone()).convert(*kind).ok(),
                SqlType::Text => Some(SqlValue::Text(text.clone())),
            };
            converted.ok_or_else(failed)?
        }
    };
    Ok(Param {
        name: body.name.to_ascii_lowercase(),
        direction,
        kind: *kind,
        value,
    })
}

fn query_base(sim: &Sim, guid: &str, status: &str, max_time: i64, size: usize) -> serde_json::Map<String, Value> {
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

fn encoded(rows: &[Value]) -> (usize, String) {
    let data = serde_json::to_vec(rows).unwrap_or_default();
    (data.len(), base64::engine::general_purpose::STANDARD.encode(&data))
}

/// `result` of a successful query, per execution mode.
fn result_json(executed: &Executed, mode: &str) -> Value {
    let parameters: Vec<Value> = executed
        .parameters
        .iter()
        .map(|(param, value)| {
            let direction = match param.direction {
                Direction::Input => "input",
                Direction::Output => "output",
                Direction::InputOutput => "inputOutput",
                Direction::ReturnValue => "returnValue",
            };
            json!({"name": param.name, "direction": direction, "value": value.to_parameter()})
        })
        .collect();
    let rows: Vec<Value> = executed
        .rows
        .iter()
        .flatten()
        .map(|row| {
            Value::Object(
                row.iter()
                    .map(|(column, value)| (column.clone(), value.to_json()))
                    .collect(),
            )
        })
        .collect();
    match mode {
        "nonQuery" => json!({"rowsAffected": executed.rows_affected.max(0), "size": 0, "parameters": parameters}),
        "scalar" => {
            let first: Vec<Value> = rows
                .first()
                .and_then(|row| row.as_object())
                .and_then(|row| row.iter().next())
                .map(|(column, value)| vec![json!({ column.clone(): value.clone() })])
                .unwrap_or_default();
            let (size, data) = encoded(&first);
            json!({"rows": first.len(), "size": size, "data": data, "parameters": parameters})
        }
        _ => {
            let (size, data) = encoded(&rows);
            json!({"rows": rows.len(), "size": size, "data": data, "parameters": parameters})
        }
    }
}

async fn immediate_query(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(guid): Path<String>,
    body: Bytes,
) -> Response {
    // The gateway and Halo check the request before anything reaches the site.
    {
        let sim = lock(&shared);
        if let Err(denied) = authorise(&sim, &headers) {
            return *denied;
        }
    }
    let request: QueryBody = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return nested(StatusCode::BAD_REQUEST, &format!("Invalid request body: {e}")),
    };
    let max_time = request.max_time_in_queue.unwrap_or(30_000);
    if !(0..=60_000).contains(&max_time) {
        return nested(StatusCode::BAD_REQUEST, "maxTimeInQueue must be between 0 and 60000");
    }
    if let Some(catalogue) = request
        .catalogue
        .as_deref()
        .filter(|c| !c.eq_ignore_ascii_case("Patients"))
    {
        return nested(
            StatusCode::BAD_REQUEST,
            &format!("Catalogue '{catalogue}' is not available for this site"),
        );
    }
    let stored_procedure = match request.command.kind.as_deref().unwrap_or("text") {
        "text" => false,
        "storedProcedure" => true,
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
    let params = match request
        .command
        .parameters
        .iter()
        .map(|p| parameter(p, stored_procedure))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(params) => params,
        Err(message) => return nested(StatusCode::BAD_REQUEST, &message),
    };

    let (site_id, latency, select_permission) = {
        let mut sim = lock(&shared);
        let site = match find(&sim, &guid) {
            Lookup::Current(site) => site,
            Lookup::Retired => return nested(StatusCode::FORBIDDEN, "Forbidden"),
            Lookup::Unknown => return nested(StatusCode::NOT_FOUND, "The server cannot find the requested resource."),
        };
        let (site_id, select_permission, allowed) = (
            site.seed.site_id.clone(),
            site.seed.select_permission,
            site.seed.authoritative && site.paired,
        );
        *sim.requests.entry(site_id.clone()).or_default() += 1;
        if !allowed {
            return nested(StatusCode::FORBIDDEN, "Forbidden");
        }
        let faults = sim.faults.entry(site_id.clone()).or_default();
        if faults.offline {
            return nested(
                StatusCode::SERVICE_UNAVAILABLE,
                "Site could not be contacted, please try again later or contact a system administrator.",
            );
        }
        if faults.unreachable {
            return nested(StatusCode::GATEWAY_TIMEOUT, "Site is unreachable");
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
        (site_id, faults.latency_ms, select_permission)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }

    let mut sim = lock(&shared);
    let Some(bp) = sim.bps.get_mut(&site_id) else {
        return nested(StatusCode::FORBIDDEN, "Forbidden");
    };
    let text = request.command.text.clone();
    let executed = if stored_procedure {
        exec::run_procedure(bp, &text, &params)
    } else {
        exec::run_text(bp, select_permission, &text, &params)
    };
    let logged = LoggedCommand {
        kind: if stored_procedure { "storedProcedure" } else { "text" }.into(),
        mode: mode.clone(),
        text,
        parameters: request
            .command
            .parameters
            .iter()
            .map(|p| LoggedParameter {
                name: p.name.clone(),
                direction: p.direction.clone().unwrap_or_else(|| "input".into()),
                kind: p.kind.clone().unwrap_or_default(),
                value: p.value.clone(),
            })
            .collect(),
        outcome: match &executed {
            Ok(_) => "ok".into(),
            Err(error) => error.number.to_string(),
        },
        wrote: executed.as_ref().is_ok_and(|e| e.wrote),
    };
    sim.log.entry(site_id.clone()).or_default().push(logged);
    let size = body.len();
    let executed = match executed {
        Ok(executed) => executed,
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
    };
    if executed.wrote {
        let faults = sim.faults.entry(site_id).or_default();
        if faults.timeout_after_write_next > 0 {
            faults.timeout_after_write_next -= 1;
            return nested(
                StatusCode::GATEWAY_TIMEOUT,
                "Query took more than 30 seconds to return a result.",
            );
        }
    }
    let result = result_json(&executed, &mode);
    let mut done = query_base(&sim, &guid, "successful", max_time, size);
    done.insert("metrics".into(), json!({"sqlExecutionDuration": 3}));
    done.insert("result".into(), result);
    done.insert("resultSize".into(), json!(size));
    axum::Json(Value::Object(done)).into_response()
}
