//! The API's view of an appointment: what `GET /api/v1/.../appointments/{id}` answers and what a webhook
//! carries, so an integrator reads one shape. Times are RFC 3339 in the clinic's offset.

use serde::{Deserialize, Serialize};

use super::{Appointment, AppointmentStatus, Clinic, PmsSyncStatus, Rep, rfc3339_in};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppointmentView {
    pub id: String,
    pub reference: String,
    pub clinic_id: String,
    /// `null`: a visit with the whole clinic.
    pub practitioner_id: Option<String>,
    /// The practitioner's display name, e.g. "Dr Ana Ng", or "the clinic".
    pub practitioner_name: String,
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
    /// The front desk's mark on the day, if any.
    pub attendance: Option<super::Attendance>,
}

impl AppointmentView {
    /// `pms` is where it stands with the PMS now (`Store::pms_statuses`).
    pub fn new(appointment: &Appointment, clinic: &Clinic, practitioner_name: String, pms: PmsSyncStatus) -> Self {
        let tz = clinic.tz();
        let hours = appointment.local_seconds / 3600;
        let minutes = appointment.local_seconds % 3600 / 60;
        AppointmentView {
            id: appointment.id.clone(),
            reference: appointment.reference.clone(),
            clinic_id: appointment.clinic_id.clone(),
            practitioner_id: appointment.practitioner_id.clone(),
            practitioner_name,
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
            pms,
            attendance: appointment.attendance.clone(),
        }
    }
}
