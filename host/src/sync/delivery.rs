//! Delivering one appointment: its current state (booked at its latest time, or cancelled) goes to the
//! PMS once, whatever sequence of changes led there; the outcome and the consumed outbox entries are
//! recorded together.

use jiff::Timestamp;

use super::{SyncEngine, SyncError, locked};
use crate::domain::{Appointment, AppointmentStatus, Clinic, PmsLinkState, PmsSyncState, PmsSyncStatus};
use crate::plugins::contract::{LocalAppointment, PushOutcome};

#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Delivered {
    Pushed { outcome: PushOutcome },
    Cancelled,
    NotSent { reason: String },
}

impl SyncEngine {
    async fn deliver(&self, clinic: &Clinic, appointment: &Appointment) -> Result<Delivered, SyncError> {
        if appointment.status == AppointmentStatus::Cancelled
            && !appointment.pms.ever_sent
            && appointment.pms.pms_id.is_none()
        {
            return Ok(Delivered::NotSent {
                reason: "cancelled before it was sent to the PMS".into(),
            });
        }
        let plugin = self.connector(clinic)?;
        let mut ctx = Self::call_context(clinic);
        let local = match appointment.status {
            AppointmentStatus::Cancelled => None,
            AppointmentStatus::Booked => {
                let practitioner = self.store.practitioner(&clinic.id, &appointment.practitioner_id)?;
                let user_id = practitioner.pms.user_id.filter(|_| practitioner.pms.state == PmsLinkState::Synced).ok_or_else(|| {
                    SyncError::PractitionerNotMapped(format!(
                        "{} is not matched to a PMS user: run Sync Staff (AHPRA numbers must match exactly) or map them by hand, then Resend",
                        practitioner.display_name()
                    ))
                })?;
                Some(LocalAppointment {
                    reference: appointment.reference.clone(),
                    pms_id: appointment.pms.pms_id.clone(),
                    practitioner_user_id: user_id,
                    date: appointment.local_date,
                    start_seconds: appointment.local_seconds,
                    duration_seconds: appointment.duration_minutes * 60,
                    rep_name: appointment.rep.name.clone(),
                    rep_company: appointment.rep.company.clone(),
                    rep_email: appointment.rep.email.clone(),
                    notes: appointment.notes.clone(),
                })
            }
        };
        if !appointment.pms.ever_sent {
            // Durably note that the PMS may hold it from now on, before anything is sent: a crash during the
            // call must not let a later cancel be skipped as "never sent".
            let mut status = appointment.pms.clone();
            status.ever_sent = true;
            self.store
                .record_attempt(&appointment.id, appointment.version, status)?;
            self.store.durable().await?;
        }
        let result = match &local {
            Some(local) => plugin
                .push_appointment(&mut ctx, local)
                .await
                .map(|outcome| Delivered::Pushed { outcome }),
            None => plugin
                .cancel_appointment(&mut ctx, &appointment.reference, appointment.pms.pms_id.as_deref())
                .await
                .map(|()| Delivered::Cancelled),
        };
        self.keep_site_cache(clinic, &ctx).await?;
        Ok(result?)
    }

    /// Delivers one appointment's pending outbox entries now (`seqs`, or all of them when `None`).
    /// Returns `None` when another task is already on it.
    pub async fn process(&self, appointment_id: &str, seqs: Option<Vec<u64>>) -> Result<Option<Delivered>, SyncError> {
        if self.stopping() || !locked(&self.in_flight).insert(appointment_id.to_string()) {
            return Ok(None);
        }
        let result = self.process_claimed(appointment_id, seqs).await;
        locked(&self.in_flight).remove(appointment_id);
        result.map(Some)
    }

    async fn process_claimed(&self, appointment_id: &str, seqs: Option<Vec<u64>>) -> Result<Delivered, SyncError> {
        let seqs: Vec<u64> = match seqs {
            Some(seqs) => seqs,
            None => self
                .store
                .outbox_entries()?
                .into_iter()
                .filter(|(_, entry)| entry.appointment_id == appointment_id)
                .map(|(seq, _)| seq)
                .collect(),
        };
        // Entries consumed by an earlier task (this one was queued before that finished): nothing to do.
        if seqs.iter().all(|seq| !self.store.outbox_contains(*seq)) {
            return Ok(Delivered::NotSent {
                reason: "nothing pending".into(),
            });
        }
        if seqs.is_empty() {
            // Another task delivered it meanwhile.
            return Ok(Delivered::NotSent {
                reason: "nothing pending".into(),
            });
        }
        let appointment = self.store.appointment(appointment_id)?;
        let clinic = self.store.clinic(&appointment.clinic_id)?;
        let now = Timestamp::now();
        if !clinic.pms.is_active() {
            let status = PmsSyncStatus {
                state: PmsSyncState::NotApplicable,
                reason: Some("PMS sync is off for this clinic".into()),
                updated_at: Some(now),
                ..appointment.pms.clone()
            };
            self.store
                .record_delivery(appointment_id, appointment.version, status, &seqs)?;
            return Ok(Delivered::NotSent {
                reason: "PMS sync is off for this clinic".into(),
            });
        }
        let result = self.deliver(&clinic, &appointment).await;
        let base = PmsSyncStatus {
            ever_sent: appointment.pms.ever_sent || !matches!(result, Ok(Delivered::NotSent { .. })),
            updated_at: Some(now),
            ..appointment.pms.clone()
        };
        match &result {
            Ok(delivered) => {
                let status = match delivered {
                    Delivered::Pushed { outcome } => PmsSyncStatus {
                        state: PmsSyncState::Synced,
                        pms_id: Some(outcome.pms_id.clone()),
                        reason: None,
                        synced_version: Some(appointment.version),
                        attempts: 0,
                        ..base
                    },
                    Delivered::Cancelled => PmsSyncStatus {
                        state: PmsSyncState::Synced,
                        reason: Some("cancelled in the PMS".into()),
                        synced_version: Some(appointment.version),
                        attempts: 0,
                        ..base
                    },
                    Delivered::NotSent { reason } => PmsSyncStatus {
                        state: PmsSyncState::NotApplicable,
                        reason: Some(reason.clone()),
                        attempts: 0,
                        ..base
                    },
                };
                self.store
                    .record_delivery(appointment_id, appointment.version, status, &seqs)?;
                locked(&self.retries).remove(appointment_id);
                self.site_succeeded(&clinic.id);
            }
            Err(error) if error.is_retryable() || self.may_clear_up(&clinic.id, appointment_id, error)? => {
                let status = PmsSyncStatus {
                    state: PmsSyncState::Pending,
                    reason: Some(error.to_string()),
                    attempts: base.attempts + 1,
                    ..base
                };
                self.store.record_attempt(appointment_id, appointment.version, status)?;
                self.schedule_retry(appointment_id, error);
                self.counters.retried.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.site_failed(&clinic.id, error);
            }
            Err(error) => {
                // Parked: needs a person. Resend, Reset or Sync Appointments queue it again.
                let status = PmsSyncStatus {
                    state: PmsSyncState::NeedsAttention,
                    reason: Some(error.to_string()),
                    attempts: base.attempts + 1,
                    ..base
                };
                self.store
                    .record_delivery(appointment_id, appointment.version, status, &seqs)?;
                locked(&self.retries).remove(appointment_id);
                self.counters.parked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(appointment = appointment_id, code = error.code(), %error, "appointment parked");
            }
        }
        // No flush wait here: the outcome and the consumed entries commit together, so losing them in a
        // crash only means delivering again, which the connector's lookup by reference makes harmless.
        result
    }

    /// A slot conflict can be an ordering effect: another change of the clinic, not yet delivered, may
    /// move the appointment that holds the slot. Then wait for it rather than park.
    fn may_clear_up(&self, clinic_id: &str, appointment_id: &str, error: &SyncError) -> Result<bool, SyncError> {
        if !matches!(
            error,
            SyncError::Connector(crate::plugins::ConnectorFailure::Conflict(_))
        ) {
            return Ok(false);
        }
        Ok(self
            .store
            .outbox_entries()?
            .iter()
            .any(|(_, e)| e.clinic_id == clinic_id && e.appointment_id != appointment_id))
    }

    /// Resend: queue the appointment again (also un-parks it) and deliver it now.
    pub async fn resend(&self, appointment_id: &str) -> Result<(Appointment, Option<Delivered>), SyncError> {
        let appointment = self.store.appointment(appointment_id)?;
        let clinic = self.store.clinic(&appointment.clinic_id)?;
        if appointment.status == AppointmentStatus::Booked && appointment.start <= Timestamp::now() {
            return Err(SyncError::NotConfigured(
                "only future appointments can be resent".into(),
            ));
        }
        if !clinic.pms.is_active() {
            return Err(SyncError::NotConfigured(
                "switch the clinic's PMS sync on (enabled: true) first".into(),
            ));
        }
        {
            let _guard = self.store.lock_clinic(&clinic.id).await;
            let current = self.store.appointment(appointment_id)?;
            self.store.enqueue_appointment(&current, Timestamp::now())?;
        }
        self.store.durable().await?;
        locked(&self.retries).remove(appointment_id);
        let delivered = match self.process(appointment_id, None).await {
            Ok(delivered) => delivered,
            Err(error) if error.is_retryable() => None,
            Err(error) => return Err(error),
        };
        Ok((self.store.appointment(appointment_id)?, delivered))
    }
}
