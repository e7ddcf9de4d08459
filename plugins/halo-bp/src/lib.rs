//! The Halo Link / Best Practice connector: implements `repbook:pms@0.2.0` by calling Halo Cloud's
//! Integrator API (`halo`), which runs Bp Premier's documented stored procedures (`bp`) on the practice's
//! server. Queries are typed (`query`) and every user value travels as a query parameter, never in SQL text.

wit_bindgen::generate!({
    path: "../../wit/pms-0.2.0",
    world: "connector-world",
    additional_derives: [PartialEq],
});

mod availability;
mod bp;
mod halo;
mod query;
mod settings;

use exports::repbook::pms::connector::Guest;
use repbook::pms::site_cache;
use repbook::pms::types::*;

use halo::{Halo, HaloError};
use settings::{GUID_KEY, Settings};

pub const NAME: &str = "halo-bp";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

struct Connector;

impl Guest for Connector {
    fn describe() -> ConnectorInfo {
        settings::describe()
    }

    fn validate_site(ctx: Context) -> Result<SiteInfo, ConnectorError> {
        let settings = Settings::from(&ctx)?;
        let halo = Halo::new(&settings);
        let site = halo.resolve_site(settings.site_id()?)?;
        site_cache::remember(GUID_KEY, &site.id);
        let site = match halo.get_site(&site.id) {
            Ok(site) => site,
            // 403 from a freshly resolved, authoritative GUID: this integrator is not paired with the site yet.
            Err(HaloError::Status { status: 403, message, .. }) if !message.contains("Ip Not Allowed") && !message.to_ascii_lowercase().contains("quota") => {
                let code = settings.pairing_code.as_deref().ok_or_else(|| {
                    ConnectorError::NotPaired(
                        "repbook is not paired with this Bp site yet: generate a pairing code in Bp Premier \
                         (Setup > Configuration > Database > Setup third-party integrations) and enter it as the pairing code"
                            .into(),
                    )
                })?;
                halo.pair(settings.site_id()?, code)?
            }
            Err(other) => return Err(other.into_connector_error(false)),
        };
        Ok(site.info())
    }

    fn list_locations(ctx: Context) -> Result<Vec<Location>, ConnectorError> {
        let settings = Settings::from(&ctx)?;
        Halo::new(&settings).on_site(false, bp::locations)
    }

    fn list_practitioners(ctx: Context) -> Result<Vec<PmsPractitioner>, ConnectorError> {
        let settings = Settings::from(&ctx)?;
        Halo::new(&settings).on_site(false, |halo, guid| bp::practitioners(halo, guid, &settings))
    }

    fn push_appointment(ctx: Context, appt: Appointment) -> Result<PushOutcome, ConnectorError> {
        let settings = Settings::from(&ctx)?;
        Halo::new(&settings).on_site(true, |halo, guid| bp::push(halo, guid, &settings, &appt))
    }

    fn cancel_appointment(ctx: Context, appt: Appointment) -> Result<(), ConnectorError> {
        let settings = Settings::from(&ctx)?;
        Halo::new(&settings).on_site(true, |halo, guid| bp::cancel(halo, guid, &settings, &appt))
    }

    fn list_appointments(ctx: Context, first: LocalDate, last: LocalDate) -> Result<Vec<PmsAppointment>, ConnectorError> {
        let settings = Settings::from(&ctx)?;
        Halo::new(&settings).on_site(false, |halo, guid| bp::list_tagged(halo, guid, &settings, &first, &last))
    }

    fn health(ctx: Context) -> Result<SiteHealth, ConnectorError> {
        let settings = Settings::from(&ctx)?;
        let site = Halo::new(&settings).on_site(false, |halo, guid| halo.get_site(guid))?;
        let info = site.info();
        Ok(SiteHealth { detail: format!("{} (Halo Link {})", info.practice_name, info.version.unwrap_or_default()), availability: info.availability })
    }

    fn unavailability(ctx: Context, practitioner_user_id: i64, first: LocalDate, last: LocalDate) -> Result<Vec<BusySpan>, ConnectorError> {
        let settings = Settings::from(&ctx)?;
        Halo::new(&settings).on_site(false, |halo, guid| availability::unavailability(halo, guid, practitioner_user_id, &first, &last))
    }
}

export!(Connector);
