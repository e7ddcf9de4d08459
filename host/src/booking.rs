//! Rep self-booking: what a booking link offers, a rep's booking, and the swap and cancel a manage link
//! allows. Every claim of a slot (booking, swap, and approval in the store) runs under the clinic's lock
//! and checks the slot is still open right then, so two reps can never both hold one slot.
//!
//! Capabilities (booking links, manage links) are the only key on these paths: a wrong one and a revoked
//! or expired one are the same `NotFound`, and nothing answered depends on other clinics' data.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::availability::Availability;
use crate::domain::{
    Appointment, AppointmentStatus, BookingLink, BookingSource, Clinic, DomainError, LinkBooking, ManageAccess,
    OpenSlots, Placement, Rep, Slot, local_parts, new_id, open_slots_counted, parse_local_start,
    resolve_local_start_first,
};
use crate::store::{AppointmentFilter, LinkBookingRecord, Store, StoreError};

/// The most days one slots request may span.
pub const MAX_DAYS: i64 = 62;
/// How far ahead a "next free slot" hint looks.
const NEXT_FREE_DAYS: i64 = 28;
/// A manage link works until this long after the visit.
const MANAGE_AFTER_VISIT: SignedDuration = SignedDuration::from_hours(14 * 24);

#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    /// No such link or manage token, or one that was revoked or has expired: always the same answer.
    #[error("this link is not valid (it may have been revoked or have expired); ask the clinic for a new one")]
    NotFound,
    #[error("{message}")]
    TooMany { message: String },
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<BookingError> for StoreError {
    fn from(error: BookingError) -> Self {
        match error {
            BookingError::Store(e) => e,
            BookingError::Domain(e) => StoreError::Domain(e),
            other => StoreError::Conflict {
                code: "booking_refused",
                message: other.to_string(),
            },
        }
    }
}

/// A rep's booking, as the public form sends it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    /// Clinic-local `YYYY-MM-DDTHH:MM`, a slot's `local_start`.
    pub start: String,
    /// The slot's practitioner; `null` for a slot with the whole clinic.
    #[serde(default)]
    pub practitioner_id: Option<String>,
    pub rep: Rep,
}

/// A swap to another open slot.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwapRequest {
    pub start: String,
    #[serde(default)]
    pub practitioner_id: Option<String>,
}

/// The SHA-256 of a capability, as stored: a leaked store does not give out manage links.
pub fn digest(capability: &str) -> String {
    format!("{:x}", Sha256::digest(capability.as_bytes()))
}

/// 256 bits from the operating system's secure generator, URL-safe.
pub fn new_capability() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| StoreError::Flush(format!("the operating system's random generator failed: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

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

pub struct Bookings {
    store: Arc<Store>,
    availability: Arc<Availability>,
    /// Tests only: how long a booking holds its claim before writing it, to make races deterministic.
    claim_delay: std::time::Duration,
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
}

impl Bookings {
    pub fn new(store: Arc<Store>, availability: Arc<Availability>) -> Bookings {
        Bookings {
            store,
            availability,
            claim_delay: std::time::Duration::ZERO,
        }
    }

    /// Widens the window between a booking's claim of its slot and its write (tests of the clinic lock).
    pub fn with_claim_delay(mut self, delay: std::time::Duration) -> Bookings {
        self.claim_delay = delay;
        self
    }

    /// A live link and its clinic.
    pub fn link(&self, capability: &str) -> Result<(BookingLink, Clinic), BookingError> {
        let link = self
            .store
            .link_by_capability(capability)?
            .filter(|l| l.revoked_at.is_none())
            .ok_or(BookingError::NotFound)?;
        let clinic = self.store.clinic(&link.clinic_id)?;
        Ok((link, clinic))
    }

    /// The open slots a link's categories see, `except` an appointment (a swap frees its own slot), minus
    /// what the doctors' PMS diaries say is busy (from the cache: never a call to the PMS).
    fn open(
        &self,
        clinic: &Clinic,
        categories: &[String],
        first: Date,
        last: Date,
        now: Timestamp,
        except: Option<&str>,
    ) -> Result<Offer, StoreError> {
        let tz = clinic.tz();
        let start = first
            .to_zoned_datetime(tz.clone())
            .map(|z| z.timestamp())
            .unwrap_or(now)
            - SignedDuration::from_hours(24);
        let end = last
            .checked_add(2.days())
            .unwrap_or(last)
            .to_zoned_datetime(tz)
            .map(|z| z.timestamp())
            .unwrap_or(now);
        let mut appointments = self.store.appointments(
            &clinic.id,
            &AppointmentFilter {
                from: Some(start),
                to: Some(end),
                status: None,
                ..Default::default()
            },
        )?;
        appointments.retain(|a| Some(a.id.as_str()) != except);
        let busy = self.availability.busy(clinic, first, last, now);
        let (slots, removed) = open_slots_counted(&OpenSlots {
            clinic,
            times: &self.store.published_times(&clinic.id)?,
            closed: &self.store.closed_dates(&clinic.id)?,
            appointments: &appointments,
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
        })
    }

    pub fn slots(
        &self,
        link: &BookingLink,
        clinic: &Clinic,
        first: Date,
        last: Date,
        now: Timestamp,
    ) -> Result<Offer, StoreError> {
        self.open(clinic, &link.categories, first, last, now, None)
    }

    /// Display names of the clinic's practitioners, by id.
    pub fn names(&self, clinic: &Clinic) -> Result<HashMap<String, String>, StoreError> {
        Ok(self
            .store
            .staff(&clinic.id)?
            .into_iter()
            .map(|p| (p.id.clone(), p.display_name()))
            .collect())
    }

    /// The open slot at `start` with `practitioner`, checked now (the caller holds the clinic's lock), or a
    /// refusal that names the next free slot.
    fn claim(
        &self,
        clinic: &Clinic,
        categories: &[String],
        start: &str,
        practitioner: Option<&str>,
        now: Timestamp,
        except: Option<&str>,
    ) -> Result<Slot, BookingError> {
        let wanted = resolve_local_start_first(&clinic.timezone, &parse_local_start(start)?)?;
        let day = wanted.local_date;
        let horizon = day.checked_add(NEXT_FREE_DAYS.days()).unwrap_or(day);
        let open = self.open(clinic, categories, day, horizon, now, except)?.slots;
        if let Some(slot) = open
            .iter()
            .find(|s| s.start == wanted.instant && s.practitioner_id.as_deref() == practitioner)
        {
            return Ok(slot.clone());
        }
        let names = self.names(clinic)?;
        let with = |p: Option<&str>| match p {
            Some(id) => names.get(id).cloned().unwrap_or_else(|| "that practitioner".into()),
            None => "the clinic".into(),
        };
        let next = open
            .iter()
            .find(|s| s.start > wanted.instant && s.practitioner_id.as_deref() == practitioner)
            .or_else(|| open.iter().find(|s| s.start > wanted.instant));
        let message = match next {
            Some(slot) => format!(
                "{start} with {} is not open any more; the next free time is {} with {} (book it with start \"{}\")",
                with(practitioner),
                slot.local_start().replace('T', " "),
                with(slot.practitioner_id.as_deref()),
                slot.local_start()
            ),
            None => format!(
                "{start} with {} is not open any more, and nothing else is open in the {NEXT_FREE_DAYS} days after it",
                with(practitioner)
            ),
        };
        Err(DomainError::SlotTaken { message }.into())
    }

    /// The clinic's per-rep rules for a new booking by `rep` in `slot`.
    fn check_rules(
        &self,
        clinic: &Clinic,
        rep: &Rep,
        slot: &Slot,
        now: Timestamp,
        except: Option<&str>,
    ) -> Result<(), BookingError> {
        let upcoming = self.store.appointments(
            &clinic.id,
            &AppointmentFilter {
                from: Some(now),
                to: None,
                status: None,
                ..Default::default()
            },
        )?;
        let mine = upcoming
            .iter()
            .filter(|a| {
                Some(a.id.as_str()) != except && a.occupies(now) && a.rep.email.eq_ignore_ascii_case(rep.email.trim())
            })
            .count();
        let allowed = clinic.booking.max_open_bookings_per_rep as usize;
        if except.is_none() && mine >= allowed {
            return Err(DomainError::BookingRule {
                code: "too_many_open_bookings",
                message: format!(
                    "you already hold {mine} upcoming visit(s) at this clinic, its limit per rep; change or cancel one through the manage link you were given"
                ),
            }
            .into());
        }
        if let (Some(weeks), Some(doctor)) = (clinic.booking.company_visit_interval_weeks, &slot.practitioner_id) {
            let window = SignedDuration::from_hours(weeks as i64 * 7 * 24);
            let recent = self.store.appointments(
                &clinic.id,
                &AppointmentFilter {
                    from: Some(slot.start - window),
                    to: Some(slot.start + window),
                    status: None,
                    ..Default::default()
                },
            )?;
            if let Some(other) = recent.iter().find(|a| {
                Some(a.id.as_str()) != except
                    && a.occupies(now)
                    && a.practitioner_id.as_ref() == Some(doctor)
                    && a.rep.company.trim().eq_ignore_ascii_case(rep.company.trim())
            }) {
                let when = local_parts(other.start, &clinic.tz()).local_date;
                return Err(DomainError::BookingRule {
                    code: "company_visited_recently",
                    message: format!(
                        "{} already has a visit with this doctor on {when}; this clinic takes one visit per company per doctor every {weeks} weeks",
                        rep.company.trim()
                    ),
                }
                .into());
            }
        }
        Ok(())
    }

    /// A rep books a slot through a link. Returns the appointment and the manage link's capability (shown
    /// once; only its hash is kept).
    pub async fn book(
        &self,
        capability: &str,
        request: BookingRequest,
        now: Timestamp,
    ) -> Result<(Appointment, String), BookingError> {
        let (link, clinic) = self.link(capability)?;
        let today = now.to_zoned_datetime(clinic.tz()).date();
        let manage = new_capability()?;
        let appointment = {
            let _guard = self.store.lock_clinic(&clinic.id).await;
            // Revoked meanwhile? Checked again under the lock.
            let (link, clinic) = self.link(capability)?;
            let taken = self.store.link_bookings_on(&link.id, today)?;
            if taken >= clinic.booking.link_daily_cap {
                return Err(BookingError::TooMany {
                    message: format!(
                        "this booking link has taken its {} bookings for today; try again tomorrow or call the clinic",
                        clinic.booking.link_daily_cap
                    ),
                });
            }
            let slot = self.claim(
                &clinic,
                &link.categories,
                &request.start,
                request.practitioner_id.as_deref(),
                now,
                None,
            )?;
            self.check_rules(&clinic, &request.rep, &slot, now, None)?;
            if !self.claim_delay.is_zero() {
                tokio::time::sleep(self.claim_delay).await;
            }
            let end = slot.end();
            let booking = LinkBooking {
                placement: Placement {
                    start: local_parts(slot.start, &clinic.tz()),
                    minutes: slot.minutes,
                    practitioner_id: slot.practitioner_id.clone(),
                },
                rep: request.rep,
                link_id: link.id.clone(),
                time_id: slot.time_id.clone(),
                approval_required: slot.approval_required,
                manage: ManageAccess {
                    token_sha256: digest(&manage),
                    expires_at: end + MANAGE_AFTER_VISIT,
                },
            };
            let appointment = Appointment::book_through_link(new_id(), &clinic, booking, now)?;
            let record = LinkBookingRecord {
                manage_token_sha256: &digest(&manage),
                link_id: &link.id,
                day: today,
            };
            self.store.write_change(&appointment, None, Some(record))?;
            appointment
        };
        self.store.durable().await?;
        tracing::info!(clinic = %link.clinic_id, appointment = %appointment.id, status = ?appointment.status, "booked through a link");
        Ok((appointment, manage))
    }

    /// The appointment a manage link opens, while it works.
    pub fn managed(&self, capability: &str, now: Timestamp) -> Result<(Appointment, Clinic), BookingError> {
        let appointment = self
            .store
            .appointment_by_manage_token(&digest(capability))?
            .filter(|a| a.manage.as_ref().is_some_and(|m| m.expires_at > now))
            .ok_or(BookingError::NotFound)?;
        let clinic = self.store.clinic(&appointment.clinic_id)?;
        Ok((appointment, clinic))
    }

    /// The categories of the link a managed booking came through (its swaps see what the link sees).
    pub fn categories_of(&self, appointment: &Appointment) -> Result<Vec<String>, StoreError> {
        match &appointment.source {
            BookingSource::Link { link_id } => Ok(self.store.link(&appointment.clinic_id, link_id)?.categories),
            BookingSource::Staff => Ok(vec![]),
        }
    }

    /// The open slots a managed booking could swap to.
    pub fn swap_slots(
        &self,
        appointment: &Appointment,
        clinic: &Clinic,
        first: Date,
        last: Date,
        now: Timestamp,
    ) -> Result<Offer, StoreError> {
        self.open(
            clinic,
            &self.categories_of(appointment)?,
            first,
            last,
            now,
            Some(&appointment.id),
        )
    }

    pub fn cutoff_passed(hours: u32, appointment: &Appointment, now: Timestamp) -> bool {
        appointment.start - SignedDuration::from_hours(hours as i64) <= now
    }

    /// The rep cancels, up to the clinic's cut-off.
    pub async fn cancel(&self, capability: &str, now: Timestamp) -> Result<Appointment, BookingError> {
        let (appointment, clinic) = self.managed(capability, now)?;
        let hours = clinic.booking.cancel_cutoff_hours;
        let id = appointment.id.clone();
        Ok(self
            .store
            .change_appointment(&clinic, &id, |current| {
                if matches!(current.status, AppointmentStatus::Booked | AppointmentStatus::Requested)
                    && Self::cutoff_passed(hours, current, now)
                {
                    return Err(DomainError::BookingRule {
                        code: "cancel_cutoff_passed",
                        message: format!("cancellations close {hours} hours before the visit; please call the clinic"),
                    }
                    .into());
                }
                Ok(current.cancelled(&clinic, now))
            })
            .await?)
    }

    /// The rep swaps to another open slot in one step: the old slot is let go only if the new one is taken.
    pub async fn swap(
        &self,
        capability: &str,
        request: SwapRequest,
        now: Timestamp,
    ) -> Result<Appointment, BookingError> {
        let (appointment, clinic) = self.managed(capability, now)?;
        let categories = self.categories_of(&appointment)?;
        let hours = clinic.booking.swap_cutoff_hours;
        let id = appointment.id.clone();
        let mut refused = None;
        let result = self
            .store
            .change_appointment(&clinic, &id, |current| {
                if Self::cutoff_passed(hours, current, now) {
                    return Err(DomainError::BookingRule {
                        code: "swap_cutoff_passed",
                        message: format!("changes close {hours} hours before the visit; please call the clinic"),
                    }
                    .into());
                }
                let slot = match self.claim(
                    &clinic,
                    &categories,
                    &request.start,
                    request.practitioner_id.as_deref(),
                    now,
                    Some(&current.id),
                ) {
                    Ok(slot) => slot,
                    Err(error) => {
                        refused = Some(error);
                        return Err(StoreError::Conflict {
                            code: "swap_refused",
                            message: String::new(),
                        });
                    }
                };
                if let Err(error) = self.check_rules(&clinic, &current.rep, &slot, now, Some(&current.id)) {
                    refused = Some(error);
                    return Err(StoreError::Conflict {
                        code: "swap_refused",
                        message: String::new(),
                    });
                }
                let placement = Placement {
                    start: local_parts(slot.start, &clinic.tz()),
                    minutes: slot.minutes,
                    practitioner_id: slot.practitioner_id.clone(),
                };
                let swapped = current.swapped(&clinic, placement, slot.time_id.clone(), slot.approval_required, now)?;
                self.store.check_overlap(&clinic, &swapped, now)?;
                Ok(Some(swapped))
            })
            .await;
        match (result, refused) {
            (_, Some(error)) => Err(error),
            (Ok(appointment), None) => Ok(appointment),
            (Err(error), None) => Err(error.into()),
        }
    }

    /// Lets go of the requests nobody decided on in time, in every clinic.
    pub async fn expire_requests(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut expired = 0;
        for clinic in self.store.clinics()? {
            expired += self.store.expire_requests(&clinic, now).await?;
        }
        Ok(expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{NewBookingLink, NewClinic, NewPractitioner, NewPublishedTime, Practitioner, PublishedTime};

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Arc<Store>,
        bookings: Bookings,
        clinic: Clinic,
        doctor: String,
        link: String,
    }

    /// A Sydney clinic with one doctor, an approval-required Wednesday 12:00-12:30 time and a link.
    async fn fixture(now: Timestamp) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let new_clinic = NewClinic {
            name: "Harbour GP".into(),
            timezone: "Australia/Sydney".into(),
            state: "NSW".into(),
            appointment_duration_minutes: 15,
        };
        let clinic = Clinic::create("c1".into(), new_clinic, now).unwrap();
        store.put_clinic(&clinic).unwrap();
        let new_doctor = NewPractitioner {
            title: "Dr".into(),
            first_name: "Ana".into(),
            last_name: "Ng".into(),
            ahpra: "MED0001234567".into(),
        };
        let doctor = Practitioner::create("p1".into(), clinic.id.clone(), new_doctor).unwrap();
        store.add_practitioner(&doctor).unwrap();
        let time = NewPublishedTime {
            weekday: "wed".into(),
            start: "12:00".into(),
            end: "12:30".into(),
            slot_minutes: None,
            practitioner_id: Some(doctor.id.clone()),
            categories: vec![],
            approval_required: true,
            from: None,
            until: None,
        };
        store
            .put_published_time(&PublishedTime::create("t1".into(), clinic.id.clone(), time, 15).unwrap())
            .unwrap();
        let capability = new_capability().unwrap();
        let new_link = NewBookingLink {
            label: "All reps".into(),
            categories: vec![],
        };
        store
            .put_link(&BookingLink::create("l1".into(), clinic.id.clone(), new_link, capability.clone(), now).unwrap())
            .unwrap();
        // No connector is installed, so the diary cache has nothing to subtract: these tests are about requests.
        let runtime = crate::plugins::Runtime::from_config(dir.path(), &Default::default()).unwrap();
        let plugins = crate::plugins::Registry::open(runtime, store.clone()).await.unwrap();
        let availability = Arc::new(Availability::new(store.clone(), plugins, Default::default()));
        Fixture {
            bookings: Bookings::new(store.clone(), availability),
            store,
            clinic,
            doctor: doctor.id,
            link: capability,
            _dir: dir,
        }
    }

    fn request(f: &Fixture, start: &str, email: &str) -> BookingRequest {
        BookingRequest {
            start: start.into(),
            practitioner_id: Some(f.doctor.clone()),
            rep: Rep {
                name: "Rep".into(),
                company: email.into(),
                email: email.into(),
                phone: None,
            },
        }
    }

    // Monday 2027-03-01 09:00 Sydney.
    fn monday() -> Timestamp {
        "2027-02-28T22:00:00Z".parse().unwrap()
    }

    #[tokio::test]
    async fn an_unanswered_request_expires_frees_its_slot_and_can_no_longer_be_approved() {
        let now = monday();
        let f = fixture(now).await;
        let (held, _) = f
            .bookings
            .book(&f.link, request(&f, "2027-03-10T12:00", "a@x.test"), now)
            .await
            .unwrap();
        assert_eq!(held.status, AppointmentStatus::Requested);
        let wednesday: Date = "2027-03-10".parse().unwrap();
        let (link, _) = f.bookings.link(&f.link).unwrap();
        let offered = |at| {
            f.bookings
                .slots(&link, &f.clinic, wednesday, wednesday, at)
                .unwrap()
                .slots
                .len()
        };
        assert_eq!(offered(now), 1, "12:15 only: the request holds 12:00");

        // 72 hours is the default expiry: a minute before, nothing happens; a minute after, it lets go.
        let expiry = held.request_expires_at.unwrap();
        assert_eq!(expiry, now + SignedDuration::from_hours(72));
        let before = expiry - SignedDuration::from_mins(1);
        assert_eq!(f.bookings.expire_requests(before).await.unwrap(), 0);
        // The slot is free to others the moment the request has expired, housekeeping or not.
        let after = expiry + SignedDuration::from_mins(1);
        assert_eq!(offered(after), 2);
        let (taken, _) = f
            .bookings
            .book(&f.link, request(&f, "2027-03-10T12:00", "b@x.test"), after)
            .await
            .unwrap();
        assert_eq!(taken.status, AppointmentStatus::Requested);

        // Staff approving the stale request now must not put two visits in one slot.
        let refused = f.store.approve_request(&f.clinic, &held.id, after).await.unwrap_err();
        assert!(refused.to_string().contains("expired"), "{refused}");
        assert_eq!(f.bookings.expire_requests(after).await.unwrap(), 1);
        assert_eq!(
            f.store.appointment(&held.id).unwrap().status,
            AppointmentStatus::Expired
        );
        let approved = f.store.approve_request(&f.clinic, &taken.id, after).await.unwrap();
        assert_eq!(approved.status, AppointmentStatus::Booked);
        assert_eq!(
            f.store.outbox_len(),
            1,
            "only the approved booking is queued for the PMS"
        );
    }

    #[tokio::test]
    async fn a_request_never_waits_past_its_visit() {
        let now = monday();
        let f = fixture(now).await;
        let (soon, _) = f
            .bookings
            .book(&f.link, request(&f, "2027-03-03T12:00", "a@x.test"), now)
            .await
            .unwrap();
        let visit: Timestamp = "2027-03-03T01:00:00Z".parse().unwrap();
        assert_eq!(soon.start, visit);
        assert_eq!(
            soon.request_expires_at,
            Some(visit),
            "72 hours would be after the visit"
        );
    }

    #[tokio::test]
    async fn a_declined_request_frees_its_slot_at_once() {
        let now = monday();
        let f = fixture(now).await;
        let (held, _) = f
            .bookings
            .book(&f.link, request(&f, "2027-03-03T12:15", "a@x.test"), now)
            .await
            .unwrap();
        let declined = f.store.decline_request(&f.clinic, &held.id, now).await.unwrap();
        assert_eq!(declined.status, AppointmentStatus::Declined);
        let (again, _) = f
            .bookings
            .book(&f.link, request(&f, "2027-03-03T12:15", "b@x.test"), now)
            .await
            .unwrap();
        assert_eq!(again.status, AppointmentStatus::Requested);
        assert_eq!(f.store.outbox_len(), 0, "requests and declines never go to the PMS");
    }

    #[test]
    fn capabilities_are_256_random_bits_and_never_repeat() {
        let tokens: std::collections::HashSet<String> = (0..1000).map(|_| new_capability().unwrap()).collect();
        assert_eq!(tokens.len(), 1000);
        for token in &tokens {
            assert_eq!(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(token)
                    .unwrap()
                    .len(),
                32
            );
        }
    }
}
