//! Reps booking themselves: a claim of one open slot, the clinic's per-rep rules, and the booking made
//! through a link. Every claim of a slot (a booking, a swap, an approval) runs under the clinic's lock and
//! checks the slot is still open right then, so two reps can never both hold one slot; a booking reads its
//! clinic once and its clinic's appointments once, and every rule reads that one snapshot.
//!
//! Capabilities (booking links, manage links) are the only key on these paths: a wrong one and a revoked
//! or expired one are the same `LinkNotFound`, and nothing answered depends on other clinics' data. The
//! slots a link offers are `slots`, a manage link's swap and cancel `manage`, the mailed links `rep_links`.

use std::collections::HashMap;

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp, ToSpan};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};

use super::notices::Tell;
use super::slots::window_start;
use super::{App, AppError, with_whom};
use crate::domain::{
    Appointment, Clinic, DomainError, LinkBooking, LocalStart, ManageAccess, Placement, Rep, Slot, local_parts, new_id,
    parse_local_start, resolve_local_start_first,
};
use crate::domain::{MessageKind, email_domain, normalize_email};
use crate::notify::RepLinks;
use crate::store::{Change, TokenChange};

/// How far ahead a "next free slot" hint looks.
const NEXT_FREE_DAYS: i64 = 28;
/// A manage link works until this long after the visit.
pub(super) const MANAGE_AFTER_VISIT: SignedDuration = SignedDuration::from_hours(14 * 24);

/// A rep's booking, as the public form sends it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    /// Clinic-local `YYYY-MM-DDTHH:MM`, a slot's `local_start`.
    #[schema(pattern = "@local-start")]
    pub start: String,
    /// The slot's practitioner; `null` for a slot with the whole clinic.
    #[serde(default)]
    pub practitioner_id: Option<String>,
    pub rep: Rep,
}

pub use crate::domain::digest;

/// 256 bits from the operating system's secure generator, URL-safe.
pub fn new_capability() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| AppError::Random(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A rep's visit as the manage link shows it.
pub struct RepVisit {
    pub appointment: Appointment,
    pub clinic: Clinic,
    /// "Dr Ana Ng", or "the clinic".
    pub with: String,
}

/// A new (or newly confirmed) booking through a link, and the manage link's capability (shown once; only
/// its hash is kept). `None` while the rep's address is to be confirmed: the link comes by mail.
pub struct Booked {
    pub visit: RepVisit,
    pub manage_token: Option<String>,
}

impl App {
    /// The open slot at `wanted` with `practitioner`, checked now against `appointments` (the caller holds
    /// the clinic's lock), or a refusal that names the next free slot.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn claim(
        &self,
        clinic: &Clinic,
        categories: &[String],
        appointments: &[Appointment],
        wanted: &LocalStart,
        practitioner: Option<&str>,
        now: Timestamp,
        except: Option<&str>,
    ) -> Result<(Slot, HashMap<String, String>), AppError> {
        let day = wanted.local_date;
        let is_wanted = |s: &&Slot| s.start == wanted.instant && s.practitioner_id.as_deref() == practitioner;
        // The wanted day alone answers a booking; the weeks after it are read only to name the next free
        // time in a refusal (computing them for every booking cost most of its time under the clinic lock).
        let offer = self.open(clinic, categories, appointments, day, day, now, except)?;
        if let Some(slot) = offer.slots.iter().find(is_wanted) {
            return Ok((slot.clone(), offer.names));
        }
        let horizon = day.checked_add(NEXT_FREE_DAYS.days()).unwrap_or(day);
        let offer = self.open(clinic, categories, appointments, day, horizon, now, except)?;
        let open = &offer.slots;
        let with = |p: Option<&str>| match p {
            Some(id) => offer
                .names
                .get(id)
                .cloned()
                .unwrap_or_else(|| "that practitioner".into()),
            None => "the clinic".into(),
        };
        let asked = format!(
            "{}T{:02}:{:02}",
            wanted.local_date,
            wanted.local_seconds / 3600,
            wanted.local_seconds % 3600 / 60
        );
        let next = open
            .iter()
            .find(|s| s.start > wanted.instant && s.practitioner_id.as_deref() == practitioner)
            .or_else(|| open.iter().find(|s| s.start > wanted.instant));
        let message = match next {
            Some(slot) => format!(
                "{asked} with {} is not open any more; the next free time is {} with {} (book it with start \"{}\")",
                with(practitioner),
                slot.local_start().replace('T', " "),
                with(slot.practitioner_id.as_deref()),
                slot.local_start()
            ),
            None => format!(
                "{asked} with {} is not open any more, and nothing else is open in the {NEXT_FREE_DAYS} days after it",
                with(practitioner)
            ),
        };
        Err(DomainError::SlotTaken { message }.into())
    }

    /// The clinic's per-rep rules for a new booking by `rep` in `slot`, against `appointments` (at least
    /// every one from now and from the company window's start on).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn check_rules(
        &self,
        clinic: &Clinic,
        appointments: &[Appointment],
        rep: &Rep,
        start: Timestamp,
        practitioner_id: Option<&String>,
        now: Timestamp,
        except: Option<&str>,
    ) -> Result<(), AppError> {
        // A rep the clinic's no-show limit pauses books nothing new through its links (a swap is no new booking).
        if except.is_none() {
            self.refuse_paused_rep(clinic, &rep.email, now)?;
        }
        // Only confirmed bookings count toward a rep's limits: a hold for an unproven address does not.
        let others = || {
            appointments
                .iter()
                .filter(|a| Some(a.id.as_str()) != except && a.counts_for_rep(now))
        };
        let address = normalize_email(&rep.email);
        let mine = others()
            .filter(|a| a.start >= now && normalize_email(&a.rep.email) == address)
            .count();
        let allowed = clinic.booking.max_open_bookings_per_rep as usize;
        if except.is_none() && mine >= allowed {
            return Err(DomainError::BookingRule {
                code: "too_many_open_bookings",
                message: format!(
                    "you already hold {} at this clinic, its limit per rep; change or cancel one through the manage link you were given (or ask for your links again on the booking page)",
                    if mine == 1 { "1 upcoming visit".to_string() } else { format!("{mine} upcoming visits") }
                ),
            }
            .into());
        }
        if let (Some(weeks), Some(doctor)) = (clinic.booking.company_visit_interval_weeks, practitioner_id) {
            let window = SignedDuration::from_hours(weeks as i64 * 7 * 24);
            let (from, to) = (start - window, start + window);
            let company = self.company_of(rep);
            if others().any(|a| {
                a.start >= from
                    && a.start < to
                    && a.practitioner_id.as_ref() == Some(doctor)
                    && self.company_of(&a.rep) == company
            }) {
                // Says nothing of the other visit (who, which company, when): a refusal must not tell a
                // stranger who else is coming.
                return Err(DomainError::BookingRule {
                    code: "company_visited_recently",
                    message: format!(
                        "this clinic takes one visit per company per doctor every {weeks} weeks, and your company already has one with this doctor in that time; choose another doctor or a date further away"
                    ),
                }
                .into());
            }
        }
        Ok(())
    }

    /// A booking one of the clinic's rules refused, in the audit trail, where the Requests tab shows it: who
    /// asked for what, and which rule said no (the rep sees the same words, which name nobody else).
    pub(super) fn note_refusal(
        &self,
        clinic: &Clinic,
        rep: &Rep,
        start: Timestamp,
        names: &HashMap<String, String>,
        practitioner: Option<&str>,
        refused: &AppError,
    ) {
        let AppError::Domain(DomainError::BookingRule { code, message }) = refused else {
            return;
        };
        self.audit(crate::domain::AuditEntry {
            id: new_id(),
            at: self.now(),
            clinic_id: Some(clinic.id.clone()),
            actor: crate::domain::AuditActor::rep(),
            role: None,
            client: None,
            action: "booking refused".into(),
            outcome: code.to_string(),
            detail: format!(
                "{} ({}) asked for {} with {}: {message}",
                rep.name.trim(),
                rep.company.trim(),
                crate::notify::when(start, clinic),
                with_whom(names, practitioner)
            ),
            subject: None,
            rep: super::rep_digest(&rep.email),
        });
    }

    /// Who a rep is for the company rule: the domain of their address where addresses are confirmed by mail
    /// (it cannot be typed in by a rival), else the company name as typed.
    fn company_of(&self, rep: &Rep) -> String {
        if self.sends_mail() {
            email_domain(&rep.email)
        } else {
            rep.company.trim().to_lowercase()
        }
    }

    /// Every appointment a claim at `wanted` and the rules may look at: from the earliest of now, the
    /// day before the slot and the company window's start, on.
    pub(super) fn snapshot_for(
        &self,
        clinic: &Clinic,
        wanted: &LocalStart,
        now: Timestamp,
    ) -> Result<Vec<Appointment>, AppError> {
        let window = clinic
            .booking
            .company_visit_interval_weeks
            .map(|weeks| SignedDuration::from_hours(weeks as i64 * 7 * 24))
            .unwrap_or(SignedDuration::ZERO);
        let from = now
            .min(window_start(clinic, wanted.local_date, now))
            .min(wanted.instant - window);
        self.appointments_from(clinic, from, None)
    }

    /// A rep books a slot through a link.
    pub async fn book_through_link(&self, capability: &str, request: BookingRequest) -> Result<Booked, AppError> {
        let now = self.now();
        let clinic_id = self.live_link(capability)?.clinic_id;
        // With mail, the rep first proves the address (a confirmation link); without, the manage link at once.
        let confirm = self.sends_mail();
        let token = new_capability()?;
        let (appointment, clinic, names) = {
            let _guard = self.store.lock_clinic(&clinic_id).await;
            // Revoked meanwhile? Read again under the lock, with its clinic, once.
            let link = self.live_link(capability)?;
            let clinic = self.store.clinic(&link.clinic_id)?;
            let today = now.to_zoned_datetime(clinic.tz()).date();
            let taken = self.store.link_bookings_on(&link.id, today)?;
            if taken >= clinic.booking.link_daily_cap {
                return Err(AppError::LinkDailyCap(format!(
                    "this booking link has taken its {} bookings for today; try again tomorrow or call the clinic",
                    clinic.booking.link_daily_cap
                )));
            }
            let wanted = resolve_local_start_first(&clinic.timezone, &parse_local_start(&request.start)?)?;
            let appointments = self.snapshot_for(&clinic, &wanted, now)?;
            let practitioner = request.practitioner_id.as_deref();
            let (slot, names) = self.claim(
                &clinic,
                &link.categories,
                &appointments,
                &wanted,
                practitioner,
                now,
                None,
            )?;
            if let Err(refused) = self.check_rules(
                &clinic,
                &appointments,
                &request.rep,
                slot.start,
                slot.practitioner_id.as_ref(),
                now,
                None,
            ) {
                self.note_refusal(
                    &clinic,
                    &request.rep,
                    slot.start,
                    &names,
                    slot.practitioner_id.as_deref(),
                    &refused,
                );
                return Err(refused);
            }
            if !self.claim_delay.is_zero() {
                tokio::time::sleep(self.claim_delay).await;
            }
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
                manage: (!confirm).then(|| ManageAccess {
                    token_sha256: digest(&token),
                    expires_at: slot.end() + MANAGE_AFTER_VISIT,
                }),
            };
            let appointment = Appointment::book_through_link(new_id(), &clinic, booking, now)?;
            let token_digest = digest(&token);
            let (tokens, messages) = if confirm {
                let links = RepLinks {
                    confirm_token: Some(&token),
                    ..Default::default()
                };
                let tell = Tell::rep(MessageKind::ConfirmAddress);
                let messages = self.tell(&clinic, None, &appointment, tell, links)?;
                ([TokenChange::AddConfirm(&token_digest)], messages)
            } else {
                ([TokenChange::AddManage(&token_digest)], Vec::new())
            };
            self.store.write(Change {
                link_day: Some((&link.id, today)),
                tokens: &tokens,
                messages: &messages,
                ..Change::of(&appointment)
            })?;
            (appointment, clinic, names)
        };
        self.store.durable().await?;
        tracing::info!(clinic = %clinic.id, appointment = %appointment.id, status = ?appointment.status, "booked through a link");
        let with = with_whom(&names, appointment.practitioner_id.as_deref());
        Ok(Booked {
            visit: RepVisit {
                appointment,
                clinic,
                with,
            },
            manage_token: (!confirm).then_some(token),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use jiff::civil::Date;

    use super::*;
    use crate::clock::Clock;
    use crate::domain::{AppointmentStatus, BookingLink, NewBookingLink, PmsSyncState};
    use crate::domain::{NewClinic, NewPractitioner, NewPublishedTime, Practitioner, PublishedTime};
    use crate::store::Store;

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Arc<Store>,
        app: App,
        clock: Clock,
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
        store.put_practitioner(&doctor).unwrap();
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
            .put_link(&BookingLink::create("l1".into(), clinic.id.clone(), new_link, &capability, now).unwrap())
            .unwrap();
        // No connector is installed, so the diary cache has nothing to subtract: these tests are about requests.
        let runtime = crate::plugins::Runtime::from_config(dir.path(), &Default::default()).unwrap();
        let plugins = crate::plugins::Registry::open(runtime, store.clone()).await.unwrap();
        let availability = Arc::new(super::super::Availability::new(
            store.clone(),
            plugins.clone(),
            Default::default(),
        ));
        let sync = crate::sync::SyncEngine::new(store.clone(), plugins.clone(), Default::default());
        let clock = Clock::at(now);
        let app = App::new(
            store.clone(),
            plugins,
            sync,
            availability,
            clock.clone(),
            dir.path().to_path_buf(),
            Arc::new(
                crate::identity::Identity::new(None, "http://127.0.0.1", Default::default(), 1)
                    .await
                    .unwrap(),
            ),
        );
        Fixture {
            app,
            store,
            clock,
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

    async fn book(f: &Fixture, start: &str, email: &str, at: Timestamp) -> Appointment {
        f.clock.set(at);
        f.app
            .book_through_link(&f.link, request(f, start, email))
            .await
            .unwrap()
            .visit
            .appointment
    }

    // Monday 2027-03-01 09:00 Sydney.
    fn monday() -> Timestamp {
        "2027-02-28T22:00:00Z".parse().unwrap()
    }

    #[tokio::test]
    async fn an_unanswered_request_expires_frees_its_slot_and_can_no_longer_be_approved() {
        let now = monday();
        let f = fixture(now).await;
        let held = book(&f, "2027-03-10T12:00", "a@x.test", now).await;
        assert_eq!(held.status, AppointmentStatus::Requested);
        let wednesday: Date = "2027-03-10".parse().unwrap();
        let offered = |at| {
            f.clock.set(at);
            f.app
                .slots(&f.link, Some(wednesday), Some(wednesday))
                .unwrap()
                .1
                .slots
                .len()
        };
        assert_eq!(offered(now), 1, "12:15 only: the request holds 12:00");

        // 72 hours is the default expiry: a minute before, nothing happens; a minute after, it lets go.
        let expiry = held.request_expires_at.unwrap();
        assert_eq!(expiry, now + SignedDuration::from_hours(72));
        let before = expiry - SignedDuration::from_mins(1);
        f.clock.set(before);
        assert_eq!(f.app.expire_requests().await.unwrap(), 0);
        // The slot is free to others the moment the request has expired, housekeeping or not.
        let after = expiry + SignedDuration::from_mins(1);
        assert_eq!(offered(after), 2);
        let taken = book(&f, "2027-03-10T12:00", "b@x.test", after).await;
        assert_eq!(taken.status, AppointmentStatus::Requested);

        // Staff approving the stale request now must not put two visits in one slot.
        let refused = f.app.approve(&held.id).await.unwrap_err();
        assert!(refused.to_string().contains("expired"), "{refused}");
        assert_eq!(f.app.expire_requests().await.unwrap(), 1);
        assert_eq!(
            f.store.appointment(&held.id).unwrap().status,
            AppointmentStatus::Expired
        );
        let (_, approved) = f.app.approve(&taken.id).await.unwrap();
        assert_eq!(approved.appointment.status, AppointmentStatus::Booked);
        assert_eq!(
            f.store.outbox_len(),
            1,
            "only the approved booking is queued for the PMS"
        );
        assert_eq!(
            approved.pms.state,
            PmsSyncState::NotApplicable,
            "the clinic sends to no PMS"
        );
    }

    #[tokio::test]
    async fn a_request_never_waits_past_its_visit() {
        let now = monday();
        let f = fixture(now).await;
        let soon = book(&f, "2027-03-03T12:00", "a@x.test", now).await;
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
        let held = book(&f, "2027-03-03T12:15", "a@x.test", now).await;
        let (_, declined) = f.app.decline(&held.id).await.unwrap();
        assert_eq!(declined.appointment.status, AppointmentStatus::Declined);
        let again = book(&f, "2027-03-03T12:15", "b@x.test", now).await;
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
