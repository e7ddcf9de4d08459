//! Staff bookings and the approval queue: book, list, move, cancel, approve, decline, resend, and letting
//! go of requests nobody decided on. Every change reads the appointment under its clinic's lock, lets the
//! domain decide the next state, checks the overlap rule where a slot is claimed, writes the appointment
//! with its outbox entry in one transaction and answers only once that is durable.

use jiff::Timestamp;
use jiff::civil::Date;

use super::notices::Tell;
use super::{App, AppError, with_whom};
use crate::domain::{
    Appointment, AppointmentStatus, Clinic, DomainError, LAST_DATE, MoveRequest, NewAppointment, PmsSyncStatus,
    find_overlap, new_id,
};
use crate::domain::{MessageKind, PmsRecord};
use crate::notify::RepLinks;
use crate::store::{AppointmentFilter, Change};
use crate::sync::Delivered;

/// Appointments per page when the query does not say, and the most it may ask for.
pub const DEFAULT_PAGE: u32 = 500;
pub const MAX_PAGE: u32 = 1000;

/// An appointment as people see it: with whom, and where it stands with the PMS now.
#[derive(Debug, Clone)]
pub struct Listed {
    pub appointment: Appointment,
    pub with: String,
    pub pms: PmsSyncStatus,
}

/// One page of a clinic's appointments, in start order.
pub struct Page {
    pub clinic: Clinic,
    pub appointments: Vec<Listed>,
    /// Present when there may be more: the cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Which appointments of a clinic to list (clinic-local dates, inclusive).
#[derive(Debug, Clone, Default)]
pub struct ListAppointments {
    /// Without it, from now on.
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub status: Option<AppointmentStatus>,
    pub cursor: Option<Cursor>,
    pub limit: Option<u32>,
}

/// Where a page ends: the last appointment of the page before, written `<start, unix seconds>.<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    start: Timestamp,
    id: String,
}

impl Cursor {
    /// A cursor this server gave out; `None` for anything else.
    pub fn parse(text: &str) -> Option<Cursor> {
        let (seconds, id) = text.split_once('.')?;
        let start = Timestamp::from_second(seconds.parse::<i64>().ok()?).ok()?;
        let plain = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric());
        plain.then(|| Cursor {
            start,
            id: id.to_string(),
        })
    }

    fn after(appointment: &Appointment) -> Cursor {
        Cursor {
            start: appointment.start,
            id: appointment.id.clone(),
        }
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.start.as_second(), self.id)
    }
}

/// The instant a clinic-local date starts (the first instant of that day, DST-safe).
fn start_of_day(clinic: &Clinic, date: Date) -> Result<Timestamp, DomainError> {
    date.to_zoned_datetime(clinic.tz())
        .map(|z| z.timestamp())
        .map_err(|e| DomainError::Invalid {
            field: "date",
            message: format!("date {date}: {e}"),
        })
}

impl App {
    /// The appointments with their doctors' names and where each stands with the PMS (one read of the
    /// staff and of the outbox for all).
    pub(super) fn listed(&self, clinic: &Clinic, appointments: Vec<Appointment>) -> Result<Vec<Listed>, AppError> {
        let names = self.names(clinic)?;
        let statuses = self.store.pms_statuses(&appointments, clinic.pms.is_active())?;
        Ok(appointments
            .into_iter()
            .zip(statuses)
            .map(|(appointment, pms)| Listed {
                with: with_whom(&names, appointment.practitioner_id.as_deref()),
                appointment,
                pms,
            })
            .collect())
    }

    fn one_listed(&self, clinic: &Clinic, appointment: Appointment) -> Result<Listed, AppError> {
        let mut listed = self.listed(clinic, vec![appointment])?;
        Ok(listed.remove(0))
    }

    /// An appointment as this request wrote it, queued for the PMS, from its record as read before the
    /// write: the answer never depends on whether the sync worker has already taken the new version.
    fn as_written(&self, clinic: &Clinic, appointment: Appointment, before: PmsRecord) -> Result<Listed, AppError> {
        let names = self.names(clinic)?;
        Ok(Listed {
            with: with_whom(&names, appointment.practitioner_id.as_deref()),
            pms: before.status_of(&appointment, true, clinic.pms.is_active()),
            appointment,
        })
    }

    pub fn list_appointments(&self, clinic_id: &str, query: ListAppointments) -> Result<Page, AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        let from = match query.from {
            Some(date) => start_of_day(&clinic, date)?,
            None => self.now(),
        };
        // The last date repbook takes is far from the end of jiff's range: its next day exists.
        let to = query
            .to
            .map(|date| start_of_day(&clinic, date.tomorrow().unwrap_or(LAST_DATE)))
            .transpose()?;
        if to.is_some_and(|to| to <= from) {
            return Err(DomainError::Invalid {
                field: "to",
                message: "to is before from; list from an earlier date or to a later one".into(),
            }
            .into());
        }
        let limit = query.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(DomainError::Invalid {
                field: "limit",
                message: format!("limit {limit} must be between 1 and {MAX_PAGE}"),
            }
            .into());
        }
        let filter = AppointmentFilter {
            from: Some(from),
            to,
            status: query.status,
            after: query.cursor.map(|c| (c.start, c.id)),
            limit: Some(limit as usize),
        };
        let appointments = self.store.appointments(&clinic.id, &filter)?;
        let next_cursor = (appointments.len() == limit as usize)
            .then(|| appointments.last().map(|a| Cursor::after(a).to_string()))
            .flatten();
        Ok(Page {
            appointments: self.listed(&clinic, appointments)?,
            clinic,
            next_cursor,
        })
    }

    pub fn appointment(&self, id: &str) -> Result<(Clinic, Listed), AppError> {
        let appointment = self.store.appointment(id)?;
        let clinic = self.store.clinic(&appointment.clinic_id)?;
        let listed = self.one_listed(&clinic, appointment)?;
        Ok((clinic, listed))
    }

    /// Staff book a visit with one of the clinic's doctors.
    pub async fn book(&self, clinic_id: &str, new: NewAppointment) -> Result<(Clinic, Listed), AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        if self.store.practitioner(&clinic.id, &new.practitioner_id).is_err() {
            return Err(DomainError::Invalid {
                field: "practitioner_id",
                message: format!(
                    "practitioner_id '{}' is not a practitioner of clinic {}; use the id of one of its staff",
                    new.practitioner_id, clinic.id
                ),
            }
            .into());
        }
        let now = self.now();
        let appointment = Appointment::book(new_id(), &clinic, new, now)?;
        {
            let _guard = self.store.lock_clinic(&clinic.id).await;
            self.check_overlap(&clinic, &appointment, now)?;
            let messages = self.tell(
                &clinic,
                None,
                &appointment,
                Tell::rep(MessageKind::Booked),
                RepLinks::default(),
            )?;
            let change = Change {
                messages: &messages,
                ..Change::of(&appointment)
            };
            self.store.write(change)?;
        }
        self.store.durable().await?;
        let listed = match appointment.outbox_op(None) {
            Some(_) => self.as_written(&clinic, appointment, PmsRecord::default())?,
            None => self.one_listed(&clinic, appointment)?,
        };
        Ok((clinic, listed))
    }

    pub async fn move_appointment(&self, id: &str, change: MoveRequest) -> Result<(Clinic, Listed), AppError> {
        let now = self.now();
        self.change(id, Tell::rep(MessageKind::Changed), |clinic, current| {
            let moved = current.moved(clinic, change, now)?;
            self.check_overlap(clinic, &moved, now)?;
            Ok(Some(moved))
        })
        .await
    }

    pub async fn cancel_appointment(&self, id: &str) -> Result<(Clinic, Listed), AppError> {
        let now = self.now();
        self.change(id, Tell::rep(MessageKind::Cancelled), |_, current| {
            Ok(current.cancelled(now))
        })
        .await
    }

    /// Staff approve a request: its slot is claimed again under the clinic's lock, so two requests can
    /// never both end up booked; the booking then goes to the PMS.
    pub async fn approve(&self, id: &str) -> Result<(Clinic, Listed), AppError> {
        let now = self.now();
        self.change(id, Tell::rep(MessageKind::Approved), |clinic, current| {
            let approved = current.approved(now)?;
            self.check_overlap(clinic, &approved, now)?;
            Ok(Some(approved))
        })
        .await
    }

    /// Staff decline a request: its slot is free again.
    pub async fn decline(&self, id: &str) -> Result<(Clinic, Listed), AppError> {
        let now = self.now();
        self.change(id, Tell::rep(MessageKind::Declined), |_, current| {
            Ok(Some(current.declined(now)?))
        })
        .await
    }

    /// Resend: the appointment goes to the PMS again now, looking first at what the PMS holds.
    pub async fn resend(&self, id: &str) -> Result<(Clinic, Listed, Option<Delivered>), AppError> {
        let (appointment, delivered) = self.sync.resend(id).await?;
        let clinic = self.store.clinic(&appointment.clinic_id)?;
        let listed = self.one_listed(&clinic, appointment)?;
        Ok((clinic, listed, delivered))
    }

    /// Marks the requests nobody decided on in time, and the holds nobody confirmed, as expired, in every
    /// clinic (their slots are free to book from the moment they expire anyway; this makes their state say
    /// so). The rep of a request hears of it; an unconfirmed address is not written to.
    pub async fn expire_requests(&self) -> Result<usize, AppError> {
        let now = self.now();
        let mut expired = 0;
        for clinic in self.store.clinics()? {
            let mut written = 0;
            {
                let _guard = self.store.lock_clinic(&clinic.id).await;
                let waiting = [AppointmentStatus::Requested, AppointmentStatus::Held].map(|status| AppointmentFilter {
                    status: Some(status),
                    ..Default::default()
                });
                for filter in &waiting {
                    for current in self.store.appointments(&clinic.id, filter)? {
                        let Some(next) = current.expired(now) else { continue };
                        let tell = match current.status {
                            AppointmentStatus::Requested => Tell::rep(MessageKind::Expired),
                            _ => Tell::nobody(),
                        };
                        let messages = self.tell(&clinic, Some(&current), &next, tell, RepLinks::default())?;
                        let change = Change {
                            messages: &messages,
                            ..Change::of(&next).after(&current)
                        };
                        self.store.write(change)?;
                        written += 1;
                    }
                }
            }
            if written > 0 {
                self.store.durable().await?;
            }
            expired += written;
        }
        Ok(expired)
    }

    /// Refuses `candidate` if it would overlap a slot held (booked, or requested and not expired) by the
    /// same practitioner, or for a whole-clinic visit by another whole-clinic visit. The caller holds the
    /// clinic's lock.
    pub(super) fn check_overlap(
        &self,
        clinic: &Clinic,
        candidate: &Appointment,
        now: Timestamp,
    ) -> Result<(), AppError> {
        let neighbours = self.store.neighbours(candidate)?;
        Ok(find_overlap(candidate, &neighbours, clinic, now)?)
    }

    /// Reads an appointment under its clinic's lock, lets `decide` choose its next state (`None`: no change),
    /// writes it with its outbox entry and the messages `tell` asks for, and waits until it is durable.
    pub(super) async fn change(
        &self,
        id: &str,
        tell: Tell,
        decide: impl FnOnce(&Clinic, &Appointment) -> Result<Option<Appointment>, AppError>,
    ) -> Result<(Clinic, Listed), AppError> {
        let clinic_id = self.store.appointment(id)?.clinic_id;
        let (clinic, next, before) = {
            let _guard = self.store.lock_clinic(&clinic_id).await;
            let clinic = self.store.clinic(&clinic_id)?;
            let current = self.store.appointment(id)?;
            match decide(&clinic, &current)? {
                None => (clinic, current, None),
                Some(next) => {
                    let queues = next.version != current.version && next.outbox_op(Some(&current)).is_some();
                    let before = queues.then(|| self.store.pms_record(id)).transpose()?;
                    let messages = self.tell(&clinic, Some(&current), &next, tell, RepLinks::default())?;
                    let change = Change {
                        messages: &messages,
                        ..Change::of(&next).after(&current)
                    };
                    self.store.write(change)?;
                    (clinic, next, before)
                }
            }
        };
        self.store.durable().await?;
        let listed = match before {
            Some(before) => self.as_written(&clinic, next, before)?,
            None => self.one_listed(&clinic, next)?,
        };
        Ok((clinic, listed))
    }
}
