//! Bp Premier through Halo, with the procedures bp-sdk.md documents. Raw-table reads happen only when a
//! setting asks for them (`ahpra_column`, `read_tables`), date-bounded, with a fallback when refused.
//!
//! Writes follow what the host knows of the PMS record (`pms-knowledge`):
//! - never sent: one `BP_AddAppointmentEx` batch (it returns the RecordID, 0 when the slot is taken);
//! - confirmed: one batch by RecordID (`BP_IsAppointmentBooked` at the new slot, then `BP_MoveAppointment`
//!   and/or `BP_UpdateAppointment`), or no call at all when nothing changed;
//! - uncertain: look first (`BP_GetPatientAppointments` for what is live, `BP_GetAppointmentDetails` for
//!   the reference in its text), then write by RecordID, or add when nothing is there.
//!
//! What a doctor's diary says is busy is `availability`.

use crate::halo::{Halo, HaloError};
use crate::query::{ExecutionMode, Query, Row, date, date_of, date_text, int, int_of, text, text_of};
use crate::repbook::pms::log;
use crate::repbook::pms::types::*;
use crate::settings::Settings;

/// Marks repbook's appointments in Bp's reason text; the reference follows it.
const REF_MARKER: &str = "repbook ref ";
const REASON_MAX_CHARS: usize = 200;

const ADD: &str = "DECLARE @AppointmentId INT;
EXEC @AppointmentId = BPSPATIENTS.dbo.BP_AddAppointmentEx @aptdate = @aptdate, @apttime = @apttime, @appointmenttype = @appointmenttype, @aptlen = @aptlen, @practitionerid = @practitionerid, @patientid = @patientid, @reason = @reason, @locationid = @locationid;
SELECT @AppointmentId AS AppointmentId;";

const CHECK_SLOT: &str = "EXEC @SlotTaken = BPSPATIENTS.dbo.BP_IsAppointmentBooked @userid = @practitionerid, @aptdate = @aptdate, @apttime = @apttime;";
const MOVE: &str = "IF @SlotTaken = 0 EXEC BPSPATIENTS.dbo.BP_MoveAppointment @aptid = @aptid, @aptdate = @aptdate, @apttime = @apttime, @practitionerid = @practitionerid, @locationid = @locationid;";
const UPDATE: &str = "IF @SlotTaken = 0 EXEC BPSPATIENTS.dbo.BP_UpdateAppointment @aptid = @aptid, @apttype = @apttype, @aptlen = @aptlen, @reason = @reason;";

const TAGGED: &str = "SELECT RECORDID AS RecordID, USERID AS UserID, APPOINTMENTDATE AS AppointmentDate, APPOINTMENTTIME AS AppointmentTime, APPOINTMENTLENGTH AS AppointmentLength, RECORDSTATUS AS RecordStatus, REASON AS Reason
FROM BPSPATIENTS.dbo.APPOINTMENTS
WHERE REASON LIKE @pattern AND APPOINTMENTDATE BETWEEN @first AND @last
ORDER BY RECORDID";

pub fn locations(halo: &Halo, guid: &str) -> Result<Vec<Location>, HaloError> {
    let result = halo.query(guid, &Query::procedure("BP_GetPracticeLocations", ExecutionMode::Reader))?;
    Ok(result
        .rows
        .iter()
        .filter_map(|row| Some(Location { id: int_of(row, &["LocationID", "LOCATIONID", "ID"])?, name: text_of(row, &["LocationName", "LOCATIONNAME", "Name"]) }))
        .collect())
}

/// Bp's users from `BP_GetAllUsers`; AHPRA and provider numbers only when `ahpra_column` names the column
/// and the site lets repbook read `USERS` (else every doctor is left for mapping by hand).
pub fn practitioners(halo: &Halo, guid: &str, settings: &Settings) -> Result<Vec<PmsPractitioner>, HaloError> {
    let users = halo.query(guid, &Query::procedure("BP_GetAllUsers", ExecutionMode::Reader))?;
    let registrations = match &settings.ahpra_column {
        None => vec![],
        Some(column) => {
            let statement = format!("SELECT USERID AS UserID, PROVIDERNO AS ProviderNo, {column} AS RegistrationNo FROM BPSPATIENTS.dbo.USERS");
            match halo.query(guid, &Query::batch(statement)) {
                Ok(result) => result.rows,
                Err(HaloError::Sql(error)) if error.number == 229 || error.number == 207 => {
                    log::log(
                        log::Level::Warn,
                        &format!("cannot read AHPRA numbers from USERS.{column} (SQL Server error {}: {}); doctors must be mapped by hand", error.number, error.message),
                    );
                    vec![]
                }
                Err(other) => return Err(other),
            }
        }
    };
    Ok(users
        .rows
        .iter()
        .filter_map(|row| {
            let user_id = int_of(row, &["UserID", "USERID"])?;
            let registration = registrations.iter().find(|r| int_of(r, &["UserID"]) == Some(user_id));
            let optional = |name: &str| registration.map(|r| text_of(r, &[name])).filter(|v| !v.is_empty());
            Some(PmsPractitioner {
                user_id,
                title: text_of(row, &["Title", "TITLE"]),
                first_name: text_of(row, &["Firstname", "FIRSTNAME"]),
                last_name: text_of(row, &["Surname", "SURNAME"]),
                has_appointments: int_of(row, &["Appointments"]).unwrap_or(0) != 0,
                provider_number: optional("ProviderNo"),
                ahpra: optional("RegistrationNo"),
            })
        })
        .collect())
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

fn conflict(appt: &Appointment) -> HaloError {
    HaloError::Conflict(format!(
        "the practitioner's slot on {} at {:02}:{:02} is already taken in Bp",
        date_text(&appt.date),
        appt.start_seconds / 3600,
        appt.start_seconds % 3600 / 60
    ))
}

/// What the appointment asks of Bp beyond where it is: type, length and reason text.
struct Wanted<'a> {
    appt: &'a Appointment,
    type_code: i64,
    location: i64,
    reason: String,
}

impl Wanted<'_> {
    fn add(&self, halo: &Halo, guid: &str, settings: &Settings) -> Result<PushOutcome, HaloError> {
        let a = self.appt;
        let query = Query::batch(ADD)
            .param(date("@aptdate", &a.date))
            .param(int("@apttime", a.start_seconds as i64))
            .param(int("@appointmenttype", self.type_code))
            .param(int("@aptlen", a.duration_seconds as i64))
            .param(int("@practitionerid", a.practitioner_user_id))
            .param(int("@patientid", settings.patient_id))
            .param(text("@reason", &self.reason))
            .param(int("@locationid", self.location));
        let created = halo.query(guid, &query)?;
        let id = created.rows.first().and_then(|row| int_of(row, &["AppointmentId"])).ok_or_else(|| HaloError::Protocol("BP_AddAppointmentEx returned no AppointmentId".into()))?;
        if id == 0 {
            return Err(conflict(a));
        }
        Ok(PushOutcome { pms_id: id.to_string(), action: PushAction::Created })
    }

    /// One batch on an existing record: move it (when the new slot is free) and/or update its type, length
    /// and text. A taken slot changes nothing and is a conflict.
    fn write_in_place(&self, halo: &Halo, guid: &str, record_id: i64, relocate: bool, update: bool) -> Result<PushOutcome, HaloError> {
        let a = self.appt;
        let mut text_lines = vec!["DECLARE @SlotTaken INT = 0;"];
        let mut query_params = vec![int("@aptid", record_id)];
        if relocate {
            text_lines.extend([CHECK_SLOT, MOVE]);
            query_params.extend([
                date("@aptdate", &a.date),
                int("@apttime", a.start_seconds as i64),
                int("@practitionerid", a.practitioner_user_id),
                int("@locationid", self.location),
            ]);
        }
        if update {
            text_lines.push(UPDATE);
            query_params.extend([int("@apttype", self.type_code), int("@aptlen", a.duration_seconds as i64), text("@reason", &self.reason)]);
        }
        text_lines.push("SELECT @SlotTaken AS SlotTaken;");
        let query = query_params.into_iter().fold(Query::batch(text_lines.join("\n")), Query::param);
        let answer = halo.query(guid, &query)?;
        if answer.rows.first().and_then(|row| int_of(row, &["SlotTaken"])).unwrap_or(0) != 0 {
            return Err(conflict(a));
        }
        let action = if relocate { PushAction::Moved } else { PushAction::Updated };
        Ok(PushOutcome { pms_id: record_id.to_string(), action })
    }
}

/// A live record of the rep-visit patient, from `BP_GetPatientAppointments`.
struct LiveRecord {
    record_id: i64,
    date: Option<LocalDate>,
    time: i64,
    kind: i64,
}

fn live_records(halo: &Halo, guid: &str, settings: &Settings) -> Result<Vec<LiveRecord>, HaloError> {
    let query = Query::procedure("BP_GetPatientAppointments", ExecutionMode::Reader).param(int("@patientid", settings.patient_id));
    Ok(halo
        .query(guid, &query)?
        .rows
        .iter()
        .filter_map(|row| {
            Some(LiveRecord {
                record_id: int_of(row, &["RecordID"])?,
                date: date_of(row, &["AppointmentDate"]),
                time: int_of(row, &["AppointmentTime"]).unwrap_or(-1),
                kind: int_of(row, &["AppointmentType"]).unwrap_or(-1),
            })
        })
        .collect())
}

/// What `BP_GetAppointmentDetails` says of a record.
struct Details {
    date: Option<LocalDate>,
    time: i64,
    kind: i64,
    description: String,
    user_first: String,
    user_surname: String,
}

fn details(halo: &Halo, guid: &str, record_id: i64) -> Result<Option<Details>, HaloError> {
    let query = Query::procedure("BP_GetAppointmentDetails", ExecutionMode::Reader).param(int("@aptid", record_id));
    Ok(halo.query(guid, &query)?.rows.first().map(|row: &Row| Details {
        date: date_of(row, &["AppointmentDate"]),
        time: int_of(row, &["AppointmentTime"]).unwrap_or(-1),
        kind: int_of(row, &["AppointmentType"]).unwrap_or(-1),
        description: text_of(row, &["Description"]),
        user_first: text_of(row, &["UserFirstname"]),
        user_surname: text_of(row, &["UserSurname"]),
    }))
}

/// The live records that carry `reference`: the known RecordID if it is live, and any live record at the
/// appointment's slot with the rep-visit type whose text carries the reference (an earlier attempt whose
/// answer was lost). Documented procedures only: no table is scanned.
fn find_live(halo: &Halo, guid: &str, settings: &Settings, appt: &Appointment, type_code: Option<i64>, pms_id: Option<&str>) -> Result<Vec<(i64, Details)>, HaloError> {
    let live = live_records(halo, guid, settings)?;
    let known = pms_id.and_then(|id| id.parse::<i64>().ok());
    let candidates = live.iter().filter(|r| {
        Some(r.record_id) == known || (r.date.as_ref() == Some(&appt.date) && r.time == appt.start_seconds as i64 && type_code.is_none_or(|t| t == r.kind))
    });
    let mut found = Vec::new();
    for record in candidates {
        if let Some(details) = details(halo, guid, record.record_id)? {
            if reference_in(&details.description).as_deref() == Some(appt.reference.as_str()) {
                found.push((record.record_id, details));
            }
        }
    }
    found.sort_by_key(|(id, _)| *id);
    Ok(found)
}

fn cancel_record(halo: &Halo, guid: &str, record_id: i64) -> Result<(), HaloError> {
    halo.query(guid, &Query::procedure("BP_CancelAppointment", ExecutionMode::NonQuery).param(int("@aptid", record_id)))?;
    Ok(())
}

/// Create-or-update keyed by the reference, in as few round trips as what the host knows allows.
pub fn push(halo: &Halo, guid: &str, settings: &Settings, appt: &Appointment) -> Result<PushOutcome, HaloError> {
    let wanted = Wanted {
        appt,
        type_code: settings.type_code().map_err(HaloError::Config)?,
        location: settings.location_id().map_err(HaloError::Config)?,
        reason: reason(settings, appt),
    };
    match &appt.known {
        PmsKnowledge::NeverSent => wanted.add(halo, guid, settings),
        PmsKnowledge::Confirmed(placement) => {
            let record_id = placement.pms_id.parse::<i64>().map_err(|_| HaloError::Protocol(format!("'{}' is not a Bp RecordID", placement.pms_id)))?;
            let relocate = placement.practitioner_user_id != appt.practitioner_user_id || placement.date != appt.date || placement.start_seconds != appt.start_seconds;
            let update = placement.duration_seconds != appt.duration_seconds;
            if !relocate && !update {
                return Ok(PushOutcome { pms_id: placement.pms_id.clone(), action: PushAction::Unchanged });
            }
            wanted.write_in_place(halo, guid, record_id, relocate, update)
        }
        PmsKnowledge::Uncertain(pms_id) => {
            let found = find_live(halo, guid, settings, appt, Some(wanted.type_code), pms_id.as_deref())?;
            let Some(((record_id, details), extras)) = found.split_first() else {
                return wanted.add(halo, guid, settings);
            };
            // Heal duplicates left by anything outside repbook's control: the oldest record stays.
            for (extra, _) in extras {
                cancel_record(halo, guid, *extra)?;
            }
            let relocate = details.date.as_ref() != Some(&appt.date) || details.time != appt.start_seconds as i64;
            // The length is not in any documented answer, so it is always written again (an idempotent update).
            let outcome = wanted.write_in_place(halo, guid, *record_id, relocate, true)?;
            let unchanged = !relocate && details.kind == wanted.type_code && details.description == wanted.reason;
            Ok(if unchanged { PushOutcome { action: PushAction::Unchanged, ..outcome } } else { outcome })
        }
    }
}

/// Cancels every live record of the appointment: by RecordID when the host knows it for sure, else after
/// looking where it would be.
pub fn cancel(halo: &Halo, guid: &str, settings: &Settings, appt: &Appointment) -> Result<(), HaloError> {
    match &appt.known {
        PmsKnowledge::NeverSent => Ok(()),
        PmsKnowledge::Confirmed(placement) => {
            let record_id = placement.pms_id.parse::<i64>().map_err(|_| HaloError::Protocol(format!("'{}' is not a Bp RecordID", placement.pms_id)))?;
            cancel_record(halo, guid, record_id)
        }
        PmsKnowledge::Uncertain(pms_id) => {
            for (record_id, _) in find_live(halo, guid, settings, appt, settings.rep_visit_type_code, pms_id.as_deref())? {
                cancel_record(halo, guid, record_id)?;
            }
            Ok(())
        }
    }
}

/// repbook's appointments in Bp between two dates: one date-bounded table read when `read_tables` is on,
/// else the rep-visit patient's live appointments, each read with `BP_GetAppointmentDetails` (which
/// discloses neither the length nor the practitioner's user id; the names are matched to `BP_GetAllUsers`).
pub fn list_tagged(halo: &Halo, guid: &str, settings: &Settings, first: &LocalDate, last: &LocalDate) -> Result<Vec<PmsAppointment>, HaloError> {
    if settings.read_tables {
        let query = Query::batch(TAGGED).param(text("@pattern", &format!("%{REF_MARKER}%"))).param(date("@first", first)).param(date("@last", last));
        return Ok(halo
            .query(guid, &query)?
            .rows
            .iter()
            .filter_map(|row| {
                let reason = text_of(row, &["Reason"]);
                Some(PmsAppointment {
                    reference: reference_in(&reason)?,
                    pms_id: int_of(row, &["RecordID"])?.to_string(),
                    practitioner_user_id: int_of(row, &["UserID"]),
                    date: date_of(row, &["AppointmentDate"])?,
                    start_seconds: int_of(row, &["AppointmentTime"])?.max(0) as u32,
                    duration_seconds: int_of(row, &["AppointmentLength"]).map(|l| l.max(0) as u32),
                    cancelled: int_of(row, &["RecordStatus"]).unwrap_or(1) != 1,
                    text: reason,
                })
            })
            .collect());
    }
    let in_range = |d: &LocalDate| (d.year, d.month, d.day) >= (first.year, first.month, first.day) && (d.year, d.month, d.day) <= (last.year, last.month, last.day);
    let live: Vec<LiveRecord> = live_records(halo, guid, settings)?.into_iter().filter(|r| r.date.as_ref().is_some_and(in_range)).collect();
    if live.is_empty() {
        return Ok(vec![]);
    }
    let users = halo.query(guid, &Query::procedure("BP_GetAllUsers", ExecutionMode::Reader))?.rows;
    let user_named = |first_name: &str, surname: &str| {
        let matches: Vec<i64> = users
            .iter()
            .filter(|u| text_of(u, &["Firstname"]).eq_ignore_ascii_case(first_name) && text_of(u, &["Surname"]).eq_ignore_ascii_case(surname))
            .filter_map(|u| int_of(u, &["UserID"]))
            .collect();
        (matches.len() == 1).then(|| matches[0])
    };
    let mut found = Vec::new();
    for record in live {
        let Some(details) = details(halo, guid, record.record_id)? else { continue };
        let (Some(reference), Some(day)) = (reference_in(&details.description), details.date.clone()) else { continue };
        found.push(PmsAppointment {
            reference,
            pms_id: record.record_id.to_string(),
            practitioner_user_id: user_named(&details.user_first, &details.user_surname),
            date: day,
            start_seconds: details.time.max(0) as u32,
            duration_seconds: None,
            cancelled: false,
            text: details.description,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: u16, m: u8, d: u8) -> LocalDate {
        LocalDate { year: y, month: m, day: d }
    }


    #[test]
    fn references_are_read_back_from_the_reason() {
        assert_eq!(reference_in("[REP] Jane (Acme) - repbook ref 01JABC"), Some("01JABC".into()));
        assert_eq!(reference_in("Patient"), None);
    }


    /// A Halo that answers Bp's procedures from a list of live records (each with its reason text) and
    /// records every command it was sent, in order.
    struct FakeBp {
        live: Vec<(i64, &'static str)>,
        commands: std::cell::RefCell<Vec<String>>,
    }

    impl FakeBp {
        fn new(live: Vec<(i64, &'static str)>) -> FakeBp {
            FakeBp { live, commands: Default::default() }
        }

        fn commands(&self) -> Vec<String> {
            self.commands.borrow().clone()
        }
    }

    fn answer(rows: serde_json::Value) -> crate::repbook::pms::http::Response {
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD.encode(rows.to_string());
        let body = serde_json::json!({"status": "successful", "result": {"data": data}});
        crate::repbook::pms::http::Response { status: 200, headers: vec![], body: body.to_string().into_bytes() }
    }

    impl crate::halo::Transport for FakeBp {
        fn send(&self, request: &crate::repbook::pms::http::Request) -> Result<crate::repbook::pms::http::Response, crate::repbook::pms::http::HttpError> {
            let body: serde_json::Value = serde_json::from_slice(request.body.as_deref().unwrap_or_default()).unwrap();
            let text = body["command"]["text"].as_str().unwrap_or_default().to_string();
            self.commands.borrow_mut().push(text.clone());
            let param = |name: &str| {
                body["command"]["parameters"].as_array().unwrap().iter().find(|p| p["name"] == name).map(|p| p["value"].as_str().unwrap().to_string())
            };
            let rows = if text.ends_with("BP_GetPatientAppointments") {
                serde_json::Value::Array(
                    self.live
                        .iter()
                        .map(|(id, _)| serde_json::json!({"RecordID": id, "AppointmentDate": "2027-03-02T00:00:00", "AppointmentTime": 45_000, "AppointmentType": 126}))
                        .collect(),
                )
            } else if text.ends_with("BP_GetAppointmentDetails") {
                let id: i64 = param("@aptid").unwrap().parse().unwrap();
                let reason = self.live.iter().find(|(r, _)| *r == id).map(|(_, reason)| *reason).unwrap_or_default();
                serde_json::json!([{"AppointmentDate": "2027-03-02T00:00:00", "AppointmentTime": 45_000, "AppointmentType": 126, "Description": reason}])
            } else if text.contains("BP_AddAppointmentEx") {
                serde_json::json!([{"AppointmentId": 9001}])
            } else {
                serde_json::json!([{"SlotTaken": 0}])
            };
            Ok(answer(rows))
        }
    }

    fn settings() -> Settings {
        Settings {
            base_url: "http://127.0.0.1:9".into(),
            site_id: Some("12345".into()),
            pairing_code: None,
            location_id: Some(1),
            rep_visit_type_code: Some(126),
            reason_tag: "[REP]".into(),
            patient_id: 0,
            ahpra_column: None,
            read_tables: false,
            cached_guid: Some("guid".into()),
        }
    }

    fn appointment(known: PmsKnowledge) -> Appointment {
        Appointment {
            reference: "01JREF".into(),
            practitioner_user_id: 2_000_000_564,
            date: day(2027, 3, 2),
            start_seconds: 45_000,
            duration_seconds: 1_200,
            rep_name: "Jane Citizen".into(),
            rep_company: "Acme Pharma".into(),
            rep_email: "jane@acme.test".into(),
            notes: String::new(),
            known,
        }
    }

    fn adds(commands: &[String]) -> usize {
        commands.iter().filter(|c| c.contains("BP_AddAppointmentEx")).count()
    }

    #[test]
    fn an_uncertain_push_looks_for_its_reference_before_it_writes_and_finds_the_earlier_record() {
        let settings = settings();
        // An earlier attempt's answer was lost: Bp holds record 7001 with this appointment's reference.
        let bp = FakeBp::new(vec![(7001, "[REP] Jane Citizen (Acme Pharma) - repbook ref 01JREF")]);
        let halo = Halo::with_transport(&settings, &bp);
        let outcome = push(&halo, "guid", &settings, &appointment(PmsKnowledge::Uncertain(None))).unwrap();
        let commands = bp.commands();
        assert!(commands[0].ends_with("BP_GetPatientAppointments"), "it looks first: {commands:?}");
        assert_eq!(adds(&commands), 0, "no second Bp appointment: {commands:?}");
        assert_eq!(outcome.pms_id, "7001");
    }

    #[test]
    fn an_uncertain_push_adds_only_after_looking_and_finding_nothing() {
        let settings = settings();
        // A live record at the same slot, but someone else's: not this appointment.
        let bp = FakeBp::new(vec![(7002, "[REP] Other Rep (Globex) - repbook ref 01JOTHER")]);
        let halo = Halo::with_transport(&settings, &bp);
        let outcome = push(&halo, "guid", &settings, &appointment(PmsKnowledge::Uncertain(None))).unwrap();
        let commands = bp.commands();
        assert!(commands[0].ends_with("BP_GetPatientAppointments"), "{commands:?}");
        assert!(commands.iter().any(|c| c.ends_with("BP_GetAppointmentDetails")), "{commands:?}");
        assert!(commands.last().unwrap().contains("BP_AddAppointmentEx"), "{commands:?}");
        assert_eq!(adds(&commands), 1);
        assert_eq!((outcome.pms_id.as_str(), outcome.action), ("9001", PushAction::Created));
    }

    #[test]
    fn a_push_never_sent_before_adds_in_one_round_trip() {
        let settings = settings();
        let bp = FakeBp::new(vec![]);
        let halo = Halo::with_transport(&settings, &bp);
        push(&halo, "guid", &settings, &appointment(PmsKnowledge::NeverSent)).unwrap();
        assert_eq!(bp.commands().len(), 1);
        assert_eq!(adds(&bp.commands()), 1);
    }
}
