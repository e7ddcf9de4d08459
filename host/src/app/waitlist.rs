//! A rep's place on a clinic's waitlist: joining through a booking link (the address confirmed by mail,
//! as for a booking; refused while a time that suits is open), seeing, confirming and leaving it by the
//! capability in the mail, and the clinic's list and removal. What a freed time does is `offers`.

use std::collections::HashMap;

use jiff::{SignedDuration, ToSpan};

use super::{App, AppError, digest, new_capability, with_whom};
use crate::domain::{
    Appointment, BookingLink, Clinic, DomainError, EntryStatus, EntryView, OfferState, OfferView, OutgoingMessage,
    Slot, WaitlistEntry, WaitlistOffer, WaitlistRequest, new_id, normalize_email,
};
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
pub(super) fn wanted_with(names: &HashMap<String, String>, practitioner_id: Option<&str>) -> String {
    match practitioner_id {
        None => "any doctor".into(),
        Some(id) => names
            .get(id)
            .cloned()
            .unwrap_or_else(|| "a doctor no longer listed".into()),
    }
}

impl App {
    pub(super) fn entry_view(
        &self,
        clinic: &Clinic,
        names: &HashMap<String, String>,
        entry: &WaitlistEntry,
    ) -> EntryView {
        EntryView::of(
            entry,
            wanted_with(names, entry.practitioner_id.as_deref()),
            &clinic.tz(),
        )
    }

    pub(super) fn offer_view(
        &self,
        clinic: &Clinic,
        names: &HashMap<String, String>,
        offer: &WaitlistOffer,
    ) -> OfferView {
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

    pub(super) fn offer_by_token(&self, token: &str) -> Result<WaitlistOffer, AppError> {
        match self.store.waitlist_by_token(&digest(token))? {
            Some(WaitlistRecord::Offer(offer)) => Ok(offer),
            _ => Err(AppError::LinkNotFound),
        }
    }

    /// The live link an entry joined through (offers and claims stop when the clinic revokes it).
    pub(super) fn entry_link(&self, entry: &WaitlistEntry) -> Result<BookingLink, AppError> {
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
        let guard = self.store.lock_clinic(&link.clinic_id).await;
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
        drop(guard);
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
            let held: Vec<&(Appointment, Appointment)> = held.iter().collect();
            self.write_letting_go(&writes, &held)?;
            (clinic, ended)
        };
        self.store.durable().await?;
        let names = self.names(&clinic)?;
        Ok(self.entry_view(&clinic, &names, &entry))
    }

    /// Waitlist records and the held visits they let go (each `(current, next)`), in one transaction.
    pub(super) fn write_letting_go(
        &self,
        writes: &[WaitlistWrite<'_>],
        held: &[&(Appointment, Appointment)],
    ) -> Result<(), AppError> {
        if held.is_empty() {
            if !writes.is_empty() {
                self.store.write_waitlist(writes, &[], &[])?;
            }
            return Ok(());
        }
        let changes = held
            .iter()
            .enumerate()
            .map(|(n, (current, next))| Change {
                waitlist: if n == 0 { writes } else { &[] },
                ..Change::of(next).after(current)
            })
            .collect();
        Ok(self.store.write_all(changes)?)
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
}
