//! Bp's tables as a `SELECT` on a site granted that permission sees them: every column of
//! `Appointments`, `Users` and `Locations`.

use super::*;

impl Bp {
    /// A table's rows with every column, for SELECTs on a site that grants that permission.
    pub fn table(&self, name: &str) -> Option<Vec<Row>> {
        match name.to_ascii_uppercase().as_str() {
            "APPOINTMENTS" => Some(
                self.appointments
                    .values()
                    .map(|a| {
                        vec![
                            ("RECORDID".to_string(), Value::Int(a.record_id)),
                            ("RECORDSTATUS".to_string(), Value::Int(a.record_status)),
                            ("USERID".to_string(), Value::Int(a.user_id)),
                            ("INTERNALID".to_string(), Value::Int(a.patient_id)),
                            ("APPOINTMENTDATE".to_string(), datetime(a.date)),
                            ("APPOINTMENTTIME".to_string(), Value::Int(a.time)),
                            ("APPOINTMENTLENGTH".to_string(), Value::Int(a.length)),
                            ("APPOINTMENTTYPE".to_string(), Value::Int(a.appointment_type)),
                            ("APPOINTMENTCODE".to_string(), Value::Int(a.appointment_code)),
                            ("LOCATIONID".to_string(), Value::Int(a.location_id)),
                            ("REASON".to_string(), Value::Text(a.reason.clone())),
                        ]
                    })
                    .collect(),
            ),
            "USERS" => Some(
                self.seed
                    .users
                    .iter()
                    .map(|u| {
                        vec![
                            ("USERID".to_string(), Value::Int(u.id)),
                            ("USERSTATUS".to_string(), Value::Int(u.status)),
                            ("SURNAME".to_string(), padded(&u.surname, 20)),
                            ("FIRSTNAME".to_string(), padded(&u.first_name, 20)),
                            ("LOCATIONID".to_string(), Value::Int(u.location_id)),
                            (
                                "PROVIDERNO".to_string(),
                                u.provider_no.as_ref().map_or(Value::Null, |p| padded(p, 10)),
                            ),
                            (
                                self.seed.ahpra_column.to_ascii_uppercase(),
                                u.ahpra.as_ref().map_or(Value::Null, |a| padded(a, 15)),
                            ),
                        ]
                    })
                    .collect(),
            ),
            "LOCATIONS" => Some(
                self.seed
                    .locations
                    .iter()
                    .map(|l| {
                        vec![
                            ("LOCATIONID".to_string(), Value::Int(l.id)),
                            ("LOCATIONNAME".to_string(), padded(&l.name, l.name.len() + 3)),
                        ]
                    })
                    .collect(),
            ),
            _ => None,
        }
    }
}
