//! The immediate query route: an integrator's command (T-SQL text or a stored procedure) with its typed
//! parameters, run against the site's Bp, answered as Halo answers it (rows base64-encoded, or a
//! scalar), with the status, timings and log entry the reference shows.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::exec::{self, Direction, Executed, Param};
use crate::sql::{SqlType, Value as SqlValue};
use crate::state::{LoggedCommand, LoggedParameter, Sim, uuid_v4};

type Shared = Arc<Mutex<Sim>>;
use super::*;

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

pub(super) async fn immediate_query(
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
