//! Halo Cloud's Integrator API over the host's `http` import: sites, pairing, immediate queries, the
//! Halo GUID kept in the site cache (re-resolved when Halo says it changed), and the mapping of every Halo
//! answer onto the connector error the host acts on (halo-api.md sections 5 and 6).

use serde_json::Value;

use crate::query::{Query, QueryResult, SqlError, decode_result, query_error};
use crate::repbook::pms::http::{self, HttpError};
use crate::repbook::pms::types::*;
use crate::repbook::pms::{log, site_cache};
use crate::settings::{GUID_KEY, Settings};

const PMS_NAME: &str = "Best Practice";

/// What went wrong talking to Halo, before deciding what it means for the host.
#[derive(Debug)]
pub enum HaloError {
    Http(HttpError),
    Status { status: u16, message: String, retry_after_ms: Option<u32> },
    /// The query ran and SQL Server refused it (a Bp procedure's error or bad SQL).
    Sql(SqlError),
    /// The query failed for another reason (transfer, Halo Link).
    Query(String),
    /// Bp refused because the practitioner's slot is taken; nothing was written.
    Conflict(String),
    /// Halo answered something that does not follow its API.
    Protocol(String),
    /// A setting is missing or wrong.
    Config(ConnectorError),
}

/// Milliseconds from a quota message such as "Quota will be replenished in 00:10:00." (or D.HH:MM:SS).
fn quota_wait_ms(message: &str) -> u32 {
    let Some(at) = message.find("replenished in ") else { return 600_000 };
    let span = message[at + 15..].trim_end_matches('.').trim();
    let (days, clock) = span.split_once('.').filter(|(d, _)| !d.contains(':')).unwrap_or(("0", span));
    let parts: Vec<u64> = clock.split(':').filter_map(|p| p.trim().parse().ok()).collect();
    let seconds = match parts.as_slice() {
        [h, m, s] => h * 3600 + m * 60 + s,
        _ => return 600_000,
    } + days.parse::<u64>().unwrap_or(0) * 86_400;
    (seconds * 1000).clamp(1000, 86_400_000) as u32
}

impl HaloError {
    /// `write`: whether the request could have changed Bp (then a lost answer means the outcome is unknown).
    pub fn into_connector_error(self, write: bool) -> ConnectorError {
        match self {
            HaloError::Http(HttpError::Denied(why)) => ConnectorError::InvalidConfig(format!("repbook refused the request: {why}")),
            HaloError::Http(HttpError::Timeout) if write => ConnectorError::UnknownOutcome("no answer from Halo in time".into()),
            HaloError::Http(HttpError::Timeout) => ConnectorError::Transient("no answer from Halo in time".into()),
            HaloError::Http(HttpError::Transport(why)) if write => ConnectorError::UnknownOutcome(format!("connection to Halo failed: {why}")),
            HaloError::Http(HttpError::Transport(why)) => ConnectorError::Transient(format!("cannot reach Halo: {why}")),
            HaloError::Http(HttpError::TooLarge(limit)) => ConnectorError::Rejected(format!("Halo's answer was larger than {limit} bytes")),
            HaloError::Status { status, message, retry_after_ms } => match status {
                401 => ConnectorError::Auth(format!(
                    "{message}: check the Halo subscription key and that it belongs to this environment (production vs stage)"
                )),
                403 if message.contains("Ip Not Allowed") => ConnectorError::Auth(format!(
                    "Halo refuses requests from this server's IP address ({message}): ask Halo support to allowlist the public IP of the repbook server"
                )),
                403 if message.to_ascii_lowercase().contains("quota") => ConnectorError::RateLimited(quota_wait_ms(&message)),
                403 => ConnectorError::NotAuthoritative(format!(
                    "Halo refused access to the site ({message}): it is not the authoritative site for this Bp Site ID. Reset the connection and Validate again"
                )),
                404 => ConnectorError::SiteNotFound(format!("Halo does not know this site ({message}); Validate the Site ID again")),
                429 => ConnectorError::RateLimited(retry_after_ms.unwrap_or(2_000)),
                502 => ConnectorError::NotPaired(format!("{message} Bp refused the pairing code: generate a new one in Bp and enter it")),
                503 => ConnectorError::SiteOffline(format!("{message} (nothing was executed)")),
                504 if write => ConnectorError::UnknownOutcome(message),
                504 => ConnectorError::SiteOffline(format!("{message} (a read; nothing changed)")),
                500 if write => ConnectorError::UnknownOutcome(format!("Halo error 500: {message}")),
                _ if status >= 500 => ConnectorError::Transient(format!("Halo error {status}: {message}")),
                _ => ConnectorError::Rejected(format!("Halo answered {status}: {message}")),
            },
            HaloError::Sql(SqlError { number, message }) => ConnectorError::Rejected(format!("Bp Premier (SQL Server error {number}): {message}")),
            HaloError::Query(message) if write => ConnectorError::UnknownOutcome(message),
            HaloError::Query(message) => ConnectorError::Transient(message),
            HaloError::Conflict(message) => ConnectorError::Conflict(message),
            HaloError::Protocol(message) => ConnectorError::Transient(format!("unexpected answer from Halo: {message}")),
            HaloError::Config(error) => error,
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

    fn usable(&self) -> bool {
        self.best_practice && self.authoritative != Some(false) && self.status == "active" && !self.id.is_empty()
    }

    pub fn info(&self) -> SiteInfo {
        let mut details = vec![("halo_guid".to_string(), self.id.clone()), ("status".to_string(), self.status.clone())];
        if let Some(version) = &self.pms_version {
            details.push(("bp_version".into(), version.clone()));
        }
        SiteInfo { practice_name: self.practice_name.clone(), availability: self.availability.clone(), version: self.halo_link_version.clone(), details }
    }
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

fn retry_after_ms(headers: &[(String, String)]) -> Option<u32> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, v)| v.trim().parse::<f64>().ok())
        .map(|seconds| (seconds * 1000.0).clamp(0.0, 3_600_000.0) as u32)
}

/// Where Halo's requests go: the host's `http.send` in the component; a fake that records and answers in
/// the connector's own unit tests (natively, where there is no host to import from).
pub trait Transport {
    fn send(&self, request: &http::Request) -> Result<http::Response, http::HttpError>;
}

/// The host's `http.send` import.
pub struct HostHttp;

impl Transport for HostHttp {
    fn send(&self, request: &http::Request) -> Result<http::Response, http::HttpError> {
        http::send(request)
    }
}

pub struct Halo<'a> {
    settings: &'a Settings,
    transport: &'a dyn Transport,
}

impl<'a> Halo<'a> {
    pub fn new(settings: &'a Settings) -> Halo<'a> {
        Halo { settings, transport: &HostHttp }
    }

    #[cfg(test)]
    pub fn with_transport(settings: &'a Settings, transport: &'a dyn Transport) -> Halo<'a> {
        Halo { settings, transport }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, HaloError> {
        let request = http::Request {
            method: method.into(),
            url: format!("{}{path}", self.settings.base_url),
            headers: vec![("Accept".into(), "application/json".into()), ("Content-Type".into(), "application/json".into())],
            body: body.map(|b| b.to_string().into_bytes()),
            // Halo answers immediate queries within 30 s or gives 504 itself.
            timeout_ms: Some(35_000),
        };
        let response = self.transport.send(&request).map_err(HaloError::Http)?;
        let parsed: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        // A failed query comes back as an executionFailed object (400, and some app-level errors with 200).
        if parsed.get("errorDetails").is_some() {
            return Err(match query_error(&parsed) {
                Ok(Some(sql)) => HaloError::Sql(sql),
                Ok(None) => HaloError::Protocol("a failed query without its error".into()),
                Err(message) => HaloError::Query(message),
            });
        }
        if !(200..300).contains(&response.status) {
            return Err(HaloError::Status {
                status: response.status,
                message: error_message(&parsed).unwrap_or_else(|| String::from_utf8_lossy(&response.body).chars().take(200).collect()),
                retry_after_ms: retry_after_ms(&response.headers),
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
        sites.iter().find(|s| s.usable()).cloned().ok_or_else(|| {
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

    /// An immediate query. A 200 whose query status is not `successful` is a failure too.
    pub fn query(&self, guid: &str, query: &Query) -> Result<QueryResult, HaloError> {
        let answer = self.call("POST", &format!("/integrator/sites/{}/queries/immediate", encode(guid)), Some(&query.body()))?;
        if answer.get("status").and_then(Value::as_str) != Some("successful") {
            return Err(HaloError::Query(error_message(&answer).unwrap_or_else(|| "the query did not succeed".into())));
        }
        decode_result(&answer).map_err(HaloError::Protocol)
    }

    /// Runs `work` against the site's Halo GUID (cached, else resolved). A 403 or 404 is told apart with
    /// getSites: a changed GUID is re-resolved and the work retried once; the same GUID still
    /// authoritative means repbook is not paired (or the integration is off in Bp); otherwise the site is
    /// no longer the authoritative one.
    pub fn on_site<T>(&self, write: bool, work: impl Fn(&Halo, &str) -> Result<T, HaloError>) -> Result<T, ConnectorError> {
        let site_id = self.settings.site_id()?;
        let guid = match &self.settings.cached_guid {
            Some(guid) => guid.clone(),
            None => {
                let site = self.resolve_site(site_id)?;
                site_cache::remember(GUID_KEY, &site.id);
                site.id
            }
        };
        match work(self, &guid) {
            Err(HaloError::Status { status: status @ (403 | 404), message, retry_after_ms })
                if !message.contains("Ip Not Allowed") && !message.to_ascii_lowercase().contains("quota") =>
            {
                let site = self.resolve_site(site_id)?;
                if site.id.eq_ignore_ascii_case(&guid) {
                    if status == 404 {
                        return Err(HaloError::Status { status, message, retry_after_ms }.into_connector_error(write));
                    }
                    return Err(ConnectorError::NotPaired(format!(
                        "Halo refused access ({message}) to the site that is authoritative for BP Site ID {site_id}: repbook is \
                         not paired with it, or the integration was switched off in Bp. Check Setup > Configuration > Database > \
                         Setup third-party integrations in Bp, generate a pairing code there, enter it and Validate again"
                    )));
                }
                log::log(log::Level::Info, &format!("Halo GUID for Bp site {site_id} changed; using the new one"));
                site_cache::remember(GUID_KEY, &site.id);
                work(self, &site.id).map_err(|e| e.into_connector_error(write))
            }
            other => other.map_err(|e| e.into_connector_error(write)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_messages_say_how_long_to_wait() {
        assert_eq!(quota_wait_ms("Out of call volume quota. Quota will be replenished in 00:10:00."), 600_000);
        assert_eq!(quota_wait_ms("Quota will be replenished in 1.02:00:00."), 86_400_000);
        assert_eq!(quota_wait_ms("quota exceeded"), 600_000);
    }

    #[test]
    fn forbidden_answers_are_told_apart() {
        let status = |message: &str| HaloError::Status { status: 403, message: message.into(), retry_after_ms: None };
        assert!(matches!(status("Caller Ip Not Allowed").into_connector_error(false), ConnectorError::Auth(_)));
        assert!(matches!(
            status("Out of call volume quota. Quota will be replenished in 00:00:30.").into_connector_error(true),
            ConnectorError::RateLimited(30_000)
        ));
        assert!(matches!(status("Forbidden").into_connector_error(false), ConnectorError::NotAuthoritative(_)));
    }
}
