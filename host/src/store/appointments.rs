//! Appointment writes and reads. A write is the record, its start-time and per-practitioner index entries
//! and (when the PMS must hear of it) an outbox entry in one transaction, taken under the clinic's lock
//! after the overlap rule has been checked; a booking made through a link also notes its manage token and
//! counts toward the link's daily cap in that transaction.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::codec::{decode, encode};
use super::outbox::OutboxEntry;
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

    /// Staff book and get the appointment back once it is durable.
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
            self.check_overlap(clinic, &appointment, now)?;
            self.write_change(&appointment, None, None)?;
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
        self.change_appointment(clinic, id, |current| {
            let moved = current.moved(clinic, change, now)?;
            self.check_overlap(clinic, &moved, now)?;
            Ok(Some(moved))
        })
        .await
    }

    pub async fn cancel_appointment(
        &self,
        clinic: &Clinic,
        id: &str,
        now: Timestamp,
    ) -> Result<Appointment, StoreError> {
        self.change_appointment(clinic, id, |current| Ok(current.cancelled(clinic, now)))
            .await
    }

    /// Staff approve a request: its slot is claimed again under the clinic's lock, so two requests can
    /// never both end up booked.
    pub async fn approve_request(&self, clinic: &Clinic, id: &str, now: Timestamp) -> Result<Appointment, StoreError> {
        self.change_appointment(clinic, id, |current| {
            let approved = current.approved(clinic, now)?;
            self.check_overlap(clinic, &approved, now)?;
            Ok(Some(approved))
        })
        .await
    }

    pub async fn decline_request(&self, clinic: &Clinic, id: &str, now: Timestamp) -> Result<Appointment, StoreError> {
        self.change_appointment(clinic, id, |current| Ok(Some(current.declined(clinic, now)?)))
            .await
    }

    /// Marks the clinic's requests that nobody decided on in time as expired (their slots are free anyway).
    pub async fn expire_requests(&self, clinic: &Clinic, now: Timestamp) -> Result<usize, StoreError> {
        let mut expired = 0;
        {
            let _guard = self.lock_clinic(&clinic.id).await;
            let filter = AppointmentFilter {
                status: Some(AppointmentStatus::Requested),
                ..Default::default()
            };
            for current in self.appointments(&clinic.id, &filter)? {
                if let Some(next) = current.expired(now) {
                    self.write_change(&next, Some(&current), None)?;
                    expired += 1;
                }
            }
        }
        if expired > 0 {
            self.durable().await?;
        }
        Ok(expired)
    }

    /// Reads an appointment under its clinic's lock, lets `change` decide its next state (`None`: no
    /// change), writes it and waits until it is durable.
    pub async fn change_appointment(
        &self,
        clinic: &Clinic,
        id: &str,
        change: impl FnOnce(&Appointment) -> Result<Option<Appointment>, StoreError>,
    ) -> Result<Appointment, StoreError> {
        let next = {
            let _guard = self.lock_clinic(&clinic.id).await;
            let current = self.appointment(id)?;
            if current.clinic_id != clinic.id {
                return Err(StoreError::NotFound {
                    entity: "appointment",
                    id: id.to_string(),
                });
            }
            match change(&current)? {
                None => return Ok(current),
                Some(next) => {
                    self.write_change(&next, Some(&current), None)?;
                    next
                }
            }
        };
        self.durable().await?;
        Ok(next)
    }

    /// Refuses `candidate` if it would overlap a slot held (booked, or requested and not expired) by the
    /// same practitioner, or for a whole-clinic visit by another whole-clinic visit. Reads only the
    /// neighbours that start within the longest duration before it ends.
    pub fn check_overlap(&self, clinic: &Clinic, candidate: &Appointment, now: Timestamp) -> Result<(), StoreError> {
        let longest = SignedDuration::from_mins(*DURATION_MINUTES.end() as i64);
        let (clinic_id, practitioner) = (&candidate.clinic_id, candidate.practitioner_id.as_deref());
        let lower = keys::practitioner_bound(clinic_id, practitioner, candidate.start - longest);
        let upper = keys::practitioner_bound(clinic_id, practitioner, candidate.end());
        let mut neighbours = Vec::new();
        for item in self.appointments_by_practitioner.range(lower..upper) {
            let (_, id) = item?;
            neighbours.push(self.appointment(&String::from_utf8_lossy(&id))?);
        }
        Ok(find_overlap(candidate, &neighbours, clinic, now)?)
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
                    // What repbook knows of the PMS record belongs to the sync path, which may have learned more
                    // since `previous` was read: keep the stored knowledge, never an older copy of it.
                    let mut record = record.clone();
                    if let Some(bytes) = appointments.get(id)? {
                        if let Ok(stored) = decode::<Appointment>("appointment", &bytes) {
                            if stored.pms != appointment.pms {
                                let mut merged = appointment.clone();
                                merged.pms.keep_knowledge_of(&stored.pms);
                                record = encode(&merged).map_err(|_| ConflictableTransactionError::Abort(()))?;
                            }
                        }
                    }
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
