//! Response shapes. Stored records are mapped to views so that secrets never leave and times are shown in
//! the clinic's zone.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::{
    Appointment, AppointmentStatus, Clinic, PmsSettings, PmsSyncStatus, Practitioner, Rep, SendVia, rfc3339_in,
};

#[derive(Serialize)]
pub struct ClinicView {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub state: crate::domain::AuState,
    pub appointment_duration_minutes: u32,
    pub pms: PmsView,
    pub created_at: String,
}

#[derive(Serialize)]
pub struct PmsView {
    pub connector: Option<String>,
    pub send_via: Option<SendVia>,
    pub enabled: bool,
    pub site_id: Option<String>,
    pub pairing_code_set: bool,
    pub location_id: Option<i64>,
    pub location_name: Option<String>,
    pub settings: BTreeMap<String, String>,
    /// Names of the secrets that are set; their values are write-only.
    pub secrets_set: Vec<String>,
    pub validated: bool,
}

impl From<&PmsSettings> for PmsView {
    fn from(pms: &PmsSettings) -> Self {
        PmsView {
            connector: pms.connector.clone(),
            send_via: pms.send_via,
            enabled: pms.enabled,
            site_id: pms.site_id.clone(),
            pairing_code_set: pms.pairing_code.is_some(),
            location_id: pms.location_id,
            location_name: pms.location_name.clone(),
            settings: pms.settings.clone(),
            secrets_set: pms.secrets.keys().cloned().collect(),
            validated: pms.validated_at.is_some(),
        }
    }
}

impl From<&Clinic> for ClinicView {
    fn from(clinic: &Clinic) -> Self {
        ClinicView {
            id: clinic.id.clone(),
            name: clinic.name.clone(),
            timezone: clinic.timezone.clone(),
            state: clinic.state,
            appointment_duration_minutes: clinic.appointment_duration_minutes,
            pms: (&clinic.pms).into(),
            created_at: clinic.created_at.to_string(),
        }
    }
}

pub type PractitionerView = Practitioner;

#[derive(Serialize)]
pub struct AppointmentView {
    pub id: String,
    pub reference: String,
    pub clinic_id: String,
    pub practitioner_id: String,
    pub rep: Rep,
    /// RFC 3339 with the clinic's offset at that instant.
    pub start: String,
    pub end: String,
    pub local_start: String,
    pub local_date: String,
    pub local_seconds: u32,
    pub duration_minutes: u32,
    pub notes: String,
    pub status: AppointmentStatus,
    pub version: u64,
    pub pms: PmsSyncStatus,
}

impl AppointmentView {
    pub fn new(appointment: &Appointment, clinic: &Clinic) -> Self {
        let tz = clinic.tz();
        let hours = appointment.local_seconds / 3600;
        let minutes = appointment.local_seconds % 3600 / 60;
        AppointmentView {
            id: appointment.id.clone(),
            reference: appointment.reference.clone(),
            clinic_id: appointment.clinic_id.clone(),
            practitioner_id: appointment.practitioner_id.clone(),
            rep: appointment.rep.clone(),
            start: rfc3339_in(appointment.start, &tz),
            end: rfc3339_in(appointment.end(), &tz),
            local_start: format!("{}T{hours:02}:{minutes:02}", appointment.local_date),
            local_date: appointment.local_date.to_string(),
            local_seconds: appointment.local_seconds,
            duration_minutes: appointment.duration_minutes,
            notes: appointment.notes.clone(),
            status: appointment.status,
            version: appointment.version,
            pms: appointment.pms.clone(),
        }
    }
}
