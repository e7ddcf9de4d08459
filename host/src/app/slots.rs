//! What a booking link offers: the open slots in a range of clinic-local days, from the published times,
//! closed dates, the clinic's appointments and the doctors' PMS diaries (the cached view, never a call).

use std::borrow::Cow;
use std::collections::HashMap;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};

use super::{App, AppError};
use crate::domain::digest;
use crate::domain::{Appointment, BookingLink, Clinic, DomainError, OpenSlots, Slot, open_slots_counted};
use crate::store::AppointmentFilter;

/// The most days one slots request may span.
pub const MAX_DAYS: i64 = 62;

/// A date range for slots, defaulting to the next four weeks, at most `MAX_DAYS`.
pub fn slot_range(
    clinic: &Clinic,
    from: Option<Date>,
    to: Option<Date>,
    now: Timestamp,
) -> Result<(Date, Date), DomainError> {
    let today = now.to_zoned_datetime(clinic.tz()).date();
    let first = from.unwrap_or(today).max(today);
    let last = to.unwrap_or_else(|| first.checked_add(27.days()).unwrap_or(first));
    if last < first {
        return Err(DomainError::Invalid {
            field: "to",
            message: format!("to {last} is before from {first}"),
        });
    }
    if (last - first).get_days() as i64 >= MAX_DAYS {
        return Err(DomainError::Invalid {
            field: "to",
            message: format!("ask for at most {MAX_DAYS} days at a time"),
        });
    }
    Ok((first, last))
}

/// Open slots, and how far the PMS diaries they were checked against can be trusted.
pub struct Offer {
    pub slots: Vec<Slot>,
    /// Whether the clinic's connector reads diaries at all.
    pub pms_checked: bool,
    /// The oldest diary read the answer relies on (`None`: some day not read yet).
    pub checked_since: Option<Timestamp>,
    /// Every day's diary was read within its time to live.
    pub fresh: bool,
    /// The clinic's practitioners' display names, by id, for saying who each slot is with.
    pub names: HashMap<String, String>,
}

/// The first instant of a clinic-local day's slot computation window (a day early, for DST and long visits).
pub(super) fn window_start(clinic: &Clinic, first: Date, now: Timestamp) -> Timestamp {
    first
        .to_zoned_datetime(clinic.tz())
        .map(|z| z.timestamp())
        .unwrap_or(now)
        - SignedDuration::from_hours(24)
}

pub(super) fn window_end(clinic: &Clinic, last: Date, now: Timestamp) -> Timestamp {
    last.checked_add(2.days())
        .unwrap_or(last)
        .to_zoned_datetime(clinic.tz())
        .map(|z| z.timestamp())
        .unwrap_or(now)
}

impl App {
    /// A live link (not revoked), or the one answer for anything else.
    pub(super) fn live_link(&self, capability: &str) -> Result<BookingLink, AppError> {
        self.store
            .link_by_digest(&digest(capability))?
            .filter(|l| l.revoked_at.is_none())
            .ok_or(AppError::LinkNotFound)
    }

    /// A live link and its clinic.
    pub fn link(&self, capability: &str) -> Result<(BookingLink, Clinic), AppError> {
        let link = self.live_link(capability)?;
        let clinic = self.store.clinic(&link.clinic_id)?;
        Ok((link, clinic))
    }

    /// The open slots `categories` see in `[first, last]` given the clinic's `appointments` (any superset
    /// of those that start in the window), `except` one appointment (a swap frees its own slot), minus what
    /// the doctors' PMS diaries say is busy (from the cache: never a call to the PMS).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn open(
        &self,
        clinic: &Clinic,
        categories: &[String],
        appointments: &[Appointment],
        first: Date,
        last: Date,
        now: Timestamp,
        except: Option<&str>,
    ) -> Result<Offer, AppError> {
        let others: Cow<'_, [Appointment]> = match except {
            None => Cow::Borrowed(appointments),
            Some(id) => Cow::Owned(appointments.iter().filter(|a| a.id != id).cloned().collect()),
        };
        let busy = self.availability.busy(clinic, first, last, now);
        let (slots, removed) = open_slots_counted(&OpenSlots {
            clinic,
            times: &self.store.published_times(&clinic.id)?,
            closed: &self.store.closed_dates(&clinic.id)?,
            appointments: &others,
            categories,
            first,
            last,
            now,
            busy: &busy.by_practitioner,
        });
        self.availability.note_removed(&clinic.id, removed);
        Ok(Offer {
            slots,
            pms_checked: busy.applies,
            checked_since: busy.checked_since,
            fresh: busy.fresh,
            names: self.names(clinic)?,
        })
    }

    /// The clinic's appointments from `from` on (every one a rule may look at).
    pub(super) fn appointments_from(
        &self,
        clinic: &Clinic,
        from: Timestamp,
        to: Option<Timestamp>,
    ) -> Result<Vec<Appointment>, AppError> {
        let filter = AppointmentFilter {
            from: Some(from),
            to,
            ..Default::default()
        };
        Ok(self.store.appointments(&clinic.id, &filter)?)
    }

    /// What a link offers in `[first, last]` (clinic-local dates).
    pub fn slots(&self, capability: &str, from: Option<Date>, to: Option<Date>) -> Result<(Clinic, Offer), AppError> {
        let now = self.now();
        let (link, clinic) = self.link(capability)?;
        let (first, last) = slot_range(&clinic, from, to, now)?;
        let appointments = self.appointments_from(
            &clinic,
            window_start(&clinic, first, now),
            Some(window_end(&clinic, last, now)),
        )?;
        let offer = self.open(&clinic, &link.categories, &appointments, first, last, now, None)?;
        Ok((clinic, offer))
    }
}
