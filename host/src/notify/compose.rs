//! Writing the messages: what each kind says, to whom, in the clinic's local time with its zone's
//! abbreviation, as plain text and HTML (one askama template each, which escapes every value in the HTML),
//! with the visit's calendar file where the visit is booked, changed or cancelled. A message is written
//! whole when the change happens and kept until it is sent; its `Message-ID` comes from its id, so a
//! resend after a crash is the same message. No remote images, no tracking.
//!
//! One module per family of messages writes them through `Composer`: `rep` (a visit's messages to its
//! rep, their links), `waitlist` (to reps on a clinic's waitlist), `clinic` (to the practice's inbox,
//! the daily agenda), `accounts` (to the staff).

use askama::Template;
use jiff::Timestamp;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use super::calendar::Method;
use crate::domain::{Appointment, Clinic, MessageKind, MessageState, OutgoingMessage, new_id};

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
pub(super) fn when_short(instant: Timestamp, clinic: &Clinic) -> String {
    instant
        .to_zoned_datetime(clinic.tz())
        .strftime("%a %-d %b %-I:%M %P")
        .to_string()
}

/// "12:30 pm", for the agenda.
pub(super) fn clock(instant: Timestamp, clinic: &Clinic) -> String {
    instant.to_zoned_datetime(clinic.tz()).strftime("%-I:%M %P").to_string()
}

/// The visit as the facts table shows it.
pub(super) fn visit_facts(clinic: &Clinic, appointment: &Appointment, with: &str) -> Vec<(String, String)> {
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
    pub(super) fn sender_name(&self) -> String {
        self.clinic
            .notify
            .mail_display_name
            .clone()
            .unwrap_or_else(|| self.clinic.name.clone())
    }

    pub(super) fn reply_to(&self) -> Option<String> {
        self.clinic
            .notify
            .reply_to
            .clone()
            .or_else(|| self.clinic.notify.notify_email.first().cloned())
    }

    pub(super) fn footer(&self, why: &str) -> String {
        let reply = match self.reply_to() {
            Some(address) => format!(" Reply to this email or write to {address} to reach the clinic."),
            None => " Contact the clinic directly with any question.".to_string(),
        };
        format!(
            "Sent by {} ({}) through repbook, the clinic's rep-visit booking service, {why}.{reply}",
            self.clinic.name, self.clinic.state
        )
    }

    /// The whole message: headers, the text and HTML alternatives, the calendar file.
    pub(super) fn message(
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
