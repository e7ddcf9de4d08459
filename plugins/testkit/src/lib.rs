//! Shared core of the test components: the generated bindings and a `Fake` trait whose default methods
//! behave like a small, well-behaved connector. Each example overrides what it must do wrong.

wit_bindgen::generate!({
    path: "../../wit/pms-0.1.0",
    world: "connector-world",
    pub_export_macro: true,
    default_bindings_module: "testkit",
});

pub use exports::repbook::pms::connector::Guest;
pub use repbook::pms::http;
pub use repbook::pms::types::*;

pub trait Fake {
    const NAME: &'static str;
    const VERSION: &'static str;
    const HOSTS: &'static [&'static str] = &["127.0.0.1"];

    fn describe() -> ConnectorInfo {
        ConnectorInfo {
            name: Self::NAME.into(),
            version: Self::VERSION.into(),
            pms: "Test PMS".into(),
            capabilities: vec!["appointments".into()],
            settings: vec![
                SettingSpec { name: "url".into(), description: "where health calls go".into(), secret: false, required: false, default_value: None },
                SettingSpec { name: "api_key".into(), description: "sent as X-Api-Key to url's origin".into(), secret: true, required: false, default_value: None },
            ],
            allowed_hosts: Self::HOSTS.iter().map(|h| h.to_string()).collect(),
            credentials: vec![Credential { secret: "api_key".into(), header: "X-Api-Key".into(), origin_setting: "url".into() }],
        }
    }

    fn validate_site(ctx: Context) -> Result<SiteInfo, ConnectorError> {
        let site = ctx.site_id.ok_or_else(|| ConnectorError::InvalidConfig("site_id is not set".into()))?;
        repbook::pms::site_cache::remember("site", &site);
        Ok(SiteInfo { practice_name: format!("{} practice {site}", Self::VERSION), availability: "online".into(), version: Some(Self::VERSION.into()), details: vec![] })
    }

    /// Every field carries the version, so a test can tell an answer mixed from two versions.
    fn list_locations(_ctx: Context) -> Result<Vec<Location>, ConnectorError> {
        Ok((1..=4).map(|id| Location { id, name: format!("{} {} location {id}", Self::NAME, Self::VERSION) }).collect())
    }

    fn list_practitioners(_ctx: Context) -> Result<Vec<PmsPractitioner>, ConnectorError> {
        Ok(vec![])
    }

    fn push_appointment(_ctx: Context, appt: Appointment) -> Result<PushOutcome, ConnectorError> {
        Ok(PushOutcome { pms_id: format!("{}:{}", Self::VERSION, appt.reference), action: PushAction::Created })
    }

    fn cancel_appointment(_ctx: Context, _reference: String, _pms_id: Option<String>) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn list_appointments(_ctx: Context, _first: LocalDate, _last: LocalDate) -> Result<Vec<PmsAppointment>, ConnectorError> {
        Ok(vec![])
    }

    /// GETs the `url` setting and reports the status; HTTP failures come back as connector errors.
    fn health(ctx: Context) -> Result<SiteHealth, ConnectorError> {
        let url = setting(&ctx, "url").ok_or_else(|| ConnectorError::InvalidConfig("url is not set".into()))?;
        let response = get(&url)?;
        Ok(SiteHealth { availability: "online".into(), detail: format!("{} {}", response.status, String::from_utf8_lossy(&response.body)) })
    }
}

pub fn setting(ctx: &Context, name: &str) -> Option<String> {
    ctx.settings.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

pub fn get(url: &str) -> Result<http::Response, ConnectorError> {
    let request = http::Request { method: "GET".into(), url: url.into(), headers: vec![("X-Api-Key".into(), "guest-made-this-up".into())], body: None, timeout_ms: Some(5_000) };
    http::send(&request).map_err(|e| match e {
        http::HttpError::Denied(why) => ConnectorError::Rejected(format!("denied: {why}")),
        http::HttpError::Timeout => ConnectorError::UnknownOutcome("timeout".into()),
        http::HttpError::Transport(why) => ConnectorError::Transient(why),
        http::HttpError::TooLarge(limit) => ConnectorError::Rejected(format!("response over {limit} bytes")),
    })
}

impl<T: Fake> Guest for T {
    fn describe() -> ConnectorInfo {
        T::describe()
    }
    fn validate_site(ctx: Context) -> Result<SiteInfo, ConnectorError> {
        T::validate_site(ctx)
    }
    fn list_locations(ctx: Context) -> Result<Vec<Location>, ConnectorError> {
        T::list_locations(ctx)
    }
    fn list_practitioners(ctx: Context) -> Result<Vec<PmsPractitioner>, ConnectorError> {
        T::list_practitioners(ctx)
    }
    fn push_appointment(ctx: Context, appt: Appointment) -> Result<PushOutcome, ConnectorError> {
        T::push_appointment(ctx, appt)
    }
    fn cancel_appointment(ctx: Context, reference: String, pms_id: Option<String>) -> Result<(), ConnectorError> {
        T::cancel_appointment(ctx, reference, pms_id)
    }
    fn list_appointments(ctx: Context, first: LocalDate, last: LocalDate) -> Result<Vec<PmsAppointment>, ConnectorError> {
        T::list_appointments(ctx, first, last)
    }
    fn health(ctx: Context) -> Result<SiteHealth, ConnectorError> {
        T::health(ctx)
    }
}
