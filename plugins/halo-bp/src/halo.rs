//! Halo Cloud's Integrator API over the host's `http` import: sites, pairing, immediate queries, and the
//! mapping of every Halo answer onto the connector error the host acts on.

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::repbook::pms::http::{self, HttpError};
use crate::repbook::pms::site_cache;
use crate::repbook::pms::types::*;
use crate::settings::Settings;

pub const GUID_KEY: &str = "halo_guid";
const PMS_NAME: &str = "Best Practice";

/// What went wrong talking to Halo, before deciding what it means for the host.
#[derive(Debug)]
pub enum HaloError {
    Http(HttpError),
    Status { status: u16, message: String, retry_after_ms: Option<u32> },
    /// The query ran and SQL Server refused it (Bp procedure error or bad SQL).
    Sql { number: i64, message: String },
    /// The query failed for another reason (transfer, Halo Link).
    Query(String),
    /// Bp refused because the practitioner's slot is taken.
    Conflict(String),
    Protocol(String),
}

impl HaloError {
    /// `write`: whether the request could have changed Bp (then a lost answer means the outcome is unknown).
    pub fn into_connector_error(self, write: bool) -> ConnectorError {
        match self {
            HaloError::Http(HttpError::Denied(why)) => ConnectorError::InvalidConfig(format!("repbook refused the request: {why}")),
            HaloError::Http(HttpError::Timeout) => ConnectorError::UnknownOutcome("no answer from Halo in time".into()),
            HaloError::Http(HttpError::Transport(why)) => ConnectorError::Transient(format!("cannot reach Halo: {why}")),
            HaloError::Http(HttpError::TooLarge(limit)) => ConnectorError::Rejected(format!("Halo's answer was larger than {limit} bytes")),
            HaloError::Status { status, message, retry_after_ms } => match status {
                401 => ConnectorError::Auth(format!(
                    "{message}: check the Halo subscription key and that it belongs to this environment (production vs stage)"
                )),
                403 => ConnectorError::NotAuthoritative(format!(
                    "Halo refused access to the site ({message}): it is not the authoritative site for this Bp Site ID, or \
                     repbook is no longer paired or enabled in Bp. Reset the connection and Validate again"
                )),
                404 => ConnectorError::SiteNotFound(format!("Halo does not know this site ({message}); Validate the Site ID again")),
                429 => ConnectorError::RateLimited(retry_after_ms.unwrap_or(2_000)),
                502 => ConnectorError::NotPaired(format!("{message} Bp refused the pairing code: generate a new one in Bp and enter it")),
                503 => ConnectorError::SiteOffline(format!("{message} (nothing was executed)")),
                504 => ConnectorError::UnknownOutcome(message),
                500 if write => ConnectorError::UnknownOutcome(format!("Halo error 500: {message}")),
                500..=599 => ConnectorError::Transient(format!("Halo error {status}: {message}")),
                _ => ConnectorError::Rejected(format!("Halo answered {status}: {message}")),
            },
            HaloError::Sql { number, message } => ConnectorError::Rejected(format!("Bp Premier (SQL Server error {number}): {message}")),
            HaloError::Query(message) => {
                if write { ConnectorError::UnknownOutcome(message) } else { ConnectorError::Transient(message) }
            }
            HaloError::Conflict(message) => ConnectorError::Conflict(message),
            HaloError::Protocol(message) => ConnectorError::Transient(format!("unexpected answer from Halo: {message}")),
        }
    }
}

/// A Halo site, from getSites / getSite / pair-site (every field optional, as in the reference).
#[derive(Debug, Clone)]
pub struct Site {
    pub id: String,
    pub availability: String,
    pub status: String,
    pub authoritative: Option<bool>,
    pub practice_name: String,
    pub halo_link_version: Option<String>,
    pub pms_version: Option<String>,
    pub best_practice: bool,
}

fn text(value: &Value, path: &[&str]) -> Option<String> {
    let mut current = value;
    for key in path {
        current = current.get(key)?;
    }
    current.as_str().map(str::to_string)
}

impl Site {
    fn parse(value: &Value) -> Site {
        Site {
            id: text(value, &["id"]).unwrap_or_default(),
            availability: text(value, &["availability"]).unwrap_or_else(|| "unknown".into()),
            status: text(value, &["status"]).unwrap_or_default(),
            authoritative: value.get("authoritative").and_then(Value::as_bool),
            practice_name: text(value, &["practiceMetadata", "practiceName"]).or_else(|| text(value, &["name"])).unwrap_or_default(),
            halo_link_version: text(value, &["haloLinkVersion"]),
            pms_version: text(value, &["practiceMetadata", "practiceManagementVersion"]).or_else(|| text(value, &["practiceManagementVersion"])),
            best_practice: text(value, &["pmsType"]).is_none_or(|t| t == "BestPractice")
                && text(value, &["practiceManagementName"]).is_none_or(|n| n == PMS_NAME),
        }
    }

    pub fn info(&self) -> SiteInfo {
        let mut details = vec![("halo_guid".to_string(), self.id.clone()), ("status".to_string(), self.status.clone())];
        if let Some(version) = &self.pms_version {
            details.push(("bp_version".into(), version.clone()));
        }
        SiteInfo { practice_name: self.practice_name.clone(), availability: self.availability.clone(), version: self.halo_link_version.clone(), details }
    }
}

/// Rows of a reader query (decoded from base64 JSON) or the count of a nonQuery.
pub struct QueryResult {
    pub rows: Vec<Map<String, Value>>,
    pub rows_affected: Option<i64>,
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The message of either documented error envelope, or of a failed query object.
fn error_message(body: &Value) -> Option<String> {
    text(body, &["error", "message"])
        .or_else(|| text(body, &["message"]))
        .or_else(|| text(body, &["errorDetails", "errorMessage"]))
        .or_else(|| text(body, &["errorMessage"]))
}

pub struct Halo<'a> {
    base: &'a str,
}

impl<'a> Halo<'a> {
    pub fn new(settings: &'a Settings) -> Halo<'a> {
        Halo { base: &settings.base_url }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, HaloError> {
        let request = http::Request {
            method: method.into(),
            url: format!("{}{path}", self.base),
            headers: vec![("Accept".into(), "application/json".into()), ("Content-Type".into(), "application/json".into())],
            body: body.map(|b| b.to_string().into_bytes()),
            // Halo answers immediate queries within 30 s or gives 504 itself.
            timeout_ms: Some(35_000),
        };
        let response = http::send(&request).map_err(HaloError::Http)?;
        let parsed: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        if response.status == 400 {
            if let Some(details) = parsed.get("errorDetails") {
                let message = text(details, &["errorMessage"]).unwrap_or_default();
                return Err(match text(details, &["errorType"]).as_deref() {
                    Some("mssql") | Some("fbsql") => HaloError::Sql { number: details.get("errorCode").and_then(Value::as_i64).unwrap_or(0), message },
                    _ => HaloError::Query(message),
                });
            }
        }
        if !(200..300).contains(&response.status) {
            let retry_after_ms = response
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                .and_then(|(_, v)| v.trim().parse::<f64>().ok())
                .map(|seconds| (seconds * 1000.0).clamp(0.0, 3_600_000.0) as u32);
            return Err(HaloError::Status {
                status: response.status,
                message: error_message(&parsed).unwrap_or_else(|| String::from_utf8_lossy(&response.body).chars().take(200).collect()),
                retry_after_ms,
            });
        }
        Ok(parsed)
    }

    pub fn get_sites(&self, site_id: &str) -> Result<Vec<Site>, HaloError> {
        let path = format!("/integrator/sites?practiceManagementSiteId={}&practiceManagementName={}", encode(site_id), encode(PMS_NAME));
        let body = self.call("GET", &path, None)?;
        let sites = body.get("sites").and_then(Value::as_array).ok_or_else(|| HaloError::Protocol("getSites answer has no sites".into()))?;
        Ok(sites.iter().map(Site::parse).collect())
    }

    /// The authoritative, active Best Practice site for a Bp Site ID.
    pub fn resolve_site(&self, site_id: &str) -> Result<Site, ConnectorError> {
        let sites = self.get_sites(site_id).map_err(|e| e.into_connector_error(false))?;
        if sites.is_empty() {
            return Err(ConnectorError::SiteNotFound(format!(
                "Halo has no site for BP Site ID {site_id}: Halo Link is not installed or not running on the Bp Premier \
                 server. Reinstall Halo Link following Best Practice's guide, check the integration is enabled in Bp \
                 (Setup > Configuration > Database > Setup third-party integrations), then Validate again."
            )));
        }
        let chosen = sites.iter().find(|s| s.best_practice && s.authoritative != Some(false) && s.status == "active" && !s.id.is_empty());
        chosen.cloned().ok_or_else(|| {
            let seen: Vec<String> = sites
                .iter()
                .map(|s| format!("{} ({}, {}, authoritative: {})", s.practice_name, s.status, s.availability, s.authoritative.map_or("unknown".into(), |a| a.to_string())))
                .collect();
            ConnectorError::NotAuthoritative(format!(
                "no active authoritative Halo site for BP Site ID {site_id}; Halo reports: {}. Ask the practice which Bp server is live",
                seen.join("; ")
            ))
        })
    }

    pub fn get_site(&self, guid: &str) -> Result<Site, HaloError> {
        self.call("GET", &format!("/integrator/sites/{}", encode(guid)), None).map(|v| Site::parse(&v))
    }

    pub fn pair(&self, site_id: &str, code: &str) -> Result<Site, ConnectorError> {
        let path = format!(
            "/integrator/pair-site?practiceManagementSiteId={}&practiceManagementName={}&pairingCode={}",
            encode(site_id),
            encode(PMS_NAME),
            encode(code)
        );
        let site = self.call("POST", &path, None).map(|v| Site::parse(&v)).map_err(|e| e.into_connector_error(false))?;
        site_cache::remember(GUID_KEY, &site.id);
        Ok(site)
    }

    /// An immediate query; `params` are (name, SqlDbType, value).
    pub fn query(&self, guid: &str, statement: &str, kind: &str, mode: &str, params: &[(&str, &str, String)]) -> Result<QueryResult, HaloError> {
        let parameters: Vec<Value> =
            params.iter().map(|(name, sql_type, value)| json!({"name": name, "direction": "input", "type": sql_type, "value": value})).collect();
        let body = json!({
            "maxTimeInQueue": 30000,
            "command": {"text": statement, "executionMode": mode, "type": kind, "parameters": parameters},
        });
        let answer = self.call("POST", &format!("/integrator/sites/{}/queries/immediate", encode(guid)), Some(&body))?;
        // Some app-level failures come back as 200 with a failed query object.
        if text_status(&answer) != Some("successful") {
            let message = error_message(&answer).unwrap_or_else(|| "query did not succeed".into());
            return Err(match text(&answer, &["errorDetails", "errorType"]).as_deref() {
                Some("mssql") | Some("fbsql") => HaloError::Sql { number: answer["errorDetails"]["errorCode"].as_i64().unwrap_or(0), message },
                _ => HaloError::Query(message),
            });
        }
        let result = answer.get("result").cloned().unwrap_or(Value::Null);
        let rows = match result.get("data").and_then(Value::as_str).filter(|d| !d.is_empty()) {
            None => vec![],
            Some(data) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .map_err(|e| HaloError::Protocol(format!("result data is not base64: {e}")))?;
                let rows: Vec<Value> = serde_json::from_slice(&bytes).map_err(|e| HaloError::Protocol(format!("result data is not JSON rows: {e}")))?;
                rows.into_iter().filter_map(|row| if let Value::Object(map) = row { Some(map) } else { None }).collect()
            }
        };
        Ok(QueryResult { rows, rows_affected: result.get("rowsAffected").and_then(Value::as_i64) })
    }

    /// Runs `work` against the site's Halo GUID (cached, else resolved). On 403/404 the GUID may have
    /// changed: it is re-resolved by Bp Site ID once and the work retried on the new GUID.
    pub fn on_site<T>(&self, settings: &Settings, write: bool, work: impl Fn(&Halo, &str) -> Result<T, HaloError>) -> Result<T, ConnectorError> {
        let site_id = settings.site_id()?;
        let guid = match &settings.cached_guid {
            Some(guid) => guid.clone(),
            None => {
                let site = self.resolve_site(site_id)?;
                site_cache::remember(GUID_KEY, &site.id);
                site.id
            }
        };
        match work(self, &guid) {
            Err(HaloError::Status { status: 403 | 404, message, retry_after_ms }) => {
                let site = self.resolve_site(site_id)?;
                if site.id.eq_ignore_ascii_case(&guid) {
                    return Err(HaloError::Status { status: 403, message, retry_after_ms }.into_connector_error(write));
                }
                crate::repbook::pms::log::log(crate::repbook::pms::log::Level::Info, &format!("Halo GUID for Bp site {site_id} changed; using the new one"));
                site_cache::remember(GUID_KEY, &site.id);
                work(self, &site.id).map_err(|e| e.into_connector_error(write))
            }
            other => other.map_err(|e| e.into_connector_error(write)),
        }
    }
}

fn text_status(answer: &Value) -> Option<&str> {
    answer.get("status").and_then(Value::as_str)
}
