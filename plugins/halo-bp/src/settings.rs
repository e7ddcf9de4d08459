//! The connector's settings: what `describe` declares, the defaults, and reading them from a call's context.

use crate::repbook::pms::types::*;

pub const PROD_URL: &str = "https://api.haloconnect.io";
pub const SUBSCRIPTION_KEY: &str = "subscription_key";

fn spec(name: &str, description: &str, secret: bool, required: bool, default: Option<&str>) -> SettingSpec {
    SettingSpec { name: name.into(), description: description.into(), secret, required, default_value: default.map(Into::into) }
}

pub fn describe() -> ConnectorInfo {
    ConnectorInfo {
        name: crate::NAME.into(),
        version: crate::VERSION.into(),
        pms: "Best Practice (Bp Premier) via Halo Link".into(),
        capabilities: vec!["validate-site".into(), "locations".into(), "staff".into(), "appointments".into(), "reconcile".into()],
        settings: vec![
            spec("base_url", "Halo Cloud API: https://api.haloconnect.io (production) or https://api.stage.haloconnect.io (stage)", false, true, Some(PROD_URL)),
            spec(SUBSCRIPTION_KEY, "Halo Integrator subscription key (Ocp-Apim-Subscription-Key) for that environment", true, true, None),
            spec("rep_visit_type", "Bp appointment type name for rep visits (marks them as online bookings)", false, false, Some("Internet")),
            spec("rep_visit_type_code", "Bp appointment type code; when set, no lookup by name is made", false, false, None),
            spec("reason_tag", "Prefix of the appointment reason text in Bp", false, false, Some("[REP]")),
            spec("patient_id", "Bp patient InternalID used for non-patient visits", false, false, Some("0")),
            spec("ahpra_column", "Column of Bp's USERS table holding the AHPRA registration number", false, false, Some("REGISTRATIONNO")),
        ],
        allowed_hosts: vec!["api.haloconnect.io".into(), "api.stage.haloconnect.io".into(), "127.0.0.1".into(), "localhost".into()],
        credentials: vec![Credential { secret: SUBSCRIPTION_KEY.into(), header: "Ocp-Apim-Subscription-Key".into(), origin_setting: "base_url".into() }],
    }
}

pub struct Settings {
    pub base_url: String,
    pub site_id: Option<String>,
    pub pairing_code: Option<String>,
    pub location_id: Option<i64>,
    pub rep_visit_type: String,
    pub rep_visit_type_code: Option<i64>,
    pub reason_tag: String,
    pub patient_id: i64,
    pub ahpra_column: String,
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
        let ahpra_column = get("ahpra_column").unwrap_or_else(|| "REGISTRATIONNO".into());
        if ahpra_column.is_empty() || !ahpra_column.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || ahpra_column.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(invalid(format!("ahpra_column '{ahpra_column}' must be a plain column name such as REGISTRATIONNO")));
        }
        Ok(Settings {
            base_url,
            site_id: ctx.site_id.clone().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
            pairing_code: ctx.pairing_code.clone().filter(|s| !s.trim().is_empty()),
            location_id: ctx.location_id,
            rep_visit_type: get("rep_visit_type").unwrap_or_else(|| "Internet".into()),
            rep_visit_type_code: int("rep_visit_type_code")?,
            reason_tag: get("reason_tag").unwrap_or_else(|| "[REP]".into()),
            patient_id: int("patient_id")?.unwrap_or(0),
            ahpra_column,
            cached_guid: ctx.site_cache.iter().find(|(k, _)| k == crate::halo::GUID_KEY).map(|(_, v)| v.clone()),
        })
    }

    pub fn site_id(&self) -> Result<&str, ConnectorError> {
        self.site_id.as_deref().ok_or_else(|| invalid("the BP Site ID is not set: find it in Bp Premier under Help > About and enter it as the site id"))
    }

    pub fn location_id(&self) -> Result<i64, ConnectorError> {
        self.location_id.ok_or_else(|| invalid("no practice location is chosen: validate the site, then pick a location"))
    }
}
