//! A visit's messages to its rep: booked, held for confirmation, changed, cancelled, reminded, and the
//! fresh links "email me my visits" sends.

use jiff::Timestamp;

use super::calendar::{Method, Parties, calendar};
use super::compose::{Composer, Letter, RepLinks, visit_facts, when, when_short};
use crate::domain::{Appointment, MessageKind, OutgoingMessage};

impl Composer<'_> {
    /// A message to the rep of `appointment` (`None` when the booking has no address).
    pub fn to_rep(
        &self,
        kind: MessageKind,
        appointment: &Appointment,
        with: &str,
        links: RepLinks<'_>,
        previous_start: Option<Timestamp>,
    ) -> Option<OutgoingMessage> {
        if appointment.rep.email.trim().is_empty() {
            return None;
        }
        let clinic = self.clinic;
        let at = when_short(appointment.start, clinic);
        let name = clinic.name.as_str();
        let manage = links.manage_token.map(|t| {
            (
                "See, change or cancel your visit".to_string(),
                self.identity.link(&format!("/manage/{t}")),
            )
        });
        let keep_link = "Keep the link from the email that booked it: it changes or cancels the visit.".to_string();
        let (subject, heading, mut paragraphs, action, method) = match kind {
            MessageKind::ConfirmAddress => {
                let until = appointment
                    .hold
                    .as_ref()
                    .map(|h| when(h.expires_at, clinic))
                    .unwrap_or_default();
                let link = links.confirm_token.map(|t| {
                    (
                        "Confirm my visit".to_string(),
                        self.identity.link(&format!("/confirm/{t}")),
                    )
                });
                (
                    format!("Confirm your rep visit at {name}: {at}"),
                    "Please confirm your visit".to_string(),
                    vec![
                        format!("You asked for a rep visit at {name}. The time is held for you until {until}; confirm that this is your email address to keep it."),
                        "If you did not ask for this visit, ignore this email: the time is released by itself and nothing else happens.".to_string(),
                    ],
                    link,
                    None,
                )
            }
            MessageKind::Booked => (
                format!("Booked: {at} at {name}"),
                "Your visit is booked".to_string(),
                vec!["Your rep visit is booked. The calendar file attached adds it to your calendar.".to_string()],
                manage,
                Some(Method::Request),
            ),
            MessageKind::RequestReceived => {
                let expires = appointment
                    .request_expires_at
                    .map(|t| when(t, clinic))
                    .unwrap_or_default();
                (
                    format!("Requested: {at} at {name}"),
                    "Your request waits for the clinic".to_string(),
                    vec![format!(
                        "{name} approves or declines this time. If it has not decided by {expires}, the request lapses and the time is released. You get an email either way."
                    )],
                    manage,
                    None,
                )
            }
            MessageKind::Approved => (
                format!("Approved: {at} at {name}"),
                "The clinic approved your visit".to_string(),
                vec![
                    "Your requested visit is booked. The calendar file attached adds it to your calendar.".to_string(),
                    keep_link,
                ],
                None,
                Some(Method::Request),
            ),
            MessageKind::Declined => (
                format!("Declined: {at} at {name}"),
                "The clinic declined your request".to_string(),
                vec![
                    "The time is free again. To ask for another time, use the clinic's booking link again.".to_string(),
                ],
                None,
                None,
            ),
            MessageKind::Expired => {
                let why = if appointment.hold.is_some() || appointment.request_expires_at.is_none() {
                    "your email address was not confirmed in time"
                } else {
                    "the clinic did not approve the request in time"
                };
                (
                    format!("Released: {at} at {name}"),
                    "This time was released".to_string(),
                    vec![format!(
                        "The visit below is not booked: {why}. To book another time, use the clinic's booking link again."
                    )],
                    None,
                    None,
                )
            }
            MessageKind::Changed => {
                let was = previous_start
                    .map(|t| format!(" It was {}.", when(t, clinic)))
                    .unwrap_or_default();
                (
                    format!("Changed: your visit at {name} is now {at}"),
                    "Your visit has a new time".to_string(),
                    vec![
                        format!(
                            "Your rep visit is now at the time below.{was} The calendar file attached updates your calendar."
                        ),
                        keep_link,
                    ],
                    None,
                    Some(Method::Request),
                )
            }
            MessageKind::Cancelled => (
                format!("Cancelled: {at} at {name}"),
                "Your visit is cancelled".to_string(),
                vec![
                    "The visit below is cancelled. The calendar file attached removes it from your calendar."
                        .to_string(),
                ],
                None,
                Some(Method::Cancel),
            ),
            MessageKind::Reminder => (
                format!("Reminder: {at} at {name}"),
                "Your visit is coming up".to_string(),
                vec!["A reminder of your rep visit.".to_string(), keep_link],
                None,
                None,
            ),
            _ => return None,
        };
        let facts = visit_facts(clinic, appointment, with);
        if kind == MessageKind::Booked && appointment.status == crate::domain::AppointmentStatus::Booked {
            paragraphs.push("Use the button to change the time or cancel, up to the clinic's cut-off.".to_string());
        }
        let letter = Letter {
            subject,
            heading,
            paragraphs,
            facts,
            row_headers: vec![],
            rows: vec![],
            action,
            links: vec![],
            footer: self.footer("because a rep visit was booked with this email address"),
        };
        let invitation = method.map(|method| {
            let organizer = self.reply_to().unwrap_or_else(|| self.identity.from.clone());
            calendar(
                clinic,
                appointment,
                with,
                method,
                Some(Parties {
                    organizer_name: &self.sender_name(),
                    organizer_email: &organizer,
                    attendee_name: &appointment.rep.name,
                    attendee_email: appointment.rep.email.trim(),
                }),
            )
            .into_bytes()
            .into_iter()
            .collect::<Vec<u8>>()
        });
        let ics = invitation.map(|bytes| (method.unwrap_or(Method::Request), bytes));
        self.message(
            kind,
            Some(&appointment.id),
            vec![appointment.rep.email.trim().to_string()],
            letter,
            ics,
        )
    }

    /// Fresh manage links for a rep's future visits (`visits`: each with who it is with and its new token).
    pub fn recovery(&self, email: &str, visits: &[(Appointment, String, String)]) -> Option<OutgoingMessage> {
        let clinic = self.clinic;
        let letter = Letter {
            subject: format!("Your rep visits at {}", clinic.name),
            heading: "Your visits and their links".to_string(),
            paragraphs: vec![
                "You asked for the links to your visits. Each link below opens one visit, to see, change or cancel it; the links you had before no longer work.".to_string(),
                "If you did not ask for this, you can ignore this email.".to_string(),
            ],
            facts: vec![],
            row_headers: vec![],
            rows: vec![],
            action: None,
            links: visits
                .iter()
                .map(|(appointment, with, token)| {
                    (
                        format!("{} with {with}", when(appointment.start, clinic)),
                        self.identity.link(&format!("/manage/{token}")),
                    )
                })
                .collect(),
            footer: self.footer("because someone asked for the visits booked with this email address"),
        };
        self.message(
            MessageKind::Recovery,
            None,
            vec![email.trim().to_string()],
            letter,
            None,
        )
    }
}
