//! Appointment writes and reads. A write is the record, its start-time and per-practitioner index entries
//! and (when the PMS must hear of it) an outbox entry in one transaction; the caller holds the clinic's
//! lock and has checked the rules (`app::appointments`). A booking made through a link also notes its
//! manage token and counts toward the link's daily cap in that transaction.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use sled::Transactional;

use super::codec::{decode, encode};
use super::messages::MessageTrees;
use super::outbox::OutboxEntry;
use super::waitlist::WaitlistWrite;
use super::{Store, StoreError, keys, tx_abort_error};
use crate::domain::{Appointment, AppointmentStatus, DURATION_MINUTES, OutgoingMessage, WebhookEvent, event_id};

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

/// A capability (a manage link, an address confirmation) that a change hands out or retires; only the
/// SHA-256 of each is stored.
#[derive(Debug, Clone, Copy)]
pub enum TokenChange<'a> {
    AddManage(&'a str),
    RemoveManage(&'a str),
    AddConfirm(&'a str),
    RemoveConfirm(&'a str),
}

/// One change of an appointment and everything that goes with it, written in one transaction.
pub struct Change<'a> {
    pub appointment: &'a Appointment,
    /// The state it replaces (`None`: a new appointment).
    pub previous: Option<&'a Appointment>,
    /// A new booking through a link: the link and the clinic-local day it counts toward the link's cap.
    pub link_day: Option<(&'a str, Date)>,
    pub tokens: &'a [TokenChange<'a>],
    /// The messages people must get about it.
    pub messages: &'a [OutgoingMessage],
    /// Webhook events beyond the appointment's own change (which the store derives itself).
    pub events: &'a [WebhookEvent],
    /// Waitlist entries and offers that go with it (an offer's hold, a claim).
    pub waitlist: &'a [WaitlistWrite<'a>],
}

impl<'a> Change<'a> {
    pub fn of(appointment: &'a Appointment) -> Change<'a> {
        Change {
            appointment,
            previous: None,
            link_day: None,
            tokens: &[],
            messages: &[],
            events: &[],
            waitlist: &[],
        }
    }

    pub fn after(mut self, previous: &'a Appointment) -> Change<'a> {
        self.previous = Some(previous);
        self
    }
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

    /// The appointment an address confirmation link names, by the SHA-256 of its capability.
    pub fn appointment_by_confirm_token(&self, token_sha256: &str) -> Result<Option<Appointment>, StoreError> {
        match self.confirm_tokens.get(token_sha256.as_bytes())? {
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

    /// Writes a new state of an appointment with its indexes, its outbox entry when the PMS must hear of
    /// it (a change that keeps the version, such as a new manage link, is nothing to the PMS), its
    /// capabilities and its messages, atomically. The caller holds the clinic's lock and waits for
    /// durability afterwards.
    pub fn write(&self, change: Change<'_>) -> Result<(), StoreError> {
        self.write_all(vec![change])
    }

    /// Several changes (of one clinic) in one transaction: all or none.
    pub fn write_all(&self, changes: Vec<Change<'_>>) -> Result<(), StoreError> {
        let prepared = changes.iter().map(Prepared::of).collect::<Result<Vec<_>, _>>()?;
        let queued = prepared.iter().any(|p| p.entry.is_some());
        let messages = changes.iter().map(|c| c.messages.len()).sum::<usize>();
        let events = prepared.iter().any(|p| p.event.is_some());
        let (m, c, q, p) = self.message_trees();
        (
            &self.appointments,
            &self.appointments_by_start,
            &self.appointments_by_practitioner,
            &self.outbox,
            &self.manage_tokens,
            &self.confirm_tokens,
            &self.link_days,
            m,
            c,
            q,
            p,
            &self.webhook_events,
            &self.waitlist,
        )
            .transaction(
                |(
                    appointments,
                    by_start,
                    by_practitioner,
                    outbox,
                    manage_tokens,
                    confirm_tokens,
                    link_days,
                    messages_tree,
                    by_clinic,
                    queue,
                    parked,
                    webhook_events,
                    waitlist,
                )| {
                    let trees = MessageTrees {
                        messages: messages_tree,
                        by_clinic,
                        queue,
                        parked,
                    };
                    for (change, prepared) in changes.iter().zip(&prepared) {
                        let id = change.appointment.id.as_bytes();
                        if let Some((stale_start, stale_practitioner)) = &prepared.stale {
                            by_start.remove(stale_start.as_slice())?;
                            by_practitioner.remove(stale_practitioner.as_slice())?;
                        }
                        by_start.insert(prepared.by_start.as_slice(), id)?;
                        by_practitioner.insert(prepared.by_practitioner.as_slice(), id)?;
                        appointments.insert(id, prepared.record.as_slice())?;
                        if let Some(entry) = &prepared.entry {
                            let seq = outbox.generate_id()?;
                            outbox.insert(&seq.to_be_bytes(), entry.as_slice())?;
                        }
                        for token in change.tokens {
                            match token {
                                TokenChange::AddManage(digest) => {
                                    manage_tokens.insert(digest.as_bytes(), id).map(|_| ())?
                                }
                                TokenChange::RemoveManage(digest) => {
                                    manage_tokens.remove(digest.as_bytes()).map(|_| ())?
                                }
                                TokenChange::AddConfirm(digest) => {
                                    confirm_tokens.insert(digest.as_bytes(), id).map(|_| ())?
                                }
                                TokenChange::RemoveConfirm(digest) => {
                                    confirm_tokens.remove(digest.as_bytes()).map(|_| ())?
                                }
                            }
                        }
                        if let Some(counter) = &prepared.link_day {
                            let taken = link_days
                                .get(counter.as_slice())?
                                .and_then(|v| v.as_ref().try_into().ok().map(u32::from_be_bytes))
                                .unwrap_or(0);
                            link_days.insert(counter.as_slice(), &(taken + 1).to_be_bytes())?;
                        }
                        for message in change.messages {
                            trees.put(message)?;
                        }
                        if let Some(event) = &prepared.event {
                            super::webhooks::put_events(webhook_events, std::slice::from_ref(event))?;
                        }
                        super::webhooks::put_events(webhook_events, &prepared.extra_events)?;
                        super::waitlist::put_encoded(waitlist, &prepared.waitlist)?;
                    }
                    Ok(())
                },
            )
            .map_err(tx_abort_error)?;
        if queued {
            self.outbox_signal.notify_one();
        }
        if messages > 0 {
            self.message_signal.notify_one();
        }
        if events || prepared.iter().any(|p| !p.extra_events.is_empty()) {
            self.webhook_written();
        }
        // Only a change that lets time go can give the waitlist something to offer.
        for change in &changes {
            if change
                .previous
                .is_some_and(|previous| Appointment::frees_time(previous, change.appointment))
            {
                self.waitlist_changed(&change.appointment.clinic_id);
            }
        }
        for change in &changes {
            tracing::debug!(appointment = %change.appointment.id, messages = change.messages.len(), "appointment written");
        }
        Ok(())
    }
}

/// What a change writes, encoded before its transaction starts (a transaction may run more than once).
struct Prepared {
    record: Vec<u8>,
    entry: Option<Vec<u8>>,
    by_start: Vec<u8>,
    by_practitioner: Vec<u8>,
    stale: Option<(Vec<u8>, Vec<u8>)>,
    link_day: Option<Vec<u8>>,
    /// What subscribers hear of it (`EventKind::of_change`).
    event: Option<Vec<u8>>,
    /// Events the workflow adds (a waitlist claim).
    extra_events: Vec<Vec<u8>>,
    waitlist: super::waitlist::Encoded,
}

impl Prepared {
    fn of(change: &Change<'_>) -> Result<Prepared, StoreError> {
        let (appointment, previous) = (change.appointment, change.previous);
        let op = appointment
            .outbox_op(previous)
            .filter(|_| previous.is_none_or(|p| p.version != appointment.version));
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
        let practitioner = appointment.practitioner_id.as_deref();
        Ok(Prepared {
            record: encode(appointment)?,
            entry,
            by_start: keys::appointment_by_start(&appointment.clinic_id, appointment.start, &appointment.id),
            by_practitioner: keys::appointment_by_practitioner(
                &appointment.clinic_id,
                practitioner,
                appointment.start,
                &appointment.id,
            ),
            stale: previous
                .filter(|p| p.start != appointment.start || p.practitioner_id != appointment.practitioner_id)
                .map(|p| {
                    (
                        keys::appointment_by_start(&p.clinic_id, p.start, &p.id),
                        keys::appointment_by_practitioner(&p.clinic_id, p.practitioner_id.as_deref(), p.start, &p.id),
                    )
                }),
            link_day: change.link_day.map(|(link_id, day)| keys::link_day(link_id, day)),
            event: WebhookEvent::of_change(previous, appointment, event_id())
                .map(|event| encode(&event))
                .transpose()?,
            extra_events: super::webhooks::encode_events(change.events)?,
            waitlist: super::waitlist::encode_writes(change.waitlist)?,
        })
    }
}
