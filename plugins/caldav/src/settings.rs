//! The connector's settings: what `describe` declares and reading them from a call's context. The "site"
//! of a CalDAV clinic is one calendar: its Site ID is the calendar's name under `server_url`.

use crate::repbook::pms::types::*;

pub const SERVER_URL: &str = "server_url";
pub const USERNAME: &str = "username";
pub const PASSWORD: &str = "password";

fn spec(name: &str, description: &str, secret: bool, required: bool, default: Option<&str>) -> SettingSpec {
    SettingSpec {
        name: name.into(),
        description: description.into(),
        secret,
        required,
        default_value: default.map(Into::into),
    }
}

pub fn describe() -> ConnectorInfo {
    ConnectorInfo {
        name: crate::NAME.into(),
        version: crate::VERSION.into(),
        pms: "a CalDAV calendar (RFC 4791)".into(),
        capabilities: ["validate-site", "staff", "appointments", "reconcile", "availability"]
            .iter()
            .map(|c| c.to_string())
            .collect(),
        settings: vec![
            spec(SERVER_URL, "Calendar server address\nThe calendar home on the CalDAV server, e.g. https://cal.example.com/dav/clinic/; the Site ID is the calendar's name under it", false, true, None),
            spec(USERNAME, "User name\nThe CalDAV account's user name", false, true, None),
            spec(PASSWORD, "Password\nCalDAV password (sent as HTTP Basic to the server_url's origin only)", true, true, None),
            spec("cancel_mode", "When a visit is cancelled\nstatus: keep a cancelled visit as a cancelled event (STATUS:CANCELLED); delete: remove it", false, false, Some("status")),
            spec("practitioners", "Doctors in this calendar\nThe doctors whose visits go in this calendar, one per entry, entries separated by ';': id|name|AHPRA|email, e.g. 1|Dr Ana Ng|MED0001234567|ana@clinic.example (email optional: it makes the doctor an ATTENDEE)", false, false, Some("")),
        ],
        // The calendar server is the clinic's own: the host allows the host of the server_url setting.
        allowed_hosts: vec![format!("{{{SERVER_URL}}}")],
        credentials: vec![Credential {
            secret: PASSWORD.into(),
            header: "Authorization".into(),
            origin_setting: SERVER_URL.into(),
            scheme: CredentialScheme::Basic(USERNAME.into()),
        }],
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Practitioner {
    pub id: i64,
    pub title: String,
    pub first_name: String,
    pub last_name: String,
    pub ahpra: Option<String>,
    pub email: Option<String>,
}

impl Practitioner {
    pub fn display_name(&self) -> String {
        [self.title.as_str(), self.first_name.as_str(), self.last_name.as_str()]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelMode {
    Status,
    Delete,
}

pub struct Settings {
    /// The calendar collection, ending in '/'.
    pub collection: String,
    pub calendar: String,
    pub cancel_mode: CancelMode,
    pub practitioners: Vec<Practitioner>,
}

fn invalid(message: impl Into<String>) -> ConnectorError {
    ConnectorError::InvalidConfig(message.into())
}

const TITLES: [&str; 8] = ["Dr", "Dr.", "Prof", "Prof.", "Mr", "Ms", "Mrs", "A/Prof"];

/// `id|name|AHPRA|email; ...`
pub fn parse_practitioners(text: &str) -> Result<Vec<Practitioner>, ConnectorError> {
    let mut list = Vec::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let fields: Vec<&str> = entry.split('|').map(str::trim).collect();
        let id = fields
            .first()
            .and_then(|f| f.parse::<i64>().ok())
            .filter(|id| *id > 0)
            .ok_or_else(|| invalid(format!("practitioners: '{entry}' must start with a positive number id, e.g. 1|Dr Ana Ng|MED0001234567")))?;
        let name = fields
            .get(1)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| invalid(format!("practitioners: '{entry}' has no name")))?;
        let mut words: Vec<&str> = name.split_whitespace().collect();
        let title = if words.len() > 1 && TITLES.contains(&words[0]) { words.remove(0).to_string() } else { String::new() };
        let last_name = words.pop().unwrap_or_default().to_string();
        let first_name = words.join(" ");
        if list.iter().any(|p: &Practitioner| p.id == id) {
            return Err(invalid(format!("practitioners: the id {id} is given twice")));
        }
        list.push(Practitioner {
            id,
            title,
            first_name,
            last_name,
            ahpra: fields.get(2).filter(|a| !a.is_empty()).map(|a| a.to_ascii_uppercase()),
            email: fields.get(3).filter(|e| e.contains('@')).map(|e| e.to_string()),
        });
    }
    Ok(list)
}

impl Settings {
    pub fn from(ctx: &Context) -> Result<Settings, ConnectorError> {
        let get = |name: &str| {
            ctx.settings
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let server = get(SERVER_URL).ok_or_else(|| invalid("set server_url: the calendar home, e.g. https://cal.example.com/dav/clinic/"))?;
        if !(server.starts_with("https://") || server.starts_with("http://")) {
            return Err(invalid(format!("server_url '{server}' is not an http(s) URL")));
        }
        if get(USERNAME).is_none() {
            return Err(invalid("set username: the CalDAV user"));
        }
        if !ctx.secrets_set.iter().any(|s| s == PASSWORD) {
            return Err(invalid("set password: the CalDAV password (a secret setting)"));
        }
        let calendar = ctx
            .site_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("set the Site ID to the calendar's name under server_url, e.g. rep-visits"))?
            .to_string();
        if calendar.contains('/') || calendar.contains('?') || calendar.contains('#') || calendar == "." || calendar == ".." {
            return Err(invalid(format!("the Site ID '{calendar}' must be a calendar name, not a path: e.g. rep-visits")));
        }
        let cancel_mode = match get("cancel_mode").as_deref() {
            None | Some("status") => CancelMode::Status,
            Some("delete") => CancelMode::Delete,
            Some(other) => return Err(invalid(format!("cancel_mode '{other}' is not status or delete"))),
        };
        let practitioners = parse_practitioners(&get("practitioners").unwrap_or_default())?;
        let base = if server.ends_with('/') { server } else { format!("{server}/") };
        Ok(Settings {
            collection: format!("{base}{calendar}/"),
            calendar,
            cancel_mode,
            practitioners,
        })
    }

    pub fn practitioner(&self, id: i64) -> Option<&Practitioner> {
        self.practitioners.iter().find(|p| p.id == id)
    }

    /// The event resource of an appointment: `<collection><reference>.ics`.
    pub fn event_url(&self, reference: &str) -> String {
        let safe: String = reference
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        format!("{}{safe}.ics", self.collection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn practitioners_are_read_with_titles_ahpra_and_email() {
        let list = parse_practitioners("1|Dr Ana Ng|med0001234567|ana@clinic.example; 2|Ben van Okafor|MED0007654321").unwrap();
        assert_eq!(list[0].display_name(), "Dr Ana Ng");
        assert_eq!(list[0].ahpra.as_deref(), Some("MED0001234567"));
        assert_eq!(list[0].email.as_deref(), Some("ana@clinic.example"));
        assert_eq!((list[1].first_name.as_str(), list[1].last_name.as_str()), ("Ben van", "Okafor"));
        assert!(list[1].email.is_none());
        assert!(parse_practitioners("x|Dr A").is_err());
        assert!(parse_practitioners("1|Dr A;1|Dr B").is_err());
        assert!(parse_practitioners("").unwrap().is_empty());
    }
}
