//! Delivering one appointment: its current state (booked at its latest time, or cancelled) goes to the PMS
//! once, whatever sequence of changes led there. The push is noted durably before it starts; the outcome
//! is decided by `outcome::classify` and recorded together with the consumed outbox entries.

use std::sync::atomic::Ordering;
use std::time::Instant;

use jiff::Timestamp;

use super::outcome::{self, Attempt, Decision, Delivered};
use super::scheduler::{SiteSignal, WorkItem};
use super::{SyncEngine, SyncError};
use crate::domain::{
    Appointment, AppointmentStatus, Clinic, MessageKind, OutgoingMessage, PmsLinkState, PmsPlacement, PmsRecord,
};
use crate::notify::{ClinicFacts, Composer};
use crate::plugins::ConnectorFailure;
use crate::plugins::contract::LocalAppointment;

/// How long a Resend waits for a delivery of the same appointment that is already running.
const RESEND_WAITS_FOR_IN_FLIGHT: std::time::Duration = std::time::Duration::from_secs(10);

/// What was attempted, for recording: the version sent and where it asked the PMS to put it.
struct Sent {
    version: u64,
    placement: Option<PmsPlacement>,
    /// The connector called, when one was.
    connector: Option<String>,
}

impl SyncEngine {
    /// Delivers a claimed work item (in flight in its site), decides what the result means, records it and
    /// releases the claim. `verify` makes the connector look before it writes (a person's Resend).
    pub(super) async fn deliver(&self, item: WorkItem, verify: bool) -> Result<Delivered, SyncError> {
        let (result, sent) = self.attempt(&item, verify).await;
        let attempts = self.scheduler().attempts(&item.clinic_id, &item.appointment_id) + 1;
        let conflict = matches!(result, Err(SyncError::Connector(ConnectorFailure::Conflict(_))));
        let other_changes = conflict && self.clinic_has_other_changes(&item);
        let decision = outcome::classify(
            &result,
            attempts,
            Instant::now(),
            &self.config.retry,
            rand::random::<f64>(),
            other_changes,
        );
        let consumed: &[u64] = match decision {
            Decision::Retry { .. } => &[],
            Decision::Done | Decision::Park => &item.entries,
        };
        let notice = self.trouble_notice(&item, &result, &decision);
        // Told once per problem: the record remembers that the practice heard of it.
        let tell = |record: &mut PmsRecord| -> Vec<OutgoingMessage> {
            match &notice {
                Some(m) if m.kind == MessageKind::SyncParked && !record.trouble_told => {
                    record.trouble_told = true;
                    vec![m.clone()]
                }
                Some(m) if m.kind == MessageKind::SyncResolved && record.trouble_told => {
                    record.trouble_told = false;
                    vec![m.clone()]
                }
                _ => Vec::new(),
            }
        };
        let recorded = match &sent {
            Some(sent) => {
                let attempt = Attempt {
                    version: sent.version,
                    placement: sent.placement.clone(),
                    connector: sent.connector.as_deref(),
                    result: &result,
                    decision: &decision,
                    now: Timestamp::now(),
                };
                self.store
                    .record_delivery(&item.appointment_id, consumed, |record, current| {
                        outcome::record(record, current, &attempt);
                        tell(record)
                    })
            }
            None => self
                .store
                .record_delivery(&item.appointment_id, consumed, |record, _| tell(record)),
        };
        if let Err(error) = recorded {
            tracing::error!(appointment = %item.appointment_id, %error, "cannot record a delivery's outcome");
        }
        // No flush wait here: the outcome and the consumed entries commit together, so losing them in a
        // crash only means delivering again, which the durable in-doubt mark makes a careful lookup.
        self.count(&result, &decision, &item);
        let signal = match &result {
            Ok(Delivered::Pushed { .. } | Delivered::Cancelled) => SiteSignal::Answered,
            Err(SyncError::Connector(ConnectorFailure::SiteOffline(_) | ConnectorFailure::UnknownOutcome(_))) => {
                SiteSignal::Offline
            }
            Err(SyncError::Connector(_)) => SiteSignal::Answered,
            _ => SiteSignal::None,
        };
        let error = result.as_ref().err().map(ToString::to_string);
        self.scheduler().finish(
            &item.clinic_id,
            &item.appointment_id,
            &decision,
            signal,
            error,
            Instant::now(),
        );
        self.finished.notify_waiters();
        result
    }

    /// What the practice would hear of this outcome: that the appointment could not be sent (when it is
    /// parked), or that it went after all (when it reached the PMS). Whether it is told is the record's
    /// call (`trouble_told`), so it goes once per problem, never once per retry.
    fn trouble_notice(
        &self,
        item: &WorkItem,
        result: &Result<Delivered, SyncError>,
        decision: &Decision,
    ) -> Option<OutgoingMessage> {
        let identity = self.config.mail.as_ref()?;
        let reached = matches!(result, Ok(Delivered::Pushed { .. } | Delivered::Cancelled));
        let kind = match decision {
            Decision::Park => MessageKind::SyncParked,
            Decision::Done if reached => MessageKind::SyncResolved,
            _ => return None,
        };
        let (Ok(appointment), Ok(clinic)) = (
            self.store.appointment(&item.appointment_id),
            self.store.clinic(&item.clinic_id),
        ) else {
            return None;
        };
        let with = match &appointment.practitioner_id {
            Some(id) => self
                .store
                .practitioner(&clinic.id, id)
                .map(|p| p.display_name())
                .unwrap_or_default(),
            None => "the clinic".to_string(),
        };
        let reason = result.as_ref().err().map(ToString::to_string);
        let composer = Composer {
            identity,
            clinic: &clinic,
            now: Timestamp::now(),
        };
        let facts = ClinicFacts {
            appointment: Some((&appointment, &with)),
            reason: reason.as_deref(),
            ..Default::default()
        };
        composer.to_clinic(kind, facts)
    }

    fn count(&self, result: &Result<Delivered, SyncError>, decision: &Decision, item: &WorkItem) {
        let counter = match (result, decision) {
            (Ok(Delivered::Pushed { .. } | Delivered::Cancelled), _) => &self.counters.delivered,
            (Ok(_), _) => return,
            (Err(_), Decision::Retry { .. }) => &self.counters.retried,
            (Err(error), _) => {
                tracing::warn!(appointment = %item.appointment_id, code = error.code(), %error, "appointment parked");
                &self.counters.parked
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A slot conflict can be an ordering effect: another change of the clinic, not yet delivered, may
    /// move the appointment that holds the slot.
    fn clinic_has_other_changes(&self, item: &WorkItem) -> bool {
        self.store.outbox_entries().is_ok_and(|entries| {
            entries
                .iter()
                .any(|(_, e)| e.clinic_id == item.clinic_id && e.appointment_id != item.appointment_id)
        })
    }

    /// Sends the appointment's current state. `None` for what was sent when nothing about the appointment
    /// needs recording beyond consuming the entries.
    async fn attempt(&self, item: &WorkItem, verify: bool) -> (Result<Delivered, SyncError>, Option<Sent>) {
        if item.entries.iter().all(|seq| !self.store.outbox_contains(*seq)) {
            // Delivered meanwhile by another path (a Resend).
            let nothing = Delivered::NotSent {
                reason: "nothing pending".into(),
            };
            return (Ok(nothing), None);
        }
        let appointment = match self.store.appointment(&item.appointment_id) {
            Ok(appointment) => appointment,
            Err(crate::store::StoreError::NotFound { .. }) => {
                let gone = Delivered::NotSent {
                    reason: "the appointment no longer exists".into(),
                };
                return (Ok(gone), None);
            }
            Err(error) => return (Err(error.into()), None),
        };
        let clinic = match self.store.clinic(&appointment.clinic_id) {
            Ok(clinic) => clinic,
            Err(error) => return (Err(error.into()), None),
        };
        let record = match self.store.pms_record(&appointment.id) {
            Ok(record) => record,
            Err(error) => return (Err(error.into()), None),
        };
        let not_sent = |reason: &str| {
            let sent = Sent {
                version: appointment.version,
                placement: None,
                connector: None,
            };
            let delivered = Delivered::NotSent {
                reason: reason.to_string(),
            };
            (Ok(delivered), Some(sent))
        };
        if !clinic.pms.is_active() {
            return not_sent("PMS sync is off for this clinic");
        }
        if appointment.status != AppointmentStatus::Booked && !record.status.ever_sent {
            return not_sent("not booked, and never sent to the PMS");
        }
        match self.send(&clinic, &appointment, &record, verify).await {
            Ok((delivered, sent)) => (Ok(delivered), Some(sent)),
            Err((error, sent)) => (Err(error), Some(sent)),
        }
    }

    /// Notes the push durably, then calls the connector with what the PMS record is known to be.
    async fn send(
        &self,
        clinic: &Clinic,
        appointment: &Appointment,
        record: &PmsRecord,
        verify: bool,
    ) -> Result<(Delivered, Sent), (SyncError, Sent)> {
        let unsent = |error: SyncError| {
            let sent = Sent {
                version: appointment.version,
                placement: None,
                connector: None,
            };
            (error, sent)
        };
        let plugin = self.connector(clinic).map_err(unsent)?;
        // A booking needs its practitioner's PMS user; a cancel can do with the one it was sent with.
        let user_id = match appointment.status {
            AppointmentStatus::Booked => self
                .pms_user(clinic, appointment.practitioner_id.as_deref())
                .map_err(unsent)?,
            _ => self
                .pms_user(clinic, appointment.practitioner_id.as_deref())
                .ok()
                .or(record.status.confirmed.as_ref().map(|p| p.practitioner_user_id))
                .unwrap_or(0),
        };
        let start = self
            .store
            .begin_push(&appointment.id, &plugin.info.name, verify)
            .map_err(|e| unsent(e.into()))?;
        if start.marked {
            self.store.durable().await.map_err(|e| unsent(e.into()))?;
        }
        let current = &start.appointment;
        let local = LocalAppointment {
            reference: current.reference.clone(),
            known: start.known.clone(),
            practitioner_user_id: user_id,
            date: current.local_date,
            start_seconds: current.local_seconds,
            duration_seconds: current.duration_minutes * 60,
            rep_name: current.rep.name.clone(),
            rep_company: current.rep.company.clone(),
            rep_email: current.rep.email.clone(),
            notes: current.notes.clone(),
        };
        let mut ctx = Self::call_context(clinic);
        let (result, placement) = match current.status {
            AppointmentStatus::Booked => {
                let placement = PmsPlacement {
                    pms_id: String::new(),
                    practitioner_user_id: user_id,
                    date: local.date,
                    start_seconds: local.start_seconds,
                    duration_seconds: local.duration_seconds,
                };
                let result = plugin
                    .push_appointment(&mut ctx, &local)
                    .await
                    .map(|outcome| Delivered::Pushed { outcome });
                (result, Some(placement))
            }
            // Anything not booked must not be live in the PMS.
            AppointmentStatus::Cancelled
            | AppointmentStatus::Declined
            | AppointmentStatus::Expired
            | AppointmentStatus::Requested
            | AppointmentStatus::Held => {
                let result = plugin
                    .cancel_appointment(&mut ctx, &local)
                    .await
                    .map(|()| Delivered::Cancelled);
                (result, None)
            }
        };
        if let Err(error) = self.keep_site_cache(clinic, &ctx).await {
            tracing::warn!(clinic = %clinic.id, %error, "cannot keep what the connector learned about the site");
        }
        let sent = Sent {
            version: current.version,
            placement,
            connector: Some(plugin.info.name.clone()),
        };
        match result {
            Ok(delivered) => Ok((delivered, sent)),
            Err(error) => Err((error.into(), sent)),
        }
    }

    /// The PMS user id whose appointment book receives a visit with this practitioner (or, for `None`, with
    /// the whole clinic), or why there is none.
    pub(super) fn pms_user(&self, clinic: &Clinic, practitioner_id: Option<&str>) -> Result<i64, SyncError> {
        let practitioner_id = match practitioner_id.or(clinic.booking.clinic_visit_practitioner_id.as_deref()) {
            Some(id) => id,
            None => {
                return Err(SyncError::PractitionerNotMapped(
                    "visits with the whole clinic go into the appointment book of the practitioner chosen as \
                     clinic_visit_practitioner_id in the clinic's booking rules: choose one, then Resend"
                        .into(),
                ));
            }
        };
        let practitioner = self.store.practitioner(&clinic.id, practitioner_id)?;
        practitioner
            .pms
            .user_id
            .filter(|_| practitioner.pms.state == PmsLinkState::Synced)
            .ok_or_else(|| {
                SyncError::PractitionerNotMapped(format!(
                    "{} is not matched to a PMS user: run Sync Staff (AHPRA numbers must match exactly) or map them by hand, then Resend",
                    practitioner.display_name()
                ))
            })
    }

    /// Resend: queue the appointment again (also un-parks it) and deliver it now, looking at what the PMS
    /// holds first. `None` when the PMS cannot take it now, or a delivery of it was still in flight after
    /// waiting `RESEND_WAITS_FOR_IN_FLIGHT` (it stays queued either way).
    pub async fn resend(&self, appointment_id: &str) -> Result<(Appointment, Option<Delivered>), SyncError> {
        let appointment = self.store.appointment(appointment_id)?;
        let clinic = self.store.clinic(&appointment.clinic_id)?;
        if appointment.status == AppointmentStatus::Booked && appointment.start <= Timestamp::now() {
            return Err(SyncError::NotConfigured(
                "only future appointments can be resent".into(),
            ));
        }
        if !clinic.pms.is_active() {
            return Err(SyncError::NotConfigured("switch the clinic's PMS sync on first".into()));
        }
        // Claimed before it is queued, so the worker (woken by the queueing) leaves it to this call. When the
        // worker is delivering it right now (say, sent by itself after a doctor was mapped), a person who
        // pressed Resend waits for that delivery and then gets their own, not a "try later".
        let mut claimed = !self.stopping() && self.scheduler().claim(&clinic.id, appointment_id);
        let waiting_until = tokio::time::Instant::now() + RESEND_WAITS_FOR_IN_FLIGHT;
        while !claimed && !self.stopping() && tokio::time::Instant::now() < waiting_until {
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            claimed = self.scheduler().claim(&clinic.id, appointment_id);
        }
        let queued = self.queue_again(&clinic.id, appointment_id).await;
        if !claimed {
            queued?;
            return Ok((self.store.appointment(appointment_id)?, None));
        }
        let entries = match queued {
            Ok(entries) => entries,
            Err(error) => {
                self.scheduler().unclaim(&clinic.id, appointment_id);
                return Err(error);
            }
        };
        let item = WorkItem {
            clinic_id: clinic.id.clone(),
            appointment_id: appointment_id.to_string(),
            entries,
        };
        let delivered = match self.deliver(item, true).await {
            Ok(delivered) => Some(delivered),
            Err(error) if error.is_retryable() => None,
            Err(error) => return Err(error),
        };
        Ok((self.store.appointment(appointment_id)?, delivered))
    }

    /// Queues an appointment's current state again, durably; returns its pending outbox entries.
    async fn queue_again(&self, clinic_id: &str, appointment_id: &str) -> Result<Vec<u64>, SyncError> {
        {
            let _guard = self.store.lock_clinic(clinic_id).await;
            let current = self.store.appointment(appointment_id)?;
            self.store.enqueue_appointment(&current, Timestamp::now())?;
        }
        self.store.durable().await?;
        Ok(self
            .store
            .outbox_entries()?
            .into_iter()
            .filter(|(_, e)| e.appointment_id == appointment_id)
            .map(|(seq, _)| seq)
            .collect())
    }
}
