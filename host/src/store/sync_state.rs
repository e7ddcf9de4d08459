//! Sync bookkeeping: queueing an appointment for the PMS again, noting durably that a push is about to
//! start, and recording a delivery's outcome in the same transaction that takes its outbox entries away.

use jiff::Timestamp;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, abort};

use super::codec::{decode, encode};
use super::outbox::{OutboxEntry, OutboxOp};
use super::{Store, StoreError, tx_abort_error};
use crate::domain::{Appointment, AppointmentStatus, Clinic, PmsKnowledge, PmsSyncState};

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

impl Store {
    /// Applies `change` to a clinic under its lock and makes it durable.
    pub async fn update_clinic<T>(
        &self,
        clinic_id: &str,
        change: impl FnOnce(&mut Clinic) -> Result<T, StoreError>,
    ) -> Result<(Clinic, T), StoreError> {
        let updated = {
            let _guard = self.lock_clinic(clinic_id).await;
            let mut clinic = self.clinic(clinic_id)?;
            let value = change(&mut clinic)?;
            self.put_clinic(&clinic)?;
            (clinic, value)
        };
        self.durable().await?;
        Ok(updated)
    }

    /// Queues an appointment's current state for the PMS again (Sync Appointments, Resend, Reset, a
    /// reconciliation repair). A person or a reconciliation asking again means "check": the placement
    /// repbook believed confirmed is forgotten, so the connector looks before it writes.
    pub fn enqueue_appointment(&self, appointment: &Appointment, now: Timestamp) -> Result<(), StoreError> {
        self.enqueue_with(appointment, now, |current| {
            current.pms.state = PmsSyncState::Pending;
            current.pms.reason = None;
            current.pms.confirmed = None;
        })
    }

    /// Queues an appointment for the PMS after `adjust` has updated its stored sync state, atomically.
    pub fn enqueue_with(
        &self,
        appointment: &Appointment,
        now: Timestamp,
        adjust: impl Fn(&mut Appointment),
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
        (&self.appointments, &self.outbox)
            .transaction(|(appointments, outbox)| {
                let Some(bytes) = appointments.get(id.as_bytes())? else {
                    return abort(StoreError::NotFound {
                        entity: "appointment",
                        id: id.clone(),
                    });
                };
                let mut current: Appointment =
                    decode("appointment", &bytes).map_err(ConflictableTransactionError::Abort)?;
                if current.version != version {
                    return abort(StoreError::Conflict {
                        code: "appointment_changed",
                        message: format!("appointment {id} changed meanwhile; try again"),
                    });
                }
                adjust(&mut current);
                appointments.insert(
                    id.as_bytes(),
                    encode(&current).map_err(ConflictableTransactionError::Abort)?,
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
        loop {
            let bytes = self
                .appointments
                .get(appointment_id.as_bytes())?
                .ok_or_else(|| StoreError::NotFound {
                    entity: "appointment",
                    id: appointment_id.to_string(),
                })?;
            let mut appointment: Appointment = decode("appointment", &bytes)?;
            let mut known = appointment.pms.knowledge();
            if verify && known != PmsKnowledge::NeverSent {
                known = PmsKnowledge::Uncertain {
                    pms_id: appointment.pms.pms_id.clone(),
                };
            }
            let marked_for_this_connector = appointment.pms.sending_to.as_deref() == Some(connector)
                && appointment.pms.held_by(connector).is_some();
            if appointment.pms.ever_sent && appointment.pms.in_doubt && marked_for_this_connector {
                return Ok(PushStart {
                    appointment,
                    known,
                    marked: false,
                });
            }
            appointment.pms.ever_sent = true;
            appointment.pms.in_doubt = true;
            appointment.pms.sending_to = Some(connector.to_string());
            let known_id = appointment.pms.pms_id.clone();
            appointment.pms.note_held_by(connector, known_id);
            // Compare-and-swap so a concurrent API write is never overwritten; read again if it lost.
            let swapped = self.appointments.compare_and_swap(
                appointment_id.as_bytes(),
                Some(&bytes),
                Some(encode(&appointment)?),
            )?;
            if swapped.is_ok() {
                return Ok(PushStart {
                    appointment,
                    known,
                    marked: true,
                });
            }
        }
    }

    /// Applies a delivery's outcome to the stored appointment (`apply` sees the current record, which may
    /// be newer than the one delivered) and removes the outbox entries it consumed (`consumed`), atomically.
    pub fn record_delivery(
        &self,
        appointment_id: &str,
        consumed: &[u64],
        apply: impl Fn(&mut Appointment),
    ) -> Result<(), StoreError> {
        (&self.appointments, &self.outbox)
            .transaction(|(appointments, outbox)| {
                if let Some(bytes) = appointments.get(appointment_id.as_bytes())? {
                    let mut current: Appointment =
                        decode("appointment", &bytes).map_err(ConflictableTransactionError::Abort)?;
                    apply(&mut current);
                    appointments.insert(
                        appointment_id.as_bytes(),
                        encode(&current).map_err(ConflictableTransactionError::Abort)?,
                    )?;
                }
                for seq in consumed {
                    outbox.remove(&seq.to_be_bytes())?;
                }
                Ok(())
            })
            .map_err(tx_abort_error)
    }
}
