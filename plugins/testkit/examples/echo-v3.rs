//! The `echo` connector rewritten for `repbook:pms@0.2.0`, version 3.0.0: installing it over `echo` 1.0.0
//! (a 0.1.0 component) is a hot swap across contract versions. Every answer names its version. It does not
//! use the testkit library, whose bindings are 0.1.0: one component, one contract.
//!
//! Its diary, for the host's availability tests: practitioner N is away on every date whose day of the
//! month is N, and busy 12:00-13:00 every other day.

wit_bindgen::generate!({
    path: "../../wit/pms-0.2.0",
    world: "connector-world",
});

use exports::repbook::pms::connector::Guest;
use repbook::pms::types::*;

const VERSION: &str = "3.0.0";

struct EchoV3;

fn days(first: &LocalDate, last: &LocalDate) -> Vec<LocalDate> {
    let mut out = Vec::new();
    let mut day = *first;
    while (day.year, day.month, day.day) <= (last.year, last.month, last.day) && out.len() < 400 {
        out.push(day);
        let month_days = match day.month {
            2 if day.year % 4 == 0 && (day.year % 100 != 0 || day.year % 400 == 0) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        day = if day.day < month_days {
            LocalDate { day: day.day + 1, ..day }
        } else if day.month < 12 {
            LocalDate { month: day.month + 1, day: 1, ..day }
        } else {
            LocalDate { year: day.year + 1, month: 1, day: 1 }
        };
    }
    out
}

impl Guest for EchoV3 {
    fn describe() -> ConnectorInfo {
        ConnectorInfo {
            name: "echo".into(),
            version: VERSION.into(),
            pms: "Test PMS".into(),
            capabilities: vec!["appointments".into(), "availability".into()],
            settings: vec![],
            allowed_hosts: vec!["127.0.0.1".into()],
            credentials: vec![],
        }
    }

    fn validate_site(ctx: Context) -> Result<SiteInfo, ConnectorError> {
        let site = ctx.site_id.ok_or_else(|| ConnectorError::InvalidConfig("site_id is not set".into()))?;
        Ok(SiteInfo { practice_name: format!("{VERSION} practice {site}"), availability: "online".into(), version: Some(VERSION.into()), details: vec![] })
    }

    fn list_locations(_ctx: Context) -> Result<Vec<Location>, ConnectorError> {
        Ok((1..=4).map(|id| Location { id, name: format!("echo {VERSION} location {id}") }).collect())
    }

    fn list_practitioners(_ctx: Context) -> Result<Vec<PmsPractitioner>, ConnectorError> {
        Ok(vec![
            PmsPractitioner { user_id: 1, title: "Dr".into(), first_name: "Ana".into(), last_name: "Ng".into(), has_appointments: true, provider_number: None, ahpra: Some("MED0001234567".into()) },
            PmsPractitioner { user_id: 2, title: "Dr".into(), first_name: "Ben".into(), last_name: "Okafor".into(), has_appointments: true, provider_number: None, ahpra: Some("MED0007654321".into()) },
        ])
    }

    fn push_appointment(_ctx: Context, appt: Appointment) -> Result<PushOutcome, ConnectorError> {
        Ok(PushOutcome { pms_id: format!("{VERSION}:{}", appt.reference), action: PushAction::Created })
    }

    fn cancel_appointment(_ctx: Context, _appt: Appointment) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn list_appointments(_ctx: Context, _first: LocalDate, _last: LocalDate) -> Result<Vec<PmsAppointment>, ConnectorError> {
        Ok(vec![])
    }

    fn health(_ctx: Context) -> Result<SiteHealth, ConnectorError> {
        Ok(SiteHealth { availability: "online".into(), detail: format!("echo {VERSION}") })
    }

    fn unavailability(_ctx: Context, practitioner_user_id: i64, first: LocalDate, last: LocalDate) -> Result<Vec<BusySpan>, ConnectorError> {
        Ok(days(&first, &last)
            .into_iter()
            .map(|date| {
                if date.day as i64 == practitioner_user_id {
                    BusySpan { date, start_seconds: 0, end_seconds: 86_400, reason: BusyReason::Away }
                } else {
                    BusySpan { date, start_seconds: 12 * 3600, end_seconds: 13 * 3600, reason: BusyReason::Booked }
                }
            })
            .collect())
    }
}

export!(EchoV3);
