//! A visit as an iCalendar file (RFC 5545): the download on the rep's manage page (METHOD:PUBLISH) and the
//! attachment of the mail that books, changes or cancels it (METHOD:REQUEST or CANCEL, RFC 5546, with the
//! clinic as organizer and the rep as attendee). The visit's instants are UTC, so every calendar places it
//! right whatever its zone; the UID is the appointment's stable reference and SEQUENCE its version, so a
//! change or a cancellation replaces what an earlier file put there.

use icalendar::{Calendar, Component, EventLike, EventStatus};

use crate::domain::{Appointment, AppointmentStatus, Clinic};

/// How a calendar should take the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A copy to keep (the manage page's download).
    Publish,
    /// An invitation from the clinic: add or update the visit.
    Request,
    /// The clinic calls the visit off: remove it.
    Cancel,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Publish => "PUBLISH",
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        }
    }
}

/// Who sends the invitation and who it is for (mail only).
pub struct Parties<'a> {
    pub organizer_name: &'a str,
    pub organizer_email: &'a str,
    pub attendee_name: &'a str,
    pub attendee_email: &'a str,
}

fn utc(instant: jiff::Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(instant.as_second(), instant.subsec_nanosecond().max(0) as u32).unwrap_or_default()
}

/// Text as one iCalendar value: every line break (CR, LF or both) becomes a single LF, which the writer
/// escapes as `\n`; a bare CR would otherwise end the line in the middle of a property.
fn one_value(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// The file for `appointment` (with `with`, e.g. "Dr Ana Ng"). A visit that no longer holds its time is
/// written as cancelled whatever `method` says.
pub fn calendar(
    clinic: &Clinic,
    appointment: &Appointment,
    with: &str,
    method: Method,
    parties: Option<Parties<'_>>,
) -> String {
    let held = matches!(
        appointment.status,
        AppointmentStatus::Booked | AppointmentStatus::Requested | AppointmentStatus::Held
    );
    let method = if held { method } else { Method::Cancel };
    let mut description = format!(
        "Rep visit with {with} at {}, booked by {} ({}).",
        clinic.name, appointment.rep.name, appointment.rep.company
    );
    if appointment.status == AppointmentStatus::Requested {
        description.push_str(" Waiting for the clinic's approval.");
    }
    if !clinic.booking.visiting_instructions.is_empty() {
        description.push_str("\n\n");
        description.push_str(&clinic.booking.visiting_instructions);
    }
    let mut event = icalendar::Event::new();
    event
        .uid(&format!("{}@repbook", appointment.reference))
        .sequence(appointment.version as u32)
        .timestamp(utc(appointment.updated_at))
        .starts(utc(appointment.start))
        .ends(utc(appointment.end()))
        .summary(&one_value(&format!("Rep visit: {with}, {}", clinic.name)))
        .location(&one_value(&clinic.name))
        .description(&one_value(&description))
        .status(match (method, appointment.status) {
            (Method::Cancel, _) => EventStatus::Cancelled,
            (_, AppointmentStatus::Booked) => EventStatus::Confirmed,
            _ => EventStatus::Tentative,
        });
    if let Some(parties) = parties {
        event.append_property(
            icalendar::Property::new("ORGANIZER", format!("mailto:{}", parties.organizer_email))
                .add_parameter("CN", &one_value(parties.organizer_name).replace('\n', " "))
                .done(),
        );
        event.append_property(
            icalendar::Property::new("ATTENDEE", format!("mailto:{}", parties.attendee_email))
                .add_parameter("CN", &one_value(parties.attendee_name).replace('\n', " "))
                .add_parameter("ROLE", "REQ-PARTICIPANT")
                .done(),
        );
    }
    // `empty`, not `new`: `new` brings the library's own PRODID, and a calendar has exactly one.
    let mut calendar = Calendar::empty();
    calendar.append_property(("VERSION", "2.0"));
    calendar.append_property(("PRODID", "-//repbook//rep visits//EN"));
    calendar.append_property(("CALSCALE", "GREGORIAN"));
    calendar.append_property(("METHOD", method.name()));
    calendar.push(event.done());
    calendar.done().to_string()
}
