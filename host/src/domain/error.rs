//! The one error type of the domain rules, with a stable snake_case code per case.

use thiserror::Error;

/// How an adapter should present a [`DomainError`]: the value is wrong, or the current state forbids it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Invalid,
    Conflict,
}

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum DomainError {
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
    #[error(
        "unknown time zone '{zone}': use an IANA name such as Australia/Sydney, Australia/Adelaide, \
         Australia/Perth, Australia/Brisbane or Australia/Lord_Howe"
    )]
    UnknownTimeZone { zone: String },
    #[error(
        "{local} does not exist in {zone}: clocks jump forward over it for daylight saving; \
         pick a time outside {gap_start} to {gap_end}"
    )]
    NonexistentLocalTime {
        local: String,
        zone: String,
        gap_start: String,
        gap_end: String,
    },
    #[error(
        "{local} happens twice in {zone} because daylight saving ends then; repeat the start with an \
         explicit offset: {local}{first} (the first) or {local}{second} (the second)"
    )]
    AmbiguousLocalTime {
        local: String,
        zone: String,
        first: String,
        second: String,
    },
    #[error("offset {given} is not valid for {local} in {zone}; valid: {valid}")]
    OffsetMismatch {
        local: String,
        zone: String,
        given: String,
        valid: String,
    },
    #[error("{local} ({zone}) is in the past; book a future time")]
    InPast { local: String, zone: String },
    #[error(
        "the practitioner already has appointment {other_id} from {other_start} to {other_end} (clinic \
         time); choose a time that does not overlap it"
    )]
    Overlap {
        other_id: String,
        other_start: String,
        other_end: String,
    },
    #[error("appointment {id} is cancelled and cannot be moved; book a new appointment instead")]
    Cancelled { id: String },
    #[error("a practitioner with AHPRA number {ahpra} already exists in this clinic ({existing_id})")]
    DuplicateAhpra { ahpra: String, existing_id: String },
    #[error("appointment {id} is {status:?}, not a request waiting for approval")]
    NotRequested {
        id: String,
        status: crate::domain::AppointmentStatus,
    },
    #[error("the request {id} expired before it was approved, and its time was released; ask the rep to book again")]
    RequestExpired { id: String },
    #[error("{message}")]
    SlotTaken { message: String },
    #[error(
        "this booking was held for you until {until} ({zone}) and the time has been released since; book again \
         through the clinic's link"
    )]
    HoldExpired { until: String, zone: String },
    #[error(
        "this visit is {state}: there is nothing left to confirm; the email that confirmed it has the link to \
         see, change or cancel it"
    )]
    NotHeld { id: String, state: String },
    #[error("{message}")]
    BookingRule { code: &'static str, message: String },
    /// A front-desk mark that cannot be made (not booked, not today, not started yet).
    #[error("{message}")]
    AttendanceRule { code: &'static str, message: String },
}

impl DomainError {
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::Invalid { .. } => "invalid_value",
            DomainError::UnknownTimeZone { .. } => "unknown_time_zone",
            DomainError::NonexistentLocalTime { .. } => "nonexistent_local_time",
            DomainError::AmbiguousLocalTime { .. } => "ambiguous_local_time",
            DomainError::OffsetMismatch { .. } => "offset_mismatch",
            DomainError::InPast { .. } => "start_in_past",
            DomainError::Overlap { .. } => "overlapping_appointment",
            DomainError::Cancelled { .. } => "appointment_cancelled",
            DomainError::DuplicateAhpra { .. } => "duplicate_ahpra",
            DomainError::NotRequested { .. } => "not_a_request",
            DomainError::RequestExpired { .. } => "request_expired",
            DomainError::SlotTaken { .. } => "slot_taken",
            DomainError::HoldExpired { .. } => "hold_expired",
            DomainError::NotHeld { .. } => "already_confirmed",
            DomainError::BookingRule { code, .. } => code,
            DomainError::AttendanceRule { code, .. } => code,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            DomainError::Overlap { .. }
            | DomainError::Cancelled { .. }
            | DomainError::DuplicateAhpra { .. }
            | DomainError::NotRequested { .. }
            | DomainError::RequestExpired { .. }
            | DomainError::SlotTaken { .. }
            | DomainError::HoldExpired { .. }
            | DomainError::NotHeld { .. }
            | DomainError::BookingRule { .. }
            | DomainError::AttendanceRule { .. } => ErrorKind::Conflict,
            _ => ErrorKind::Invalid,
        }
    }
}
