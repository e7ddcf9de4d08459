//! Moving a clinic to another connector with the server running (Bp to a CalDAV calendar, and back). What
//! happens to the appointments the old PMS holds is the clinic's explicit choice, previewed first: leave
//! them there, or cancel them there before switching. Every future booking then goes to the new connector;
//! one the new PMS may already hold (a switch back) is looked up before it is written, never duplicated.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{SyncEngine, SyncError};
use crate::domain::{Appointment, AppointmentStatus, Clinic, PmsLink, PmsRecord, PmsSettingsUpdate, SendVia};
use crate::plugins::contract::LocalAppointment;
use crate::store::AppointmentFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OldAppointments {
    /// The old PMS keeps them as they are (a person tidies up there, or they are wanted there).
    Leave,
    /// Cancel each one in the old PMS first; the switch happens only if every cancel succeeds.
    Cancel,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SwitchChoice {
    pub old_appointments: OldAppointments,
    pub description: String,
}

/// What a switch would do, for the clinic to choose before it happens.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SwitchPreview {
    pub from: Option<String>,
    pub to: String,
    pub to_installed: bool,
    /// Future booked appointments the current connector's PMS holds.
    pub held_by_current: usize,
    /// Future booked appointments that will go to the new connector.
    pub future_booked: usize,
    pub choices: Vec<SwitchChoice>,
}

/// A switch: the new connection's settings (as `PUT /pms` takes them) and the choice for the old PMS.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchRequest {
    #[schema(min_length = 1, max_length = 64, pattern = "@line")]
    pub connector: String,
    #[serde(default)]
    pub send_via: Option<SendVia>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub site_id: Option<String>,
    #[serde(default)]
    pub pairing_code: Option<String>,
    #[serde(default)]
    pub settings: Option<std::collections::BTreeMap<String, String>>,
    pub old_appointments: OldAppointments,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SwitchResult {
    pub from: Option<String>,
    pub to: String,
    pub cancelled_in_old: usize,
    pub left_in_old: usize,
    /// Future booked appointments queued for the new connector.
    pub requeued: usize,
    /// Practitioners to match again (a PMS user belongs to one PMS).
    pub staff_to_sync: usize,
    pub next: String,
}

fn future_booked(engine: &SyncEngine, clinic: &Clinic) -> Result<Vec<Appointment>, SyncError> {
    let filter = AppointmentFilter {
        from: Some(Timestamp::now()),
        to: None,
        status: Some(AppointmentStatus::Booked),
        ..Default::default()
    };
    Ok(engine.store.appointments(&clinic.id, &filter)?)
}

/// The appointments (with the sync path's record of each) whose last delivery reached `connector`'s PMS.
fn held_by(
    engine: &SyncEngine,
    appointments: &[Appointment],
    connector: Option<&str>,
) -> Result<Vec<(Appointment, PmsRecord)>, SyncError> {
    let mut held = Vec::new();
    for appointment in appointments {
        let record = engine.store.pms_record(&appointment.id)?;
        if connector.is_some() && record.status.delivered_by.as_deref() == connector {
            held.push((appointment.clone(), record));
        }
    }
    Ok(held)
}

impl SyncEngine {
    pub fn switch_preview(&self, clinic_id: &str, to: &str) -> Result<SwitchPreview, SyncError> {
        let to = crate::domain::require_text("to", to, 64).map_err(SyncError::Invalid)?;
        let to = to.as_str();
        let clinic = self.store.clinic(clinic_id)?;
        let from = clinic.pms.connector.clone();
        let future = future_booked(self, &clinic)?;
        let held = held_by(self, &future, from.as_deref())?.len();
        let old = from.clone().unwrap_or_else(|| "the old PMS".into());
        Ok(SwitchPreview {
            to_installed: self.plugins.get(to).is_ok(),
            held_by_current: held,
            future_booked: future.len(),
            choices: vec![
                SwitchChoice {
                    old_appointments: OldAppointments::Leave,
                    description: format!(
                        "leave the {held} future appointment(s) {old} holds where they are; {to} gets every future booking"
                    ),
                },
                SwitchChoice {
                    old_appointments: OldAppointments::Cancel,
                    description: format!(
                        "cancel the {held} future appointment(s) in {old} first (the switch happens only if all are cancelled); {to} gets every future booking"
                    ),
                },
            ],
            from,
            to: to.to_string(),
        })
    }

    pub async fn switch_connector(&self, clinic_id: &str, request: SwitchRequest) -> Result<SwitchResult, SyncError> {
        let clinic = self.store.clinic(clinic_id)?;
        let from = clinic.pms.connector.clone();
        let to = crate::domain::require_text("connector", &request.connector, 64).map_err(SyncError::Invalid)?;
        if from.as_deref() == Some(to.as_str()) {
            return Err(SyncError::NotConfigured(format!(
                "the clinic already sends via {to}; change its settings with PUT /pms instead"
            )));
        }
        let new_plugin = self.plugins.get(&to).map_err(|error| {
            SyncError::NotConfigured(format!("{error}; install the {to} connector first, then switch to it"))
        })?;
        let future = future_booked(self, &clinic)?;
        let held = held_by(self, &future, from.as_deref())?;

        // The old PMS first, while the old connection is still the clinic's.
        let mut cancelled = Vec::new();
        if request.old_appointments == OldAppointments::Cancel && !held.is_empty() {
            let plugin = self.connector(&clinic)?;
            let mut failures = Vec::new();
            for (appointment, record) in &held {
                let user = record
                    .status
                    .confirmed
                    .as_ref()
                    .map(|p| p.practitioner_user_id)
                    .or_else(|| self.pms_user(&clinic, appointment.practitioner_id.as_deref()).ok())
                    .unwrap_or(0);
                let local = LocalAppointment {
                    reference: appointment.reference.clone(),
                    known: record.status.knowledge(),
                    practitioner_user_id: user,
                    date: appointment.local_date,
                    start_seconds: appointment.local_seconds,
                    duration_seconds: appointment.duration_minutes * 60,
                    rep_name: appointment.rep.name.clone(),
                    rep_company: appointment.rep.company.clone(),
                    rep_email: appointment.rep.email.clone(),
                    notes: appointment.notes.clone(),
                };
                let mut ctx = Self::call_context(&clinic);
                match plugin.cancel_appointment(&mut ctx, &local).await {
                    Ok(()) => cancelled.push(appointment.id.clone()),
                    Err(error) => failures.push(SyncError::from(error).to_string()),
                }
            }
            // Those cancelled are no longer in the old PMS, whatever happens next.
            for id in &cancelled {
                let old = from.clone().unwrap_or_default();
                let _ = self.store.record_delivery(id, &[], |record, _| {
                    record.status.held_by.retain(|h| h.connector != old);
                    Vec::new()
                });
            }
            if !failures.is_empty() {
                return Err(SyncError::SwitchRefused(format!(
                    "{} of {} appointment(s) could not be cancelled in {} ({}); nothing was switched: try again when it answers, or choose to leave them",
                    failures.len(),
                    held.len(),
                    from.as_deref().unwrap_or("the old PMS"),
                    failures[0]
                )));
            }
        }

        let update = PmsSettingsUpdate {
            connector: Some(to.clone()),
            send_via: request.send_via,
            enabled: request.enabled,
            site_id: request.site_id,
            pairing_code: request.pairing_code,
            location_id: Some(None),
            location_name: None,
            settings: request.settings,
        };
        let (switched, staff_to_sync) = {
            let _guard = self.store.lock_clinic(&clinic.id).await;
            let mut switched = self.store.clinic(&clinic.id)?;
            switched.pms.apply(update).map_err(SyncError::Invalid)?;
            switched.pms.site_cache.clear();
            self.store.put_clinic(&switched)?;
            // A PMS user id means something only in its own PMS.
            let staff = self.store.staff(&clinic.id)?;
            for mut practitioner in staff.iter().cloned() {
                practitioner.pms = PmsLink::default();
                self.store.put_practitioner(&practitioner)?;
            }
            (switched, staff.len())
        };
        let now = Timestamp::now();
        let mut requeued = 0;
        for appointment in future_booked(self, &switched)? {
            let connector = to.clone();
            match self
                .store
                .enqueue_with(&appointment, now, |record| record.status.switched_to(&connector))
            {
                Ok(()) => requeued += 1,
                // Changed meanwhile: that change queued it already; its state still needs the switch.
                Err(crate::store::StoreError::Conflict { .. }) => {
                    let _ = self.store.record_delivery(&appointment.id, &[], |record, _| {
                        record.status.switched_to(&connector);
                        Vec::new()
                    });
                    requeued += 1;
                }
                Err(other) => return Err(other.into()),
            }
        }
        self.store.durable().await?;
        self.scheduler().reset(&clinic.id);
        tracing::info!(clinic = %clinic.id, from = ?from, to = %to, requeued, cancelled = cancelled.len(), "switched connector");
        Ok(SwitchResult {
            cancelled_in_old: cancelled.len(),
            left_in_old: held.len() - cancelled.len(),
            requeued,
            staff_to_sync,
            next: format!(
                "validate the site with {} {}, choose the practice location, then Sync Staff (or map doctors by hand): bookings wait until then",
                new_plugin.info.name, new_plugin.info.version
            ),
            from,
            to,
        })
    }
}
