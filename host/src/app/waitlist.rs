//! The waitlist's workflows: a rep joins (their address confirmed by mail, as for a booking), sees or
//! leaves their place, the clinic lists and removes entries, and the offer sweep gives every freed time
//! to the reps waiting for it, in turn (held for the longest-waiting one, then the next) or to all at once
//! (first to claim wins); claiming is the same race-safe claim and the same rules as a booking.
//!
//! The sweep runs for a clinic whenever its free times may have changed (any visit written, times
//! published, a closed date lifted: `Store::waitlist_changed`) and on a timer for holds that lapse. Each
//! (entry, time) pair is offered once: an offer record is the proof.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp, ToSpan};

use super::booking::MANAGE_AFTER_VISIT;
use super::notices::Tell;
use super::{App, AppError, Booked, digest, new_capability, with_whom};
use crate::domain::{
    Appointment, AppointmentStatus, BookingLink, Clinic, DomainError, EntryStatus, EntryView, EventKind, LinkBooking,
    ManageAccess, MessageKind, OfferPolicy, OfferState, OfferView, OutgoingMessage, Placement, Slot, WaitlistEntry,
    WaitlistOffer, WaitlistRequest, WebhookEvent, event_id, in_turn, local_parts, new_id, normalize_email,
};
use crate::notify::RepLinks;
use crate::store::{Change, WaitlistRecord, WaitlistWrite};

/// What joining answers: the entry as it stands (waiting for the address to be confirmed).
pub struct Joined {
    pub entry: EntryView,
}

/// An offer and its clinic, for the booking page.
pub struct OfferSeen {
    pub offer: OfferView,
    pub clinic: Clinic,
}

/// A clinic's waitlist for the admin page.
pub struct WaitlistView {
    pub entries: Vec<EntryView>,
    pub offers: Vec<OfferView>,
}

/// "any doctor" or the practitioner's name.
fn wanted_with(names: &HashMap<String, String>, practitioner_id: Option<&str>) -> String {
    match practitioner_id {
        None => "any doctor".into(),
        Some(id) => names
            .get(id)
            .cloned()
            .unwrap_or_else(|| "a doctor no longer listed".into()),
    }
}

impl App {
    fn entry_view(&self, clinic: &Clinic, names: &HashMap<String, String>, entry: &WaitlistEntry) -> EntryView {
        EntryView::of(
            entry,
            wanted_with(names, entry.practitioner_id.as_deref()),
            &clinic.tz(),
        )
    }

    fn offer_view(&self, clinic: &Clinic, names: &HashMap<String, String>, offer: &WaitlistOffer) -> OfferView {
        OfferView::of(offer, with_whom(names, offer.practitioner_id.as_deref()), &clinic.tz())
    }

    /// The entry a capability from a waitlist mail names: the entry's own (the join mail's), or an offer's
    /// (every offer mail can leave the list too).
    fn entry_by_token(&self, token: &str) -> Result<WaitlistEntry, AppError> {
        match self.store.waitlist_by_token(&digest(token))? {
            Some(WaitlistRecord::Entry(entry)) => Ok(entry),
            Some(WaitlistRecord::Offer(offer)) => Ok(self.store.waitlist_entry(&offer.clinic_id, &offer.entry_id)?),
            None => Err(AppError::LinkNotFound),
        }
    }

    fn offer_by_token(&self, token: &str) -> Result<WaitlistOffer, AppError> {
        match self.store.waitlist_by_token(&digest(token))? {
            Some(WaitlistRecord::Offer(offer)) => Ok(offer),
            _ => Err(AppError::LinkNotFound),
        }
    }

    /// The live link an entry joined through (offers and claims stop when the clinic revokes it).
    fn entry_link(&self, entry: &WaitlistEntry) -> Result<BookingLink, AppError> {
        self.store
            .link(&entry.clinic_id, &entry.link_id)
            .ok()
            .filter(|l| l.revoked_at.is_none())
            .ok_or(AppError::LinkNotFound)
    }

    /// A rep asks to be told of freed times. Refused where a matching time is open now (book it), and
    /// where the server sends no mail (offers come by mail). A rep already on the list is replaced.
    pub async fn join_waitlist(&self, capability: &str, request: WaitlistRequest) -> Result<Joined, AppError> {
        let now = self.now();
        let link = self.live_link(capability)?;
        if !self.sends_mail() {
            return Err(AppError::conflict(
                "mail_not_configured",
                "this booking service sends no email, so it cannot tell you of freed times; please call the clinic",
            ));
        }
        let rep = request.rep.clone().validated()?;
        if rep.email.is_empty() {
            return Err(DomainError::Invalid {
                field: "rep.email",
                message: "give your email address: freed times are offered by email".into(),
            }
            .into());
        }
        let token = new_capability()?;
        let _guard = self.store.lock_clinic(&link.clinic_id).await;
        let link = self.live_link(capability)?;
        let clinic = self.store.clinic(&link.clinic_id)?;
        let today = now.to_zoned_datetime(clinic.tz()).date();
        let last_day = today
            .checked_add((clinic.booking.booking_horizon_days as i64).days())
            .unwrap_or(today);
        let (weekdays, until) = request.validated(today, last_day)?;
        let names = self.names(&clinic)?;
        if let Some(id) = &request.practitioner_id
            && !names.contains_key(id)
        {
            return Err(DomainError::Invalid {
                field: "practitioner_id",
                message: format!("no doctor at this clinic has the id '{id}'; choose one from the list, or any doctor"),
            }
            .into());
        }
        let entry = WaitlistEntry {
            id: new_id(),
            clinic_id: clinic.id.clone(),
            link_id: link.id.clone(),
            categories: link.categories.clone(),
            rep,
            practitioner_id: request.practitioner_id.clone(),
            weekdays,
            until,
            status: EntryStatus::Unconfirmed,
            token_sha256: digest(&token),
            created_at: now,
            waiting_since: None,
            ended_at: None,
        };
        // Nothing to wait for when a time that suits is open now.
        let appointments = self.appointments_from(&clinic, now - SignedDuration::from_hours(24), None)?;
        let open = self.open(&clinic, &link.categories, &appointments, today, until, now, None)?;
        let waiting_view = WaitlistEntry {
            status: EntryStatus::Waiting,
            ..entry.clone()
        };
        let matching: Vec<&Slot> = open.slots.iter().filter(|s| waiting_view.wants(s)).collect();
        if let Some(first) = matching.first() {
            return Err(AppError::conflict(
                "times_open",
                format!(
                    "{} that suit{} you {} open now (the first: {} with {}); book one on this page instead of waiting",
                    if matching.len() == 1 {
                        "1 time".to_string()
                    } else {
                        format!("{} times", matching.len())
                    },
                    if matching.len() == 1 { "s" } else { "" },
                    if matching.len() == 1 { "is" } else { "are" },
                    crate::notify::when(first.start, &clinic),
                    with_whom(&names, first.practitioner_id.as_deref())
                ),
            ));
        }
        let address = normalize_email(&entry.rep.email);
        let replaced: Vec<WaitlistEntry> = self
            .store
            .waitlist_entries(&clinic.id)?
            .into_iter()
            .filter(|e| {
                matches!(e.status, EntryStatus::Waiting | EntryStatus::Unconfirmed)
                    && normalize_email(&e.rep.email) == address
            })
            .map(|e| e.ended(EntryStatus::Left, now))
            .collect();
        let with = wanted_with(&names, entry.practitioner_id.as_deref());
        let messages: Vec<OutgoingMessage> = self
            .composer(&clinic)
            .and_then(|composer| composer.waitlist_confirm(&entry, &with, &token))
            .into_iter()
            .collect();
        let mut writes: Vec<WaitlistWrite<'_>> = replaced.iter().map(WaitlistWrite::Entry).collect();
        writes.push(WaitlistWrite::Entry(&entry));
        self.store.write_waitlist(&writes, &messages, &[])?;
        drop(_guard);
        self.store.durable().await?;
        tracing::info!(clinic = %clinic.id, entry = %entry.id, "joined the waitlist (to confirm)");
        Ok(Joined {
            entry: self.entry_view(&clinic, &names, &entry),
        })
    }

    /// The entry a waitlist mail's link names.
    pub fn waitlist_entry(&self, token: &str) -> Result<(EntryView, Clinic), AppError> {
        let entry = self.entry_by_token(token)?;
        let clinic = self.store.clinic(&entry.clinic_id)?;
        let names = self.names(&clinic)?;
        Ok((self.entry_view(&clinic, &names, &entry), clinic))
    }

    /// The rep confirmed the address: the entry waits from now on (its turn counts from now).
    pub async fn confirm_waitlist(&self, token: &str) -> Result<EntryView, AppError> {
        let now = self.now();
        let clinic_id = self.entry_by_token(token)?.clinic_id;
        let (entry, clinic) = {
            let _guard = self.store.lock_clinic(&clinic_id).await;
            let clinic = self.store.clinic(&clinic_id)?;
            let mut entry = self.entry_by_token(token)?;
            match entry.status {
                EntryStatus::Unconfirmed => {
                    entry.status = EntryStatus::Waiting;
                    entry.waiting_since = Some(now);
                    self.store.write_waitlist(&[WaitlistWrite::Entry(&entry)], &[], &[])?;
                }
                EntryStatus::Waiting => {}
                _ => {
                    return Err(AppError::conflict(
                        "waitlist_ended",
                        "this place on the waitlist has ended (you left, booked, it passed its end date, or the clinic removed it); join again from the booking page",
                    ));
                }
            }
            (entry, clinic)
        };
        self.store.durable().await?;
        let names = self.names(&clinic)?;
        Ok(self.entry_view(&clinic, &names, &entry))
    }

    /// The rep leaves (or the clinic removes the entry): no more offers; a time held for them is let go.
    async fn end_entry(&self, clinic_id: &str, entry_id: &str, status: EntryStatus) -> Result<EntryView, AppError> {
        let now = self.now();
        let (clinic, entry) = {
            let _guard = self.store.lock_clinic(clinic_id).await;
            let clinic = self.store.clinic(clinic_id)?;
            let entry = self.store.waitlist_entry(clinic_id, entry_id)?;
            if !matches!(entry.status, EntryStatus::Waiting | EntryStatus::Unconfirmed) {
                let names = self.names(&clinic)?;
                return Ok(self.entry_view(&clinic, &names, &entry));
            }
            let ended = entry.ended(status, now);
            let offers: Vec<WaitlistOffer> = self
                .store
                .waitlist_offers(clinic_id)?
                .into_iter()
                .filter(|o| o.entry_id == entry.id && o.state == OfferState::Open)
                .map(|o| o.ended(OfferState::Passed, now))
                .collect();
            let mut held = Vec::new();
            for offer in &offers {
                if let Some(id) = &offer.held_appointment {
                    let current = self.store.appointment(id)?;
                    if let Some(next) = current.cancelled(now) {
                        held.push((current, next));
                    }
                }
            }
            let mut writes: Vec<WaitlistWrite<'_>> = offers.iter().map(WaitlistWrite::Offer).collect();
            writes.push(WaitlistWrite::Entry(&ended));
            if held.is_empty() {
                self.store.write_waitlist(&writes, &[], &[])?;
            } else {
                let changes = held
                    .iter()
                    .enumerate()
                    .map(|(n, (current, next))| Change {
                        waitlist: if n == 0 { &writes } else { &[] },
                        ..Change::of(next).after(current)
                    })
                    .collect();
                self.store.write_all(changes)?;
            }
            (clinic, ended)
        };
        self.store.durable().await?;
        let names = self.names(&clinic)?;
        Ok(self.entry_view(&clinic, &names, &entry))
    }

    pub async fn leave_waitlist(&self, token: &str) -> Result<EntryView, AppError> {
        let entry = self.entry_by_token(token)?;
        self.end_entry(&entry.clinic_id, &entry.id, EntryStatus::Left).await
    }

    pub async fn remove_waitlist_entry(&self, clinic_id: &str, entry_id: &str) -> Result<EntryView, AppError> {
        self.end_entry(clinic_id, entry_id, EntryStatus::Removed).await
    }

    /// A clinic's waitlist: entries (waiting first, then the rest, newest first) and offers (newest first).
    pub fn waitlist(&self, clinic_id: &str) -> Result<WaitlistView, AppError> {
        let clinic = self.store.clinic(clinic_id)?;
        let names = self.names(&clinic)?;
        let mut entries = self.store.waitlist_entries(clinic_id)?;
        entries.sort_by(|a, b| {
            (a.status != EntryStatus::Waiting, std::cmp::Reverse(&a.id))
                .cmp(&(b.status != EntryStatus::Waiting, std::cmp::Reverse(&b.id)))
        });
        let mut offers = self.store.waitlist_offers(clinic_id)?;
        offers.reverse();
        Ok(WaitlistView {
            entries: entries.iter().map(|e| self.entry_view(&clinic, &names, e)).collect(),
            offers: offers.iter().map(|o| self.offer_view(&clinic, &names, o)).collect(),
        })
    }

    /// The offer a waitlist mail's claim link names.
    pub fn waitlist_offer(&self, token: &str) -> Result<OfferSeen, AppError> {
        let offer = self.offer_by_token(token)?;
        let clinic = self.store.clinic(&offer.clinic_id)?;
        let names = self.names(&clinic)?;
        Ok(OfferSeen {
            offer: self.offer_view(&clinic, &names, &offer),
            clinic,
        })
    }

    fn waitlist_event(
        &self,
        kind: EventKind,
        clinic: &Clinic,
        names: &HashMap<String, String>,
        entry: &WaitlistEntry,
        offer: &WaitlistOffer,
        appointment: Option<&Appointment>,
    ) -> WebhookEvent {
        WebhookEvent {
            appointment: appointment.cloned(),
            detail: Some(serde_json::json!({
                "entry": self.entry_view(clinic, names, entry),
                "offer": self.offer_view(clinic, names, offer),
            })),
            ..WebhookEvent::new(event_id(), kind, &clinic.id, self.now())
        }
    }

    /// A rep claims an offered time: in turn, the time held for them becomes their booking; to all, the
    /// time is claimed as any booking is (race-safe under the clinic's lock), and the others who were
    /// offered it hear it has gone. The clinic's rules are checked now, as for any booking.
    pub async fn claim_offer(&self, token: &str) -> Result<Booked, AppError> {
        let now = self.now();
        let clinic_id = self.offer_by_token(token)?.clinic_id;
        let manage = new_capability()?;
        let manage_digest = digest(&manage);
        let (appointment, clinic) = {
            let _guard = self.store.lock_clinic(&clinic_id).await;
            let clinic = self.store.clinic(&clinic_id)?;
            let names = self.names(&clinic)?;
            let offer = self.offer_by_token(token)?;
            let entry = self.store.waitlist_entry(&clinic.id, &offer.entry_id)?;
            let link = self.entry_link(&entry)?;
            match offer.state {
                OfferState::Open => {}
                OfferState::Claimed => {
                    return Err(AppError::conflict(
                        "offer_claimed",
                        "you claimed this time already; the email that confirmed it has your visit's link",
                    ));
                }
                OfferState::Passed => {
                    return Err(AppError::conflict(
                        "offer_passed",
                        "this time was held for you for a while and has passed to the next rep on the waitlist; you hear of the next time that suits you",
                    ));
                }
                OfferState::Gone => {
                    return Err(AppError::conflict(
                        "offer_gone",
                        "another rep took this time first; you stay on the waitlist and hear of the next time that suits you",
                    ));
                }
            }
            if entry.status != EntryStatus::Waiting {
                return Err(AppError::conflict(
                    "waitlist_ended",
                    "your place on the waitlist has ended, so its offers have too; book on the booking page",
                ));
            }
            let today = now.to_zoned_datetime(clinic.tz()).date();
            let taken = self.store.link_bookings_on(&link.id, today)?;
            if taken >= clinic.booking.link_daily_cap {
                return Err(AppError::LinkDailyCap(format!(
                    "this booking link has taken its {} bookings for today; try again tomorrow or call the clinic",
                    clinic.booking.link_daily_cap
                )));
            }
            let wanted = local_parts(offer.start, &clinic.tz());
            let appointments = self.snapshot_for(&clinic, &wanted, now)?;
            let access = ManageAccess {
                token_sha256: manage_digest.clone(),
                expires_at: offer.start + SignedDuration::from_mins(offer.minutes as i64) + MANAGE_AFTER_VISIT,
            };
            let (previous, next) = match &offer.held_appointment {
                Some(held_id) => {
                    let held = self.store.appointment(held_id)?;
                    if !(held.status == AppointmentStatus::Held && held.occupies(now)) {
                        return Err(AppError::conflict(
                            "offer_passed",
                            "this time was held for you for a while and has passed to the next rep on the waitlist; you hear of the next time that suits you",
                        ));
                    }
                    let next = held.confirmed(&clinic, access, now)?;
                    (Some(held), next)
                }
                None => {
                    let claimed = self.claim(
                        &clinic,
                        &entry.categories,
                        &appointments,
                        &wanted,
                        offer.practitioner_id.as_deref(),
                        now,
                        None,
                    );
                    let slot = match claimed {
                        Ok((slot, _)) => slot,
                        Err(AppError::Domain(DomainError::SlotTaken { .. })) => {
                            return Err(AppError::conflict(
                                "offer_gone",
                                "another rep took this time first; you stay on the waitlist and hear of the next time that suits you",
                            ));
                        }
                        Err(other) => return Err(other),
                    };
                    let booking = LinkBooking {
                        placement: Placement {
                            start: wanted,
                            minutes: slot.minutes,
                            practitioner_id: slot.practitioner_id.clone(),
                        },
                        rep: entry.rep.clone(),
                        link_id: link.id.clone(),
                        time_id: slot.time_id.clone(),
                        approval_required: slot.approval_required,
                        manage: Some(access),
                    };
                    (None, Appointment::book_through_link(new_id(), &clinic, booking, now)?)
                }
            };
            if let Err(refused) = self.check_rules(
                &clinic,
                &appointments,
                &entry.rep,
                next.start,
                next.practitioner_id.as_ref(),
                now,
                // A hold never counts toward the rep's limits, so nothing is left out: the claim is a new
                // booking for every rule, the cap on open visits included.
                None,
            ) {
                self.note_refusal(
                    &clinic,
                    &entry.rep,
                    next.start,
                    &names,
                    next.practitioner_id.as_deref(),
                    &refused,
                );
                return Err(refused);
            }
            let claimed = WaitlistOffer {
                appointment_id: Some(next.id.clone()),
                ..offer.ended(OfferState::Claimed, now)
            };
            let satisfied = entry.ended(EntryStatus::Satisfied, now);
            // To all: the others offered this time hear it has gone.
            let gone: Vec<(WaitlistOffer, WaitlistEntry, String)> = if offer.held_appointment.is_none() {
                self.store
                    .waitlist_offers(&clinic.id)?
                    .into_iter()
                    .filter(|o| o.id != offer.id && o.state == OfferState::Open && o.start == offer.start)
                    .filter(|o| o.practitioner_id == offer.practitioner_id)
                    .filter_map(|o| {
                        let entry = self.store.waitlist_entry(&clinic.id, &o.entry_id).ok()?;
                        Some((o.ended(OfferState::Gone, now), entry))
                    })
                    .map(|(o, e)| Ok((o, e, new_capability()?)))
                    .collect::<Result<_, AppError>>()?
            } else {
                Vec::new()
            };
            let tell = match next.status {
                AppointmentStatus::Requested => Tell::both(MessageKind::RequestReceived, MessageKind::RequestWaiting),
                _ => Tell::rep(MessageKind::Booked),
            };
            let links = RepLinks {
                manage_token: Some(&manage),
                ..Default::default()
            };
            let mut messages = self.tell(&clinic, previous.as_ref(), &next, tell, links)?;
            if let Some(composer) = self.composer(&clinic) {
                let with = with_whom(&names, offer.practitioner_id.as_deref());
                for (other, entry, leave) in &gone {
                    messages.extend(composer.waitlist_gone(entry, other, &with, leave));
                }
            }
            let events = [self.waitlist_event(
                EventKind::WaitlistClaimed,
                &clinic,
                &names,
                &satisfied,
                &claimed,
                Some(&next),
            )];
            let mut writes = vec![WaitlistWrite::Offer(&claimed), WaitlistWrite::Entry(&satisfied)];
            let leave_digests: Vec<String> = gone.iter().map(|(_, _, leave)| digest(leave)).collect();
            for ((o, e, _), leave) in gone.iter().zip(&leave_digests) {
                writes.push(WaitlistWrite::Offer(o));
                writes.push(WaitlistWrite::EntryToken(leave, e));
            }
            let tokens = [crate::store::TokenChange::AddManage(&manage_digest)];
            let change = Change {
                link_day: Some((&link.id, today)),
                tokens: &tokens,
                messages: &messages,
                events: &events,
                waitlist: &writes,
                ..Change::of(&next)
            };
            let change = match &previous {
                Some(held) => change.after(held),
                None => change,
            };
            self.store.write(change)?;
            (next, clinic)
        };
        self.store.durable().await?;
        tracing::info!(clinic = %clinic.id, appointment = %appointment.id, "waitlist offer claimed");
        Ok(Booked {
            visit: self.visit(appointment)?,
            manage_token: Some(manage),
        })
    }

    /// Woken when a clinic's free times may have changed.
    pub fn waitlist_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.store.waitlist_signal()
    }

    /// Offers every freed time of the clinics whose times changed (or, with `all`, of every clinic with a
    /// waitlist) to the reps waiting for it. Returns how many offers were made.
    pub async fn offer_freed_times(&self, all: bool) -> Result<usize, AppError> {
        let clinics = if all {
            let mut ids = Vec::new();
            for clinic in self.store.clinics()? {
                ids.push(clinic.id);
            }
            self.store.take_waitlist_changes();
            ids
        } else {
            self.store.take_waitlist_changes()
        };
        let mut offered = 0;
        for clinic_id in clinics {
            if !self.store.has_waitlist(&clinic_id)? {
                continue;
            }
            match self.sweep(&clinic_id).await {
                Ok(n) => offered += n,
                Err(AppError::Store(crate::store::StoreError::NotFound { .. })) => {}
                Err(error) => tracing::warn!(clinic = %clinic_id, %error, "cannot offer freed times"),
            }
        }
        Ok(offered)
    }

    /// One clinic's sweep, under its lock: entries past their end expire, entries whose rep booked are
    /// satisfied, holds that lapsed pass on, and every open time that waiting entries want is offered.
    async fn sweep(&self, clinic_id: &str) -> Result<usize, AppError> {
        let now = self.now();
        let made = {
            let _guard = self.store.lock_clinic(clinic_id).await;
            let clinic = self.store.clinic(clinic_id)?;
            let names = self.names(&clinic)?;
            let today = now.to_zoned_datetime(clinic.tz()).date();
            let mut entries = self.store.waitlist_entries(clinic_id)?;
            let mut offers = self.store.waitlist_offers(clinic_id)?;
            let upcoming = self.appointments_from(&clinic, now - SignedDuration::from_hours(24), None)?;

            // Entries that end: past their date, or their rep booked at the clinic since joining.
            let mut ended = Vec::new();
            for entry in entries.iter_mut().filter(|e| e.status == EntryStatus::Waiting) {
                let address = normalize_email(&entry.rep.email);
                let booked = upcoming.iter().any(|a| {
                    a.counts_for_rep(now)
                        && a.start >= now
                        && a.created_at >= entry.created_at
                        && normalize_email(&a.rep.email) == address
                });
                let status = if entry.until < today {
                    Some(EntryStatus::Expired)
                } else if booked {
                    Some(EntryStatus::Satisfied)
                } else {
                    None
                };
                if let Some(status) = status {
                    *entry = entry.ended(status, now);
                    ended.push(entry.clone());
                }
            }

            // Holds that lapsed: the appointment expires and the offer passes, in one write.
            let mut lapsed = Vec::new();
            for offer in offers.iter_mut().filter(|o| o.state == OfferState::Open) {
                let Some(held_id) = &offer.held_appointment else {
                    continue;
                };
                let held = upcoming.iter().find(|a| &a.id == held_id);
                let still_held = held.is_some_and(|a| a.status == AppointmentStatus::Held && a.occupies(now));
                if still_held {
                    continue;
                }
                *offer = offer.ended(OfferState::Passed, now);
                let expired = held.and_then(|a| a.expired(now).map(|next| (a.clone(), next)));
                lapsed.push((offer.clone(), expired));
            }
            let mut writes: Vec<WaitlistWrite<'_>> = ended.iter().map(WaitlistWrite::Entry).collect();
            writes.extend(lapsed.iter().map(|(o, _)| WaitlistWrite::Offer(o)));
            let expirations: Vec<&(Appointment, Appointment)> = lapsed.iter().filter_map(|(_, e)| e.as_ref()).collect();
            if expirations.is_empty() {
                if !writes.is_empty() {
                    self.store.write_waitlist(&writes, &[], &[])?;
                }
            } else {
                let changes = expirations
                    .iter()
                    .enumerate()
                    .map(|(n, (current, next))| Change {
                        waitlist: if n == 0 { &writes } else { &[] },
                        ..Change::of(next).after(current)
                    })
                    .collect();
                self.store.write_all(changes)?;
            }

            // The waiting entries, in turn order, grouped by what their links let them see.
            let mut waiting: Vec<&WaitlistEntry> =
                entries.iter().filter(|e| e.status == EntryStatus::Waiting).collect();
            in_turn(&mut waiting);
            if waiting.is_empty() {
                0
            } else {
                let appointments = if expirations.is_empty() {
                    upcoming
                } else {
                    self.appointments_from(&clinic, now - SignedDuration::from_hours(24), None)?
                };
                let last = waiting.iter().map(|e| e.until).max().unwrap_or(today);
                let mut by_categories: HashMap<Vec<String>, Vec<Slot>> = HashMap::new();
                for entry in &waiting {
                    if !by_categories.contains_key(&entry.categories) {
                        let open = self.open(&clinic, &entry.categories, &appointments, today, last, now, None)?;
                        by_categories.insert(entry.categories.clone(), open.slots);
                    }
                }
                self.make_offers(&clinic, &names, &waiting, &offers, &by_categories, now)
                    .await?
            }
        };
        if made > 0 {
            self.store.durable().await?;
        }
        Ok(made)
    }

    /// Offers for the open times the waiting entries want and were not offered before. The caller holds
    /// the clinic's lock.
    async fn make_offers(
        &self,
        clinic: &Clinic,
        names: &HashMap<String, String>,
        waiting: &[&WaitlistEntry],
        offers: &[WaitlistOffer],
        open: &HashMap<Vec<String>, Vec<Slot>>,
        now: Timestamp,
    ) -> Result<usize, AppError> {
        let mut slots: Vec<&Slot> = open.values().flatten().collect();
        slots.sort_by_key(|s| (s.start, s.practitioner_id.clone()));
        slots.dedup_by(|a, b| a.start == b.start && a.practitioner_id == b.practitioner_id);
        let policy = clinic.booking.waitlist_policy;
        let mut made = 0;
        for slot in slots {
            let offered_before =
                |entry: &WaitlistEntry| offers.iter().any(|o| o.entry_id == entry.id && o.is_for(slot));
            let wanting: Vec<&WaitlistEntry> = waiting
                .iter()
                .copied()
                .filter(|e| e.wants(slot) && !offered_before(e))
                .filter(|e| {
                    open.get(&e.categories).is_some_and(|seen| {
                        seen.iter()
                            .any(|s| s.start == slot.start && s.practitioner_id == slot.practitioner_id)
                    })
                })
                .collect();
            let chosen: Vec<&WaitlistEntry> = match policy {
                OfferPolicy::InTurn => wanting.into_iter().take(1).collect(),
                OfferPolicy::ToAll => wanting,
            };
            for entry in chosen {
                if self.entry_link(entry).is_err() {
                    continue; // the clinic revoked the link it joined through
                }
                self.offer(clinic, names, entry, slot, policy, now)?;
                made += 1;
            }
        }
        Ok(made)
    }

    /// One offer: written with its mail and its webhook event (and, in turn, the hold on the time).
    #[allow(clippy::too_many_arguments)]
    fn offer(
        &self,
        clinic: &Clinic,
        names: &HashMap<String, String>,
        entry: &WaitlistEntry,
        slot: &Slot,
        policy: OfferPolicy,
        now: Timestamp,
    ) -> Result<(), AppError> {
        let token = new_capability()?;
        let mut offer = WaitlistOffer {
            id: new_id(),
            clinic_id: clinic.id.clone(),
            entry_id: entry.id.clone(),
            start: slot.start,
            local_date: slot.local_date,
            local_seconds: slot.local_seconds,
            minutes: slot.minutes,
            practitioner_id: slot.practitioner_id.clone(),
            time_id: slot.time_id.clone(),
            policy,
            state: OfferState::Open,
            token_sha256: digest(&token),
            created_at: now,
            held_appointment: None,
            expires_at: None,
            appointment_id: None,
            ended_at: None,
        };
        let held = match policy {
            OfferPolicy::ToAll => None,
            OfferPolicy::InTurn => {
                let until = (now + SignedDuration::from_mins(clinic.booking.offer_hold_minutes as i64)).min(slot.start);
                let booking = LinkBooking {
                    placement: Placement {
                        start: local_parts(slot.start, &clinic.tz()),
                        minutes: slot.minutes,
                        practitioner_id: slot.practitioner_id.clone(),
                    },
                    rep: entry.rep.clone(),
                    link_id: entry.link_id.clone(),
                    time_id: slot.time_id.clone(),
                    approval_required: slot.approval_required,
                    manage: None,
                };
                let mut held = Appointment::book_through_link(new_id(), clinic, booking, now)?;
                if let Some(hold) = held.hold.as_mut() {
                    hold.expires_at = until;
                }
                offer.held_appointment = Some(held.id.clone());
                offer.expires_at = Some(until);
                Some(held)
            }
        };
        let with = with_whom(names, slot.practitioner_id.as_deref());
        let messages: Vec<OutgoingMessage> = self
            .composer(clinic)
            .and_then(|composer| composer.waitlist_offer(entry, &offer, &with, &token))
            .into_iter()
            .collect();
        let events = [self.waitlist_event(EventKind::WaitlistOffered, clinic, names, entry, &offer, held.as_ref())];
        let writes = [WaitlistWrite::Offer(&offer)];
        match &held {
            Some(held) => self.store.write(Change {
                messages: &messages,
                events: &events,
                waitlist: &writes,
                ..Change::of(held)
            })?,
            None => self.store.write_waitlist(&writes, &messages, &events)?,
        }
        tracing::info!(clinic = %clinic.id, entry = %entry.id, offer = %offer.id, ?policy, "freed time offered");
        Ok(())
    }
}
