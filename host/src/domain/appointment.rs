//! Rep appointments: who visits whom and when, what state the visit is in, whether it holds its slot and
//! what the PMS must hear of a change. The changes themselves (book, confirm, swap, approve, move, cancel)
//! are `appointment_lifecycle`; where an appointment stands with the PMS is the sync path's record, apart
//! (`pms_record`).

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::Rep;
use super::{Clinic, DomainError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    /// Booked through a link, waiting for the rep to confirm their address by email; holds its slot until
    /// confirmed or until the hold lapses. Never in the PMS, never counted toward a rep's limits.
    Held,
    Booked,
    /// Waits for the clinic's approval; holds its slot until approved, declined or expired.
    Requested,
    Cancelled,
    Declined,
    Expired,
}

/// What the PMS must be told about a change of an appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxChange {
    Create,
    Move,
    Cancel,
}

/// Who made a booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BookingSource {
    /// Clinic staff, through the API or CLI.
    Staff,
    /// A rep, through a booking link.
    Link { link_id: String },
}

/// A booking through a link that waits for the rep to confirm their address: until when it holds its slot,
/// and what it becomes once confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub expires_at: Timestamp,
    /// The slot needs the clinic's approval: confirmed, it becomes a request.
    pub approval_required: bool,
}

/// The rep's manage link: only a hash of its capability is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManageAccess {
    pub token_sha256: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appointment {
    pub id: String,
    /// The stable reference written into the PMS so a retry can find what an earlier attempt created.
    pub reference: String,
    pub clinic_id: String,
    /// `None`: a visit with the whole clinic.
    pub practitioner_id: Option<String>,
    pub rep: Rep,
    pub start: Timestamp,
    pub local_date: Date,
    pub local_seconds: u32,
    pub duration_minutes: u32,
    pub notes: String,
    pub status: AppointmentStatus,
    pub version: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default = "staff_source")]
    pub source: BookingSource,
    /// The published time it was booked in, for bookings made through a link.
    #[serde(default)]
    pub time_id: Option<String>,
    #[serde(default)]
    pub manage: Option<ManageAccess>,
    /// When a request waiting for approval lets its slot go.
    #[serde(default)]
    pub request_expires_at: Option<Timestamp>,
    /// While `Held`: until when, and what confirming makes of it.
    #[serde(default)]
    pub hold: Option<Hold>,
    /// When the rep moved it through the manage link in the last day: swaps are limited per booking
    /// (`swaps_per_day`), since each one is a write into the PMS.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub swapped_at: Vec<Timestamp>,
    /// The front desk's mark on the day: arrived, no-show, or the clinic could not see them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attendance: Option<super::Attendance>,
}

fn staff_source() -> BookingSource {
    BookingSource::Staff
}

impl Appointment {
    /// Whether this change lets go of time another rep could book: a visit that held its slot stops
    /// holding it (cancelled, declined, expired) or moves away from it. A new booking, a confirmation or an
    /// approval never frees anything, so the waitlist need not look after those.
    pub fn frees_time(previous: &Appointment, next: &Appointment) -> bool {
        let holds = |a: &Appointment| {
            matches!(
                a.status,
                AppointmentStatus::Booked | AppointmentStatus::Requested | AppointmentStatus::Held
            )
        };
        let placed = |a: &Appointment| (a.start, a.practitioner_id.clone(), a.duration_minutes);
        holds(previous) && (!holds(next) || placed(previous) != placed(next))
    }

    /// Whether it holds its slot: booked, or requested or held and not yet expired.
    pub fn occupies(&self, now: Timestamp) -> bool {
        match self.status {
            AppointmentStatus::Booked => true,
            AppointmentStatus::Requested => self.request_expires_at.is_none_or(|t| t > now),
            AppointmentStatus::Held => self.hold.as_ref().is_some_and(|h| h.expires_at > now),
            _ => false,
        }
    }

    /// Whether it counts as the rep's booking (toward the clinic's limits per rep): confirmed and holding
    /// its slot. A booking held for an unconfirmed address does not.
    pub fn counts_for_rep(&self, now: Timestamp) -> bool {
        self.status != AppointmentStatus::Held && self.occupies(now)
    }

    /// What the PMS must hear about the change from `previous` to this state, if anything: only booked
    /// visits are in the PMS.
    pub fn outbox_op(&self, previous: Option<&Appointment>) -> Option<OutboxChange> {
        use OutboxChange as C;
        let was_booked = previous.is_some_and(|p| p.status == AppointmentStatus::Booked);
        match (was_booked, self.status) {
            (false, AppointmentStatus::Booked) => Some(C::Create),
            (true, AppointmentStatus::Booked) => Some(C::Move),
            (true, _) => Some(C::Cancel),
            (false, _) => None,
        }
    }

    pub fn end(&self) -> Timestamp {
        self.start + jiff::SignedDuration::from_mins(self.duration_minutes as i64)
    }

    pub fn overlaps(&self, other: &Appointment) -> bool {
        self.start < other.end() && other.start < self.end()
    }
}

/// The first appointment holding a slot of the same practitioner (or, for a whole-clinic visit, of the
/// whole clinic) that `candidate` would overlap.
pub fn find_overlap<'a>(
    candidate: &Appointment,
    neighbours: impl IntoIterator<Item = &'a Appointment>,
    clinic: &Clinic,
    now: Timestamp,
) -> Result<(), DomainError> {
    let tz = clinic.tz();
    let clash = neighbours.into_iter().find(|other| {
        other.id != candidate.id
            && other.practitioner_id == candidate.practitioner_id
            && other.occupies(now)
            && candidate.overlaps(other)
    });
    match clash {
        None => Ok(()),
        Some(other) => Err(DomainError::Overlap {
            other_id: other.id.clone(),
            other_start: other
                .start
                .to_zoned_datetime(tz.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string(),
            other_end: other.end().to_zoned_datetime(tz).strftime("%H:%M").to_string(),
        }),
    }
}
