//! Writing the messages: what each kind says, to whom, in the clinic's local time with its zone's
//! abbreviation, as plain text and HTML (one askama template each, which escapes every value in the HTML),
//! with the visit's calendar file where the visit is booked, changed or cancelled. A message is written
//! whole when the change happens and kept until it is sent; its `Message-ID` comes from its id, so a
//! resend after a crash is the same message. No remote images, no tracking.

use askama::Template;
use jiff::Timestamp;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use super::calendar::{Method, Parties, calendar};
use crate::domain::{
    Appointment, Clinic, MessageKind, MessageState, OutgoingMessage, WaitlistEntry, WaitlistOffer, new_id,
};

/// Where mail comes from and where its links point: the server's settings, the same for every clinic.
#[derive(Debug, Clone)]
pub struct MailIdentity {
    /// The address mail is sent from (`--mail-from`); each clinic's name goes with it.
    pub from: String,
    /// The base of the links reps follow (`--public-url`): the address they reach repbook at.
    pub public_url: String,
    /// The base of the admin page's links in mail to the practice (`--admin-url`, default `public_url`).
    pub admin_url: String,
}

impl MailIdentity {
    fn domain(&self) -> &str {
        self.from.rsplit_once('@').map(|(_, d)| d).unwrap_or("repbook.invalid")
    }

    pub(super) fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.trim_end_matches('/'))
    }

    pub(super) fn admin_link(&self, path: &str) -> String {
        format!("{}{path}", self.admin_url.trim_end_matches('/'))
    }
}

/// What one message shows, for the templates.
pub struct Letter {
    pub subject: String,
    pub heading: String,
    pub paragraphs: Vec<String>,
    pub facts: Vec<(String, String)>,
    pub row_headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The one thing to do, as a button: label, URL.
    pub action: Option<(String, String)>,
    pub links: Vec<(String, String)>,
    pub footer: String,
}

#[derive(Template)]
#[template(path = "mail/letter.txt")]
struct TextLetter<'a> {
    letter: &'a Letter,
}

#[derive(Template)]
#[template(path = "mail/letter.html")]
struct HtmlLetter<'a> {
    letter: &'a Letter,
}

/// "Thursday 10 December 2026 at 12:30 pm AEDT", in the clinic's zone.
pub fn when(instant: Timestamp, clinic: &Clinic) -> String {
    instant
        .to_zoned_datetime(clinic.tz())
        .strftime("%A %-d %B %Y at %-I:%M %P %Z")
        .to_string()
}

/// "Thu 10 Dec 12:30 pm", for subject lines.
fn when_short(instant: Timestamp, clinic: &Clinic) -> String {
    instant
        .to_zoned_datetime(clinic.tz())
        .strftime("%a %-d %b %-I:%M %P")
        .to_string()
}

/// "12:30 pm", for the agenda.
fn clock(instant: Timestamp, clinic: &Clinic) -> String {
    instant.to_zoned_datetime(clinic.tz()).strftime("%-I:%M %P").to_string()
}

/// The visit as the facts table shows it.
fn visit_facts(clinic: &Clinic, appointment: &Appointment, with: &str) -> Vec<(String, String)> {
    let zone = clinic
        .timezone
        .rsplit('/')
        .next()
        .unwrap_or(&clinic.timezone)
        .replace('_', " ");
    let mut facts = vec![
        (
            "When".to_string(),
            format!("{} ({zone} time)", when(appointment.start, clinic)),
        ),
        (
            "Length".to_string(),
            format!("{} minutes", appointment.duration_minutes),
        ),
        ("With".to_string(), with.to_string()),
        ("Where".to_string(), clinic.name.clone()),
        (
            "Rep".to_string(),
            format!("{} ({})", appointment.rep.name, appointment.rep.company),
        ),
    ];
    if !clinic.booking.visiting_instructions.is_empty() {
        facts.push(("On the day".to_string(), clinic.booking.visiting_instructions.clone()));
    }
    facts
}

/// Builds messages for one clinic at one moment.
pub struct Composer<'a> {
    pub identity: &'a MailIdentity,
    pub clinic: &'a Clinic,
    pub now: Timestamp,
}

/// Links a message to a rep may carry: the manage page, the address confirmation.
#[derive(Debug, Default, Clone, Copy)]
pub struct RepLinks<'a> {
    pub manage_token: Option<&'a str>,
    pub confirm_token: Option<&'a str>,
}

impl Composer<'_> {
    fn sender_name(&self) -> String {
        self.clinic
            .notify
            .mail_display_name
            .clone()
            .unwrap_or_else(|| self.clinic.name.clone())
    }

    fn reply_to(&self) -> Option<String> {
        self.clinic
            .notify
            .reply_to
            .clone()
            .or_else(|| self.clinic.notify.notify_email.first().cloned())
    }

    fn footer(&self, why: &str) -> String {
        let reply = match self.reply_to() {
            Some(address) => format!(" Reply to this email or write to {address} to reach the clinic."),
            None => " Contact the clinic directly with any question.".to_string(),
        };
        format!(
            "Sent by {} ({}) through repbook, the clinic's rep-visit booking service, {why}.{reply}",
            self.clinic.name, self.clinic.state
        )
    }

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

    fn waitlist_facts(&self, entry: &WaitlistEntry, with: &str) -> Vec<(String, String)> {
        vec![
            ("Clinic".to_string(), self.clinic.name.clone()),
            ("With".to_string(), with.to_string()),
            ("Days".to_string(), entry.weekdays_text()),
            ("Until".to_string(), entry.until.strftime("%A %-d %B %Y").to_string()),
        ]
    }

    /// To a rep who asked to join the waitlist: confirm the address (the link also shows and leaves it).
    pub fn waitlist_confirm(&self, entry: &WaitlistEntry, with: &str, entry_token: &str) -> Option<OutgoingMessage> {
        let name = &self.clinic.name;
        let letter = Letter {
            subject: format!("Confirm: tell me of freed rep-visit times at {name}"),
            heading: "Please confirm your place on the waitlist".to_string(),
            paragraphs: vec![
                format!(
                    "You asked {name} to tell you when a rep-visit time that suits you comes free. Confirm that this is your email address to join the waitlist."
                ),
                "If you did not ask for this, ignore this email: nothing else happens.".to_string(),
            ],
            facts: self.waitlist_facts(entry, with),
            row_headers: vec![],
            rows: vec![],
            action: Some((
                "Confirm and join the waitlist".to_string(),
                self.identity.link(&format!("/waitlist/{entry_token}")),
            )),
            links: vec![],
            footer: self.footer("because someone asked to join a clinic's waitlist with this email address"),
        };
        self.message(
            MessageKind::WaitlistConfirm,
            None,
            vec![entry.rep.email.clone()],
            letter,
            None,
        )
    }

    /// To a rep on the waitlist: a time came free. In turn it is held for them until `held_until`;
    /// to all, the first to claim it has it.
    /// Its one capability claims the time and can leave the list.
    pub fn waitlist_offer(
        &self,
        entry: &WaitlistEntry,
        offer: &WaitlistOffer,
        with: &str,
        offer_token: &str,
    ) -> Option<OutgoingMessage> {
        let clinic = self.clinic;
        let name = &clinic.name;
        let at = when(offer.start, clinic);
        let first = match offer.expires_at {
            Some(until) => format!(
                "A rep-visit time you asked for came free at {name}, and it is held for you until {}. Claim it before then, or it passes to the next rep on the list.",
                when(until, clinic)
            ),
            None => format!(
                "A rep-visit time you asked for came free at {name}. It was offered to every rep waiting for it: the first to claim it has it."
            ),
        };
        let letter = Letter {
            subject: format!("A time came free at {name}: {}", when_short(offer.start, clinic)),
            heading: "A time you asked for is free".to_string(),
            paragraphs: vec![
                first,
                "The clinic's rules apply when you claim it (your open visits, visits per company, approval where the time needs it).".to_string(),
            ],
            facts: vec![
                ("When".to_string(), at),
                ("Length".to_string(), format!("{} minutes", offer.minutes)),
                ("With".to_string(), with.to_string()),
                ("Where".to_string(), name.clone()),
            ],
            row_headers: vec![],
            rows: vec![],
            action: Some((
                "Claim this time".to_string(),
                self.identity.link(&format!("/offer/{offer_token}")),
            )),
            links: vec![(
                "Leave the waitlist".to_string(),
                self.identity.link(&format!("/waitlist/{offer_token}")),
            )],
            footer: self.footer("because this email address is on the clinic's waitlist"),
        };
        self.message(
            MessageKind::WaitlistOffer,
            offer.held_appointment.as_deref(),
            vec![entry.rep.email.clone()],
            letter,
            None,
        )
    }

    /// To a rep who was offered a time that someone else took first.
    pub fn waitlist_gone(
        &self,
        entry: &WaitlistEntry,
        offer: &WaitlistOffer,
        with: &str,
        leave_token: &str,
    ) -> Option<OutgoingMessage> {
        let clinic = self.clinic;
        let letter = Letter {
            subject: format!("Taken: {} at {}", when_short(offer.start, clinic), clinic.name),
            heading: "That time has gone".to_string(),
            paragraphs: vec![format!(
                "The time offered to you ({} with {with}) was taken by another rep first. You stay on the waitlist and hear of the next time that suits you.",
                when(offer.start, clinic)
            )],
            facts: vec![],
            row_headers: vec![],
            rows: vec![],
            action: None,
            links: vec![(
                "Leave the waitlist".to_string(),
                self.identity.link(&format!("/waitlist/{leave_token}")),
            )],
            footer: self.footer("because this email address is on the clinic's waitlist"),
        };
        self.message(
            MessageKind::WaitlistGone,
            None,
            vec![entry.rep.email.clone()],
            letter,
            None,
        )
    }

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

    /// The whole message: headers, the text and HTML alternatives, the calendar file.
    fn message(
        &self,
        kind: MessageKind,
        appointment_id: Option<&str>,
        to: Vec<String>,
        letter: Letter,
        ics: Option<(Method, Vec<u8>)>,
    ) -> Option<OutgoingMessage> {
        Envelope {
            identity: self.identity,
            sender: self.sender_name(),
            reply_to: self.reply_to(),
            clinic_id: self.clinic.id.clone(),
            now: self.now,
        }
        .seal(kind, appointment_id, to, letter, ics)
    }
}

/// Who a message is from and about, for `seal`.
pub(super) struct Envelope<'a> {
    pub identity: &'a MailIdentity,
    pub sender: String,
    pub reply_to: Option<String>,
    /// The clinic whose Messages tab lists it (empty for the host's own).
    pub clinic_id: String,
    pub now: Timestamp,
}

impl Envelope<'_> {
    /// The message whole: headers, the text and HTML alternatives from the letter, the calendar file.
    pub(super) fn seal(
        &self,
        kind: MessageKind,
        appointment_id: Option<&str>,
        to: Vec<String>,
        letter: Letter,
        ics: Option<(Method, Vec<u8>)>,
    ) -> Option<OutgoingMessage> {
        let id = new_id();
        let text = TextLetter { letter: &letter }.render().ok()?;
        let html = HtmlLetter { letter: &letter }.render().ok()?;
        let from = Mailbox::new(Some(self.sender.clone()), self.identity.from.parse().ok()?);
        let mut builder = lettre::Message::builder()
            .from(from)
            .subject(letter.subject.clone())
            .date(
                std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(self.now.as_second().max(0) as u64),
            )
            .message_id(Some(format!("<{id}@{}>", self.identity.domain())));
        for address in &to {
            builder = builder.to(Mailbox::new(None, address.parse().ok()?));
        }
        if let Some(reply) = self.reply_to.as_ref().and_then(|r| r.parse().ok()) {
            builder = builder.reply_to(Mailbox::new(None, reply));
        }
        let alternative = MultiPart::alternative()
            .singlepart(SinglePart::plain(text))
            .singlepart(SinglePart::html(html));
        let body = match ics {
            None => alternative,
            Some((method, bytes)) => {
                let kind = format!(
                    "text/calendar; charset=utf-8; method={}",
                    match method {
                        Method::Cancel => "CANCEL",
                        Method::Publish => "PUBLISH",
                        Method::Request => "REQUEST",
                    }
                );
                MultiPart::mixed().multipart(alternative).singlepart(
                    Attachment::new("rep-visit.ics".to_string()).body(bytes, ContentType::parse(&kind).ok()?),
                )
            }
        };
        let message = builder.multipart(body).ok()?;
        Some(OutgoingMessage {
            id,
            clinic_id: self.clinic_id.clone(),
            appointment_id: appointment_id.map(str::to_string),
            kind,
            to,
            subject: letter.subject,
            state: MessageState::Queued,
            tries: 0,
            next_try_at: self.now,
            last_reply: None,
            created_at: self.now,
            sent_at: None,
            body: Some(message.formatted()),
        })
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

/// A test message from the server (`repbook mail test`), to `to`.
pub fn compose_test(identity: &MailIdentity, to: &str, now: Timestamp) -> Option<OutgoingMessage> {
    let id = new_id();
    let text = format!(
        "This is a test message from repbook, the rep-visit booking service at {}.\n\nIf you can read it, mail from repbook reaches this address.\n",
        identity.public_url
    );
    let message = lettre::Message::builder()
        .from(Mailbox::new(Some("repbook".to_string()), identity.from.parse().ok()?))
        .to(Mailbox::new(None, to.parse().ok()?))
        .subject("repbook test message")
        .date(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(now.as_second().max(0) as u64))
        .message_id(Some(format!("<{id}@{}>", identity.domain())))
        .singlepart(SinglePart::plain(text))
        .ok()?;
    Some(OutgoingMessage {
        id,
        clinic_id: String::new(),
        appointment_id: None,
        kind: MessageKind::Booked,
        to: vec![to.to_string()],
        subject: "repbook test message".into(),
        state: MessageState::Queued,
        tries: 0,
        next_try_at: now,
        last_reply: None,
        created_at: now,
        sent_at: None,
        body: Some(message.formatted()),
    })
}
