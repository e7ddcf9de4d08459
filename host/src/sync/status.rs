//! Where a clinic's appointments stand with its PMS, from the store (states, outbox) and the scheduler
//! (site health, in flight, retries): what `repbook sync status` and the API show.

use serde::{Deserialize, Serialize};

use super::{SiteStatus, SyncEngine, SyncError};
use crate::domain::{PmsSyncState, rfc3339_in};
use crate::store::AppointmentFilter;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SyncStatus {
    pub clinic_id: String,
    pub clinic_name: String,
    pub pms_enabled: bool,
    pub connector: Option<String>,
    pub connector_installed: bool,
    /// Outbox entries waiting (several changes of one appointment count separately).
    pub outbox: usize,
    pub site: SiteStatus,
    pub in_flight: usize,
    pub next_retry_in_ms: Option<u64>,
    pub appointments: SyncCounts,
    /// Appointments that need a person, with the reason and what to do.
    pub parked: Vec<ParkedItem>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SyncCounts {
    pub pending: usize,
    pub synced: usize,
    pub needs_attention: usize,
    pub not_applicable: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ParkedItem {
    pub id: String,
    /// RFC 3339 in the clinic's zone.
    pub start: String,
    pub practitioner: String,
    pub rep: String,
    pub reason: Option<String>,
}

impl SyncEngine {
    pub fn status(&self, clinic_id: &str) -> Result<SyncStatus, SyncError> {
        let clinic = self.store.clinic(clinic_id)?;
        let appointments = self.store.appointments(&clinic.id, &AppointmentFilter::default())?;
        let statuses = self.store.pms_statuses(&appointments, clinic.pms.is_active())?;
        let mut counts = SyncCounts::default();
        for status in &statuses {
            *match status.state {
                PmsSyncState::Pending => &mut counts.pending,
                PmsSyncState::Synced => &mut counts.synced,
                PmsSyncState::NeedsAttention => &mut counts.needs_attention,
                PmsSyncState::NotApplicable => &mut counts.not_applicable,
            } += 1;
        }
        let staff = self.store.staff(&clinic.id)?;
        let name_of = |id: &Option<String>| match id {
            None => "the clinic".to_string(),
            Some(id) => staff
                .iter()
                .find(|p| &p.id == id)
                .map(|p| p.display_name())
                .unwrap_or_else(|| id.clone()),
        };
        let tz = clinic.tz();
        let parked = appointments
            .iter()
            .zip(&statuses)
            .filter(|(_, s)| s.state == PmsSyncState::NeedsAttention)
            .map(|(a, s)| ParkedItem {
                id: a.id.clone(),
                start: rfc3339_in(a.start, &tz),
                practitioner: name_of(&a.practitioner_id),
                rep: format!("{} ({})", a.rep.name, a.rep.company),
                reason: s.reason.clone(),
            })
            .collect();
        let outbox = self
            .store
            .outbox_entries()?
            .into_iter()
            .filter(|(_, e)| e.clinic_id == clinic.id)
            .count();
        Ok(SyncStatus {
            clinic_name: clinic.name.clone(),
            pms_enabled: clinic.pms.is_active(),
            connector: clinic.pms.connector.clone(),
            connector_installed: self.connector(&clinic).is_ok(),
            outbox,
            site: self.site_status(&clinic.id),
            in_flight: self.in_flight_count(&clinic.id),
            next_retry_in_ms: self.next_retry_ms(&clinic.id),
            appointments: counts,
            parked,
            clinic_id: clinic.id,
        })
    }
}
