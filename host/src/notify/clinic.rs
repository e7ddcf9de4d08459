//! Messages to the practice's inbox: requests, changes, parked deliveries, the PMS offline, and the
//! day's agenda.

use jiff::Timestamp;

use super::compose::{Composer, Letter, clock, visit_facts, when};
use crate::domain::{Appointment, MessageKind, OutgoingMessage};

impl Composer<'_> {
    /// A message to the practice's inbox (`None` when the clinic has none).
    pub fn to_clinic(&self, kind: MessageKind, facts: ClinicFacts<'_>) -> Option<OutgoingMessage> {
        let clinic = self.clinic;
        if clinic.notify.notify_email.is_empty() {
            return None;
        }
        let tab = |tab: &str| self.identity.admin_link(&format!("/#/{}/{tab}", clinic.id));
        let visit = facts.appointment.map(|(a, with)| (a, with, when(a.start, clinic)));
        let who = visit
            .as_ref()
            .map(|(a, with, at)| format!("{} ({}) with {with} on {at}", a.rep.name, a.rep.company))
            .unwrap_or_default();
        let (subject, heading, paragraphs, action) = match kind {
            MessageKind::RequestWaiting => {
                let expires = visit
                    .as_ref()
                    .and_then(|(a, _, _)| a.request_expires_at)
                    .map(|t| when(t, clinic))
                    .unwrap_or_default();
                (
                    format!("Request waiting: {who}"),
                    "A rep visit waits for your approval".to_string(),
                    vec![format!("{who} asks for a visit. Approve or decline it before {expires}; after that the request lapses and the time is released.")],
                    Some(("Approve or decline".to_string(), tab("requests"))),
                )
            }
            MessageKind::RepCancelled => (
                format!("Cancelled by the rep: {who}"),
                "A rep cancelled their visit".to_string(),
                vec![format!("{who} was cancelled by the rep. Your PMS follows by itself.")],
                Some(("See future appointments".to_string(), tab("appointments"))),
            ),
            MessageKind::RepSwapped => {
                let was = facts.previous_start.map(|t| when(t, clinic)).unwrap_or_default();
                (
                    format!("Moved by the rep: {who}"),
                    "A rep moved their visit".to_string(),
                    vec![format!("{who} (moved by the rep from {was}). Your PMS follows by itself.")],
                    Some(("See future appointments".to_string(), tab("appointments"))),
                )
            }
            MessageKind::SyncParked => (
                format!("Not in your PMS: {who}"),
                "A visit could not be sent to your PMS".to_string(),
                vec![
                    format!("{who} is booked in repbook but could not be sent to your PMS: {}", facts.reason.unwrap_or("no reason was given")),
                    "Fix what the reason says, then press Retry on the Sync tab. You get one more email when it reaches your PMS.".to_string(),
                ],
                Some(("Open the Sync tab".to_string(), tab("sync"))),
            ),
            MessageKind::SyncResolved => (
                format!("Now in your PMS: {who}"),
                "The visit reached your PMS".to_string(),
                vec![format!("{who}, which could not be sent before, is now in your PMS.")],
                None,
            ),
            MessageKind::SiteOffline => {
                let since = facts.since.map(|t| when(t, clinic)).unwrap_or_default();
                (
                    format!("Your PMS has not answered since {}", facts.since.map(|t| clock(t, clinic)).unwrap_or_default()),
                    "Your PMS does not answer".to_string(),
                    vec![
                        format!("repbook has not reached your PMS since {since}: {}.", facts.reason.unwrap_or("it does not answer")),
                        "Bookings are kept and sent as soon as it answers again; nothing is lost. If it stays down, check that Halo Link (or your calendar server) is running, or use Reset the connection on the Sync tab.".to_string(),
                    ],
                    Some(("Open the Sync tab".to_string(), tab("sync"))),
                )
            }
            MessageKind::SiteBack => (
                "Your PMS answers again".to_string(),
                "Your PMS answers again".to_string(),
                vec!["repbook reaches your PMS again; what waited is being sent.".to_string()],
                None,
            ),
            _ => return None,
        };
        let letter = Letter {
            subject,
            heading,
            paragraphs,
            facts: visit
                .as_ref()
                .map(|(a, with, _)| visit_facts(clinic, a, with))
                .unwrap_or_default(),
            row_headers: vec![],
            rows: vec![],
            action,
            links: vec![],
            footer: self.footer("because this address is the practice's notification address"),
        };
        let appointment_id = facts.appointment.map(|(a, _)| a.id.as_str());
        self.message(kind, appointment_id, clinic.notify.notify_email.clone(), letter, None)
    }

    /// The day's rep visits for the practice (`None` without an inbox or without visits).
    pub fn agenda(&self, day: jiff::civil::Date, visits: &[(Appointment, String)]) -> Option<OutgoingMessage> {
        let clinic = self.clinic;
        if clinic.notify.notify_email.is_empty() || visits.is_empty() {
            return None;
        }
        let date = day.strftime("%A %-d %B %Y").to_string();
        let count = if visits.len() == 1 {
            "1 rep visit".to_string()
        } else {
            format!("{} rep visits", visits.len())
        };
        let letter = Letter {
            subject: format!("Today at {}: {count}", clinic.name),
            heading: format!("Rep visits on {date}"),
            paragraphs: vec![format!("{count} today ({} time).", clinic.timezone)],
            facts: vec![],
            row_headers: ["Time", "With", "Rep", "Company"]
                .iter()
                .map(|h| h.to_string())
                .collect(),
            rows: visits
                .iter()
                .map(|(a, with)| {
                    vec![
                        format!(
                            "{} {}",
                            clock(a.start, clinic),
                            a.start.to_zoned_datetime(clinic.tz()).strftime("%Z")
                        ),
                        with.clone(),
                        a.rep.name.clone(),
                        a.rep.company.clone(),
                    ]
                })
                .collect(),
            action: Some((
                "See future appointments".to_string(),
                self.identity.admin_link(&format!("/#/{}/appointments", clinic.id)),
            )),
            links: vec![],
            footer: self.footer("because this address is the practice's notification address"),
        };
        self.message(
            MessageKind::DailyAgenda,
            None,
            clinic.notify.notify_email.clone(),
            letter,
            None,
        )
    }
}

/// What a message to the practice is about.
#[derive(Default, Clone, Copy)]
pub struct ClinicFacts<'a> {
    /// The visit, with who it is with.
    pub appointment: Option<(&'a Appointment, &'a str)>,
    /// The visit's time before a move.
    pub previous_start: Option<Timestamp>,
    /// Why (a parked delivery's reason, the PMS's last error).
    pub reason: Option<&'a str>,
    /// Since when (a site offline).
    pub since: Option<Timestamp>,
}
