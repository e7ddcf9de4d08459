//! An in-memory Bp Premier database: users, locations, appointment types and appointments, and the stored
//! procedures and parameterised statements the connector sends, with SQL Server's error numbers.
//!
//! Statements are recognised by their exact text (white space and case folded). Anything else, including
//! a statement with a value spliced into its text, fails as SQL Server would: that is how the simulator
//! proves the connector never builds SQL from user input.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;
use serde::Serialize;
use serde_json::{Value, json};

use crate::seed::BpSeed;

const ADD_APPOINTMENT: &str = include_str!("../../plugins/halo-bp/sql/add_appointment.sql");
const FIND_BY_REFERENCE: &str = include_str!("../../plugins/halo-bp/sql/find_by_reference.sql");
const LIST_TAGGED: &str = include_str!("../../plugins/halo-bp/sql/list_tagged.sql");
const USER_REGISTRATIONS: &str = include_str!("../../plugins/halo-bp/sql/user_registrations.sql");
const APPOINTMENT_TYPES: &str = include_str!("../../plugins/halo-bp/sql/appointment_types.sql");

#[derive(Debug, Clone, Serialize)]
pub struct BpAppointment {
    pub record_id: i64,
    /// 1 = live, 0 = cancelled/deleted (Bp's RECORDSTATUS).
    pub record_status: i64,
    pub user_id: i64,
    pub patient_id: i64,
    pub date: Date,
    /// Seconds since local midnight.
    pub time: i64,
    /// Seconds.
    pub length: i64,
    pub appointment_type: i64,
    pub location_id: i64,
    pub reason: String,
}

impl BpAppointment {
    fn overlaps(&self, user: i64, date: Date, time: i64, length: i64) -> bool {
        self.record_status == 1
            && self.user_id == user
            && self.date == date
            && self.time < time + length
            && time < self.time + self.length
    }

    fn row(&self) -> Value {
        json!({
            "RecordID": self.record_id,
            "UserID": self.user_id,
            "AppointmentDate": format!("{}T00:00:00", self.date),
            "AppointmentTime": self.time,
            "AppointmentLength": self.length,
            "AppointmentType": self.appointment_type,
            "LocationID": self.location_id,
            "RecordStatus": self.record_status,
            "Reason": self.reason,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandType {
    Text,
    StoredProcedure,
}

#[derive(Debug, Clone)]
pub struct Command {
    pub text: String,
    pub kind: CommandType,
    /// Parameter name (lower case, without '@') -> value.
    pub params: HashMap<String, Option<String>>,
}

#[derive(Debug)]
pub enum Outcome {
    Rows(Vec<Value>),
    Affected(i64),
}

/// A SQL Server error: number and message, as Halo passes them through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    pub number: i64,
    pub message: String,
}

fn sql_error(number: i64, message: impl Into<String>) -> SqlError {
    SqlError {
        number,
        message: message.into(),
    }
}

fn normalise(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

/// SQL Server's LIKE with % and _ (case-insensitive, as Bp's default collation).
fn like(value: &str, pattern: &str) -> bool {
    fn go(v: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some(('%', rest)) => (0..=v.len()).any(|i| go(&v[i..], rest)),
            Some(('_', rest)) => !v.is_empty() && go(&v[1..], rest),
            Some((c, rest)) => v.first().is_some_and(|x| x.eq_ignore_ascii_case(c)) && go(&v[1..], rest),
        }
    }
    let v: Vec<char> = value.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    go(&v, &p)
}

pub struct Bp {
    seed: BpSeed,
    pub appointments: BTreeMap<i64, BpAppointment>,
    next_id: i64,
}

impl Command {
    fn value(&self, name: &str, procedure: &str) -> Result<Option<&str>, SqlError> {
        match self.params.get(name) {
            Some(value) => Ok(value.as_deref()),
            None => Err(sql_error(
                201,
                format!("Procedure or function '{procedure}' expects parameter '@{name}', which was not supplied."),
            )),
        }
    }

    fn int(&self, name: &str, procedure: &str) -> Result<i64, SqlError> {
        let text = self.value(name, procedure)?.unwrap_or("");
        text.trim().parse().map_err(|_| {
            sql_error(
                8114,
                format!("Error converting data type nvarchar to int. (@{name} = '{text}')"),
            )
        })
    }

    fn date(&self, name: &str, procedure: &str) -> Result<Date, SqlError> {
        let text = self.value(name, procedure)?.unwrap_or("").trim().to_string();
        let iso = if text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()) {
            format!("{}-{}-{}", &text[..4], &text[4..6], &text[6..])
        } else {
            text.chars().take(10).collect()
        };
        iso.parse().map_err(|_| {
            sql_error(
                241,
                format!(
                    "Conversion failed when converting date and/or time from character string. (@{name} = '{text}')"
                ),
            )
        })
    }

    fn string(&self, name: &str, procedure: &str) -> Result<String, SqlError> {
        Ok(self.value(name, procedure)?.unwrap_or("").to_string())
    }
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

    /// Whether the command changes data (for "504 after the write took effect").
    pub fn is_write(command: &Command) -> bool {
        let text = normalise(&command.text);
        text.contains("bp_addappointment")
            || text.contains("bp_moveappointment")
            || text.contains("bp_updateappointment")
            || text.contains("bp_cancelappointment")
    }

    pub fn execute(&mut self, command: &Command) -> Result<Outcome, SqlError> {
        match command.kind {
            CommandType::StoredProcedure => self.procedure(command),
            CommandType::Text => self.statement(command),
        }
    }

    fn procedure(&mut self, command: &Command) -> Result<Outcome, SqlError> {
        let full = command.text.trim();
        let name = full
            .rsplit('.')
            .next()
            .unwrap_or(full)
            .trim_matches(|c| c == '[' || c == ']');
        let qualified_ok = !full.contains('.') || normalise(full).starts_with("bpspatients.dbo.");
        if !qualified_ok {
            return Err(sql_error(2812, format!("Could not find stored procedure '{full}'.")));
        }
        match name.to_ascii_lowercase().as_str() {
            "bp_getpracticelocations" => Ok(Outcome::Rows(
                self.seed
                    .locations
                    .iter()
                    .map(|l| json!({"LocationID": l.id, "LocationName": format!("{}   ", l.name)}))
                    .collect(),
            )),
            "bp_getallusers" => Ok(Outcome::Rows(
                self.seed
                    .users
                    .iter()
                    .map(|u| {
                        json!({
                            "UserID": u.id,
                            "Title": format!("{:<8}", u.title),
                            "Firstname": format!("{:<20}", u.first_name),
                            "Surname": format!("{:<20}", u.surname),
                            "GroupName": u.group,
                            "Appointments": if u.has_appointments { 1 } else { 0 },
                            "LocationID": u.location_id,
                            "ProviderNo": u.provider_no.as_ref().map(|p| format!("{p:<10}")),
                        })
                    })
                    .collect(),
            )),
            "bp_getappointmentdetails" => {
                let id = command.int("aptid", name)?;
                Ok(Outcome::Rows(
                    self.appointments
                        .get(&id)
                        .filter(|a| a.record_status == 1)
                        .map(|a| {
                            let user = self.seed.users.iter().find(|u| u.id == a.user_id);
                            vec![json!({
                                "Firstname": "", "Surname": "",
                                "AppointmentDate": format!("{}T00:00:00", a.date),
                                "AppointmentTime": a.time,
                                "AppointmentType": a.appointment_type,
                                "Description": a.reason,
                                "UserTitle": user.map(|u| u.title.clone()).unwrap_or_default(),
                                "UserFirstname": user.map(|u| format!("{:<20}", u.first_name)).unwrap_or_default(),
                                "UserSurname": user.map(|u| format!("{:<20}", u.surname)).unwrap_or_default(),
                            })]
                        })
                        .unwrap_or_default(),
                ))
            }
            "bp_moveappointment" => {
                let id = command.int("aptid", name)?;
                let date = command.date("aptdate", name)?;
                let time = command.int("apttime", name)?;
                let user = command.int("practitionerid", name)?;
                let location = command.int("locationid", name)?;
                let Some(current) = self.appointments.get(&id).filter(|a| a.record_status == 1).cloned() else {
                    return Ok(Outcome::Affected(0));
                };
                self.check_bookable(user, date)?;
                if self.clash(user, date, time, current.length, Some(id)) {
                    return Err(sql_error(50000, "The appointment slot is already booked."));
                }
                let appointment = self.appointments.get_mut(&id).expect("checked above");
                appointment.date = date;
                appointment.time = time;
                appointment.user_id = user;
                appointment.location_id = location;
                Ok(Outcome::Affected(1))
            }
            "bp_updateappointment" => {
                let id = command.int("aptid", name)?;
                let kind = command.int("apttype", name)?;
                let length = command.int("aptlen", name)?;
                let reason = command.string("reason", name)?;
                let Some(current) = self.appointments.get(&id).filter(|a| a.record_status == 1).cloned() else {
                    return Ok(Outcome::Affected(0));
                };
                if self.clash(current.user_id, current.date, current.time, length, Some(id)) {
                    return Err(sql_error(50000, "The appointment slot is already booked."));
                }
                let appointment = self.appointments.get_mut(&id).expect("checked above");
                appointment.appointment_type = kind;
                appointment.length = length;
                appointment.reason = reason;
                Ok(Outcome::Affected(1))
            }
            "bp_cancelappointment" => {
                let id = command.int("aptid", name)?;
                match self.appointments.get_mut(&id).filter(|a| a.record_status == 1) {
                    Some(appointment) => {
                        appointment.record_status = 0;
                        Ok(Outcome::Affected(1))
                    }
                    None => Ok(Outcome::Affected(0)),
                }
            }
            _ => Err(sql_error(2812, format!("Could not find stored procedure '{full}'."))),
        }
    }

    fn statement(&mut self, command: &Command) -> Result<Outcome, SqlError> {
        let text = normalise(&command.text);
        if text == normalise(ADD_APPOINTMENT) {
            return self.add_appointment(command);
        }
        if text == normalise(FIND_BY_REFERENCE) {
            let pattern = command.string("pattern", "statement")?;
            return Ok(Outcome::Rows(
                self.appointments
                    .values()
                    .filter(|a| like(&a.reason, &pattern))
                    .map(BpAppointment::row)
                    .collect(),
            ));
        }
        if text == normalise(LIST_TAGGED) {
            let pattern = command.string("pattern", "statement")?;
            let first = command.date("first", "statement")?;
            let last = command.date("last", "statement")?;
            return Ok(Outcome::Rows(
                self.appointments
                    .values()
                    .filter(|a| like(&a.reason, &pattern) && a.date >= first && a.date <= last)
                    .map(BpAppointment::row)
                    .collect(),
            ));
        }
        if text == normalise(APPOINTMENT_TYPES) {
            return Ok(Outcome::Rows(
                self.seed
                    .appointment_types
                    .iter()
                    .map(|t| json!({"Code": t.code, "Name": format!("{:<30}", t.name)}))
                    .collect(),
            ));
        }
        let (prefix, suffix) = USER_REGISTRATIONS
            .split_once("{ahpra_column}")
            .unwrap_or((USER_REGISTRATIONS, ""));
        let (prefix, suffix) = (normalise(prefix), normalise(suffix));
        if let Some(column) = text.strip_prefix(&prefix).and_then(|rest| rest.strip_suffix(&suffix)) {
            let column = column.trim();
            if !column.is_empty() && column.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                if !column.eq_ignore_ascii_case(&self.seed.ahpra_column) {
                    return Err(sql_error(
                        207,
                        format!("Invalid column name '{}'.", column.to_ascii_uppercase()),
                    ));
                }
                return Ok(Outcome::Rows(
                    self.seed
                        .users
                        .iter()
                        .map(
                            |u| json!({"UserID": u.id, "RegistrationNo": u.ahpra.as_ref().map(|a| format!("{a:<15}"))}),
                        )
                        .collect(),
                ));
            }
        }
        Err(syntax_error(&text))
    }

    fn add_appointment(&mut self, command: &Command) -> Result<Outcome, SqlError> {
        let name = "BP_AddAppointmentEx";
        let date = command.date("aptdate", name)?;
        let time = command.int("apttime", name)?;
        let kind = command.int("appointmenttype", name)?;
        let length = command.int("aptlen", name)?;
        let user = command.int("practitionerid", name)?;
        let patient = command.int("patientid", name)?;
        let reason = command.string("reason", name)?;
        let location = command.int("locationid", name)?;
        if !(0..86_400).contains(&time) || length <= 0 {
            return Err(sql_error(50000, "Invalid appointment time or length."));
        }
        self.check_bookable(user, date)?;
        if !self.seed.appointment_types.iter().any(|t| t.code == kind) {
            return Err(sql_error(
                547,
                format!("The INSERT statement conflicted with the FOREIGN KEY constraint (appointment type {kind})."),
            ));
        }
        if !self.seed.locations.iter().any(|l| l.id == location) {
            return Err(sql_error(
                547,
                format!("The INSERT statement conflicted with the FOREIGN KEY constraint (location {location})."),
            ));
        }
        if self.clash(user, date, time, length, None) {
            return Ok(Outcome::Rows(vec![json!({"AppointmentId": 0})]));
        }
        let record_id = self.next_id;
        self.next_id += 1;
        self.appointments.insert(
            record_id,
            BpAppointment {
                record_id,
                record_status: 1,
                user_id: user,
                patient_id: patient,
                date,
                time,
                length,
                appointment_type: kind,
                location_id: location,
                reason,
            },
        );
        Ok(Outcome::Rows(vec![json!({"AppointmentId": record_id})]))
    }

    fn check_bookable(&self, user: i64, date: Date) -> Result<(), SqlError> {
        let Some(person) = self.seed.users.iter().find(|u| u.id == user && u.has_appointments) else {
            return Err(sql_error(
                50000,
                format!("User {user} does not have an appointment book."),
            ));
        };
        if self
            .seed
            .away
            .iter()
            .any(|a| a.user_id == user && a.date == date.to_string())
        {
            return Err(sql_error(
                50000,
                format!("{} {} is away on that date.", person.title, person.surname)
                    .trim()
                    .to_string(),
            ));
        }
        Ok(())
    }

    fn clash(&self, user: i64, date: Date, time: i64, length: i64, except: Option<i64>) -> bool {
        self.appointments
            .values()
            .any(|a| Some(a.record_id) != except && a.overlaps(user, date, time, length))
    }

    /// Inspection and tampering for tests (`/_sim/`): what Bp holds, changed behind repbook's back.
    pub fn insert_raw(&mut self, mut appointment: BpAppointment) -> i64 {
        appointment.record_id = self.next_id;
        self.next_id += 1;
        let id = appointment.record_id;
        self.appointments.insert(id, appointment);
        id
    }

    pub fn add_away(&mut self, user_id: i64, date: String) {
        self.seed.away.push(crate::seed::AwaySeed { user_id, date });
    }
}

fn syntax_error(text: &str) -> SqlError {
    let near: String = text
        .split_whitespace()
        .find(|w| w.starts_with('\'') || w.chars().any(|c| c.is_ascii_digit()))
        .unwrap_or("")
        .chars()
        .take(30)
        .collect();
    if near.is_empty() {
        sql_error(102, "Incorrect syntax near the keyword 'FROM'.")
    } else {
        sql_error(102, format!("Incorrect syntax near '{near}'."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_sql_server_wildcards() {
        assert!(like("[REP] Jane (Acme) ref 01JABC", "%ref 01JABC%"));
        assert!(like("abc", "a_c"));
        assert!(!like("abc", "a_d"));
        assert!(like("ABC", "abc"));
    }
}
