//! The API's typed request and response bodies, shared with the CLI (which sends and reads the same
//! structs). Stored records are mapped to views so that secrets never leave and times are shown in the
//! clinic's zone.

/// The CLI escapes what a person cannot see by the same list the domain refuses.
pub use crate::domain::is_invisible;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::domain::AppointmentView;
use crate::domain::{
    AppointmentStatus, AuState, BookingRules, Clinic, NotifySettings, PmsSettings, Practitioner, SendVia,
};
use crate::plugins::contract::Location;
use crate::plugins::{InstallOutcome, PluginSummary};
use crate::sync::{Delivered, Validation};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClinicView {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub state: AuState,
    pub appointment_duration_minutes: u32,
    pub pms: PmsView,
    pub created_at: String,
    /// Booking rules: lead time, horizon, limits, cut-offs, visiting instructions.
    #[serde(flatten)]
    pub booking: BookingRules,
    /// Who hears of what: the practice's inbox, reminders, the daily agenda, the confirmation hold.
    #[serde(flatten)]
    pub notify: NotifySettings,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
            booking: clinic.booking.clone(),
            notify: clinic.notify.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClinicList {
    pub clinics: Vec<ClinicView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StaffList {
    pub staff: Vec<Practitioner>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StaffSyncSummary {
    pub synced: usize,
    pub not_in_pms: usize,
    pub ahpra_mismatch: usize,
    #[serde(default)]
    pub needs_mapping: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StaffSyncView {
    pub summary: StaffSyncSummary,
    pub staff: Vec<Practitioner>,
}

/// Maps a practitioner to a PMS user by hand; `null` undoes a manual mapping.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffMapping {
    pub user_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppointmentList {
    pub appointments: Vec<AppointmentView>,
    /// Present when there may be more: pass it as `cursor` for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Which appointments of a clinic to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AppointmentQuery {
    /// First clinic-local date to include (YYYY-MM-DD). Without it, only appointments from now on.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(format = Date, pattern = "@date")]
    pub from: Option<String>,
    /// Last clinic-local date to include (YYYY-MM-DD).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(format = Date, pattern = "@date")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<AppointmentStatus>,
    /// Appointments per page, 1 to 1000 (default 500).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(pattern = r"^-?[0-9]{1,11}\.[A-Za-z0-9]{1,64}$")]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResendView {
    pub appointment: AppointmentView,
    /// What the PMS did; `null` when it could not be reached now (the appointment stays queued).
    pub delivered: Option<Delivered>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResetView {
    pub validation: Validation,
    pub requeued: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Queued {
    pub queued: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LocationList {
    pub locations: Vec<Location>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PluginList {
    pub plugins: Vec<PluginSummary>,
}

pub type Installed = InstallOutcome;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActiveVersion {
    pub name: String,
    pub active_version: String,
}
