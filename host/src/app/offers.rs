//! Freed times and the reps waiting for them: the offer sweep gives every freed time to the waiting
//! entries that want it, in turn (a held appointment for the longest-waiting rep, passing to the next when
//! the hold lapses) or to all at once (first to claim wins); a claim is the same race-safe claim and the
//! same rules as a booking through a link, and the others offered the time hear it has gone.
//!
//! The sweep runs for a clinic whenever its free times may have changed (any visit written, times
//! published, a closed date lifted: `Store::waitlist_changed`) and on a timer for holds that lapse and
//! places that end. Each (entry, time) pair is offered once: an offer record is the proof.

use std::collections::{HashMap, HashSet};

use jiff::{SignedDuration, Timestamp};

use super::booking::MANAGE_AFTER_VISIT;
use super::notices::Tell;
use super::{App, AppError, Booked, digest, new_capability, with_whom};
use crate::domain::{
    Appointment, AppointmentStatus, Clinic, DomainError, EntryStatus, EventKind, LinkBooking, ManageAccess,
    MessageKind, OfferPolicy, OfferState, OutgoingMessage, Placement, Slot, WaitlistEntry, WaitlistOffer, WebhookEvent,
    event_id, in_turn, local_parts, new_id, normalize_email,
};
use crate::notify::RepLinks;
use crate::store::{Change, WaitlistWrite};

use super::waitlist::OfferSeen;

impl App {
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
            self.write_letting_go(&writes, &expirations)?;

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
        // In turn, a rep holds one freed time at a time: the next one goes to the next rep (or, with
        // nobody else waiting for it, stays open to book), so one rep cannot sit on several times.
        let mut holding: HashSet<String> = offers
            .iter()
            .filter(|o| o.state == OfferState::Open && o.held_appointment.is_some())
            .map(|o| o.entry_id.clone())
            .collect();
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
                // Not through a link the clinic has revoked since.
                .filter(|e| self.entry_link(e).is_ok())
                .collect();
            let chosen: Vec<&WaitlistEntry> = match policy {
                OfferPolicy::InTurn => wanting
                    .into_iter()
                    .find(|e| !holding.contains(&e.id))
                    .into_iter()
                    .collect(),
                OfferPolicy::ToAll => wanting,
            };
            for entry in chosen {
                self.offer(clinic, names, entry, slot, policy, now)?;
                if policy == OfferPolicy::InTurn {
                    holding.insert(entry.id.clone());
                }
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
