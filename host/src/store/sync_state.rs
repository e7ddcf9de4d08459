//! Sync bookkeeping: queueing an appointment for the PMS again, and recording a delivery's outcome in the
//! same transaction that takes its outbox entries away.

use jiff::Timestamp;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, abort};

use super::codec::{decode, encode};
use super::outbox::{OutboxEntry, OutboxOp};
use super::{Store, StoreError, tx_abort_error};
use crate::domain::{Appointment, AppointmentStatus, Clinic, PmsSyncState, PmsSyncStatus};

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

    /// Queues an appointment's current state for the PMS (Sync Appointments, Resend, Reset).
    pub fn enqueue_appointment(&self, appointment: &Appointment, now: Timestamp) -> Result<(), StoreError> {
        let op = match appointment.status {
            crate::domain::AppointmentStatus::Booked => OutboxOp::Create,
            crate::domain::AppointmentStatus::Cancelled => OutboxOp::Cancel,
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
                current.pms.state = PmsSyncState::Pending;
                current.pms.reason = None;
                appointments.insert(
                    id.as_bytes(),
                    encode(&current).map_err(ConflictableTransactionError::Abort)?,
                )?;
                let seq = outbox.generate_id()?;
                outbox.insert(&seq.to_be_bytes(), entry.as_slice())?;
                Ok(())
            })
            .map_err(tx_abort_error)
    }

    /// Records the outcome of delivering `version` of an appointment and removes the outbox entries it
    /// consumed (`seqs`), atomically. If the appointment changed meanwhile, its state is left alone (its
    /// newer outbox entry is delivered next), but what was learned about the PMS is kept: the PMS id, and
    /// that something may have been sent.
    pub fn record_delivery(
        &self,
        appointment_id: &str,
        version: u64,
        status: PmsSyncStatus,
        seqs: &[u64],
    ) -> Result<bool, StoreError> {
        (&self.appointments, &self.outbox)
            .transaction(|(appointments, outbox)| {
                let mut current_version = false;
                if let Some(bytes) = appointments.get(appointment_id.as_bytes())? {
                    let mut current: Appointment =
                        decode("appointment", &bytes).map_err(ConflictableTransactionError::Abort)?;
                    if current.version == version {
                        current.pms = status.clone();
                        current_version = true;
                    } else {
                        current.pms.ever_sent |= status.ever_sent;
                        if status.pms_id.is_some() {
                            current.pms.pms_id = status.pms_id.clone();
                        }
                    }
                    appointments.insert(
                        appointment_id.as_bytes(),
                        encode(&current).map_err(ConflictableTransactionError::Abort)?,
                    )?;
                }
                for seq in seqs {
                    outbox.remove(&seq.to_be_bytes())?;
                }
                Ok(current_version)
            })
            .map_err(tx_abort_error)
    }

    /// Notes that these appointments are about to be sent, so a later cancel is never skipped as
    /// "never sent". Callers make it durable (one flush for the whole batch) before sending.
    /// Returns how many records changed, so callers flush only when something did.
    pub fn mark_ever_sent(&self, appointment_ids: &[String]) -> Result<usize, StoreError> {
        let mut changed = 0;
        for id in appointment_ids {
            // Compare-and-swap so a concurrent API write is never overwritten; retried if it lost the race.
            loop {
                let Some(bytes) = self.appointments.get(id.as_bytes())? else {
                    break;
                };
                let mut appointment: Appointment = decode("appointment", &bytes)?;
                if appointment.pms.ever_sent || appointment.status != AppointmentStatus::Booked {
                    break;
                }
                appointment.pms.ever_sent = true;
                let swapped =
                    self.appointments
                        .compare_and_swap(id.as_bytes(), Some(&bytes), Some(encode(&appointment)?))?;
                if swapped.is_ok() {
                    changed += 1;
                    break;
                }
            }
        }
        Ok(changed)
    }

    /// Notes a failed attempt without consuming the outbox (the entry will be retried).
    pub fn record_attempt(&self, appointment_id: &str, version: u64, status: PmsSyncStatus) -> Result<(), StoreError> {
        self.record_delivery(appointment_id, version, status, &[]).map(|_| ())
    }
}
