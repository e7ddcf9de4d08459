//! How an appointment changes: booked by staff or through a link, confirmed, swapped, approved or
//! declined, expired, moved, cancelled. Each change returns the next state (version bumped) or the rule it
//! breaks; the caller writes it under the clinic's lock.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::appointment::{Appointment, AppointmentStatus, BookingSource, Hold, ManageAccess};
pub use super::local_time::LocalStart;
use super::local_time::{parse_local_start, resolve_local_start};
use super::{Clinic, DomainError, Rep, check_duration, refuse_controls, refuse_invisible};

#[derive(Debug, Clone)]
pub struct Placement {
    pub start: LocalStart,
    pub minutes: u32,
    pub practitioner_id: Option<String>,
}

/// A visit booked through a link: what the slot and the rep's form give.
#[derive(Debug, Clone)]
pub struct LinkBooking {
    pub placement: Placement,
    pub rep: Rep,
    pub link_id: String,
    pub time_id: String,
    pub approval_required: bool,
    /// The manage link, for a booking that needs no confirmation; `None` while the rep's address is to be
    /// confirmed (they get the link once it is).
    pub manage: Option<ManageAccess>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppointment {
    #[schema(min_length = 1)]
    pub practitioner_id: String,
    pub rep: Rep,
    #[schema(pattern = "@local-start")]
    pub start: String,
    #[schema(minimum = 5, maximum = 240)]
    pub duration_minutes: Option<u32>,
    #[serde(default)]
    #[schema(max_length = 2000, pattern = "@text")]
    pub notes: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    #[schema(pattern = "@local-start")]
    pub start: Option<String>,
    #[schema(minimum = 5, maximum = 240)]
    pub duration_minutes: Option<u32>,
}

fn resolve_future(clinic: &Clinic, text: &str, now: Timestamp) -> Result<LocalStart, DomainError> {
    let input = parse_local_start(text)?;
    let start = resolve_local_start(&clinic.timezone, &input)?;
    if start.instant <= now {
        return Err(DomainError::InPast {
            local: input.datetime.strftime("%Y-%m-%dT%H:%M").to_string(),
            zone: clinic.timezone.clone(),
        });
    }
    Ok(start)
}

/// When a request made now for a visit at `start` lets its slot go: after the clinic's expiry, but never
/// after the visit itself (unanswered by then, it is moot).
fn request_expiry(clinic: &Clinic, start: Timestamp, now: Timestamp) -> Timestamp {
    (now + jiff::SignedDuration::from_hours(clinic.booking.request_expiry_hours as i64)).min(start)
}

fn check_notes(notes: &str) -> Result<String, DomainError> {
    refuse_controls("notes", notes, true)?;
    refuse_invisible("notes", notes)?;
    let notes = notes.trim();
    if notes.chars().count() > 2000 {
        return Err(DomainError::Invalid {
            field: "notes",
            message: "notes are longer than 2000 characters".into(),
        });
    }
    Ok(notes.to_string())
}
impl Appointment {
    /// Books a new appointment; the caller has checked that the practitioner belongs to the clinic.
    pub fn book(id: String, clinic: &Clinic, new: NewAppointment, now: Timestamp) -> Result<Self, DomainError> {
        let start = resolve_future(clinic, &new.start, now)?;
        let duration = check_duration(
            "duration_minutes",
            new.duration_minutes.unwrap_or(clinic.appointment_duration_minutes),
        )?;
        Ok(Appointment {
            reference: id.clone(),
            id,
            clinic_id: clinic.id.clone(),
            practitioner_id: Some(new.practitioner_id),
            rep: new.rep.validated()?,
            start: start.instant,
            local_date: start.local_date,
            local_seconds: start.local_seconds,
            duration_minutes: duration,
            notes: check_notes(&new.notes)?,
            status: AppointmentStatus::Booked,
            version: 1,
            created_at: now,
            updated_at: now,
            source: BookingSource::Staff,
            time_id: None,
            manage: None,
            request_expires_at: None,
            hold: None,
            swapped_at: Vec::new(),
            attendance: None,
        })
    }

    /// A rep's booking through a link, into an open slot the caller has just checked under the clinic's
    /// lock. An approval-required slot makes a request that holds the slot until it expires.
    pub fn book_through_link(
        id: String,
        clinic: &Clinic,
        booking: LinkBooking,
        now: Timestamp,
    ) -> Result<Self, DomainError> {
        let rep = booking.rep.validated()?;
        if rep.email.is_empty() {
            return Err(DomainError::Invalid {
                field: "rep.email",
                message: "rep.email is needed so the clinic can reach you (name@example.com)".into(),
            });
        }
        let placement = booking.placement;
        let (status, expires, hold) = match &booking.manage {
            // The address is to be confirmed first; a hold never outlives its slot either.
            None => {
                let until = (now + jiff::SignedDuration::from_mins(clinic.notify.confirm_hold_minutes as i64))
                    .min(placement.start.instant);
                let hold = Hold {
                    expires_at: until,
                    approval_required: booking.approval_required,
                };
                (AppointmentStatus::Held, None, Some(hold))
            }
            Some(_) if booking.approval_required => (
                AppointmentStatus::Requested,
                Some(request_expiry(clinic, placement.start.instant, now)),
                None,
            ),
            Some(_) => (AppointmentStatus::Booked, None, None),
        };
        Ok(Appointment {
            reference: id.clone(),
            id,
            clinic_id: clinic.id.clone(),
            practitioner_id: placement.practitioner_id,
            rep,
            start: placement.start.instant,
            local_date: placement.start.local_date,
            local_seconds: placement.start.local_seconds,
            duration_minutes: check_duration("duration_minutes", placement.minutes)?,
            notes: String::new(),
            status,
            version: 1,
            created_at: now,
            updated_at: now,
            source: BookingSource::Link {
                link_id: booking.link_id,
            },
            time_id: Some(booking.time_id),
            manage: booking.manage,
            request_expires_at: expires,
            hold,
            swapped_at: Vec::new(),
            attendance: None,
        })
    }

    /// The rep confirmed their address: a held booking becomes booked (or, in a time that needs approval,
    /// a request), with its manage link. Refused once the hold has lapsed: the slot was let go.
    pub fn confirmed(&self, clinic: &Clinic, manage: ManageAccess, now: Timestamp) -> Result<Self, DomainError> {
        // A confirmed visit has no hold any more; a lapsed one keeps it, to say so.
        let not_held = || DomainError::NotHeld {
            id: self.id.clone(),
            state: format!("{:?}", self.status).to_lowercase(),
        };
        let hold = self.hold.as_ref().ok_or_else(not_held)?;
        match self.status {
            AppointmentStatus::Held if self.occupies(now) => {}
            AppointmentStatus::Held | AppointmentStatus::Expired => {
                return Err(DomainError::HoldExpired {
                    until: super::local_parts(hold.expires_at, &clinic.tz()).datetime_text(),
                    zone: clinic.timezone.clone(),
                });
            }
            _ => return Err(not_held()),
        }
        let mut next = self.clone();
        if hold.approval_required {
            next.status = AppointmentStatus::Requested;
            next.request_expires_at = Some(request_expiry(clinic, self.start, now));
        } else {
            next.status = AppointmentStatus::Booked;
        }
        next.hold = None;
        next.manage = Some(manage);
        next.touch(now);
        Ok(next)
    }

    /// A rep's swap into another open slot (checked by the caller under the clinic's lock). A booked visit
    /// cannot swap into a time that needs approval; a request swapped into a time that does not becomes
    /// booked.
    pub fn swapped(
        &self,
        placement: Placement,
        time_id: String,
        approval_required: bool,
        swaps_per_day: u32,
        now: Timestamp,
    ) -> Result<Self, DomainError> {
        let mut next = self.clone();
        let day_ago = now - jiff::SignedDuration::from_hours(24);
        next.swapped_at.retain(|at| *at > day_ago);
        if next.swapped_at.len() >= swaps_per_day as usize {
            return Err(DomainError::BookingRule {
                code: "swap_limit",
                message: format!(
                    "this visit was changed {} times in the last 24 hours, the clinic's limit; keep this time or call the clinic",
                    next.swapped_at.len()
                ),
            });
        }
        next.swapped_at.push(now);
        match (self.status, approval_required) {
            (AppointmentStatus::Booked, true) => {
                return Err(DomainError::Invalid {
                    field: "start",
                    message: "that time needs the clinic's approval; cancel this booking and request that time instead"
                        .into(),
                });
            }
            (AppointmentStatus::Booked, false) | (AppointmentStatus::Requested, true) => {}
            (AppointmentStatus::Requested, false) => {
                next.status = AppointmentStatus::Booked;
                next.request_expires_at = None;
            }
            _ => return Err(DomainError::Cancelled { id: self.id.clone() }),
        }
        if let Some(expires) = next.request_expires_at {
            next.request_expires_at = Some(expires.min(placement.start.instant));
        }
        next.start = placement.start.instant;
        next.local_date = placement.start.local_date;
        next.local_seconds = placement.start.local_seconds;
        next.duration_minutes = check_duration("duration_minutes", placement.minutes)?;
        next.practitioner_id = placement.practitioner_id;
        next.time_id = Some(time_id);
        next.touch(now);
        Ok(next)
    }

    /// The clinic approves a request: it becomes a booking (and goes to the PMS).
    pub fn approved(&self, now: Timestamp) -> Result<Self, DomainError> {
        self.decided(now, AppointmentStatus::Booked)
    }

    /// The clinic declines a request: its slot is free again.
    pub fn declined(&self, now: Timestamp) -> Result<Self, DomainError> {
        self.decided(now, AppointmentStatus::Declined)
    }

    fn decided(&self, now: Timestamp, to: AppointmentStatus) -> Result<Self, DomainError> {
        if self.status != AppointmentStatus::Requested {
            return Err(DomainError::NotRequested {
                id: self.id.clone(),
                status: self.status,
            });
        }
        if !self.occupies(now) {
            return Err(DomainError::RequestExpired { id: self.id.clone() });
        }
        let mut next = self.clone();
        next.status = to;
        next.request_expires_at = None;
        next.touch(now);
        Ok(next)
    }

    /// A request nobody decided on in time, or a hold nobody confirmed.
    pub fn expired(&self, now: Timestamp) -> Option<Self> {
        let waits = matches!(self.status, AppointmentStatus::Requested | AppointmentStatus::Held);
        if !waits || self.occupies(now) {
            return None;
        }
        let mut next = self.clone();
        // A lapsed hold stays on the record: confirming it later says it lapsed, and the rep's mail says why.
        next.status = AppointmentStatus::Expired;
        next.version += 1;
        next.updated_at = now;
        Some(next)
    }

    /// Moves (new start and/or length). Only a booked or requested appointment can move; the new time
    /// must be future.
    pub fn moved(&self, clinic: &Clinic, change: MoveRequest, now: Timestamp) -> Result<Self, DomainError> {
        if !matches!(self.status, AppointmentStatus::Booked | AppointmentStatus::Requested) {
            return Err(DomainError::Cancelled { id: self.id.clone() });
        }
        if change.start.is_none() && change.duration_minutes.is_none() {
            return Err(DomainError::Invalid {
                field: "start",
                message: "a move needs \"start\" (YYYY-MM-DDTHH:MM) and/or \"duration_minutes\"".into(),
            });
        }
        let mut next = self.clone();
        if let Some(text) = change.start {
            let start = resolve_future(clinic, &text, now)?;
            next.start = start.instant;
            next.local_date = start.local_date;
            next.local_seconds = start.local_seconds;
        } else if self.start <= now {
            return Err(DomainError::InPast {
                local: format!("{} (its current start)", self.local_date),
                zone: clinic.timezone.clone(),
            });
        }
        if let Some(minutes) = change.duration_minutes {
            next.duration_minutes = check_duration("duration_minutes", minutes)?;
        }
        next.touch(now);
        Ok(next)
    }

    /// Cancels a booking or a request. Returns `None` when it holds no slot any more (cancelled,
    /// declined, expired): cancelling twice changes nothing.
    pub fn cancelled(&self, now: Timestamp) -> Option<Self> {
        if !matches!(
            self.status,
            AppointmentStatus::Booked | AppointmentStatus::Requested | AppointmentStatus::Held
        ) {
            return None;
        }
        let mut next = self.clone();
        next.status = AppointmentStatus::Cancelled;
        next.request_expires_at = None;
        next.hold = None;
        next.touch(now);
        Some(next)
    }

    fn touch(&mut self, now: Timestamp) {
        self.version += 1;
        self.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{NewClinic, find_overlap};

    fn clinic() -> Clinic {
        Clinic::create(
            "c1".into(),
            NewClinic {
                name: "A".into(),
                timezone: "Australia/Adelaide".into(),
                state: "SA".into(),
                appointment_duration_minutes: 20,
            },
            Timestamp::UNIX_EPOCH,
        )
        .unwrap()
    }

    fn book(start: &str, now: &str) -> Result<Appointment, DomainError> {
        let new = NewAppointment {
            practitioner_id: "p1".into(),
            rep: Rep {
                name: "Jane Citizen".into(),
                company: "Acme Pharma".into(),
                email: "jane@acme.test".into(),
                phone: None,
            },
            start: start.into(),
            duration_minutes: None,
            notes: String::new(),
        };
        Appointment::book(crate::domain::new_id(), &clinic(), new, now.parse().unwrap())
    }

    #[test]
    fn booking_uses_clinic_default_length_and_refuses_the_past() {
        let appt = book("2030-01-10T09:00", "2029-01-01T00:00:00Z").unwrap();
        assert_eq!(appt.duration_minutes, 20);
        assert_eq!(appt.local_seconds, 32_400);
        assert_eq!(
            book("2030-01-10T09:00", "2030-02-01T00:00:00Z").unwrap_err().code(),
            "start_in_past"
        );
    }

    #[test]
    fn overlap_is_a_conflict_and_touching_is_not() {
        let a = book("2030-01-10T09:00", "2029-01-01T00:00:00Z").unwrap();
        let b = book("2030-01-10T09:10", "2029-01-01T00:00:00Z").unwrap();
        let c = book("2030-01-10T09:20", "2029-01-01T00:00:00Z").unwrap();
        let now = Timestamp::UNIX_EPOCH;
        assert_eq!(
            find_overlap(&b, [&a], &clinic(), now).unwrap_err().code(),
            "overlapping_appointment"
        );
        assert!(find_overlap(&c, [&a], &clinic(), now).is_ok());
    }

    #[test]
    fn only_letting_a_slot_go_frees_time() {
        let now: Timestamp = "2029-01-01T00:00:00Z".parse().unwrap();
        let a = book("2030-01-10T09:00", "2029-01-01T00:00:00Z").unwrap();
        let cancelled = a.cancelled(now).unwrap();
        assert!(Appointment::frees_time(&a, &cancelled));
        let moved = a
            .moved(
                &clinic(),
                MoveRequest {
                    start: Some("2030-01-11T10:00".into()),
                    duration_minutes: None,
                },
                now,
            )
            .unwrap();
        assert!(Appointment::frees_time(&a, &moved));
        // The same place with a new manage link, or a new booking's confirmation: nothing freed.
        let mut relinked = a.clone();
        relinked.version += 1;
        assert!(!Appointment::frees_time(&a, &relinked));
        assert!(!Appointment::frees_time(&cancelled, &cancelled));
    }

    #[test]
    fn cancelled_cannot_move_and_moves_bump_the_version() {
        let now: Timestamp = "2029-01-01T00:00:00Z".parse().unwrap();
        let a = book("2030-01-10T09:00", "2029-01-01T00:00:00Z").unwrap();
        let moved = a
            .moved(
                &clinic(),
                MoveRequest {
                    start: Some("2030-01-11T10:00".into()),
                    duration_minutes: None,
                },
                now,
            )
            .unwrap();
        assert_eq!(moved.version, 2);
        assert_eq!(moved.local_date.to_string(), "2030-01-11");
        let cancelled = moved.cancelled(now).unwrap();
        assert!(cancelled.cancelled(now).is_none());
        let err = cancelled.moved(
            &clinic(),
            MoveRequest {
                start: Some("2030-01-12T10:00".into()),
                duration_minutes: None,
            },
            now,
        );
        assert_eq!(err.unwrap_err().code(), "appointment_cancelled");
    }
}
