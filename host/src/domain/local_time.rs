//! Clinic-local wall-clock times: parsing `YYYY-MM-DDTHH:MM[±HH:MM]` and resolving it in the clinic's zone,
//! and the one rule for the dates anything may name.
//!
//! jiff owns every time-zone rule (DST gaps, folds, half-hour zones); this file only decides what to do
//! with each case: a gap is refused, a fold needs the caller to pick an offset.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};

use super::DomainError;

/// A start time as given by a person: clinic-local, with an offset only when they needed to pick one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalInput {
    pub datetime: DateTime,
    pub offset: Option<Offset>,
}

/// A start time resolved in the clinic's zone: the instant plus the clinic-local date and seconds since
/// local midnight, which is what a PMS such as Bp Premier stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalStart {
    pub instant: Timestamp,
    pub local_date: Date,
    pub local_seconds: u32,
}

impl LocalStart {
    /// `YYYY-MM-DD HH:MM`, clinic-local.
    pub fn datetime_text(&self) -> String {
        format!(
            "{} {:02}:{:02}",
            self.local_date,
            self.local_seconds / 3600,
            self.local_seconds % 3600 / 60
        )
    }
}

pub fn time_zone(name: &str) -> Result<TimeZone, DomainError> {
    TimeZone::get(name).map_err(|_| DomainError::UnknownTimeZone { zone: name.to_string() })
}

/// Parses `YYYY-MM-DDTHH:MM`, optionally followed by an offset such as `+10:30`.
pub fn parse_local_start(input: &str) -> Result<LocalInput, DomainError> {
    let input = input.trim();
    let bad = || DomainError::Invalid {
        field: "start",
        message: format!(
            "start '{input}' is not a clinic-local time; write YYYY-MM-DDTHH:MM, e.g. 2026-12-01T12:30 \
             (add an offset such as +11:00 only when asked to)"
        ),
    };
    if input.len() < 16 || !input.is_char_boundary(16) {
        return Err(bad());
    }
    let (civil, rest) = input.split_at(16);
    let datetime: DateTime = civil.parse().map_err(|_| bad())?;
    if civil.as_bytes()[10] != b'T' {
        return Err(bad());
    }
    let offset = if rest.is_empty() {
        None
    } else {
        Some(parse_offset(rest).ok_or_else(bad)?)
    };
    Ok(LocalInput { datetime, offset })
}

fn parse_offset(text: &str) -> Option<Offset> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let hours: i32 = hours.parse().ok()?;
    let minutes: i32 = minutes.parse().ok()?;
    if hours > 14 || minutes > 59 {
        return None;
    }
    Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()
}

/// Resolves a local start in `zone_name`. Refuses a time inside a DST gap, and asks for an offset when the
/// time happens twice (DST fold). An offset given for an unambiguous time must be the right one.
pub fn resolve_local_start(zone_name: &str, input: &LocalInput) -> Result<LocalStart, DomainError> {
    let tz = time_zone(zone_name)?;
    let local = input.datetime.strftime("%Y-%m-%dT%H:%M").to_string();
    let zone = zone_name.to_string();
    let offset = match tz.to_ambiguous_timestamp(input.datetime).offset() {
        AmbiguousOffset::Unambiguous { offset } => {
            if let Some(given) = input.offset.filter(|given| *given != offset) {
                return Err(DomainError::OffsetMismatch {
                    local,
                    zone,
                    given: given.to_string(),
                    valid: offset.to_string(),
                });
            }
            offset
        }
        AmbiguousOffset::Gap { before, after } => {
            let (gap_start, gap_end) = gap_bounds(&tz, input.datetime, before, after);
            return Err(DomainError::NonexistentLocalTime {
                local,
                zone,
                gap_start,
                gap_end,
            });
        }
        AmbiguousOffset::Fold { before, after } => match input.offset {
            Some(given) if given == before || given == after => given,
            Some(given) => {
                return Err(DomainError::OffsetMismatch {
                    local,
                    zone,
                    given: given.to_string(),
                    valid: format!("{before} or {after}"),
                });
            }
            None => {
                return Err(DomainError::AmbiguousLocalTime {
                    local,
                    zone,
                    first: before.to_string(),
                    second: after.to_string(),
                });
            }
        },
    };
    let instant = offset.to_timestamp(input.datetime).map_err(|_| DomainError::Invalid {
        field: "start",
        message: format!(
            "start is outside the times repbook takes ({FIRST_DATE} to {LAST_DATE}); write a date between them"
        ),
    })?;
    Ok(local_parts(instant, &tz))
}

/// Like [`resolve_local_start`], but a time that happens twice without an offset is its first occurrence
/// (as published slots are offered), while a time that does not exist is still refused.
pub fn resolve_local_start_first(zone_name: &str, input: &LocalInput) -> Result<LocalStart, DomainError> {
    match resolve_local_start(zone_name, input) {
        Err(DomainError::AmbiguousLocalTime { .. }) if input.offset.is_none() => {
            let tz = time_zone(zone_name)?;
            let instant = tz
                .to_ambiguous_timestamp(input.datetime)
                .earlier()
                .map_err(|_| DomainError::Invalid {
                    field: "start",
                    message: format!(
                        "start is outside the times repbook takes ({FIRST_DATE} to {LAST_DATE}); write a date between them"
                    ),
                })?;
            Ok(local_parts(instant, &tz))
        }
        other => other,
    }
}

/// The clinic-local date and seconds since midnight of an instant.
pub fn local_parts(instant: Timestamp, tz: &TimeZone) -> LocalStart {
    let zoned = instant.to_zoned_datetime(tz.clone());
    let time = zoned.time();
    LocalStart {
        instant,
        local_date: zoned.date(),
        local_seconds: time.hour() as u32 * 3600 + time.minute() as u32 * 60 + time.second() as u32,
    }
}

/// The wall-clock span that a DST gap skips, e.g. ("02:00", "03:00"), read off the transition itself.
fn gap_bounds(tz: &TimeZone, datetime: DateTime, before: Offset, after: Offset) -> (String, String) {
    let fallback = || {
        (
            datetime.strftime("%H:%M").to_string(),
            datetime.strftime("%H:%M").to_string(),
        )
    };
    // Read with the earlier offset, the skipped time lies just after the transition.
    let Ok(probe) = before.to_timestamp(datetime) else {
        return fallback();
    };
    let Some(transition) = tz.preceding(probe + jiff::SignedDuration::from_secs(1)).next() else {
        return fallback();
    };
    let wall = |offset: Offset| offset.to_datetime(transition.timestamp()).strftime("%H:%M").to_string();
    (wall(before), wall(after))
}

/// Formats an instant as RFC 3339 with the clinic's offset at that instant.
pub fn rfc3339_in(instant: Timestamp, tz: &TimeZone) -> String {
    rfc3339_at(instant, tz.to_offset(instant))
}

/// `rfc3339_in` with the zone's abbreviation at that instant ("AEDT"), from one look-up of the zone's rules.
pub fn rfc3339_and_abbreviation(instant: Timestamp, tz: &TimeZone) -> (String, String) {
    let info = tz.to_offset_info(instant);
    (rfc3339_at(instant, info.offset()), info.abbreviation().to_string())
}

/// RFC 3339 at a known offset. Written out directly: lists of slots and appointments print hundreds of
/// these per answer, and strftime's general formatter was a tenth of a slot list's time.
fn rfc3339_at(instant: Timestamp, offset: jiff::tz::Offset) -> String {
    let local = offset.to_datetime(instant);
    let seconds = offset.seconds();
    if !(0..=9999).contains(&local.year()) || seconds % 60 != 0 {
        // Years a four-digit field cannot hold, and historical offsets with seconds (local mean time).
        return instant
            .to_zoned_datetime(TimeZone::fixed(offset))
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        local.year(),
        local.month(),
        local.day(),
        local.hour(),
        local.minute(),
        local.second(),
        minutes / 60,
        minutes % 60
    )
}

/// Dates anything may name, the same for every field and query: far enough for any real diary, near
/// enough that every day of it (and the day after) exists in every zone.
pub const FIRST_DATE: Date = jiff::civil::date(2000, 1, 1);
pub const LAST_DATE: Date = jiff::civil::date(2199, 12, 31);

pub fn parse_date(field: &'static str, text: &str) -> Result<Date, DomainError> {
    let date: Date = text.trim().parse().map_err(|_| DomainError::Invalid {
        field,
        message: format!("{field} '{text}' is not a date; write YYYY-MM-DD"),
    })?;
    if !(FIRST_DATE..=LAST_DATE).contains(&date) {
        return Err(DomainError::Invalid {
            field,
            message: format!("{field} {date} is outside the dates repbook takes ({FIRST_DATE} to {LAST_DATE})"),
        });
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(zone: &str, text: &str) -> Result<LocalStart, DomainError> {
        resolve_local_start(zone, &parse_local_start(text)?)
    }

    #[test]
    fn rfc3339_written_out_matches_strftime_in_every_kind_of_zone() {
        let zones = [
            "Australia/Sydney",
            "Australia/Lord_Howe",
            "Australia/Eucla",
            "America/St_Johns",
            "UTC",
            "Asia/Kolkata",
        ];
        for zone in zones {
            let tz = TimeZone::get(zone).unwrap();
            // Every 7 h 13 min over three years crosses each zone's changes at many times of day.
            let mut at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
            while at < "2029-01-01T00:00:00Z".parse().unwrap() {
                let expected = at
                    .to_zoned_datetime(tz.clone())
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string();
                assert_eq!(rfc3339_in(at, &tz), expected, "{zone} {at}");
                let (text, abbreviation) = rfc3339_and_abbreviation(at, &tz);
                assert_eq!(text, expected);
                assert_eq!(
                    abbreviation,
                    at.to_zoned_datetime(tz.clone()).strftime("%Z").to_string(),
                    "{zone} {at}"
                );
                at += jiff::SignedDuration::from_mins(7 * 60 + 13);
            }
        }
        // Local mean time (an offset with seconds) goes through strftime.
        let lmt: Timestamp = "1850-01-01T00:00:00Z".parse().unwrap();
        let sydney = TimeZone::get("Australia/Sydney").unwrap();
        assert_eq!(
            rfc3339_in(lmt, &sydney),
            lmt.to_zoned_datetime(sydney.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        );
    }

    #[test]
    fn sydney_dst_start_gap_is_refused_with_the_skipped_hour() {
        let err = resolve("Australia/Sydney", "2027-10-03T02:30").unwrap_err();
        assert_eq!(err.code(), "nonexistent_local_time");
        assert!(err.to_string().contains("02:00 to 03:00"), "{err}");
    }

    #[test]
    fn sydney_dst_end_fold_needs_an_offset_and_accepts_either() {
        let err = resolve("Australia/Sydney", "2027-04-04T02:30").unwrap_err();
        assert_eq!(err.code(), "ambiguous_local_time");
        assert!(
            err.to_string().contains("+11") && err.to_string().contains("+10"),
            "{err}"
        );
        let first = resolve("Australia/Sydney", "2027-04-04T02:30+11:00").unwrap();
        let second = resolve("Australia/Sydney", "2027-04-04T02:30+10:00").unwrap();
        assert_eq!(second.instant.as_second() - first.instant.as_second(), 3600);
        assert_eq!(first.local_seconds, 9000);
        assert_eq!(second.local_seconds, 9000);
        let wrong = resolve("Australia/Sydney", "2027-04-04T02:30+09:30").unwrap_err();
        assert_eq!(wrong.code(), "offset_mismatch");
    }

    #[test]
    fn adelaide_half_hour_offset_gives_right_instant_and_local_parts() {
        // Adelaide in December is on daylight time, +10:30.
        let start = resolve("Australia/Adelaide", "2027-12-01T12:30").unwrap();
        assert_eq!(start.instant.to_string(), "2027-12-01T02:00:00Z");
        assert_eq!(start.local_date.to_string(), "2027-12-01");
        assert_eq!(start.local_seconds, 45_000);
    }

    #[test]
    fn lord_howe_thirty_minute_dst_shift() {
        // Lord Howe moves from +10:30 to +11:00 on the first Sunday of October at 02:00.
        let err = resolve("Australia/Lord_Howe", "2027-10-03T02:15").unwrap_err();
        assert_eq!(err.code(), "nonexistent_local_time");
        assert!(err.to_string().contains("02:00 to 02:30"), "{err}");
        let summer = resolve("Australia/Lord_Howe", "2027-12-01T09:00").unwrap();
        assert_eq!(summer.instant.to_string(), "2027-11-30T22:00:00Z");
        let winter = resolve("Australia/Lord_Howe", "2027-07-01T09:00").unwrap();
        assert_eq!(winter.instant.to_string(), "2027-06-30T22:30:00Z");
        assert_eq!(winter.local_seconds, 32_400);
    }

    #[test]
    fn malformed_and_unknown_inputs_say_what_to_write() {
        assert_eq!(
            parse_local_start("2027-12-01 12:30").unwrap_err().code(),
            "invalid_value"
        );
        assert_eq!(parse_local_start("tomorrow").unwrap_err().code(), "invalid_value");
        assert_eq!(
            parse_local_start("2027-12-01T12:30+25:00").unwrap_err().code(),
            "invalid_value"
        );
        assert_eq!(
            resolve("Mars/Olympus", "2027-12-01T12:30").unwrap_err().code(),
            "unknown_time_zone"
        );
        let perth = resolve("Australia/Perth", "2027-12-01T12:30+08:00").unwrap();
        assert_eq!(perth.instant.to_string(), "2027-12-01T04:30:00Z");
        assert_eq!(
            resolve("Australia/Perth", "2027-12-01T12:30+09:00").unwrap_err().code(),
            "offset_mismatch"
        );
    }
}
