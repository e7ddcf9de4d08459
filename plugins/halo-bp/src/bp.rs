//! Bp Premier through Halo: stored procedures and this connector's statements (sql/*.sql, also the only
//! statements the simulator accepts). Values always travel as parameters.

use serde_json::{Map, Value};

use crate::halo::{Halo, HaloError};
use crate::repbook::pms::site_cache;
use crate::repbook::pms::types::*;
use crate::settings::Settings;

const ADD_APPOINTMENT: &str = include_str!("../sql/add_appointment.sql");
const FIND_BY_REFERENCE: &str = include_str!("../sql/find_by_reference.sql");
const LIST_TAGGED: &str = include_str!("../sql/list_tagged.sql");
const USER_REGISTRATIONS: &str = include_str!("../sql/user_registrations.sql");
const APPOINTMENT_TYPES: &str = include_str!("../sql/appointment_types.sql");

/// Marks repbook's appointments in Bp's reason text; the reference follows it.
const REF_MARKER: &str = "repbook ref ";
const REASON_MAX_CHARS: usize = 200;

fn procedure(name: &str) -> String {
    format!("BPSPATIENTS.dbo.{name}")
}

/// A column by name, case-insensitively (Bp clients disagree on casing).
fn column<'r>(row: &'r Map<String, Value>, names: &[&str]) -> Option<&'r Value> {
    names.iter().find_map(|name| row.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)).filter(|v| !v.is_null())
}

fn int(row: &Map<String, Value>, names: &[&str]) -> Option<i64> {
    column(row, names).and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())))
}

/// Text with Bp's padding trimmed.
fn trimmed(row: &Map<String, Value>, names: &[&str]) -> String {
    column(row, names).and_then(Value::as_str).map(|s| s.trim().to_string()).unwrap_or_default()
}

fn date_text(date: &LocalDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year, date.month, date.day)
}

fn parse_date(text: &str) -> Option<LocalDate> {
    let day = text.get(..10)?;
    let mut parts = day.split('-');
    Some(LocalDate { year: parts.next()?.parse().ok()?, month: parts.next()?.parse().ok()?, day: parts.next()?.parse().ok()? })
}

pub fn locations(halo: &Halo, guid: &str) -> Result<Vec<Location>, HaloError> {
    let result = halo.query(guid, &procedure("BP_GetPracticeLocations"), "storedProcedure", "reader", &[])?;
    Ok(result
        .rows
        .iter()
        .filter_map(|row| Some(Location { id: int(row, &["LocationID", "LOCATIONID", "ID"])?, name: trimmed(row, &["LocationName", "LOCATIONNAME", "Name"]) }))
        .collect())
}

pub fn practitioners(halo: &Halo, guid: &str, settings: &Settings) -> Result<Vec<PmsPractitioner>, HaloError> {
    let users = halo.query(guid, &procedure("BP_GetAllUsers"), "storedProcedure", "reader", &[])?;
    let statement = USER_REGISTRATIONS.replace("{ahpra_column}", &settings.ahpra_column);
    let registrations = match halo.query(guid, &statement, "text", "reader", &[]) {
        Ok(result) => result.rows,
        Err(HaloError::Sql { number: 207, message }) => {
            return Err(HaloError::Sql {
                number: 207,
                message: format!(
                    "{message} Bp's USERS table has no column {}: set ahpra_column to the column that holds the AHPRA \
                     registration number (ask Best Practice's integration team)",
                    settings.ahpra_column
                ),
            });
        }
        Err(other) => return Err(other),
    };
    Ok(users
        .rows
        .iter()
        .filter_map(|row| {
            let user_id = int(row, &["UserID", "USERID"])?;
            let ahpra = registrations
                .iter()
                .find(|r| int(r, &["UserID", "USERID"]) == Some(user_id))
                .map(|r| trimmed(r, &["RegistrationNo"]))
                .filter(|a| !a.is_empty());
            Some(PmsPractitioner {
                user_id,
                title: trimmed(row, &["Title", "TITLE"]),
                first_name: trimmed(row, &["Firstname", "FIRSTNAME"]),
                last_name: trimmed(row, &["Surname", "SURNAME"]),
                has_appointments: int(row, &["Appointments"]).unwrap_or(0) != 0,
                provider_number: Some(trimmed(row, &["ProviderNo", "PROVIDERNO"])).filter(|p| !p.is_empty()),
                ahpra,
            })
        })
        .collect())
}

/// The Bp code of the rep-visit appointment type: the configured code, or a lookup by name (cached).
pub fn rep_visit_type_code(halo: &Halo, guid: &str, settings: &Settings) -> Result<i64, HaloError> {
    if let Some(code) = settings.rep_visit_type_code {
        return Ok(code);
    }
    let wanted = settings.rep_visit_type.trim();
    let key = format!("type_code:{}", wanted.to_ascii_lowercase());
    let types = halo.query(guid, APPOINTMENT_TYPES, "text", "reader", &[])?;
    let found = types.rows.iter().find(|row| trimmed(row, &["Name", "DESCRIPTION"]).eq_ignore_ascii_case(wanted)).and_then(|row| int(row, &["Code"]));
    match found {
        Some(code) => {
            site_cache::remember(&key, &code.to_string());
            Ok(code)
        }
        None => {
            let names: Vec<String> = types.rows.iter().map(|row| trimmed(row, &["Name", "DESCRIPTION"])).collect();
            Err(HaloError::Sql {
                number: 50000,
                message: format!("Bp has no appointment type named '{wanted}'; set rep_visit_type to one of: {}", names.join(", ")),
            })
        }
    }
}

fn reason(settings: &Settings, appt: &Appointment) -> String {
    let suffix = format!(" - {REF_MARKER}{}", appt.reference);
    let mut head = format!("{} {} ({})", settings.reason_tag, appt.rep_name.trim(), appt.rep_company.trim());
    let room = REASON_MAX_CHARS.saturating_sub(suffix.chars().count());
    if head.chars().count() > room {
        head = head.chars().take(room.saturating_sub(1)).collect::<String>() + "…";
    }
    head + &suffix
}

/// The repbook reference in a Bp reason text, if it carries one.
fn reference_in(reason: &str) -> Option<String> {
    let at = reason.rfind(REF_MARKER)?;
    let reference: String = reason[at + REF_MARKER.len()..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    (!reference.is_empty()).then_some(reference)
}

struct BpAppointment {
    record_id: i64,
    user_id: i64,
    date: Option<LocalDate>,
    time: i64,
    length: i64,
    kind: i64,
    live: bool,
    reason: String,
}

fn tagged(halo: &Halo, guid: &str, statement: &str, params: &[(&str, &str, String)]) -> Result<Vec<BpAppointment>, HaloError> {
    let result = halo.query(guid, statement, "text", "reader", params)?;
    Ok(result
        .rows
        .iter()
        .filter_map(|row| {
            Some(BpAppointment {
                record_id: int(row, &["RecordID"])?,
                user_id: int(row, &["UserID"]).unwrap_or(0),
                date: column(row, &["AppointmentDate"]).and_then(Value::as_str).and_then(parse_date),
                time: int(row, &["AppointmentTime"]).unwrap_or(0),
                length: int(row, &["AppointmentLength"]).unwrap_or(0),
                kind: int(row, &["AppointmentType"]).unwrap_or(0),
                live: int(row, &["RecordStatus"]).unwrap_or(1) == 1,
                reason: column(row, &["Reason"]).and_then(Value::as_str).unwrap_or("").to_string(),
            })
        })
        .collect())
}

fn find(halo: &Halo, guid: &str, reference: &str) -> Result<Vec<BpAppointment>, HaloError> {
    let found = tagged(halo, guid, FIND_BY_REFERENCE, &[("@pattern", "NVarChar", format!("%{REF_MARKER}{reference}%"))])?;
    // The LIKE pattern is a prefix match on the reference; keep exact matches only.
    Ok(found.into_iter().filter(|a| reference_in(&a.reason).as_deref() == Some(reference)).collect())
}

fn cancel_record(halo: &Halo, guid: &str, record_id: i64) -> Result<(), HaloError> {
    halo.query(guid, &procedure("BP_CancelAppointment"), "storedProcedure", "nonQuery", &[("@aptid", "Int", record_id.to_string())])?;
    Ok(())
}

/// Create-or-update keyed by the reference: an existing Bp appointment is moved or updated in place.
pub fn push(halo: &Halo, guid: &str, settings: &Settings, location: i64, type_code: i64, appt: &Appointment) -> Result<PushOutcome, HaloError> {
    let wanted_reason = reason(settings, appt);
    let date = date_text(&appt.date);
    let mut live: Vec<BpAppointment> = find(halo, guid, &appt.reference)?.into_iter().filter(|a| a.live).collect();
    live.sort_by_key(|a| a.record_id);
    if let Some(existing) = live.first() {
        // Heal duplicates left by anything outside repbook's control: the oldest record stays.
        for extra in &live[1..] {
            cancel_record(halo, guid, extra.record_id)?;
        }
        let mut action = PushAction::Unchanged;
        let moved = existing.user_id != appt.practitioner_user_id
            || existing.date.as_ref().map(date_text).as_deref() != Some(date.as_str())
            || existing.time != appt.start_seconds as i64;
        if moved {
            let result = halo.query(
                guid,
                &procedure("BP_MoveAppointment"),
                "storedProcedure",
                "nonQuery",
                &[
                    ("@aptid", "Int", existing.record_id.to_string()),
                    ("@aptdate", "Date", date.clone()),
                    ("@apttime", "Int", appt.start_seconds.to_string()),
                    ("@practitionerid", "Int", appt.practitioner_user_id.to_string()),
                    ("@locationid", "Int", location.to_string()),
                ],
            );
            let moved = match result {
                Err(HaloError::Sql { number: 50000, message }) if message.contains("already booked") => {
                    return Err(conflict_error(appt));
                }
                other => other?,
            };
            if moved.rows_affected == Some(0) {
                // Cancelled in Bp between our lookup and the move: the next attempt re-creates it.
                return Err(HaloError::Query(format!("Bp appointment {} vanished while being moved", existing.record_id)));
            }
            action = PushAction::Moved;
        }
        if existing.length != appt.duration_seconds as i64 || existing.reason != wanted_reason || existing.kind != type_code {
            halo.query(
                guid,
                &procedure("BP_UpdateAppointment"),
                "storedProcedure",
                "nonQuery",
                &[
                    ("@aptid", "Int", existing.record_id.to_string()),
                    ("@apttype", "Int", type_code.to_string()),
                    ("@aptlen", "Int", appt.duration_seconds.to_string()),
                    ("@reason", "NVarChar", wanted_reason),
                ],
            )?;
            if action == PushAction::Unchanged {
                action = PushAction::Updated;
            }
        }
        return Ok(PushOutcome { pms_id: existing.record_id.to_string(), action });
    }
    let created = halo.query(
        guid,
        ADD_APPOINTMENT,
        "text",
        "reader",
        &[
            ("@aptdate", "Date", date),
            ("@apttime", "Int", appt.start_seconds.to_string()),
            ("@appointmenttype", "Int", type_code.to_string()),
            ("@aptlen", "Int", appt.duration_seconds.to_string()),
            ("@practitionerid", "Int", appt.practitioner_user_id.to_string()),
            ("@patientid", "Int", settings.patient_id.to_string()),
            ("@reason", "NVarChar", wanted_reason),
            ("@locationid", "Int", location.to_string()),
        ],
    )?;
    let id = created.rows.first().and_then(|row| int(row, &["AppointmentId"])).ok_or_else(|| HaloError::Protocol("BP_AddAppointmentEx returned no AppointmentId".into()))?;
    if id == 0 {
        return Err(conflict_error(appt));
    }
    Ok(PushOutcome { pms_id: id.to_string(), action: PushAction::Created })
}

fn conflict_error(appt: &Appointment) -> HaloError {
    HaloError::Conflict(format!(
        "the practitioner's slot on {} at {:02}:{:02} is already taken in Bp",
        date_text(&appt.date),
        appt.start_seconds / 3600,
        appt.start_seconds % 3600 / 60
    ))
}

pub fn cancel(halo: &Halo, guid: &str, reference: &str) -> Result<(), HaloError> {
    for appointment in find(halo, guid, reference)?.into_iter().filter(|a| a.live) {
        cancel_record(halo, guid, appointment.record_id)?;
    }
    Ok(())
}

pub fn list_tagged(halo: &Halo, guid: &str, first: &LocalDate, last: &LocalDate) -> Result<Vec<PmsAppointment>, HaloError> {
    let found = tagged(
        halo,
        guid,
        LIST_TAGGED,
        &[("@pattern", "NVarChar", format!("%{REF_MARKER}%")), ("@first", "Date", date_text(first)), ("@last", "Date", date_text(last))],
    )?;
    Ok(found
        .into_iter()
        .filter_map(|a| {
            Some(PmsAppointment {
                reference: reference_in(&a.reason)?,
                pms_id: a.record_id.to_string(),
                practitioner_user_id: a.user_id,
                date: a.date?,
                start_seconds: a.time.max(0) as u32,
                duration_seconds: a.length.max(0) as u32,
                cancelled: !a.live,
                text: a.reason,
            })
        })
        .collect())
}
