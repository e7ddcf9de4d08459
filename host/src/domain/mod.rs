//! The booking domain: clinics, medical staff, reps and appointments as plain types with pure rules.
//!
//! Nothing here does I/O or knows about HTTP or sled. Every rule that can refuse input returns a
//! [`DomainError`] whose message tells a person what to fix; callers pass "now" in so the rules stay testable.

mod api_token;
mod appointment;
mod appointment_lifecycle;
mod appointment_view;
mod attendance;
mod audit;
mod booking_link;
mod clinic;
mod credentials;
mod email;
mod error;
mod invitation;
mod local_time;
mod message;
mod notify_settings;
mod people;
mod people_view;
mod pms_record;
mod rep;
mod session;
mod slots;
mod sso;
mod staff;
mod staff_match;
mod times;
mod waitlist;
mod webhook;

pub use api_token::{ApiToken, ApiTokenView, TOKEN_PREFIX};
pub use appointment::{Appointment, AppointmentStatus, BookingSource, Hold, ManageAccess, OutboxChange, find_overlap};
pub use appointment_lifecycle::{LinkBooking, MoveRequest, NewAppointment, Placement};
pub use appointment_view::AppointmentView;
pub use attendance::{Attendance, AttendanceMark, NoShowLimit, Pause, pause_of};
pub use audit::{ActorKind, AuditActor, AuditEntry};
pub use booking_link::{BookingLink, NewBookingLink, digest};
pub use clinic::{
    AuState, BookingRules, Clinic, ClinicUpdate, NewClinic, OfferPolicy, PmsSettings, PmsSettingsUpdate, SendVia,
};
pub use credentials::{Credentials, PasskeyView, SecondFactor, StoredPasskey, TotpSecret};
pub use email::{check_email, email_domain, is_invisible, looks_like_email, normalize_email};
pub use error::{DomainError, ErrorKind};
pub use invitation::{Invitation, InvitationView, PasswordReset};
pub use local_time::{
    FIRST_DATE, LAST_DATE, LocalStart, local_parts, parse_date, parse_local_start, resolve_local_start,
    resolve_local_start_first, rfc3339_and_abbreviation, rfc3339_in, time_zone,
};
pub use message::{MessageKind, MessageState, OutgoingMessage};
pub use notify_settings::{NotifySettings, NotifyUpdate, parse_hhmm};
pub use people::{
    Actor, Denied, Grant, PASSWORD_MAX, PASSWORD_MIN, Person, PersonState, Role, check_password, check_person_email,
    check_person_name,
};
pub use people_view::{FactorsView, PersonView, RoleView};
pub use pms_record::{HeldBy, PmsKnowledge, PmsPlacement, PmsRecord, PmsSyncState, PmsSyncStatus};
pub use rep::Rep;
pub use session::{SIGNING_IN_FOR, SessionPolicy, SessionRecord, SessionStage, device_words};
pub use slots::{OpenSlots, Slot, open_slots, open_slots_counted};
pub use sso::{
    EmailClaim, NewSsoProvider, ProviderClaims, SsoLink, SsoLinkView, SsoPolicy, SsoProvider, SsoProviderView,
    SsoRefusal, mfa_at_provider, sso_link_key, vouched_address,
};
pub use staff::{Ahpra, NewPractitioner, PmsLink, PmsLinkState, Practitioner};
pub use staff_match::{PmsUser, match_practitioner};
pub use times::{
    ClosedDate, NewCategory, NewClosedDate, NewPublishedTime, PublishedTime, VisitorCategory, parse_weekday,
    weekday_name,
};
pub use waitlist::{
    EntryStatus, EntryView, OfferState, OfferView, WEEKDAYS, WaitlistEntry, WaitlistOffer, WaitlistRequest, in_turn,
};
pub use webhook::{
    AttemptOutcome, Delivery, DeliveryReply, DeliveryState, Endpoint, EndpointPatch, EndpointRequest, EventKind,
    RETRY_FOR, SigningSecret, WebhookEvent, attempt_outcome, signature_header,
};

/// Minutes an appointment may last, inclusive. Also the range for a clinic's default duration.
pub const DURATION_MINUTES: std::ops::RangeInclusive<u32> = 5..=240;

/// A webhook event's id (`webhook-id`): a ULID, so ids sort in the order the changes were made.
pub fn event_id() -> String {
    format!("msg_{}", next_ulid())
}

/// A fresh identifier: a ULID, so ids sort by creation time and read well in logs and PMS text.
pub fn new_id() -> String {
    next_ulid().to_string()
}

/// ULIDs from one process-wide monotonic generator: two made in the same millisecond still sort in the
/// order they were made (plain `Ulid::new` draws fresh random bits, so a receiver that orders a
/// clinic's events by id could see a swap before the booking it changed).
fn next_ulid() -> ulid::Ulid {
    static GENERATOR: std::sync::Mutex<ulid::Generator> = std::sync::Mutex::new(ulid::Generator::new());
    let mut generator = GENERATOR.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // Overflow needs 2^80 ids in one millisecond; a fresh random one is then still unique.
    generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
}

/// Characters no stored text may hold: control characters (a terminal obeys ESC, NUL cuts C strings, a
/// newline forges a table row or a log line) and the bidirectional overrides that make text read
/// differently from how it is stored. `multiline` text (notes, instructions) keeps its line breaks and tabs.
pub(crate) fn refuse_controls(field: &'static str, value: &str, multiline: bool) -> Result<(), DomainError> {
    let bad = value.chars().find(|&c| {
        let allowed_break = multiline && matches!(c, '\n' | '\r' | '\t');
        (c.is_control() && !allowed_break) || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    });
    match bad {
        None => Ok(()),
        Some(c) => Err(DomainError::Invalid {
            field,
            message: format!(
                "{field} holds the control character U+{:04X}; remove it (names are plain text{})",
                c as u32,
                if multiline {
                    ", line breaks are fine"
                } else {
                    " on one line"
                }
            ),
        }),
    }
}

/// Invisible characters make two names that look alike differ, and U+2028/2029 break lines where a
/// program does not expect it: text people read refuses them (the zero-width (non-)joiners stay, some
/// scripts and emoji need them). Addresses are cleaned of them instead (`clean_email`).
pub(crate) fn refuse_invisible(field: &'static str, value: &str) -> Result<(), DomainError> {
    match value
        .chars()
        .find(|&c| email::is_invisible(c) && !matches!(c, '\u{200C}' | '\u{200D}'))
    {
        None => Ok(()),
        Some(c) => Err(DomainError::Invalid {
            field,
            message: format!(
                "{field} holds the invisible character U+{:04X}; remove it (retype the text if it was pasted)",
                c as u32
            ),
        }),
    }
}

pub(crate) fn require_text(field: &'static str, value: &str, max: usize) -> Result<String, DomainError> {
    refuse_controls(field, value, false)?;
    refuse_invisible(field, value)?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(DomainError::Invalid {
            field,
            message: format!("{field} must not be empty"),
        });
    }
    // Counted as sent, as the API document's maxLength counts it.
    if value.chars().count() > max {
        return Err(DomainError::Invalid {
            field,
            message: format!("{field} is longer than {max} characters"),
        });
    }
    Ok(trimmed.to_string())
}

pub(crate) fn check_duration(field: &'static str, minutes: u32) -> Result<u32, DomainError> {
    if DURATION_MINUTES.contains(&minutes) {
        Ok(minutes)
    } else {
        Err(DomainError::Invalid {
            field,
            message: format!(
                "{field} is {minutes}; it must be between {} and {} minutes",
                DURATION_MINUTES.start(),
                DURATION_MINUTES.end()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    /// Thousands of ids in a few milliseconds: sorted as text, they are still in the order they were made.
    #[test]
    fn ids_made_in_the_same_millisecond_sort_in_the_order_they_were_made() {
        let made: Vec<String> = (0..5_000)
            .map(|i| {
                if i % 2 == 0 {
                    super::new_id()
                } else {
                    super::event_id()[4..].to_string()
                }
            })
            .collect();
        let mut sorted = made.clone();
        sorted.sort();
        assert_eq!(made, sorted);
    }
}
