//! Appointment writes and reads. A write is the record, its start-time and per-practitioner index entries
//! and (when the PMS must hear of it) an outbox entry in one transaction; the caller holds the clinic's
//! lock and has checked the rules (`app::appointments`). A booking made through a link also notes its
//! manage token and counts toward the link's daily cap in that transaction.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::codec::{decode, encode};
use super::outbox::OutboxEntry;
use super::{Store, StoreError, keys, tx_error};
use crate::domain::{Appointment, AppointmentStatus, DURATION_MINUTES};

/// Which appointments of a clinic to list: by start instant (inclusive `from`, exclusive `to`) and status.
#[derive(Debug, Clone, Default)]
pub struct AppointmentFilter {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub status: Option<AppointmentStatus>,
    /// Resume after this appointment (its start and id): the page before ended with it.
    pub after: Option<(Timestamp, String)>,
    /// At most this many.
    pub limit: Option<usize>,
}

/// What a new booking made through a link also records.
pub struct LinkBookingRecord<'a> {
    pub manage_token_sha256: &'a str,
    pub link_id: &'a str,
    /// The clinic-local day it counts toward the link's daily cap.
    pub day: Date,
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
        let lower = match &filter.after {
            Some((start, id)) => {
                let after = keys::appointment_by_start(clinic_id, *start, id);
                if after >= lower {
                    std::ops::Bound::Excluded(after)
                } else {
                    std::ops::Bound::Included(lower)
                }
            }
            None => std::ops::Bound::Included(lower),
        };
        let limit = filter.limit.unwrap_or(usize::MAX);
        let mut found = Vec::new();
        for item in self
            .appointments_by_start
            .range::<Vec<u8>, _>((lower, std::ops::Bound::Excluded(upper)))
        {
            if found.len() >= limit {
                break;
            }
            let (_, id) = item?;
            let appointment = self.appointment(&String::from_utf8_lossy(&id))?;
            if filter.status.is_none_or(|status| appointment.status == status) {
                found.push(appointment);
            }
        }
        Ok(found)
    }

    /// The appointment a rep's manage link opens, by the SHA-256 of its capability.
    pub fn appointment_by_manage_token(&self, token_sha256: &str) -> Result<Option<Appointment>, StoreError> {
        match self.manage_tokens.get(token_sha256.as_bytes())? {
            Some(id) => self.appointment(&String::from_utf8_lossy(&id)).map(Some),
            None => Ok(None),
        }
    }

    /// Bookings a link took on a clinic-local day.
    pub fn link_bookings_on(&self, link_id: &str, day: Date) -> Result<u32, StoreError> {
        Ok(self
            .link_days
            .get(keys::link_day(link_id, day))?
            .and_then(|v| v.as_ref().try_into().ok().map(u32::from_be_bytes))
            .unwrap_or(0))
    }

    /// The appointments of `candidate`'s practitioner (or, for a whole-clinic visit, the whole clinic's)
    /// that could overlap it: those that start within the longest duration before it ends. What the
    /// overlap rule reads.
    pub fn neighbours(&self, candidate: &Appointment) -> Result<Vec<Appointment>, StoreError> {
        let longest = SignedDuration::from_mins(*DURATION_MINUTES.end() as i64);
        let (clinic_id, practitioner) = (&candidate.clinic_id, candidate.practitioner_id.as_deref());
        let lower = keys::practitioner_bound(clinic_id, practitioner, candidate.start - longest);
        let upper = keys::practitioner_bound(clinic_id, practitioner, candidate.end());
        let mut neighbours = Vec::new();
        for item in self.appointments_by_practitioner.range(lower..upper) {
            let (_, id) = item?;
            neighbours.push(self.appointment(&String::from_utf8_lossy(&id))?);
        }
        Ok(neighbours)
    }

    /// Whether a clinic has any appointment at all.
    pub fn has_appointments(&self, clinic_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .appointments_by_start
            .scan_prefix(keys::clinic_prefix(clinic_id))
            .next()
            .transpose()?
            .is_some())
    }

    /// Writes a new state of an appointment with its indexes and, when the PMS must hear of it, its outbox
    /// entry, atomically. The caller holds the clinic's lock and waits for durability afterwards.
    pub fn write_change(
        &self,
        appointment: &Appointment,
        previous: Option<&Appointment>,
        link: Option<LinkBookingRecord<'_>>,
    ) -> Result<(), StoreError> {
        let op = appointment.outbox_op(previous);
        let record = encode(appointment)?;
        let entry = op
            .map(|op| {
                encode(&OutboxEntry {
                    op,
                    appointment_id: appointment.id.clone(),
                    clinic_id: appointment.clinic_id.clone(),
                    version: appointment.version,
                    enqueued_at: appointment.updated_at,
                })
            })
            .transpose()?;
        let id = appointment.id.as_bytes();
        let practitioner = appointment.practitioner_id.as_deref();
        let index_key = keys::appointment_by_start(&appointment.clinic_id, appointment.start, &appointment.id);
        let practitioner_key =
            keys::appointment_by_practitioner(&appointment.clinic_id, practitioner, appointment.start, &appointment.id);
        let stale = previous
            .filter(|p| p.start != appointment.start || p.practitioner_id != appointment.practitioner_id)
            .map(|p| {
                (
                    keys::appointment_by_start(&p.clinic_id, p.start, &p.id),
                    keys::appointment_by_practitioner(&p.clinic_id, p.practitioner_id.as_deref(), p.start, &p.id),
                )
            });
        let counter = link.as_ref().map(|l| keys::link_day(l.link_id, l.day));
        (
            &self.appointments,
            &self.appointments_by_start,
            &self.appointments_by_practitioner,
            &self.outbox,
            &self.manage_tokens,
            &self.link_days,
        )
            .transaction(
                |(appointments, by_start, by_practitioner, outbox, manage_tokens, link_days)| {
                    if let Some((stale_start, stale_practitioner)) = &stale {
                        by_start.remove(stale_start.as_slice())?;
                        by_practitioner.remove(stale_practitioner.as_slice())?;
                    }
                    by_start.insert(index_key.as_slice(), id)?;
                    by_practitioner.insert(practitioner_key.as_slice(), id)?;
                    appointments.insert(id, record.as_slice())?;
                    if let Some(entry) = &entry {
                        let seq = outbox.generate_id()?;
                        outbox.insert(&seq.to_be_bytes(), entry.as_slice())?;
                    }
                    if let (Some(link), Some(counter)) = (&link, &counter) {
                        manage_tokens.insert(link.manage_token_sha256.as_bytes(), id)?;
                        let taken = link_days
                            .get(counter.as_slice())?
                            .and_then(|v| v.as_ref().try_into().ok().map(u32::from_be_bytes))
                            .unwrap_or(0);
                        link_days.insert(counter.as_slice(), &(taken + 1).to_be_bytes())?;
                    }
                    Ok::<_, ConflictableTransactionError<()>>(())
                },
            )
            .map_err(tx_error)?;
        if entry.is_some() {
            self.outbox_signal.notify_one();
        }
        tracing::debug!(appointment = %appointment.id, ?op, "appointment written");
        Ok(())
    }
}
