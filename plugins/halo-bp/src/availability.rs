//! When a doctor cannot be booked, from their Bp diary: `BP_GetAllSessions` for the sessions they work
//! (weekly or in an N-week cycle, between their dates), then `BP_GetFreeAppointments` per day for what is
//! still free inside them; everything else is busy.

use crate::halo::{Halo, HaloError};
use crate::query::{ExecutionMode, Query, date, date_of, int, int_of};
use crate::repbook::pms::types::*;

/// Longest date range `unavailability` reads in one call (one query per day with sessions).
const MAX_AVAILABILITY_DAYS: i64 = 62;

/// A session row of `BP_GetAllSessions` for one practitioner.
struct Session {
    day_of_week: i64,
    start: u32,
    end: u32,
    start_date: Option<LocalDate>,
    end_date: Option<LocalDate>,
    weeks: i64,
    cycle_week: i64,
    cycle_date: Option<LocalDate>,
}

/// Days since 1970-01-01 (proleptic Gregorian), for weekday and week-cycle arithmetic without a clock.
fn day_number(d: &LocalDate) -> i64 {
    let (y, m, day) = (d.year as i64, d.month as i64, d.day as i64);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn from_day_number(n: i64) -> LocalDate {
    let z = n + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    LocalDate { year: year as u16, month: month as u8, day: day as u8 }
}

/// 1 = Sunday ... 7 = Saturday, as SQL Server's DATEPART(weekday) (assumed for `DayOfWeek`).
fn day_of_week(d: &LocalDate) -> i64 {
    // 1970-01-01 was a Thursday (5).
    (day_number(d) + 4).rem_euclid(7) + 1
}

impl Session {
    fn runs_on(&self, d: &LocalDate) -> bool {
        let n = day_number(d);
        if self.day_of_week != day_of_week(d) || self.start_date.as_ref().is_some_and(|s| n < day_number(s)) || self.end_date.as_ref().is_some_and(|e| n > day_number(e)) {
            return false;
        }
        match (&self.cycle_date, self.weeks) {
            (Some(cycle), weeks) if weeks > 1 => (n - day_number(cycle)).div_euclid(7).rem_euclid(weeks) + 1 == self.cycle_week,
            _ => true,
        }
    }
}

/// Spans of `[0, 86400)` not covered by `covered` (sorted, possibly overlapping).
fn gaps(covered: &mut Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    covered.sort();
    let mut gaps = Vec::new();
    let mut at = 0;
    for (start, end) in covered.iter() {
        if *start > at {
            gaps.push((at, *start));
        }
        at = at.max(*end);
    }
    if at < 86_400 {
        gaps.push((at, 86_400));
    }
    gaps
}

/// When a practitioner cannot be booked: one `BP_GetAllSessions`, then one `BP_GetFreeAppointments` per
/// day on which they have a session (an away day answers with its error). Per doctor-week: 1 + the days
/// with sessions (6 for a Monday-to-Friday doctor).
pub fn unavailability(halo: &Halo, guid: &str, user_id: i64, first: &LocalDate, last: &LocalDate) -> Result<Vec<BusySpan>, HaloError> {
    let (from, to) = (day_number(first), day_number(last));
    if to < from || to - from >= MAX_AVAILABILITY_DAYS {
        return Err(HaloError::Config(ConnectorError::Rejected(format!("ask for 1 to {MAX_AVAILABILITY_DAYS} days at a time"))));
    }
    let sessions: Vec<Session> = halo
        .query(guid, &Query::procedure("BP_GetAllSessions", ExecutionMode::Reader))?
        .rows
        .iter()
        .filter(|row| int_of(row, &["UserID"]) == Some(user_id))
        .filter_map(|row| {
            Some(Session {
                day_of_week: int_of(row, &["DayOfWeek"])?,
                start: int_of(row, &["StartTime"])?.clamp(0, 86_400) as u32,
                end: int_of(row, &["EndTime"])?.clamp(0, 86_400) as u32,
                start_date: date_of(row, &["StartDate"]),
                end_date: date_of(row, &["EndDate"]),
                weeks: int_of(row, &["Weeks"]).unwrap_or(1),
                cycle_week: int_of(row, &["CycleWeek"]).unwrap_or(1),
                cycle_date: date_of(row, &["CycleDate"]),
            })
        })
        .collect();
    let mut busy = Vec::new();
    for n in from..=to {
        let day = from_day_number(n);
        let mut open: Vec<(u32, u32)> = sessions.iter().filter(|s| s.runs_on(&day)).map(|s| (s.start, s.end)).filter(|(s, e)| s < e).collect();
        if open.is_empty() {
            busy.push(BusySpan { date: day, start_seconds: 0, end_seconds: 86_400, reason: BusyReason::OutsideSessions });
            continue;
        }
        let query = Query::procedure("BP_GetFreeAppointments", ExecutionMode::Reader).param(int("@userid", user_id)).param(date("@aptdate", &day));
        let free = match halo.query(guid, &query) {
            Ok(result) => result.rows,
            // "Raises an SQL error when the practitioner is away that day" (bp-sdk.md section 3).
            Err(HaloError::Sql(error)) if error.message.to_ascii_lowercase().contains("away") && error.message.to_ascii_lowercase().contains("that date") => {
                busy.push(BusySpan { date: day, start_seconds: 0, end_seconds: 86_400, reason: BusyReason::Away });
                continue;
            }
            Err(other) => return Err(other),
        };
        for (start, end) in gaps(&mut open) {
            busy.push(BusySpan { date: day, start_seconds: start, end_seconds: end, reason: BusyReason::OutsideSessions });
        }
        let mut free_spans: Vec<(u32, u32)> = free
            .iter()
            .filter_map(|row| {
                let start = int_of(row, &["AppointmentTime"])?.clamp(0, 86_400) as u32;
                let length = int_of(row, &["AppointmentLength"])?.clamp(0, 86_400) as u32;
                Some((start, (start + length).min(86_400)))
            })
            .collect();
        // Inside sessions, whatever is not free is booked.
        let mut not_free = gaps(&mut free_spans);
        not_free.retain(|(s, e)| s < e);
        for (start, end) in not_free {
            for (open_start, open_end) in &open {
                let (s, e) = (start.max(*open_start), end.min(*open_end));
                if s < e {
                    busy.push(BusySpan { date: day, start_seconds: s, end_seconds: e, reason: BusyReason::Booked });
                }
            }
        }
    }
    Ok(busy)
}


#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: u16, m: u8, d: u8) -> LocalDate {
        LocalDate { year: y, month: m, day: d }
    }


    #[test]
    fn day_numbers_round_trip_and_name_the_weekday() {
        for n in [-1, 0, 19_000, 20_424, 40_000] {
            assert_eq!(day_number(&from_day_number(n)), n);
        }
        assert_eq!(day_of_week(&day(2026, 11, 29)), 1, "a Sunday");
        assert_eq!(day_of_week(&day(2026, 12, 1)), 3, "a Tuesday");
    }

    #[test]
    fn gaps_fill_the_day_around_what_is_covered() {
        assert_eq!(gaps(&mut vec![(32_400, 43_200), (46_800, 61_200)]), vec![(0, 32_400), (43_200, 46_800), (61_200, 86_400)]);
        assert_eq!(gaps(&mut vec![(0, 86_400)]), vec![]);
    }
}
