//! The connector's settings: what `describe` declares, the defaults, and reading them from a call's
//! context. Each assumption about Bp that the public evidence leaves open has a setting (README.md).

use crate::repbook::pms::types::*;

pub const PROD_URL: &str = "https://api.haloconnect.io";
pub const SUBSCRIPTION_KEY: &str = "subscription_key";
/// Site-cache key of the resolved Halo GUID.
pub const GUID_KEY: &str = "halo_guid";

fn spec(name: &str, description: &str, secret: bool, required: bool, default: Option<&str>) -> SettingSpec {
    SettingSpec { name: name.into(), description: description.into(), secret, required, default_value: default.map(Into::into) }
}

pub fn describe() -> ConnectorInfo {
    ConnectorInfo {
        name: crate::NAME.into(),
        version: crate::VERSION.into(),
        pms: "Best Practice (Bp Premier) via Halo Link".into(),
        capabilities: ["validate-site", "locations", "staff", "appointments", "reconcile", "availability"].iter().map(|c| c.to_string()).collect(),
        settings: vec![
            spec("base_url", "Halo Cloud address\nHalo Cloud API: https://api.haloconnect.io (production) or https://api.stage.haloconnect.io (stage)", false, true, Some(PROD_URL)),
            spec(SUBSCRIPTION_KEY, "Halo subscription key\nHalo Integrator subscription key (Ocp-Apim-Subscription-Key) for that environment", true, true, None),
            spec("rep_visit_type_code", "Appointment type for rep visits\nBp appointment type code given to rep visits; use the practice's \"Internet\" type, which marks online bookings (Bp: Setup > Configuration > Appointment types)", false, true, None),
            spec("reason_tag", "Reason text prefix\nStart of the appointment's reason text in Bp", false, false, Some("[REP]")),
            spec("patient_id", "Patient for rep visits\nBp patient InternalID used for visits without a patient", false, false, Some("0")),
            spec("ahpra_column", "Where Bp keeps AHPRA numbers\nColumn of Bp's USERS table with the AHPRA registration number; empty: Bp is not asked (no procedure returns it), doctors are mapped by hand", false, false, Some("")),
            spec("read_tables", "Read Bp's appointment table directly\nyes: read Bp's APPOINTMENTS table directly for reconciliation (one query instead of one per appointment); needs SELECT permission", false, false, Some("no")),
        ],
        allowed_hosts: vec!["api.haloconnect.io".into(), "api.stage.haloconnect.io".into(), "127.0.0.1".into(), "localhost".into()],
        credentials: vec![Credential {
            secret: SUBSCRIPTION_KEY.into(),
            header: "Ocp-Apim-Subscription-Key".into(),
            origin_setting: "base_url".into(),
            scheme: CredentialScheme::Verbatim,
        }],
    }
}

pub struct Settings {
    pub base_url: String,
    pub site_id: Option<String>,
    pub pairing_code: Option<String>,
    pub location_id: Option<i64>,
    pub rep_visit_type_code: Option<i64>,
    pub reason_tag: String,
    pub patient_id: i64,
    pub ahpra_column: Option<String>,
    pub read_tables: bool,
    pub cached_guid: Option<String>,
}

fn invalid(message: impl Into<String>) -> ConnectorError {
    ConnectorError::InvalidConfig(message.into())
}

impl Settings {
    pub fn from(ctx: &Context) -> Result<Settings, ConnectorError> {
        let get = |name: &str| ctx.settings.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string()).filter(|v| !v.is_empty());
        if !ctx.secrets_set.iter().any(|s| s == SUBSCRIPTION_KEY) {
            return Err(invalid("the Halo subscription key is not set: add the subscription_key setting (from the Halo Integrator Portal)"));
        }
        let base_url = get("base_url").unwrap_or_else(|| PROD_URL.into()).trim_end_matches('/').to_string();
        if !(base_url.starts_with("https://") || base_url.starts_with("http://127.0.0.1") || base_url.starts_with("http://localhost")) {
            return Err(invalid(format!("base_url '{base_url}' must be https://api.haloconnect.io or https://api.stage.haloconnect.io")));
        }
        let int = |name: &str| -> Result<Option<i64>, ConnectorError> {
            get(name).map(|v| v.parse::<i64>().map_err(|_| invalid(format!("{name} '{v}' must be a whole number")))).transpose()
        };
        let ahpra_column = get("ahpra_column");
        if let Some(column) = &ahpra_column {
            if !column.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || column.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(invalid(format!("ahpra_column '{column}' must be a plain column name such as REGISTRATIONNO")));
            }
        }
        let read_tables = match get("read_tables").as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("no" | "false" | "0") => false,
            Some("yes" | "true" | "1") => true,
            Some(other) => return Err(invalid(format!("read_tables '{other}' must be yes or no"))),
        };
        Ok(Settings {
            base_url,
            site_id: ctx.site_id.clone().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
            pairing_code: ctx.pairing_code.clone().filter(|s| !s.trim().is_empty()),
            location_id: ctx.location_id,
            rep_visit_type_code: int("rep_visit_type_code")?,
            reason_tag: get("reason_tag").unwrap_or_else(|| "[REP]".into()),
            patient_id: int("patient_id")?.unwrap_or(0),
            ahpra_column,
            read_tables,
            cached_guid: ctx.site_cache.iter().find(|(k, _)| k == GUID_KEY).map(|(_, v)| v.clone()),
        })
    }

    pub fn site_id(&self) -> Result<&str, ConnectorError> {
        self.site_id.as_deref().ok_or_else(|| invalid("the BP Site ID is not set: find it in Bp Premier under Help > About and enter it as the site id"))
    }

    pub fn location_id(&self) -> Result<i64, ConnectorError> {
        self.location_id.ok_or_else(|| invalid("no practice location is chosen: validate the site, then pick a location"))
    }

    /// Bp's appointment-type codes differ per database, so the code is the practice's to give.
    pub fn type_code(&self) -> Result<i64, ConnectorError> {
        self.rep_visit_type_code.ok_or_else(|| {
            invalid(
                "rep_visit_type_code is not set: enter the code of the Bp appointment type for rep visits (normally \
                 \"Internet\", which marks online bookings; Bp shows the codes under Setup > Configuration > Appointment types)",
            )
        })
    }
}
