//! Whether the rep came: the front desk's mark on a booked visit of the day (arrived, with the time kept;
//! no-show, once the visit has started; or the clinic could not see them), corrected only on the same
//! clinic-local day. And the clinic's no-show limit: a rep whose address reaches `count` no-shows within
//! `days` is paused from booking through links for `block_days`, until then or until the practice manager
//! lifts it. A no-show is this clinic's knowledge only: nothing of it leaves the clinic.
//!
//! A mark keeps the appointment's version: the PMS hears nothing of it (its outbox entry is for placement).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::{Appointment, AppointmentStatus, DomainError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttendanceMark {
    Arrived,
    NoShow,
    /// The rep came, but nobody could see them (both doctors called away).
    ClinicUnavailable,
}

impl AttendanceMark {
    pub fn words(self) -> &'static str {
        match self {
            AttendanceMark::Arrived => "arrived",
            AttendanceMark::NoShow => "did not come",
            AttendanceMark::ClinicUnavailable => "came, but the clinic could not see them",
        }
    }
}

/// The front desk's mark, and who made it when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attendance {
    pub mark: AttendanceMark,
    #[schema(value_type = String, format = DateTime)]
    pub marked_at: Timestamp,
    /// The name of who marked it (a person, a token, the host token).
    pub marked_by: String,
}

/// `no_show_limit`: `count` no-shows within `days` pause a rep's link bookings for `block_days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoShowLimit {
    #[schema(minimum = 1, maximum = 20)]
    pub count: u32,
    #[schema(minimum = 1, maximum = 730)]
    pub days: u32,
    #[schema(minimum = 1, maximum = 730)]
    pub block_days: u32,
}

impl NoShowLimit {
    pub fn checked(self) -> Result<NoShowLimit, DomainError> {
        let check = |field: &'static str, value: u32, max: u32, unit: &str| {
            if (1..=max).contains(&value) {
                Ok(value)
            } else {
                Err(DomainError::Invalid {
                    field,
                    message: format!("no_show_limit.{field} is {value}; it must be 1 to {max} {unit}"),
                })
            }
        };
        Ok(NoShowLimit {
            count: check("count", self.count, 20, "no-shows")?,
            days: check("days", self.days, 730, "days")?,
            block_days: check("block_days", self.block_days, 730, "days")?,
        })
    }
}

fn refused(code: &'static str, message: String) -> DomainError {
    DomainError::AttendanceRule { code, message }
}

impl Appointment {
    /// Refuses a mark (or its removal) on anything but a booked visit of today, clinic time.
    fn markable_today(&self, now: Timestamp, tz: &TimeZone) -> Result<(), DomainError> {
        if self.status != AppointmentStatus::Booked {
            return Err(refused(
                "not_booked",
                format!(
                    "this visit is {:?}, not booked: only a booked visit can be marked",
                    self.status
                )
                .to_lowercase(),
            ));
        }
        let today = now.to_zoned_datetime(tz.clone()).date();
        if self.local_date != today {
            return Err(refused(
                "not_today",
                format!(
                    "this visit is on {}, and marks are made (and corrected) on the visit's own day, {}",
                    self.local_date, self.local_date
                ),
            ));
        }
        Ok(())
    }

    /// This visit with `mark`, made by `by` at `now`: on the visit's day; a no-show only once it started.
    pub fn marked(
        &self,
        mark: AttendanceMark,
        by: &str,
        now: Timestamp,
        tz: &TimeZone,
    ) -> Result<Appointment, DomainError> {
        self.markable_today(now, tz)?;
        if mark == AttendanceMark::NoShow && now < self.start {
            let at = self.start.to_zoned_datetime(tz.clone());
            return Err(refused(
                "not_started",
                format!(
                    "the visit starts at {}: a rep can be marked as not come only after the start",
                    at.strftime("%-I:%M %P")
                ),
            ));
        }
        let mut next = self.clone();
        next.attendance = Some(Attendance {
            mark,
            marked_at: now,
            marked_by: by.to_string(),
        });
        next.updated_at = now;
        Ok(next)
    }

    /// The mark taken back (a mistap), on the visit's day.
    pub fn unmarked(&self, now: Timestamp, tz: &TimeZone) -> Result<Appointment, DomainError> {
        self.markable_today(now, tz)?;
        let mut next = self.clone();
        next.attendance = None;
        next.updated_at = now;
        Ok(next)
    }

    pub fn is_no_show(&self) -> bool {
        self.attendance
            .as_ref()
            .is_some_and(|a| a.mark == AttendanceMark::NoShow)
    }
}

/// A rep's pause: since the no-show that reached the limit, until when, and how many no-shows counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub since: Timestamp,
    pub until: Timestamp,
    pub no_shows: u32,
}

/// Whether the no-shows at `no_show_starts` (any order) pause a rep at `now` under `limit`; no-shows up to
/// a lift (`lifted_at`) are forgiven. The latest pause still running wins.
pub fn pause_of(
    no_show_starts: &[Timestamp],
    limit: &NoShowLimit,
    lifted_at: Option<Timestamp>,
    now: Timestamp,
) -> Option<Pause> {
    let mut counted: Vec<Timestamp> = no_show_starts
        .iter()
        .copied()
        .filter(|at| lifted_at.is_none_or(|lifted| *at > lifted))
        .collect();
    counted.sort();
    let window = jiff::SignedDuration::from_hours(i64::from(limit.days) * 24);
    let block = jiff::SignedDuration::from_hours(i64::from(limit.block_days) * 24);
    counted
        .iter()
        .enumerate()
        .filter_map(|(i, at)| {
            let within = counted[..=i].iter().filter(|t| **t > *at - window).count() as u32;
            (within >= limit.count).then_some(Pause {
                since: *at,
                until: *at + block,
                no_shows: within,
            })
        })
        .rfind(|pause| pause.until > now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(days: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + days * 86_400).unwrap()
    }

    const LIMIT: NoShowLimit = NoShowLimit {
        count: 2,
        days: 180,
        block_days: 90,
    };

    #[test]
    fn two_no_shows_within_the_window_pause_for_the_block_days() {
        assert_eq!(pause_of(&[at(0)], &LIMIT, None, at(1)), None);
        let pause = pause_of(&[at(100), at(0)], &LIMIT, None, at(101)).unwrap();
        assert_eq!((pause.since, pause.until, pause.no_shows), (at(100), at(190), 2));
        assert_eq!(
            pause_of(&[at(0), at(100)], &LIMIT, None, at(190)),
            None,
            "over after block_days"
        );
        assert_eq!(
            pause_of(&[at(0), at(181)], &LIMIT, None, at(182)),
            None,
            "too far apart"
        );
    }

    #[test]
    fn a_lift_forgives_the_no_shows_before_it() {
        assert_eq!(pause_of(&[at(0), at(10)], &LIMIT, Some(at(11)), at(12)), None);
        let again = pause_of(&[at(0), at(10), at(20), at(30)], &LIMIT, Some(at(11)), at(31)).unwrap();
        assert_eq!(again.since, at(30));
    }
}
