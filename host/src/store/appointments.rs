//! Appointment writes and reads. A write is the record, its start-time index entry and an outbox entry in
//! one transaction, taken under the clinic's lock after the overlap rule has been checked against the index.

use jiff::{SignedDuration, Timestamp};
use sled::Transactional;

use super::codec::{decode, encode};
use super::outbox::{OutboxEntry, OutboxOp};
use super::{Store, StoreError, keys, tx_error};
use crate::domain::{
    Appointment, AppointmentStatus, Clinic, DURATION_MINUTES, DomainError, MoveRequest, NewAppointment, find_overlap,
    new_id,
};

/// Which appointments of a clinic to list: by start instant (inclusive `from`, exclusive `to`) and status.
#[derive(Debug, Clone, Default)]
pub struct AppointmentFilter {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub status: Option<AppointmentStatus>,
}

impl Store {
    pub fn appointment(&self, id: &str) -> Result<Appointment, StoreError> {
        match self.appointments.get(id.as_bytes())? {
            Some(bytes) => decode("appointment", &bytes),
            None => Err(StoreError::NotFound {
                entity: "appointment",
                id: id.to_string(),
            }),
        }
    }

    pub fn appointments(&self, clinic_id: &str, filter: &AppointmentFilter) -> Result<Vec<Appointment>, StoreError> {
        let prefix = keys::clinic_prefix(clinic_id);
        let lower = filter
            .from
            .map(|t| keys::start_bound(clinic_id, t))
            .unwrap_or_else(|| prefix.clone());
        let mut upper = filter
            .to
            .map(|t| keys::start_bound(clinic_id, t))
            .unwrap_or_else(|| prefix.clone());
        if filter.to.is_none() {
            // One past every key with this prefix ('/' + 1 = '0').
            if let Some(last) = upper.last_mut() {
                *last += 1;
            }
        }
        let mut found = Vec::new();
        for item in self.appointments_by_start.range(lower..upper) {
            let (_, id) = item?;
            let appointment = self.appointment(&String::from_utf8_lossy(&id))?;
            if filter.status.is_none_or(|status| appointment.status == status) {
                found.push(appointment);
            }
        }
        Ok(found)
    }

    /// Books and returns the appointment once it is durable.
    pub async fn book_appointment(
        &self,
        clinic: &Clinic,
        new: NewAppointment,
        now: Timestamp,
    ) -> Result<Appointment, StoreError> {
        if let Err(StoreError::NotFound { .. }) = self.practitioner(&clinic.id, &new.practitioner_id) {
            return Err(DomainError::Invalid {
                field: "practitioner_id",
                message: format!(
                    "practitioner_id '{}' is not a practitioner of clinic {}; use the id of one of its staff",
                    new.practitioner_id, clinic.id
                ),
            }
            .into());
        }
        let appointment = Appointment::book(new_id(), clinic, new, now)?;
        {
            let _guard = self.lock_clinic(&clinic.id).await;
            self.check_overlap(clinic, &appointment)?;
            self.write_appointment(&appointment, None, OutboxOp::Create)?;
        }
        self.durable().await?;
        Ok(appointment)
    }

    pub async fn move_appointment(
        &self,
        clinic: &Clinic,
        id: &str,
        change: MoveRequest,
        now: Timestamp,
    ) -> Result<Appointment, StoreError> {
        let moved = {
            let _guard = self.lock_clinic(&clinic.id).await;
            let current = self.appointment(id)?;
            let moved = current.moved(clinic, change, now)?;
            self.check_overlap(clinic, &moved)?;
            self.write_appointment(&moved, Some(&current), OutboxOp::Move)?;
            moved
        };
        self.durable().await?;
        Ok(moved)
    }

    pub async fn cancel_appointment(
        &self,
        clinic: &Clinic,
        id: &str,
        now: Timestamp,
    ) -> Result<Appointment, StoreError> {
        let cancelled = {
            let _guard = self.lock_clinic(&clinic.id).await;
            let current = self.appointment(id)?;
            match current.cancelled(clinic, now) {
                None => return Ok(current),
                Some(cancelled) => {
                    self.write_appointment(&cancelled, Some(&current), OutboxOp::Cancel)?;
                    cancelled
                }
            }
        };
        self.durable().await?;
        Ok(cancelled)
    }

    /// The practitioner's booked appointments that start within the longest duration before `candidate`
    /// ends: the only ones it can overlap.
    fn check_overlap(&self, clinic: &Clinic, candidate: &Appointment) -> Result<(), StoreError> {
        let longest = SignedDuration::from_mins(*DURATION_MINUTES.end() as i64);
        let (clinic_id, practitioner) = (&candidate.clinic_id, &candidate.practitioner_id);
        let lower = keys::practitioner_bound(clinic_id, practitioner, candidate.start - longest);
        let upper = keys::practitioner_bound(clinic_id, practitioner, candidate.end());
        let mut neighbours = Vec::new();
        for item in self.appointments_by_practitioner.range(lower..upper) {
            let (_, id) = item?;
            let appointment = self.appointment(&String::from_utf8_lossy(&id))?;
            if appointment.status == AppointmentStatus::Booked {
                neighbours.push(appointment);
            }
        }
        Ok(find_overlap(candidate, &neighbours, clinic)?)
    }

    /// The record, its index entry and its outbox entry, atomically.
    fn write_appointment(
        &self,
        appointment: &Appointment,
        previous: Option<&Appointment>,
        op: OutboxOp,
    ) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let record = encode(appointment)?;
        let entry = encode(&OutboxEntry {
            op,
            appointment_id: appointment.id.clone(),
            clinic_id: appointment.clinic_id.clone(),
            version: appointment.version,
            enqueued_at: appointment.updated_at,
        })?;
        let index_key = keys::appointment_by_start(&appointment.clinic_id, appointment.start, &appointment.id);
        let practitioner_key = keys::appointment_by_practitioner(
            &appointment.clinic_id,
            &appointment.practitioner_id,
            appointment.start,
            &appointment.id,
        );
        let moved = previous.filter(|p| p.start != appointment.start);
        let stale_key = moved.map(|p| keys::appointment_by_start(&p.clinic_id, p.start, &p.id));
        let stale_practitioner_key =
            moved.map(|p| keys::appointment_by_practitioner(&p.clinic_id, &p.practitioner_id, p.start, &p.id));
        (
            &self.appointments,
            &self.appointments_by_start,
            &self.appointments_by_practitioner,
            &self.outbox,
        )
            .transaction(|(appointments, by_start, by_practitioner, outbox)| {
                if let (Some(stale), Some(stale_practitioner)) = (&stale_key, &stale_practitioner_key) {
                    by_start.remove(stale.as_slice())?;
                    by_practitioner.remove(stale_practitioner.as_slice())?;
                }
                by_start.insert(index_key.as_slice(), appointment.id.as_bytes())?;
                by_practitioner.insert(practitioner_key.as_slice(), appointment.id.as_bytes())?;
                // What repbook knows of the PMS record belongs to the sync path, which may have learned more
                // since `previous` was read: keep the stored knowledge, never an older copy of it.
                let mut record = record.clone();
                if let Some(bytes) = appointments.get(appointment.id.as_bytes())? {
                    if let Ok(stored) = decode::<Appointment>("appointment", &bytes) {
                        if stored.pms != appointment.pms {
                            let mut merged = appointment.clone();
                            merged.pms.keep_knowledge_of(&stored.pms);
                            record = encode(&merged)
                                .map_err(|_| sled::transaction::ConflictableTransactionError::Abort(()))?;
                        }
                    }
                }
                appointments.insert(appointment.id.as_bytes(), record.as_slice())?;
                let seq = outbox.generate_id()?;
                outbox.insert(&seq.to_be_bytes(), entry.as_slice())?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(tx_error)?;
        self.outbox_signal.notify_one();
        tracing::debug!(appointment = %appointment.id, ?op, micros = started.elapsed().as_micros() as u64, "appointment written");
        Ok(())
    }
}
