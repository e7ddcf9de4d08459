//! Typed Halo immediate queries: the command type, execution mode and SqlDbType enums of Halo's API, one
//! parameter builder, and reading an answer (rows decoded from base64 JSON, output parameters, and the one
//! parser of SQL Server errors). User values only ever travel as parameters; statement text is fixed.

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::repbook::pms::types::LocalDate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandType {
    Text,
    StoredProcedure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionMode {
    Reader,
    NonQuery,
}

/// The SqlDbType values this connector sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlDbType {
    Int,
    Date,
    NVarChar,
}

#[derive(Debug, Clone)]
pub struct Param {
    name: &'static str,
    kind: SqlDbType,
    value: String,
}

pub fn int(name: &'static str, value: i64) -> Param {
    Param { name, kind: SqlDbType::Int, value: value.to_string() }
}

pub fn date(name: &'static str, value: &LocalDate) -> Param {
    Param { name, kind: SqlDbType::Date, value: date_text(value) }
}

pub fn text(name: &'static str, value: &str) -> Param {
    Param { name, kind: SqlDbType::NVarChar, value: value.to_string() }
}

pub fn date_text(date: &LocalDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year, date.month, date.day)
}

/// A command for `POST /integrator/sites/{guid}/queries/immediate`.
#[derive(Debug, Clone)]
pub struct Query {
    text: String,
    kind: CommandType,
    mode: ExecutionMode,
    params: Vec<Param>,
}

impl Query {
    /// A documented Bp procedure, fully qualified as the reference's Halo client does it.
    pub fn procedure(name: &str, mode: ExecutionMode) -> Query {
        Query { text: format!("BPSPATIENTS.dbo.{name}"), kind: CommandType::StoredProcedure, mode, params: vec![] }
    }

    /// A fixed T-SQL batch; its values are `@name` placeholders bound to parameters.
    pub fn batch(text: impl Into<String>) -> Query {
        Query { text: text.into(), kind: CommandType::Text, mode: ExecutionMode::Reader, params: vec![] }
    }

    pub fn param(mut self, param: Param) -> Query {
        self.params.push(param);
        self
    }

    pub fn body(&self) -> Value {
        let parameters: Vec<Value> = self
            .params
            .iter()
            .map(|p| {
                let kind = match p.kind {
                    SqlDbType::Int => "Int",
                    SqlDbType::Date => "Date",
                    SqlDbType::NVarChar => "NVarChar",
                };
                json!({"name": p.name, "direction": "input", "type": kind, "value": p.value})
            })
            .collect();
        json!({
            "maxTimeInQueue": 30000,
            "command": {
                "text": self.text,
                "type": match self.kind { CommandType::Text => "text", CommandType::StoredProcedure => "storedProcedure" },
                "executionMode": match self.mode { ExecutionMode::Reader => "reader", ExecutionMode::NonQuery => "nonQuery" },
                "parameters": parameters,
            },
        })
    }
}

/// A SQL Server error passed on by Halo (`errorDetails.errorType` = mssql or fbsql).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    pub number: i64,
    pub message: String,
}

/// The one place that reads a query's `errorDetails`: `Ok(Some)` for an SQL error, `Err` with the message
/// for any other failure of the query (transfer, Halo Link).
pub fn query_error(body: &Value) -> Result<Option<SqlError>, String> {
    let details = body.get("errorDetails");
    let message = details
        .and_then(|d| d.get("errorMessage"))
        .or_else(|| body.get("errorMessage"))
        .and_then(Value::as_str)
        .unwrap_or("the query did not succeed")
        .to_string();
    match details.and_then(|d| d.get("errorType")).and_then(Value::as_str) {
        Some("mssql") | Some("fbsql") => {
            let number = details.and_then(|d| d.get("errorCode")).and_then(Value::as_i64).unwrap_or(0);
            Ok(Some(SqlError { number, message }))
        }
        _ if details.is_none() && body.get("errorMessage").is_none() => Ok(None),
        _ => Err(message),
    }
}

pub type Row = Map<String, Value>;

/// A successful query's result: its decoded rows (none for a nonQuery).
#[derive(Debug, Default)]
pub struct QueryResult {
    pub rows: Vec<Row>,
}

/// Decodes `result` of a successful answer: `data` is base64 of a JSON array of row objects.
pub fn decode_result(answer: &Value) -> Result<QueryResult, String> {
    let result = answer.get("result").cloned().unwrap_or(Value::Null);
    let rows = match result.get("data").and_then(Value::as_str).filter(|d| !d.is_empty()) {
        None => vec![],
        Some(data) => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(data).map_err(|e| format!("result data is not base64: {e}"))?;
            let rows: Vec<Value> = serde_json::from_slice(&bytes).map_err(|e| format!("result data is not JSON rows: {e}"))?;
            rows.into_iter().filter_map(|row| if let Value::Object(map) = row { Some(map) } else { None }).collect()
        }
    };
    Ok(QueryResult { rows })
}

/// A column by name, case-insensitively (Bp clients disagree on casing).
fn column<'r>(row: &'r Row, names: &[&str]) -> Option<&'r Value> {
    names.iter().find_map(|name| row.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)).filter(|v| !v.is_null())
}

pub fn int_of(row: &Row, names: &[&str]) -> Option<i64> {
    column(row, names).and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())))
}

/// Text with Bp's padding trimmed.
pub fn text_of(row: &Row, names: &[&str]) -> String {
    column(row, names).and_then(Value::as_str).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// A date column (`2025-07-01T00:00:00` or `2025-07-01`).
pub fn date_of(row: &Row, names: &[&str]) -> Option<LocalDate> {
    let text = column(row, names).and_then(Value::as_str)?;
    let day = text.get(..10)?;
    let mut parts = day.split('-');
    Some(LocalDate { year: parts.next()?.parse().ok()?, month: parts.next()?.parse().ok()?, day: parts.next()?.parse().ok()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_errors_and_other_failures_are_told_apart() {
        let sql = json!({"status": "executionFailed", "errorDetails": {"errorType": "mssql", "errorCode": 229, "errorMessage": "denied"}});
        assert_eq!(query_error(&sql), Ok(Some(SqlError { number: 229, message: "denied".into() })));
        let transfer = json!({"errorDetails": {"errorType": "http", "errorCode": 413, "errorMessage": "too big"}});
        assert_eq!(query_error(&transfer), Err("too big".into()));
        assert_eq!(query_error(&json!({"status": "successful"})), Ok(None));
    }

    #[test]
    fn parameters_carry_values_as_strings_with_their_sql_type() {
        let body = Query::procedure("BP_CancelAppointment", ExecutionMode::NonQuery).param(int("@aptid", 5001)).body();
        assert_eq!(body["command"]["text"], "BPSPATIENTS.dbo.BP_CancelAppointment");
        assert_eq!(body["command"]["parameters"][0], json!({"name": "@aptid", "direction": "input", "type": "Int", "value": "5001"}));
    }
}
