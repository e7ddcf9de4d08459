//! An in-memory Bp Premier database: its tables (appointments, users, locations) and the stored
//! procedures that `shared/reference/bp-sdk.md` documents, each with its parameters (named, case-
//! insensitive, optional ones as the reference says), result columns and RETURN value.
//!
//! Where the reference marks something uncertain, the choice made here is written next to it.
//!
//! `catalogue` lists the procedures; `tables` is the raw table view.

mod catalogue;
mod tables;

use std::collections::{BTreeMap, HashMap};

use jiff::civil::{Date, Weekday};
use serde::Serialize;

use crate::seed::{BpSeed, SessionSeed};
use crate::sql::{SqlError, Value, sql_error};

/// A row of an appointment in Bp's `Appointments` table.
#[derive(Debug, Clone, Serialize)]
pub struct BpAppointment {
    pub record_id: i64,
    /// 1 = live record; cancelling sets it to 0.
    pub record_status: i64,
    pub user_id: i64,
    /// INTERNALID of the patient (0 for a visit without a patient, such as a rep visit).
    pub patient_id: i64,
    pub date: Date,
    /// Seconds since local midnight.
    pub time: i64,
    /// Seconds.
    pub length: i64,
    pub appointment_type: i64,
    pub location_id: i64,
    pub reason: String,
    /// The appointment's status code (1 = booked).
    pub appointment_code: i64,
}

impl BpAppointment {
    fn live(&self) -> bool {
        self.record_status == 1
    }

    fn overlaps(&self, user: i64, date: Date, time: i64, length: i64) -> bool {
        self.live()
            && self.user_id == user
            && self.date == date
            && self.time < time + length
            && time < self.time + self.length
    }
}

/// A result row: columns in order, with Bp's names.
pub type Row = Vec<(String, Value)>;

pub struct ProcOutcome {
    /// The result set, for procedures that return rows.
    pub rows: Option<Vec<Row>>,
    pub return_value: i64,
    pub affected: i64,
}

impl ProcOutcome {
    fn rows(rows: Vec<Row>) -> ProcOutcome {
        ProcOutcome {
            rows: Some(rows),
            return_value: 0,
            affected: -1,
        }
    }

    fn returns(value: i64, affected: i64) -> ProcOutcome {
        ProcOutcome {
            rows: None,
            return_value: value,
            affected,
        }
    }
}

pub use catalogue::{PROCEDURES, Procedure, procedure};

/// A procedure's bound arguments (lower-case names with `@`), converted to the parameters' types.
pub struct Args(pub HashMap<String, Value>);

impl Args {
    fn get(&self, name: &str) -> &Value {
        self.0.get(name).unwrap_or(&Value::Null)
    }

    fn int(&self, name: &str) -> Option<i64> {
        self.get(name).as_int()
    }

    fn date(&self, name: &str) -> Option<Date> {
        match self.get(name) {
            Value::Date(d) => Some(*d),
            _ => None,
        }
    }

    fn text(&self, name: &str) -> Option<String> {
        match self.get(name) {
            Value::Text(t) => Some(t.clone()),
            _ => None,
        }
    }
}

fn raise(message: impl Into<String>) -> SqlError {
    sql_error(50000, message)
}

fn padded(text: &str, width: usize) -> Value {
    Value::Text(format!("{text:<width$}"))
}

fn datetime(date: Date) -> Value {
    Value::DateTime(date.to_datetime(jiff::civil::Time::midnight()))
}

fn seconds_of(hhmm: &str) -> i64 {
    let (h, m) = hhmm.split_once(':').unwrap_or(("0", "0"));
    h.trim().parse::<i64>().unwrap_or(0) * 3600 + m.trim().parse::<i64>().unwrap_or(0) * 60
}

/// 1 = Sunday ... 7 = Saturday (SQL Server's DATEPART(weekday) with the default DATEFIRST 7).
pub fn day_of_week(date: Date) -> u8 {
    match date.weekday() {
        Weekday::Sunday => 1,
        Weekday::Monday => 2,
        Weekday::Tuesday => 3,
        Weekday::Wednesday => 4,
        Weekday::Thursday => 5,
        Weekday::Friday => 6,
        Weekday::Saturday => 7,
    }
}

fn session_runs_on(session: &SessionSeed, date: Date) -> bool {
    let parse = |d: &Option<String>| d.as_deref().and_then(|d| d.parse::<Date>().ok());
    if session.day_of_week != day_of_week(date) {
        return false;
    }
    if parse(&session.start_date).is_some_and(|start| date < start)
        || parse(&session.end_date).is_some_and(|end| date > end)
    {
        return false;
    }
    if session.weeks > 1 {
        let Some(cycle_start) = parse(&session.cycle_date) else {
            return true;
        };
        let weeks = (date - cycle_start).get_days().div_euclid(7) as i64;
        return weeks.rem_euclid(session.weeks) + 1 == session.cycle_week;
    }
    true
}

pub struct Bp {
    pub seed: BpSeed,
    pub appointments: BTreeMap<i64, BpAppointment>,
    next_id: i64,
}

impl Bp {
    pub fn new(seed: BpSeed) -> Bp {
        let next_id = seed.first_record_id;
        Bp {
            seed,
            appointments: BTreeMap::new(),
            next_id,
        }
    }

    fn user_name(&self, user_id: i64) -> (String, String, String) {
        self.seed
            .users
            .iter()
            .find(|u| u.id == user_id)
            .map(|u| (u.title.clone(), u.first_name.clone(), u.surname.clone()))
            .unwrap_or_default()
    }

    fn patient_name(&self, patient_id: i64) -> (String, String) {
        self.seed
            .patients
            .iter()
            .find(|p| p.id == patient_id)
            .map(|p| (p.first_name.clone(), p.surname.clone()))
            .unwrap_or_default()
    }

    fn is_away(&self, user_id: i64, date: Date) -> bool {
        self.seed
            .away
            .iter()
            .any(|a| a.user_id == user_id && a.date == date.to_string())
    }

    /// Foreign keys of the Appointments table, as SQL Server reports a violation.
    fn check_references(&self, user: i64, location: i64, kind: Option<i64>) -> Result<(), SqlError> {
        let conflict = |column: &str, table: &str| {
            sql_error(
                547,
                format!(
                    "The INSERT statement conflicted with the FOREIGN KEY constraint \"FK_APPOINTMENTS_{table}\". The conflict occurred in database \"BPSPatients\", table \"dbo.{table}\", column '{column}'."
                ),
            )
        };
        if !self.seed.users.iter().any(|u| u.id == user) {
            return Err(conflict("USERID", "USERS"));
        }
        if !self.seed.locations.iter().any(|l| l.id == location) {
            return Err(conflict("LOCATIONID", "LOCATIONS"));
        }
        if let Some(kind) = kind.filter(|k| !self.seed.appointment_types.iter().any(|t| t.code == *k)) {
            return Err(conflict("APPOINTMENTTYPE", &format!("APPOINTMENTTYPE {kind}")));
        }
        Ok(())
    }

    fn insert(&mut self, mut appointment: BpAppointment) -> i64 {
        appointment.record_id = self.next_id;
        self.next_id += 1;
        let id = appointment.record_id;
        self.appointments.insert(id, appointment);
        id
    }

    /// Runs a documented procedure with bound arguments.
    pub fn call(&mut self, procedure: &Procedure, args: &Args) -> Result<ProcOutcome, SqlError> {
        let int = |name: &str| args.int(name).unwrap_or(0);
        let date = |name: &str| {
            args.date(name)
                .ok_or_else(|| raise(format!("{name} must not be NULL.")))
        };
        match procedure.name {
            "BP_AddAppointment" | "BP_AddAppointmentEx" => {
                let ex = procedure.name == "BP_AddAppointmentEx";
                let (day, time, length, user) = (
                    date("@aptdate")?,
                    int("@apttime"),
                    int("@aptlen"),
                    int("@practitionerid"),
                );
                if !(0..86_400).contains(&time) || length <= 0 {
                    return Err(raise("Invalid appointment time or length."));
                }
                // Without @locationid, the practitioner's usual location (an assumption, bp-sdk.md section 2).
                let location = args.int("@locationid").unwrap_or_else(|| {
                    self.seed
                        .users
                        .iter()
                        .find(|u| u.id == user)
                        .map_or(1, |u| u.location_id)
                });
                let kind = if ex { args.int("@appointmenttype") } else { None };
                self.check_references(user, location, kind)?;
                // Only the Ex variant is documented to refuse a taken slot (it returns 0); nothing is known
                // of duplicate protection in BP_AddAppointment.
                if ex && self.appointments.values().any(|a| a.overlaps(user, day, time, length)) {
                    return Ok(ProcOutcome::returns(0, 0));
                }
                let id = self.insert(BpAppointment {
                    record_id: 0,
                    record_status: 1,
                    user_id: user,
                    patient_id: int("@patientid"),
                    date: day,
                    time,
                    length,
                    appointment_type: kind.unwrap_or(1),
                    location_id: location,
                    reason: args.text("@reason").unwrap_or_default(),
                    appointment_code: 1,
                });
                Ok(ProcOutcome::returns(id, 1))
            }
            "BP_MoveAppointment" => {
                let id = int("@aptid");
                let (day, time, user, location) = (
                    date("@aptdate")?,
                    int("@apttime"),
                    int("@practitionerid"),
                    int("@locationid"),
                );
                self.check_references(user, location, None)?;
                match self.appointments.get_mut(&id).filter(|a| a.live()) {
                    Some(appointment) => {
                        appointment.date = day;
                        appointment.time = time;
                        appointment.user_id = user;
                        appointment.location_id = location;
                        Ok(ProcOutcome::returns(0, 1))
                    }
                    None => Ok(ProcOutcome::returns(0, 0)),
                }
            }
            "BP_UpdateAppointment" => {
                let id = int("@aptid");
                let (kind, length) = (int("@apttype"), int("@aptlen"));
                if length <= 0 {
                    return Err(raise("Invalid appointment length."));
                }
                self.check_references(self.appointments.get(&id).map_or(0, |a| a.user_id), 1, Some(kind))
                    .or_else(|e| {
                        if self.appointments.contains_key(&id) {
                            Err(e)
                        } else {
                            Ok(())
                        }
                    })?;
                match self.appointments.get_mut(&id).filter(|a| a.live()) {
                    Some(appointment) => {
                        appointment.appointment_type = kind;
                        appointment.length = length;
                        appointment.reason = args.text("@reason").unwrap_or_default();
                        Ok(ProcOutcome::returns(0, 1))
                    }
                    None => Ok(ProcOutcome::returns(0, 0)),
                }
            }
            "BP_CancelAppointment" => match self.appointments.get_mut(&int("@aptid")).filter(|a| a.live()) {
                Some(appointment) => {
                    appointment.record_status = 0;
                    Ok(ProcOutcome::returns(0, 1))
                }
                None => Ok(ProcOutcome::returns(0, 0)),
            },
            "BP_ArriveAppointment" => match self.appointments.get_mut(&int("@aptid")).filter(|a| a.live()) {
                Some(appointment) => {
                    appointment.appointment_code = 3;
                    Ok(ProcOutcome::returns(0, 1))
                }
                None => Ok(ProcOutcome::returns(0, 0)),
            },
            "BP_IsAppointmentBooked" => {
                // "1 = a booked appointment exists at that user/date/time"; completed ones do not count.
                let (user, day, time) = (int("@userid"), date("@aptdate")?, int("@apttime"));
                let booked = self.appointments.values().any(|a| {
                    a.live() && a.appointment_code == 1 && a.user_id == user && a.date == day && a.time == time
                });
                Ok(ProcOutcome::returns(booked as i64, -1))
            }
            "BP_GetFreeAppointments" => {
                let (user, day) = (int("@userid"), date("@aptdate")?);
                if self.is_away(user, day) {
                    return Err(raise("The practitioner is away on that date."));
                }
                let mut rows = Vec::new();
                for session in self
                    .seed
                    .sessions
                    .iter()
                    .filter(|s| s.user_id == user && session_runs_on(s, day))
                {
                    let (start, end, length) = (
                        seconds_of(&session.start),
                        seconds_of(&session.end),
                        session.slot_minutes * 60,
                    );
                    let mut slot = start;
                    while length > 0 && slot + length <= end {
                        if !self.appointments.values().any(|a| a.overlaps(user, day, slot, length)) {
                            rows.push(vec![
                                ("AppointmentTime".to_string(), Value::Int(slot)),
                                ("AppointmentLength".to_string(), Value::Int(length)),
                            ]);
                        }
                        slot += length;
                    }
                }
                Ok(ProcOutcome::rows(rows))
            }
            "BP_GetAllSessions" => {
                let date_or_null = |d: &Option<String>| match d.as_deref().and_then(|d| d.parse::<Date>().ok()) {
                    Some(d) => datetime(d),
                    None => Value::Null,
                };
                Ok(ProcOutcome::rows(
                    self.seed
                        .sessions
                        .iter()
                        .map(|s| {
                            vec![
                                ("UserID".to_string(), Value::Int(s.user_id)),
                                ("LocationID".to_string(), Value::Int(s.location_id)),
                                ("DayOfWeek".to_string(), Value::Int(s.day_of_week as i64)),
                                ("StartTime".to_string(), Value::Int(seconds_of(&s.start))),
                                ("EndTime".to_string(), Value::Int(seconds_of(&s.end))),
                                ("Length".to_string(), Value::Int(s.slot_minutes * 60)),
                                ("StartDate".to_string(), date_or_null(&s.start_date)),
                                ("EndDate".to_string(), date_or_null(&s.end_date)),
                                ("Weeks".to_string(), Value::Int(s.weeks)),
                                ("CycleWeek".to_string(), Value::Int(s.cycle_week)),
                                ("CycleDate".to_string(), date_or_null(&s.cycle_date)),
                            ]
                        })
                        .collect(),
                ))
            }
            "BP_GetAppointmentDetails" => {
                // Cancelled records are returned too: the reference's source reads RECORDSTATUS separately.
                let rows = match self.appointments.get(&int("@aptid")) {
                    None => vec![],
                    Some(a) => {
                        let (title, first, surname) = self.user_name(a.user_id);
                        let (patient_first, patient_surname) = self.patient_name(a.patient_id);
                        vec![vec![
                            ("Firstname".to_string(), padded(&patient_first, 20)),
                            ("Surname".to_string(), padded(&patient_surname, 20)),
                            ("AppointmentDate".to_string(), datetime(a.date)),
                            ("AppointmentTime".to_string(), Value::Int(a.time)),
                            ("AppointmentType".to_string(), Value::Int(a.appointment_type)),
                            ("Description".to_string(), Value::Text(a.reason.clone())),
                            ("UserTitle".to_string(), padded(&title, 8)),
                            ("UserFirstname".to_string(), padded(&first, 20)),
                            ("UserSurname".to_string(), padded(&surname, 20)),
                        ]]
                    }
                };
                Ok(ProcOutcome::rows(rows))
            }
            "BP_GetPatientAppointments" => {
                let patient = int("@patientid");
                let mut live: Vec<&BpAppointment> = self
                    .appointments
                    .values()
                    .filter(|a| a.live() && a.patient_id == patient)
                    .collect();
                live.sort_by_key(|a| (a.date, a.time, a.record_id));
                Ok(ProcOutcome::rows(
                    live.into_iter()
                        .map(|a| {
                            let (title, _, surname) = self.user_name(a.user_id);
                            vec![
                                ("RecordID".to_string(), Value::Int(a.record_id)),
                                ("AppointmentCode".to_string(), Value::Int(a.appointment_code)),
                                ("UserTitle".to_string(), padded(&title, 8)),
                                ("UserSurname".to_string(), padded(&surname, 20)),
                                ("AppointmentDate".to_string(), datetime(a.date)),
                                ("AppointmentTime".to_string(), Value::Int(a.time)),
                                ("AppointmentType".to_string(), Value::Int(a.appointment_type)),
                            ]
                        })
                        .collect(),
                ))
            }
            "BP_GetAllUsers" => Ok(ProcOutcome::rows(
                self.seed
                    .users
                    .iter()
                    .filter(|u| u.status == 1)
                    .map(|u| {
                        vec![
                            ("UserID".to_string(), Value::Int(u.id)),
                            ("Surname".to_string(), padded(&u.surname, 20)),
                            ("Firstname".to_string(), padded(&u.first_name, 20)),
                            ("GroupName".to_string(), Value::Text(u.group.clone())),
                            ("Appointments".to_string(), Value::Int(u.has_appointments as i64)),
                            ("LocationID".to_string(), Value::Int(u.location_id)),
                        ]
                    })
                    .collect(),
            )),
            // Columns unknown (bp-sdk.md section 4); assumed: the users with an appointment book.
            "BP_GetAppointmentBookUsers" => Ok(ProcOutcome::rows(
                self.seed
                    .users
                    .iter()
                    .filter(|u| u.status == 1 && u.has_appointments)
                    .map(|u| {
                        vec![
                            ("UserID".to_string(), Value::Int(u.id)),
                            ("Surname".to_string(), padded(&u.surname, 20)),
                            ("Firstname".to_string(), padded(&u.first_name, 20)),
                        ]
                    })
                    .collect(),
            )),
            // Columns unknown (bp-sdk.md section 5); assumed from the LOCATIONS table.
            "BP_GetPracticeLocations" => Ok(ProcOutcome::rows(
                self.seed
                    .locations
                    .iter()
                    .map(|l| {
                        vec![
                            ("LocationID".to_string(), Value::Int(l.id)),
                            ("LocationName".to_string(), padded(&l.name, l.name.len() + 3)),
                        ]
                    })
                    .collect(),
            )),
            "BP_GetPracticeLocation" => Ok(ProcOutcome::rows(
                self.seed
                    .locations
                    .iter()
                    .filter(|l| l.id == int("@locationid"))
                    .map(|_| {
                        vec![
                            ("ADDRESS1".to_string(), Value::Null),
                            ("ADDRESS2".to_string(), Value::Null),
                            ("POSTCODE".to_string(), Value::Null),
                        ]
                    })
                    .collect(),
            )),
            other => Err(sql_error(2812, format!("Could not find stored procedure '{other}'."))),
        }
    }

    /// Inspection and tampering for tests (`/_sim/`): what Bp holds, changed behind the integrator's back.
    pub fn insert_raw(&mut self, appointment: BpAppointment) -> i64 {
        self.insert(appointment)
    }

    pub fn add_away(&mut self, user_id: i64, date: String) {
        self.seed.away.push(crate::seed::AwaySeed { user_id, date });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays_count_from_sunday() {
        assert_eq!(day_of_week("2026-11-29".parse().unwrap()), 1);
        assert_eq!(day_of_week("2026-12-01".parse().unwrap()), 3);
    }
}
