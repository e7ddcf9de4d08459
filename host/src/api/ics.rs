//! A booking as an iCalendar file (RFC 5545) for the rep's calendar: the visit's instants in UTC, so every
//! calendar places it right whatever its zone; SEQUENCE follows the booking's version, so a cancellation
//! (METHOD:CANCEL, STATUS:CANCELLED) or a swap replaces what an earlier download put there.

use icalendar::{Calendar, Component, EventLike, EventStatus};

use crate::domain::{Appointment, AppointmentStatus, Clinic};

fn utc(instant: jiff::Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(instant.as_second(), instant.subsec_nanosecond().max(0) as u32).unwrap_or_default()
}

pub fn calendar(clinic: &Clinic, appointment: &Appointment, with: &str) -> String {
    let held = matches!(
        appointment.status,
        AppointmentStatus::Booked | AppointmentStatus::Requested
    );
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
    let event = icalendar::Event::new()
        .uid(&format!("{}@repbook", appointment.reference))
        .sequence(appointment.version as u32)
        .timestamp(utc(appointment.updated_at))
        .starts(utc(appointment.start))
        .ends(utc(appointment.end()))
        .summary(&format!("Rep visit: {with}, {}", clinic.name))
        .location(&clinic.name)
        .description(&description)
        .status(match appointment.status {
            AppointmentStatus::Booked => EventStatus::Confirmed,
            AppointmentStatus::Requested => EventStatus::Tentative,
            _ => EventStatus::Cancelled,
        })
        .done();
    // `empty`, not `new`: `new` brings the library's own PRODID, and a calendar has exactly one.
    let mut calendar = Calendar::empty();
    calendar.append_property(("VERSION", "2.0"));
    calendar.append_property(("PRODID", "-//repbook//rep visits//EN"));
    calendar.append_property(("CALSCALE", "GREGORIAN"));
    calendar.append_property(("METHOD", if held { "PUBLISH" } else { "CANCEL" }));
    calendar.push(event);
    calendar.done().to_string()
}
