//! Clinic-level PMS actions, in the order a practice manager takes them: validate the site, list and pick
//! a location, sync staff by AHPRA number, reset the connection.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{SyncEngine, SyncError};
use crate::domain::{
    AppointmentStatus, Clinic, PmsLink, PmsLinkState, PmsSyncState, PmsUser, Practitioner, match_practitioner,
};
use crate::plugins::contract::{Location, SiteInfo};
use crate::store::AppointmentFilter;

enum Requeue {
    All,
    NotSynced,
    Parked,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Validation {
    pub valid: bool,
    pub site: SiteInfo,
    pub locations: Vec<Location>,
    pub warning: Option<String>,
}

/// The PMS side as `doctor` found it.
pub struct Probe {
    pub site: SiteInfo,
    /// online, offline... as the connector's health check says, or "unreachable".
    pub availability: String,
    pub detail: Option<String>,
    /// How far the PMS side's clock is ahead of ours (from its HTTP `Date`), when it sent one.
    pub clock_offset: Option<jiff::SignedDuration>,
}

impl SyncEngine {
    fn ready(&self, clinic: &Clinic) -> Result<(), SyncError> {
        if clinic.pms.site_id.is_none() {
            return Err(SyncError::NotConfigured(
                "enter the clinic's site ID (for Bp Premier: the BP Site ID, under Help > About) in its PMS settings first".into(),
            ));
        }
        Ok(())
    }

    /// Exchanges the Site ID for the PMS site, pairs if needed, and lists locations once the site is valid.
    pub async fn validate(&self, clinic_id: &str) -> Result<Validation, SyncError> {
        let clinic = self.store.clinic(clinic_id)?;
        self.ready(&clinic)?;
        let plugin = self.connector(&clinic)?;
        let mut ctx = Self::call_context(&clinic);
        let result = plugin.validate_site(&mut ctx).await;
        self.keep_site_cache(&clinic, &ctx).await?;
        let site = result?;
        let online = site.availability == "online";
        let locations = if online {
            let result = plugin.list_locations(&mut ctx).await;
            self.keep_site_cache(&clinic, &ctx).await?;
            result?
        } else {
            Vec::new()
        };
        let validated_at = Timestamp::now();
        self.store
            .update_clinic(&clinic.id, move |c| {
                c.pms.validated_at = Some(validated_at);
                Ok::<_, SyncError>(())
            })
            .await?;
        if online {
            self.send_what_was_waiting(&clinic.id).await;
        }
        let warning = (!online).then(|| {
            format!(
                "the site is valid but {} right now (Halo Link or the Bp server is down); bookings are kept and sent when it is back",
                site.availability
            )
        });
        Ok(Validation {
            valid: true,
            site,
            locations,
            warning,
        })
    }

    /// What `doctor` asks the PMS side: the site, its health and its clock, storing nothing but the
    /// connector's site cache.
    pub async fn probe(&self, clinic_id: &str) -> Result<Probe, SyncError> {
        let clinic = self.store.clinic(clinic_id)?;
        self.ready(&clinic)?;
        let plugin = self.connector(&clinic)?;
        let mut ctx = Self::call_context(&clinic);
        let site = plugin.validate_site(&mut ctx).await;
        self.keep_site_cache(&clinic, &ctx).await?;
        let site = site?;
        let health = plugin.health(&mut ctx).await;
        self.keep_site_cache(&clinic, &ctx).await?;
        let (availability, detail) = match health {
            Ok(health) => (
                health.availability,
                Some(health.detail).filter(|d| !d.trim().is_empty()),
            ),
            Err(error) => ("unreachable".to_string(), Some(SyncError::from(error).to_string())),
        };
        Ok(Probe {
            site,
            availability,
            detail,
            clock_offset: ctx.peer_clock_offset,
        })
    }

    /// The practice locations; offered only once the site has been validated.
    pub async fn locations(&self, clinic_id: &str) -> Result<Vec<Location>, SyncError> {
        let clinic = self.store.clinic(clinic_id)?;
        if clinic.pms.validated_at.is_none() {
            return Err(SyncError::NotValidated(
                "validate the BP Site ID first; locations are offered once the site is valid".into(),
            ));
        }
        let plugin = self.connector(&clinic)?;
        let mut ctx = Self::call_context(&clinic);
        let result = plugin.list_locations(&mut ctx).await;
        self.keep_site_cache(&clinic, &ctx).await?;
        Ok(result?)
    }

    /// Forgets what was learned about the site, validates again, and re-queues every future appointment
    /// that is not known to be in the PMS. Returns the validation and how many were re-queued.
    pub async fn reset(&self, clinic_id: &str) -> Result<(Validation, usize), SyncError> {
        self.store
            .update_clinic(clinic_id, |c| {
                c.pms.site_cache.clear();
                c.pms.validated_at = None;
                Ok::<_, SyncError>(())
            })
            .await?;
        self.scheduler().reset(clinic_id);
        let validation = self.validate(clinic_id).await?;
        let requeued = self.enqueue_future(clinic_id, Requeue::NotSynced).await?;
        Ok((validation, requeued))
    }

    /// Sync Appointments: queue every future booked appointment of the clinic.
    pub async fn sync_all(&self, clinic_id: &str) -> Result<usize, SyncError> {
        let clinic = self.store.clinic(clinic_id)?;
        if !clinic.pms.is_active() {
            return Err(SyncError::NotConfigured(
                "switch the clinic's PMS sync on before syncing appointments".into(),
            ));
        }
        self.enqueue_future(clinic_id, Requeue::All).await
    }

    /// Retry parked: queue again every future appointment that needs attention (after a person fixed it).
    pub async fn retry_parked(&self, clinic_id: &str) -> Result<usize, SyncError> {
        self.store.clinic(clinic_id)?;
        self.enqueue_future(clinic_id, Requeue::Parked).await
    }

    async fn enqueue_future(&self, clinic_id: &str, which: Requeue) -> Result<usize, SyncError> {
        let now = Timestamp::now();
        let mut queued = 0;
        {
            let _guard = self.store.lock_clinic(clinic_id).await;
            let filter = AppointmentFilter {
                from: Some(now),
                to: None,
                status: Some(AppointmentStatus::Booked),
                ..Default::default()
            };
            let clinic = self.store.clinic(clinic_id)?;
            let appointments = self.store.appointments(clinic_id, &filter)?;
            let statuses = self.store.pms_statuses(&appointments, clinic.pms.is_active())?;
            for (appointment, status) in appointments.iter().zip(statuses) {
                let wanted = match which {
                    Requeue::All => true,
                    Requeue::NotSynced => status.state != PmsSyncState::Synced,
                    Requeue::Parked => status.state == PmsSyncState::NeedsAttention,
                };
                if !wanted {
                    continue;
                }
                self.store.enqueue_appointment(appointment, now)?;
                self.scheduler().release(clinic_id, &appointment.id);
                queued += 1;
            }
        }
        self.store.durable().await?;
        Ok(queued)
    }

    /// Sync Staff: match every practitioner to a PMS user by exact AHPRA number.
    pub async fn sync_staff(&self, clinic_id: &str) -> Result<Vec<Practitioner>, SyncError> {
        let clinic = self.store.clinic(clinic_id)?;
        self.ready(&clinic)?;
        let plugin = self.connector(&clinic)?;
        let mut ctx = Self::call_context(&clinic);
        let result = plugin.list_practitioners(&mut ctx).await;
        self.keep_site_cache(&clinic, &ctx).await?;
        let users: Vec<PmsUser> = result?
            .into_iter()
            .map(|u| PmsUser {
                display_name: [u.title.as_str(), &u.first_name, &u.last_name]
                    .iter()
                    .filter(|part| !part.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" "),
                user_id: u.user_id,
                first_name: u.first_name,
                last_name: u.last_name,
                ahpra: u.ahpra,
                provider_number: u.provider_number,
                has_appointments: u.has_appointments,
            })
            .collect();
        let updated = {
            let _guard = self.store.lock_clinic(clinic_id).await;
            let mut updated = Vec::new();
            for mut practitioner in self.store.staff(clinic_id)? {
                practitioner.pms = match_practitioner(&practitioner, &users);
                self.store.put_practitioner(&practitioner)?;
                updated.push(practitioner);
            }
            updated
        };
        self.store.durable().await?;
        self.send_what_was_waiting(clinic_id).await;
        Ok(updated)
    }

    /// After a person fixed what parked appointments were waiting for (staff matched, the site validated,
    /// a location chosen), queues them again; any still blocked park again with their reason.
    pub async fn send_what_was_waiting(&self, clinic_id: &str) {
        match self.enqueue_future(clinic_id, Requeue::Parked).await {
            Ok(0) => {}
            Ok(queued) => tracing::info!(clinic = clinic_id, queued, "sending parked appointments again"),
            Err(error) => tracing::warn!(clinic = clinic_id, %error, "cannot queue parked appointments again"),
        }
    }

    /// Maps a practitioner to a PMS user by hand (when AHPRA numbers cannot be made to match).
    pub async fn map_staff(
        &self,
        clinic_id: &str,
        staff_id: &str,
        user_id: Option<i64>,
    ) -> Result<Practitioner, SyncError> {
        let practitioner = {
            let _guard = self.store.lock_clinic(clinic_id).await;
            let mut practitioner = self.store.practitioner(clinic_id, staff_id)?;
            practitioner.pms = match user_id {
                Some(user_id) => PmsLink {
                    state: PmsLinkState::Synced,
                    user_id: Some(user_id),
                    reason: Some(format!("mapped by hand to PMS user {user_id}")),
                    manual: true,
                },
                None => PmsLink::default(),
            };
            self.store.put_practitioner(&practitioner)?;
            practitioner
        };
        self.store.durable().await?;
        if practitioner.pms.state == PmsLinkState::Synced {
            self.send_what_was_waiting(clinic_id).await;
        }
        Ok(practitioner)
    }
}
