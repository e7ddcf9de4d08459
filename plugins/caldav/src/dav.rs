//! WebDAV/CalDAV over the host's `http` import: PROPFIND, GET, conditional PUT and DELETE, REPORT
//! calendar-query, and the mapping of every status onto the connector error the host acts on
//! (401/403 credentials, 404 no such calendar, 412 re-read, 423/503 offline, other 5xx transient).

use crate::repbook::pms::http::{self, HttpError};
use crate::repbook::pms::types::*;

const TIMEOUT_MS: u32 = 15_000;

/// A resource as the server has it now.
pub struct Resource {
    pub etag: Option<String>,
    pub body: String,
}

/// One `<response>` of a multistatus: its href, ETag and calendar data when asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    pub href: String,
    pub etag: Option<String>,
    pub calendar_data: Option<String>,
    pub status_ok: bool,
    pub is_calendar: bool,
    pub supports_vevent: Option<bool>,
    pub display_name: Option<String>,
}

/// What went wrong, before deciding what it means for the host.
#[derive(Debug)]
pub enum DavError {
    Http(HttpError),
    Status { status: u16, what: String },
    Protocol(String),
}

fn header<'a>(response: &'a http::Response, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl DavError {
    /// `write`: whether the request could have changed the calendar (then a lost answer means the outcome
    /// is unknown).
    pub fn into_connector_error(self, write: bool) -> ConnectorError {
        match self {
            DavError::Http(HttpError::Denied(why)) => ConnectorError::InvalidConfig(format!("repbook refused the request: {why}")),
            DavError::Http(HttpError::Timeout) if write => ConnectorError::UnknownOutcome("no answer from the calendar server in time".into()),
            DavError::Http(HttpError::Timeout) => ConnectorError::SiteOffline("no answer from the calendar server in time".into()),
            DavError::Http(HttpError::Transport(why)) if write => ConnectorError::UnknownOutcome(format!("the connection to the calendar server failed: {why}")),
            DavError::Http(HttpError::Transport(why)) => ConnectorError::SiteOffline(format!("cannot reach the calendar server: {why}")),
            DavError::Http(HttpError::TooLarge(limit)) => ConnectorError::Rejected(format!("the calendar server's answer was over {limit} bytes")),
            DavError::Status { status, what } => match status {
                401 | 403 => ConnectorError::Auth(format!(
                    "the calendar server refused the user name and password ({status} on {what}): check username and password"
                )),
                404 => ConnectorError::SiteNotFound(format!(
                    "there is no calendar at {what} (404): check server_url and the Site ID (the calendar's name)"
                )),
                423 | 503 => ConnectorError::SiteOffline(format!("the calendar server is unavailable ({status} on {what})")),
                429 => ConnectorError::RateLimited(30_000),
                409 | 412 => ConnectorError::Conflict(format!("the calendar changed meanwhile ({status} on {what})")),
                413 | 415 => ConnectorError::Rejected(format!("the calendar server refused the event ({status} on {what})")),
                s if s >= 500 && write => ConnectorError::UnknownOutcome(format!("the calendar server failed ({status} on {what})")),
                s if s >= 500 => ConnectorError::Transient(format!("the calendar server failed ({status} on {what})")),
                _ => ConnectorError::Rejected(format!("the calendar server answered {status} to {what}")),
            },
            DavError::Protocol(why) => ConnectorError::Transient(format!("the calendar server's answer is not CalDAV: {why}")),
        }
    }
}

fn send(method: &str, url: &str, headers: Vec<(String, String)>, body: Option<String>) -> Result<http::Response, DavError> {
    let request = http::Request {
        method: method.into(),
        url: url.into(),
        headers,
        body: body.map(String::into_bytes),
        timeout_ms: Some(TIMEOUT_MS),
    };
    http::send(&request).map_err(DavError::Http)
}

fn status_error(response: &http::Response, what: &str) -> DavError {
    DavError::Status {
        status: response.status,
        what: what.to_string(),
    }
}

const PROPFIND_COLLECTION: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:resourcetype/><d:displayname/><c:supported-calendar-component-set/></d:prop>
</d:propfind>"#;

/// PROPFIND Depth 0 on the collection.
pub fn describe_collection(url: &str) -> Result<Entry, DavError> {
    let response = send(
        "PROPFIND",
        url,
        vec![
            ("Depth".into(), "0".into()),
            ("Content-Type".into(), "application/xml; charset=utf-8".into()),
        ],
        Some(PROPFIND_COLLECTION.into()),
    )?;
    if response.status != 207 {
        return Err(status_error(&response, "the calendar"));
    }
    let entries = parse_multistatus(&response.body)?;
    entries
        .into_iter()
        .next()
        .ok_or_else(|| DavError::Protocol("an empty multistatus for the calendar".into()))
}

/// OPTIONS on the collection: whether the server answers and speaks CalDAV.
pub fn options(url: &str) -> Result<bool, DavError> {
    let response = send("OPTIONS", url, Vec::new(), None)?;
    if !(200..300).contains(&response.status) {
        return Err(status_error(&response, "the calendar"));
    }
    Ok(header(&response, "DAV").is_some_and(|dav| dav.contains("calendar-access")))
}

/// GET an event; `None` when it does not exist.
pub fn get(url: &str) -> Result<Option<Resource>, DavError> {
    let response = send("GET", url, Vec::new(), None)?;
    match response.status {
        200 => Ok(Some(Resource {
            etag: header(&response, "ETag").map(str::to_string),
            body: String::from_utf8_lossy(&response.body).into_owned(),
        })),
        404 | 410 => Ok(None),
        _ => Err(status_error(&response, "the event")),
    }
}

/// How a PUT went.
pub enum Put {
    Done,
    /// The precondition failed: someone else created or changed the event meanwhile.
    PreconditionFailed,
}

/// PUT an event, on condition: `None` = create only (If-None-Match: *), `Some(etag)` = replace that version.
pub fn put(url: &str, ics: String, etag: Option<&str>) -> Result<Put, DavError> {
    let mut headers = vec![("Content-Type".into(), "text/calendar; charset=utf-8".into())];
    match etag {
        None => headers.push(("If-None-Match".into(), "*".into())),
        Some(tag) => headers.push(("If-Match".into(), tag.into())),
    }
    let response = send("PUT", url, headers, Some(ics))?;
    match response.status {
        200 | 201 | 204 => Ok(Put::Done),
        412 => Ok(Put::PreconditionFailed),
        _ => Err(status_error(&response, "the event")),
    }
}

/// DELETE an event (of this version, when given); gone already is fine.
pub fn delete(url: &str, etag: Option<&str>) -> Result<Put, DavError> {
    let headers = etag.map(|t| vec![("If-Match".into(), t.to_string())]).unwrap_or_default();
    let response = send("DELETE", url, headers, None)?;
    match response.status {
        200 | 204 | 404 | 410 => Ok(Put::Done),
        412 => Ok(Put::PreconditionFailed),
        _ => Err(status_error(&response, "the event")),
    }
}

/// REPORT calendar-query: the VEVENTs overlapping `[start, end)` (UTC stamps), with their data.
pub fn events_between(url: &str, start: &str, end: &str) -> Result<Vec<Entry>, DavError> {
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/><c:calendar-data/></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">
    <c:time-range start="{start}" end="{end}"/>
  </c:comp-filter></c:comp-filter></c:filter>
</c:calendar-query>"#
    );
    let response = send(
        "REPORT",
        url,
        vec![
            ("Depth".into(), "1".into()),
            ("Content-Type".into(), "application/xml; charset=utf-8".into()),
        ],
        Some(body),
    )?;
    if response.status != 207 {
        return Err(status_error(&response, "the calendar query"));
    }
    parse_multistatus(&response.body)
}

/// The `<response>` elements of a WebDAV multistatus body (RFC 4918 §14.16), in the parts this connector
/// uses; namespaces by URI, whatever prefixes the server picked.
pub fn parse_multistatus(body: &[u8]) -> Result<Vec<Entry>, DavError> {
    const DAV: &str = "DAV:";
    const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
    let text = std::str::from_utf8(body).map_err(|_| DavError::Protocol("the multistatus is not UTF-8".into()))?;
    let doc = roxmltree::Document::parse(text).map_err(|e| DavError::Protocol(format!("bad XML: {e}")))?;
    let is = |node: &roxmltree::Node, ns: &str, name: &str| node.is_element() && node.tag_name().name() == name && node.tag_name().namespace() == Some(ns);
    let mut entries = Vec::new();
    for response in doc.descendants().filter(|n| is(n, DAV, "response")) {
        let mut entry = Entry::default();
        for child in response.children() {
            if is(&child, DAV, "href") {
                entry.href = child.text().unwrap_or_default().trim().to_string();
            }
            if is(&child, DAV, "propstat") {
                let ok = child
                    .children()
                    .find(|n| is(n, DAV, "status"))
                    .and_then(|n| n.text())
                    .is_some_and(|s| s.contains(" 200"));
                if !ok {
                    continue;
                }
                entry.status_ok = true;
                let Some(prop) = child.children().find(|n| is(n, DAV, "prop")) else { continue };
                for p in prop.children().filter(|n| n.is_element()) {
                    if is(&p, DAV, "getetag") {
                        entry.etag = p.text().map(|t| t.trim().to_string());
                    } else if is(&p, CALDAV, "calendar-data") {
                        entry.calendar_data = Some(p.text().unwrap_or_default().to_string());
                    } else if is(&p, DAV, "resourcetype") {
                        entry.is_calendar = p.children().any(|n| is(&n, CALDAV, "calendar"));
                    } else if is(&p, CALDAV, "supported-calendar-component-set") {
                        entry.supports_vevent = Some(
                            p.children()
                                .any(|n| is(&n, CALDAV, "comp") && n.attribute("name").is_some_and(|v| v.eq_ignore_ascii_case("VEVENT"))),
                        );
                    } else if is(&p, DAV, "displayname") {
                        entry.display_name = p.text().map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
                    }
                }
            }
        }
        entries.push(entry);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multistatus_is_read_by_namespace_not_prefix() {
        let body = br#"<?xml version="1.0"?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
 <response><href>/repbook/rep-visits/</href>
  <propstat><prop><resourcetype><collection/><C:calendar/></resourcetype><displayname>Rep visits</displayname>
   <C:supported-calendar-component-set><C:comp name="VEVENT"/><C:comp name="VTODO"/></C:supported-calendar-component-set></prop>
   <status>HTTP/1.1 200 OK</status></propstat>
  <propstat><prop><getctag/></prop><status>HTTP/1.1 404 Not Found</status></propstat>
 </response>
 <response><href>/repbook/rep-visits/A.ics</href>
  <propstat><prop><getetag>"e1"</getetag><C:calendar-data>BEGIN:VCALENDAR&#13;
END:VCALENDAR</C:calendar-data></prop><status>HTTP/1.1 200 OK</status></propstat></response>
</multistatus>"#;
        let entries = parse_multistatus(body).unwrap();
        assert_eq!(entries.len(), 2);
        assert!(entries[0].is_calendar);
        assert_eq!(entries[0].supports_vevent, Some(true));
        assert_eq!(entries[0].display_name.as_deref(), Some("Rep visits"));
        assert_eq!(entries[1].etag.as_deref(), Some("\"e1\""));
        assert!(entries[1].calendar_data.as_deref().unwrap().starts_with("BEGIN:VCALENDAR"));
    }

    #[test]
    fn statuses_map_to_what_the_host_must_do() {
        let status = |s: u16, write: bool| DavError::Status { status: s, what: "x".into() }.into_connector_error(write);
        assert!(matches!(status(401, false), ConnectorError::Auth(_)));
        assert!(matches!(status(404, false), ConnectorError::SiteNotFound(_)));
        assert!(matches!(status(423, true), ConnectorError::SiteOffline(_)));
        assert!(matches!(status(503, true), ConnectorError::SiteOffline(_)));
        assert!(matches!(status(500, false), ConnectorError::Transient(_)));
        assert!(matches!(status(500, true), ConnectorError::UnknownOutcome(_)));
        assert!(matches!(DavError::Http(HttpError::Timeout).into_connector_error(true), ConnectorError::UnknownOutcome(_)));
        assert!(matches!(DavError::Http(HttpError::Transport("refused".into())).into_connector_error(false), ConnectorError::SiteOffline(_)));
    }
}
