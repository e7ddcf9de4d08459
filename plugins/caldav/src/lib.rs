//! The CalDAV connector: implements `repbook:pms@0.2.0` against any CalDAV server (RFC 4791). One event
//! per appointment at `<calendar>/<reference>.ics`, `UID` = the repbook reference, instants in UTC (the
//! host's `zone` import converts the clinic's local times; this connector never does). Writes are
//! conditional (If-None-Match on create, If-Match on change), so a retry after a lost answer can never
//! make a second event; a precondition failure means "someone changed it": read again and retry.

wit_bindgen::generate!({
    path: "../../wit/pms-0.2.0",
    world: "connector-world",
    additional_derives: [PartialEq],
});

mod dav;
mod ics;
mod settings;

use exports::repbook::pms::connector::Guest;
use repbook::pms::types::*;
use repbook::pms::zone;

use dav::{DavError, Put};
use ics::Visit;
use settings::{CancelMode, Settings};

pub const NAME: &str = "caldav";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How often a write is tried again after someone else changed the event meanwhile (412).
const PRECONDITION_RETRIES: usize = 3;

struct Connector;

fn now_utc() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn read(error: DavError) -> ConnectorError {
    error.into_connector_error(false)
}

fn write(error: DavError) -> ConnectorError {
    error.into_connector_error(true)
}

/// The event file's name, which is the PMS id repbook keeps.
fn file_name(href_or_url: &str) -> String {
    href_or_url.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_string()
}

fn day_after(date: &LocalDate) -> LocalDate {
    let days = ics::days_since_epoch(date.year as i64, date.month as u32, date.day as u32) + 1;
    let (y, m, d) = ics::date_of_days(days);
    LocalDate { year: y as u16, month: m as u8, day: d as u8 }
}

fn visit(settings: &Settings, appt: &Appointment, sequence: u32, cancelled: bool) -> Visit {
    let start = zone::to_utc(appt.date, appt.start_seconds);
    let doctor = settings.practitioner(appt.practitioner_user_id);
    let with = doctor
        .map(|d| d.display_name())
        .unwrap_or_else(|| format!("practitioner {}", appt.practitioner_user_id));
    let mut description = format!(
        "Rep visit booked through repbook.\nRep: {} ({}){}\nWith: {with}\nReference: {}",
        appt.rep_name,
        appt.rep_company,
        if appt.rep_email.is_empty() { String::new() } else { format!(", {}", appt.rep_email) },
        appt.reference
    );
    if !appt.notes.trim().is_empty() {
        description.push_str(&format!("\nNotes: {}", appt.notes.trim()));
    }
    Visit {
        uid: appt.reference.clone(),
        start_utc: start,
        end_utc: start + appt.duration_seconds as i64,
        summary: format!("Rep visit: {} ({}) with {with}", appt.rep_name, appt.rep_company),
        description,
        practitioner_user_id: appt.practitioner_user_id,
        attendee: doctor.and_then(|d| d.email.clone().map(|email| (d.display_name(), email))),
        cancelled,
        sequence,
    }
}

/// Whether the stored event already says what `wanted` says.
fn same(existing: &ics::Event, wanted: &Visit) -> bool {
    existing.start_utc == Some(wanted.start_utc)
        && existing.end_utc == Some(wanted.end_utc)
        && existing.cancelled == wanted.cancelled
        && existing.summary == wanted.summary
        && existing.practitioner_user_id == Some(wanted.practitioner_user_id)
}

impl Guest for Connector {
    fn describe() -> ConnectorInfo {
        settings::describe()
    }

    fn validate_site(ctx: Context) -> Result<SiteInfo, ConnectorError> {
        let settings = Settings::from(&ctx)?;
        let entry = dav::describe_collection(&settings.collection).map_err(read)?;
        if !entry.is_calendar {
            return Err(ConnectorError::InvalidConfig(format!(
                "{} exists but is not a calendar: check the Site ID (the calendar's name under server_url)",
                settings.collection
            )));
        }
        if entry.supports_vevent == Some(false) {
            return Err(ConnectorError::InvalidConfig(format!(
                "the calendar {} does not take events (VEVENT): use an event calendar",
                settings.collection
            )));
        }
        Ok(SiteInfo {
            practice_name: entry.display_name.unwrap_or(settings.calendar.clone()),
            availability: "online".into(),
            version: None,
            details: vec![("calendar".into(), settings.collection.clone()), ("time_zone".into(), zone::name())],
        })
    }

    fn list_locations(_ctx: Context) -> Result<Vec<Location>, ConnectorError> {
        // A calendar is one place: the clinic.
        Ok(vec![Location { id: 1, name: "The calendar".into() }])
    }

    fn list_practitioners(ctx: Context) -> Result<Vec<PmsPractitioner>, ConnectorError> {
        let settings = Settings::from(&ctx)?;
        Ok(settings
            .practitioners
            .iter()
            .map(|p| PmsPractitioner {
                user_id: p.id,
                title: p.title.clone(),
                first_name: p.first_name.clone(),
                last_name: p.last_name.clone(),
                has_appointments: true,
                provider_number: None,
                ahpra: p.ahpra.clone(),
            })
            .collect())
    }

    fn push_appointment(ctx: Context, appt: Appointment) -> Result<PushOutcome, ConnectorError> {
        let settings = Settings::from(&ctx)?;
        let url = settings.event_url(&appt.reference);
        let pms_id = file_name(&url);
        // Never sent: the calendar cannot hold it, so create without looking (If-None-Match keeps it safe).
        let mut look_first = !matches!(appt.known, PmsKnowledge::NeverSent);
        for _ in 0..PRECONDITION_RETRIES {
            let current = if look_first { dav::get(&url).map_err(read)? } else { None };
            look_first = true;
            match current {
                None => match dav::put(&url, visit(&settings, &appt, 0, false).to_ics(now_utc()), None).map_err(write)? {
                    Put::Done => return Ok(PushOutcome { pms_id, action: PushAction::Created }),
                    Put::PreconditionFailed => continue,
                },
                Some(resource) => {
                    let existing = ics::parse(&resource.body).into_iter().find(|e| e.uid == appt.reference);
                    let sequence = existing.as_ref().map(|e| e.sequence + 1).unwrap_or(0);
                    let wanted = visit(&settings, &appt, sequence, false);
                    let action = match &existing {
                        Some(e) if same(e, &wanted) => return Ok(PushOutcome { pms_id, action: PushAction::Unchanged }),
                        Some(e) if e.start_utc == Some(wanted.start_utc) && e.end_utc == Some(wanted.end_utc) => PushAction::Updated,
                        _ => PushAction::Moved,
                    };
                    match dav::put(&url, wanted.to_ics(now_utc()), resource.etag.as_deref()).map_err(write)? {
                        Put::Done => return Ok(PushOutcome { pms_id, action }),
                        Put::PreconditionFailed => continue,
                    }
                }
            }
        }
        Err(ConnectorError::Transient(format!(
            "the event {pms_id} kept changing under repbook's writes ({PRECONDITION_RETRIES} tries); it will be tried again"
        )))
    }

    fn cancel_appointment(ctx: Context, appt: Appointment) -> Result<(), ConnectorError> {
        let settings = Settings::from(&ctx)?;
        let url = settings.event_url(&appt.reference);
        for _ in 0..PRECONDITION_RETRIES {
            let Some(resource) = dav::get(&url).map_err(read)? else { return Ok(()) };
            let done = match settings.cancel_mode {
                CancelMode::Delete => dav::delete(&url, resource.etag.as_deref()).map_err(write)?,
                CancelMode::Status => {
                    let existing = ics::parse(&resource.body).into_iter().find(|e| e.uid == appt.reference);
                    if existing.as_ref().is_some_and(|e| e.cancelled) {
                        return Ok(());
                    }
                    let sequence = existing.map(|e| e.sequence + 1).unwrap_or(1);
                    let cancelled = visit(&settings, &appt, sequence, true);
                    dav::put(&url, cancelled.to_ics(now_utc()), resource.etag.as_deref()).map_err(write)?
                }
            };
            if let Put::Done = done {
                return Ok(());
            }
        }
        Err(ConnectorError::Transient("the event kept changing while repbook cancelled it; it will be tried again".into()))
    }

    fn list_appointments(ctx: Context, first: LocalDate, last: LocalDate) -> Result<Vec<PmsAppointment>, ConnectorError> {
        let settings = Settings::from(&ctx)?;
        let start = ics::utc_stamp(zone::to_utc(first, 0));
        let end = ics::utc_stamp(zone::to_utc(day_after(&last), 0));
        let entries = dav::events_between(&settings.collection, &start, &end).map_err(read)?;
        let mut found = Vec::new();
        for entry in entries {
            let Some(data) = entry.calendar_data else { continue };
            for event in ics::parse(&data) {
                // Only repbook's own events carry the practitioner mark.
                let (Some(user), Some(begin)) = (event.practitioner_user_id, event.start_utc) else { continue };
                let (date, seconds) = zone::to_local(begin);
                found.push(PmsAppointment {
                    pms_id: file_name(&entry.href),
                    reference: event.uid.clone(),
                    practitioner_user_id: Some(user),
                    date,
                    start_seconds: seconds,
                    duration_seconds: event.end_utc.map(|e| (e - begin).max(0) as u32),
                    cancelled: event.cancelled,
                    text: event.summary.clone(),
                });
            }
        }
        Ok(found)
    }

    fn health(ctx: Context) -> Result<SiteHealth, ConnectorError> {
        let settings = Settings::from(&ctx)?;
        match dav::options(&settings.collection) {
            Ok(caldav) => Ok(SiteHealth {
                availability: "online".into(),
                detail: if caldav { "CalDAV server answering".into() } else { "server answering (no calendar-access in DAV header)".into() },
            }),
            Err(error) => match read(error) {
                ConnectorError::SiteOffline(why) => Ok(SiteHealth { availability: "offline".into(), detail: why }),
                other => Err(other),
            },
        }
    }

    /// Busy time from the calendar: repbook's own events for this doctor, and every other opaque event
    /// (a meeting, "practice closed"), which a shared calendar does not tie to one doctor.
    fn unavailability(ctx: Context, practitioner_user_id: i64, first: LocalDate, last: LocalDate) -> Result<Vec<BusySpan>, ConnectorError> {
        let settings = Settings::from(&ctx)?;
        let start = ics::utc_stamp(zone::to_utc(first, 0));
        let end = ics::utc_stamp(zone::to_utc(day_after(&last), 0));
        let entries = dav::events_between(&settings.collection, &start, &end).map_err(read)?;
        let mut spans = Vec::new();
        for event in entries.iter().filter_map(|e| e.calendar_data.as_deref()).flat_map(ics::parse) {
            if event.cancelled || event.transparent {
                continue;
            }
            if event.practitioner_user_id.is_some_and(|user| user != practitioner_user_id) {
                continue;
            }
            let Some(begin) = event.start_utc else { continue };
            let end = event.end_utc.unwrap_or(begin + 3600);
            // Split at local midnights: a span belongs to one clinic-local day.
            let mut at = begin;
            while at < end {
                let (date, seconds) = zone::to_local(at);
                let day_end = zone::to_utc(day_after(&date), 0);
                let until = end.min(day_end);
                spans.push(BusySpan {
                    date,
                    start_seconds: seconds,
                    end_seconds: if until == day_end { 86_400 } else { seconds + (until - at) as u32 },
                    reason: BusyReason::Booked,
                });
                at = until;
            }
        }
        Ok(spans)
    }
}

export!(Connector);
