//! Who hears of what: the messages a workflow writes with its change (`Tell`), and the ones the clock
//! brings (a reminder before a visit, the day's agenda, a PMS site offline for a while). Every message is
//! written in the same store transaction as what it tells of, or under a key that makes it go once; none
//! is written when the server sends no mail.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};

use super::{App, AppError, with_whom};
use crate::domain::{Appointment, AppointmentStatus, Clinic, MessageKind, OutgoingMessage};
use crate::notify::{ClinicFacts, Composer, RepLinks};
use crate::store::AppointmentFilter;

/// A PMS site offline this long is worth an email to the practice.
const OFFLINE_NOTICE_AFTER: SignedDuration = SignedDuration::from_mins(15);

/// What a change tells, to the rep and to the practice.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tell {
    pub rep: Option<MessageKind>,
    pub clinic: Option<MessageKind>,
}

impl Tell {
    pub fn rep(kind: MessageKind) -> Tell {
        Tell {
            rep: Some(kind),
            clinic: None,
        }
    }

    pub fn both(rep: MessageKind, clinic: MessageKind) -> Tell {
        Tell {
            rep: Some(rep),
            clinic: Some(clinic),
        }
    }

    pub fn nobody() -> Tell {
        Tell::default()
    }
}

impl App {
    /// Whether this server sends mail (an SMTP server or a mail folder is configured).
    pub fn sends_mail(&self) -> bool {
        self.mail.is_some()
    }

    pub(super) fn composer<'a>(&'a self, clinic: &'a Clinic) -> Option<Composer<'a>> {
        self.mail.as_ref().map(|identity| Composer {
            identity,
            clinic,
            now: self.now(),
        })
    }

    /// The messages `tell` asks for about the change from `previous` to `next`.
    pub(super) fn tell(
        &self,
        clinic: &Clinic,
        previous: Option<&Appointment>,
        next: &Appointment,
        tell: Tell,
        links: RepLinks<'_>,
    ) -> Result<Vec<OutgoingMessage>, AppError> {
        let Some(composer) = self.composer(clinic) else {
            return Ok(Vec::new());
        };
        if tell.rep.is_none() && tell.clinic.is_none() {
            return Ok(Vec::new());
        }
        let with = with_whom(&self.names(clinic)?, next.practitioner_id.as_deref());
        let moved_from = previous.map(|p| p.start).filter(|start| *start != next.start);
        let mut messages = Vec::new();
        if let Some(kind) = tell.rep {
            messages.extend(composer.to_rep(kind, next, &with, links, moved_from));
        }
        if let Some(kind) = tell.clinic {
            let facts = ClinicFacts {
                appointment: Some((next, &with)),
                previous_start: moved_from,
                ..Default::default()
            };
            messages.extend(composer.to_clinic(kind, facts));
        }
        Ok(messages)
    }

    /// What the clock brings, for every clinic: reminders of visits soon, the day's agenda, and word of a
    /// PMS site offline for a while (and back). Run by the housekeeping loop.
    pub async fn send_due_notices(&self) -> Result<(), AppError> {
        if self.mail.is_none() {
            return Ok(());
        }
        let now = self.now();
        for clinic in self.store.clinics()? {
            self.remind(&clinic, now)?;
            self.agenda(&clinic, now)?;
            self.site_notices(&clinic, now)?;
        }
        Ok(())
    }

    /// One reminder per booked visit and start time, `reminder_hours` before it, for visits booked before
    /// that window opened (one booked inside it was just confirmed by mail anyway).
    fn remind(&self, clinic: &Clinic, now: Timestamp) -> Result<(), AppError> {
        let hours = clinic.notify.reminder_hours;
        let Some(composer) = self.composer(clinic).filter(|_| hours > 0) else {
            return Ok(());
        };
        let window = SignedDuration::from_hours(hours as i64);
        let filter = AppointmentFilter {
            from: Some(now),
            to: Some(now + window),
            status: Some(AppointmentStatus::Booked),
            ..Default::default()
        };
        let names = self.names(clinic)?;
        for appointment in self.store.appointments(&clinic.id, &filter)? {
            if appointment.created_at > appointment.start - window {
                continue;
            }
            let key = format!("reminder/{}/{}", appointment.id, appointment.start.as_second());
            if self.store.mail_key(&key)? {
                continue;
            }
            let with = with_whom(&names, appointment.practitioner_id.as_deref());
            let message = composer.to_rep(MessageKind::Reminder, &appointment, &with, RepLinks::default(), None);
            self.store.enqueue_once(Some(&key), message.as_slice())?;
        }
        Ok(())
    }

    /// The day's visits to the practice, once a day at its agenda time, on days with visits.
    fn agenda(&self, clinic: &Clinic, now: Timestamp) -> Result<(), AppError> {
        let (Some(composer), Some(at)) = (self.composer(clinic), clinic.notify.agenda_time()) else {
            return Ok(());
        };
        if clinic.notify.notify_email.is_empty() {
            return Ok(());
        }
        let local = now.to_zoned_datetime(clinic.tz());
        if local.time() < at {
            return Ok(());
        }
        let day: Date = local.date();
        let key = format!("agenda/{}/{day}", clinic.id);
        if self.store.mail_key(&key)? {
            return Ok(());
        }
        let start = day.to_zoned_datetime(clinic.tz()).map(|z| z.timestamp()).unwrap_or(now);
        let end = day
            .checked_add(1.day())
            .ok()
            .and_then(|d| d.to_zoned_datetime(clinic.tz()).ok())
            .map(|z| z.timestamp())
            .unwrap_or(now);
        let filter = AppointmentFilter {
            from: Some(start),
            to: Some(end),
            status: Some(AppointmentStatus::Booked),
            ..Default::default()
        };
        let names = self.names(clinic)?;
        let visits: Vec<(Appointment, String)> = self
            .store
            .appointments(&clinic.id, &filter)?
            .into_iter()
            .map(|a| {
                let with = with_whom(&names, a.practitioner_id.as_deref());
                (a, with)
            })
            .collect();
        // A day without visits is done too: nothing to send, and nothing to look at again today.
        let message = composer.agenda(day, &visits);
        self.store.enqueue_once(Some(&key), message.as_slice())?;
        Ok(())
    }

    /// Once per outage: the site has been offline for `OFFLINE_NOTICE_AFTER`; and once when it is back.
    fn site_notices(&self, clinic: &Clinic, now: Timestamp) -> Result<(), AppError> {
        let Some(composer) = self.composer(clinic) else {
            return Ok(());
        };
        if !clinic.pms.is_active() {
            return Ok(());
        }
        let key = format!("offline/{}", clinic.id);
        let told = self.store.mail_key(&key)?;
        let site = self.sync.site_status(&clinic.id);
        match site.offline_since {
            Some(since) if !told && now.duration_since(since) >= OFFLINE_NOTICE_AFTER => {
                let facts = ClinicFacts {
                    reason: site.last_error.as_deref(),
                    since: Some(since),
                    ..Default::default()
                };
                let message = composer.to_clinic(MessageKind::SiteOffline, facts);
                self.store.enqueue_once(Some(&key), message.as_slice())?;
            }
            None if told => {
                let message = composer.to_clinic(MessageKind::SiteBack, ClinicFacts::default());
                self.store.enqueue_forgetting(&key, message.as_slice())?;
            }
            _ => {}
        }
        Ok(())
    }
}
