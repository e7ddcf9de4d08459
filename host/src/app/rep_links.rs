//! The links a rep gets by mail: confirming the address a booking was made with (the held booking
//! becomes booked), and "email me my visits", which sends fresh manage links for every future visit.

use super::booking::{Booked, MANAGE_AFTER_VISIT, RepVisit, digest, new_capability};
use super::notices::Tell;
use super::{App, AppError, with_whom};
use crate::domain::{Appointment, AppointmentStatus, DomainError, ManageAccess, local_parts};
use crate::domain::{MessageKind, OutgoingMessage, looks_like_email, normalize_email};
use crate::notify::RepLinks;
use crate::store::{Change, TokenChange};

impl App {
    /// The visit an address confirmation link names, as it stands (held, confirmed or lapsed).
    pub fn to_confirm(&self, capability: &str) -> Result<RepVisit, AppError> {
        let appointment = self
            .store
            .appointment_by_confirm_token(&digest(capability))?
            .ok_or(AppError::LinkNotFound)?;
        self.visit(appointment)
    }

    /// The rep confirmed their address: the held booking becomes booked (or a request in a time that needs
    /// approval), the per-rep rules are checked now that it counts, and the rep gets the manage link (in the
    /// answer and by mail, with the calendar file); the practice hears of a request.
    pub async fn confirm(&self, capability: &str) -> Result<Booked, AppError> {
        let now = self.now();
        let held = self.to_confirm(capability)?.appointment;
        let manage = new_capability()?;
        let (next, clinic) = {
            let _guard = self.store.lock_clinic(&held.clinic_id).await;
            let clinic = self.store.clinic(&held.clinic_id)?;
            let current = self.store.appointment(&held.id)?;
            let access = ManageAccess {
                token_sha256: digest(&manage),
                expires_at: current.end() + MANAGE_AFTER_VISIT,
            };
            let next = current.confirmed(&clinic, access, now)?;
            let wanted = local_parts(current.start, &clinic.tz());
            let appointments = self.snapshot_for(&clinic, &wanted, now)?;
            self.check_rules(
                &clinic,
                &appointments,
                &current.rep,
                current.start,
                current.practitioner_id.as_ref(),
                now,
                None,
            )?;
            let tell = match next.status {
                AppointmentStatus::Requested => Tell::both(MessageKind::RequestReceived, MessageKind::RequestWaiting),
                _ => Tell::rep(MessageKind::Booked),
            };
            let links = RepLinks {
                manage_token: Some(&manage),
                ..Default::default()
            };
            let messages = self.tell(&clinic, Some(&current), &next, tell, links)?;
            let manage_digest = digest(&manage);
            self.store.write(Change {
                tokens: &[TokenChange::AddManage(&manage_digest)],
                messages: &messages,
                ..Change::of(&next).after(&current)
            })?;
            (next, clinic)
        };
        self.store.durable().await?;
        tracing::info!(clinic = %clinic.id, appointment = %next.id, status = ?next.status, "address confirmed");
        Ok(Booked {
            visit: self.visit(next)?,
            manage_token: Some(manage),
        })
    }

    /// "Email me my visits": fresh manage links for every future visit booked with this address at the
    /// link's clinic, by mail to that address (the old links stop working). The answer is the same whether
    /// or not there are visits; only the mailbox's owner learns which.
    pub async fn recover(&self, capability: &str, email: &str) -> Result<(), AppError> {
        let now = self.now();
        let clinic_id = self.live_link(capability)?.clinic_id;
        if !looks_like_email(email.trim()) {
            return Err(DomainError::Invalid {
                field: "email",
                message: format!("'{}' is not an email address (name@example.com)", email.trim()),
            }
            .into());
        }
        if !self.sends_mail() {
            return Err(AppError::conflict(
                "mail_not_configured",
                "this booking service sends no email, so links cannot be sent; please call the clinic",
            ));
        }
        let wanted = normalize_email(email);
        {
            let _guard = self.store.lock_clinic(&clinic_id).await;
            let clinic = self.store.clinic(&clinic_id)?;
            let names = self.names(&clinic)?;
            let mine: Vec<Appointment> = self
                .appointments_from(&clinic, now, None)?
                .into_iter()
                .filter(|a| a.counts_for_rep(now) && a.manage.is_some() && normalize_email(&a.rep.email) == wanted)
                .collect();
            if mine.is_empty() {
                return Ok(());
            }
            let mut renewed = Vec::new();
            for current in &mine {
                let token = new_capability()?;
                let mut next = current.clone();
                if let Some(manage) = next.manage.as_mut() {
                    manage.token_sha256 = digest(&token);
                }
                let with = with_whom(&names, next.practitioner_id.as_deref());
                renewed.push((next, with, token));
            }
            // To the address the visits were booked with (the one that proved itself), not as typed here.
            let message = self
                .composer(&clinic)
                .and_then(|composer| composer.recovery(&mine[0].rep.email, &renewed));
            let digests: Vec<[String; 2]> = mine
                .iter()
                .zip(&renewed)
                .map(|(old, (new, _, _))| {
                    let digest_of =
                        |a: &Appointment| a.manage.as_ref().map(|m| m.token_sha256.clone()).unwrap_or_default();
                    [digest_of(old), digest_of(new)]
                })
                .collect();
            let tokens: Vec<[TokenChange<'_>; 2]> = digests
                .iter()
                .map(|[old, new]| [TokenChange::RemoveManage(old), TokenChange::AddManage(new)])
                .collect();
            let messages: Vec<OutgoingMessage> = message.into_iter().collect();
            let changes: Vec<Change<'_>> = mine
                .iter()
                .zip(&renewed)
                .zip(&tokens)
                .enumerate()
                .map(|(n, ((old, (new, _, _)), tokens))| Change {
                    tokens,
                    // The one message goes with the first change; all commit together.
                    messages: if n == 0 { &messages } else { &[] },
                    ..Change::of(new).after(old)
                })
                .collect();
            self.store.write_all(changes)?;
        }
        self.store.durable().await?;
        Ok(())
    }
}
