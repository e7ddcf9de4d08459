//! The sync path's records, one per appointment in their own tree (`pms_records`): queueing an
//! appointment for the PMS again, noting durably that a push is about to start, and recording a delivery's
//! outcome in the same transaction that takes its outbox entries away. Only the sync path calls these; a
//! booking writes its appointment and its outbox entry and never touches this tree.

use std::collections::HashSet;

use jiff::Timestamp;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, abort};

use super::codec::{decode, encode};
use super::messages::MessageTrees;
use super::outbox::{OutboxEntry, OutboxOp};
use super::{Store, StoreError, tx_abort_error};
use crate::domain::{
    Appointment, AppointmentStatus, EventKind, OutgoingMessage, PmsKnowledge, PmsRecord, PmsSyncState, PmsSyncStatus,
    WebhookEvent,
};

/// What `begin_push` found and did.
#[derive(Debug, Clone)]
pub struct PushStart {
    /// The appointment as it is being sent.
    pub appointment: Appointment,
    /// What the push may assume about the PMS record.
    pub known: PmsKnowledge,
    /// Whether the record changed (then the caller must make it durable before sending).
    pub marked: bool,
}

fn decode_record(bytes: Option<sled::IVec>) -> Result<PmsRecord, StoreError> {
    match bytes {
        Some(bytes) => decode("PMS record", &bytes),
        None => Ok(PmsRecord::default()),
    }
}

impl Store {
    /// The sync path's record of an appointment (an empty one before anything was recorded).
    pub fn pms_record(&self, appointment_id: &str) -> Result<PmsRecord, StoreError> {
        decode_record(self.pms_records.get(appointment_id.as_bytes())?)
    }

    /// Where an appointment stands with the PMS now (see [`PmsRecord::status_of`]); `queued` is what
    /// [`Store::queued_appointments`] says of it.
    pub fn pms_status(
        &self,
        appointment: &Appointment,
        queued: bool,
        pms_active: bool,
    ) -> Result<PmsSyncStatus, StoreError> {
        Ok(self
            .pms_record(&appointment.id)?
            .status_of(appointment, queued, pms_active))
    }

    /// Where each of `appointments` (of one clinic) stands with the PMS now, in order: one read of the
    /// outbox for all of them.
    pub fn pms_statuses(
        &self,
        appointments: &[Appointment],
        pms_active: bool,
    ) -> Result<Vec<PmsSyncStatus>, StoreError> {
        let queued = self.queued_appointments()?;
        appointments
            .iter()
            .map(|a| self.pms_status(a, queued.contains(&a.id), pms_active))
            .collect()
    }

    /// Ids of the appointments with a change waiting in the outbox (or being delivered).
    pub fn queued_appointments(&self) -> Result<HashSet<String>, StoreError> {
        Ok(self
            .outbox_entries()?
            .into_iter()
            .map(|(_, entry)| entry.appointment_id)
            .collect())
    }

    /// Queues an appointment's current state for the PMS again (Sync Appointments, Resend, Reset, a
    /// reconciliation repair). A person or a reconciliation asking again means "check": the placement
    /// repbook believed confirmed is forgotten, so the connector looks before it writes.
    pub fn enqueue_appointment(&self, appointment: &Appointment, now: Timestamp) -> Result<(), StoreError> {
        self.enqueue_with(appointment, now, |record| {
            record.status.confirmed = None;
        })
    }

    /// Queues an appointment for the PMS after `adjust` has updated its record, atomically; the record
    /// then says "pending" about the appointment's current version. Refused when the appointment changed
    /// since it was read (its change queued it already).
    pub fn enqueue_with(
        &self,
        appointment: &Appointment,
        now: Timestamp,
        adjust: impl Fn(&mut PmsRecord),
    ) -> Result<(), StoreError> {
        let op = match appointment.status {
            AppointmentStatus::Booked => OutboxOp::Create,
            AppointmentStatus::Cancelled => OutboxOp::Cancel,
            other => {
                return Err(StoreError::Conflict {
                    code: "not_for_the_pms",
                    message: format!(
                        "appointment {} is {other:?}: only booked appointments (and cancellations of them) go to the PMS",
                        appointment.id
                    ),
                });
            }
        };
        let entry = encode(&OutboxEntry {
            op,
            appointment_id: appointment.id.clone(),
            clinic_id: appointment.clinic_id.clone(),
            version: appointment.version,
            enqueued_at: now,
        })?;
        let id = appointment.id.clone();
        let version = appointment.version;
        (&self.appointments, &self.pms_records, &self.outbox)
            .transaction(|(appointments, records, outbox)| {
                let Some(bytes) = appointments.get(id.as_bytes())? else {
                    return abort(StoreError::NotFound {
                        entity: "appointment",
                        id: id.clone(),
                    });
                };
                let current: Appointment =
                    decode("appointment", &bytes).map_err(ConflictableTransactionError::Abort)?;
                if current.version != version {
                    return abort(StoreError::Conflict {
                        code: "appointment_changed",
                        message: format!("appointment {id} changed meanwhile; try again"),
                    });
                }
                let mut record =
                    decode_record(records.get(id.as_bytes())?).map_err(ConflictableTransactionError::Abort)?;
                adjust(&mut record);
                record.version = version;
                record.status.state = PmsSyncState::Pending;
                record.status.reason = None;
                record.status.synced_version = None;
                record.status.attempts = 0;
                records.insert(
                    id.as_bytes(),
                    encode(&record).map_err(ConflictableTransactionError::Abort)?,
                )?;
                let seq = outbox.generate_id()?;
                outbox.insert(&seq.to_be_bytes(), entry.as_slice())?;
                Ok(())
            })
            .map_err(tx_abort_error)?;
        self.outbox_signal.notify_one();
        Ok(())
    }

    /// The one place that notes a push is about to start: what the push may assume about the PMS record
    /// is read, then the record is marked as sent and in doubt (cleared again with the outcome). The
    /// caller makes the mark durable before sending when `marked`, so neither a crash nor a lost answer can
    /// make repbook believe the PMS does not hold what it may hold. `verify` asks the connector to look
    /// whatever repbook believes (a person's Resend).
    pub fn begin_push(&self, appointment_id: &str, connector: &str, verify: bool) -> Result<PushStart, StoreError> {
        let appointment = self.appointment(appointment_id)?;
        loop {
            let bytes = self.pms_records.get(appointment_id.as_bytes())?;
            let mut record = decode_record(bytes.clone())?;
            let status = &mut record.status;
            let mut known = status.knowledge();
            if verify && known != PmsKnowledge::NeverSent {
                known = PmsKnowledge::Uncertain {
                    pms_id: status.pms_id.clone(),
                };
            }
            let marked_for_this_connector =
                status.sending_to.as_deref() == Some(connector) && status.held_by(connector).is_some();
            if status.ever_sent && status.in_doubt && marked_for_this_connector {
                return Ok(PushStart {
                    appointment,
                    known,
                    marked: false,
                });
            }
            status.ever_sent = true;
            status.in_doubt = true;
            status.sending_to = Some(connector.to_string());
            let known_id = status.pms_id.clone();
            status.note_held_by(connector, known_id);
            // Compare-and-swap, so a record the sync path changed meanwhile (a switch) is read again.
            let swapped =
                self.pms_records
                    .compare_and_swap(appointment_id.as_bytes(), bytes, Some(encode(&record)?))?;
            if swapped.is_ok() {
                return Ok(PushStart {
                    appointment,
                    known,
                    marked: true,
                });
            }
        }
    }

    /// Applies a delivery's outcome to the appointment's record (`apply` sees the record and the current
    /// appointment, which may be newer than the one delivered), removes the outbox entries it consumed
    /// (`consumed`) and queues the messages it gives rise to (the practice told of a parked visit),
    /// atomically.
    pub fn record_delivery(
        &self,
        appointment_id: &str,
        consumed: &[u64],
        apply: impl Fn(&mut PmsRecord, &Appointment) -> Vec<OutgoingMessage>,
    ) -> Result<(), StoreError> {
        let (m, c, q, p) = self.message_trees();
        let event_id = crate::domain::event_id();
        (
            &self.appointments,
            &self.pms_records,
            &self.outbox,
            m,
            c,
            q,
            p,
            &self.webhook_events,
        )
            .transaction(
                |(appointments, records, outbox, messages_tree, by_clinic, queue, parked, webhook_events)| {
                    let mut messages = Vec::new();
                    let mut event = None;
                    if let Some(bytes) = appointments.get(appointment_id.as_bytes())? {
                        let current: Appointment =
                            decode("appointment", &bytes).map_err(ConflictableTransactionError::Abort)?;
                        let mut record = decode_record(records.get(appointment_id.as_bytes())?)
                            .map_err(ConflictableTransactionError::Abort)?;
                        let before = (record.version, record.status.state);
                        messages = apply(&mut record, &current);
                        event = pms_event(&event_id, before, &record, &current);
                        records.insert(
                            appointment_id.as_bytes(),
                            encode(&record).map_err(ConflictableTransactionError::Abort)?,
                        )?;
                    }
                    for seq in consumed {
                        outbox.remove(&seq.to_be_bytes())?;
                    }
                    let trees = MessageTrees {
                        messages: messages_tree,
                        by_clinic,
                        queue,
                        parked,
                    };
                    for message in &messages {
                        trees.put(message)?;
                    }
                    if let Some(event) = &event {
                        let encoded = encode(event).map_err(ConflictableTransactionError::Abort)?;
                        super::webhooks::put_events(webhook_events, &[encoded])?;
                    }
                    Ok((!messages.is_empty(), event.is_some()))
                },
            )
            .map_err(tx_abort_error)
            .map(|(told, event)| {
                if told {
                    self.message_signal.notify_one();
                }
                if event {
                    self.webhook_written();
                }
            })
    }
}

/// `pms.synced` or `pms.parked` when an outcome changed where the appointment's current version stands.
fn pms_event(id: &str, before: (u64, PmsSyncState), record: &PmsRecord, current: &Appointment) -> Option<WebhookEvent> {
    if record.version != current.version || before == (record.version, record.status.state) {
        return None;
    }
    let kind = match record.status.state {
        PmsSyncState::Synced => EventKind::PmsSynced,
        PmsSyncState::NeedsAttention => EventKind::PmsParked,
        PmsSyncState::Pending | PmsSyncState::NotApplicable => return None,
    };
    Some(WebhookEvent {
        appointment: Some(current.clone()),
        // The status as this outcome left it: where the API's view says the appointment stands.
        detail: serde_json::to_value(&record.status).ok(),
        ..WebhookEvent::new(
            id.to_string(),
            kind,
            &current.clinic_id,
            record.status.updated_at.unwrap_or(current.updated_at),
        )
    })
}
