//! The open slots of a clinic, computed in its time zone from its published times: a time keeps its local
//! wall-clock times on a daylight-saving change day; a local time that does not exist that day is skipped,
//! never shifted; one that happens twice is offered once (the first). Closed dates, the past and the lead
//! time, the horizon, slots held by a booking or a live request, and any practitioner's busy spans (from the
//! PMS diary) are taken away. Pure: everything, "now" included, is an input.

use std::collections::HashMap;

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use super::times::{ClosedDate, PublishedTime};
use super::{Appointment, Clinic, local_parts};

/// One bookable slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub start: Timestamp,
    pub local_date: Date,
    pub local_seconds: u32,
    pub minutes: u32,
    /// `None`: with the whole clinic.
    pub practitioner_id: Option<String>,
    pub approval_required: bool,
    pub time_id: String,
}

impl Slot {
    pub fn end(&self) -> Timestamp {
        self.start + SignedDuration::from_mins(self.minutes as i64)
    }

    /// `YYYY-MM-DDTHH:MM`, clinic-local.
    pub fn local_start(&self) -> String {
        format!(
            "{}T{:02}:{:02}",
            self.local_date,
            self.local_seconds / 3600,
            self.local_seconds % 3600 / 60
        )
    }
}

/// Everything the slots depend on.
pub struct OpenSlots<'a> {
    pub clinic: &'a Clinic,
    pub times: &'a [PublishedTime],
    pub closed: &'a [ClosedDate],
    /// The clinic's appointments that may hold slots (those that do not are ignored).
    pub appointments: &'a [Appointment],
    /// The link's visitor categories.
    pub categories: &'a [String],
    /// Clinic-local dates, inclusive.
    pub first: Date,
    pub last: Date,
    pub now: Timestamp,
    /// Spans when a practitioner cannot be booked (from the PMS diary), by practitioner id.
    pub busy: &'a HashMap<String, Vec<(Timestamp, Timestamp)>>,
}

fn overlaps(a: (Timestamp, Timestamp), b: (Timestamp, Timestamp)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// The instant of a clinic-local wall time; `None` when that time does not exist that day. A time that
/// happens twice is its first occurrence.
fn instant(tz: &TimeZone, at: DateTime) -> Option<Timestamp> {
    let offset = match tz.to_ambiguous_timestamp(at).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset,
        AmbiguousOffset::Gap { .. } => return None,
        AmbiguousOffset::Fold { before, .. } => before,
    };
    offset.to_timestamp(at).ok()
}

/// The spans that hold slots, per practitioner (`None`: the whole clinic), sorted by start, with the
/// longest one's length: a slot asks only the spans that start within that length before its end
/// (a binary search), not every appointment of the window.
struct Held<'a> {
    by_practitioner: HashMap<Option<&'a str>, HeldSpans>,
}

/// One practitioner's held spans, sorted by start, and the longest one's length.
type HeldSpans = (Vec<(Timestamp, Timestamp)>, SignedDuration);

impl<'a> Held<'a> {
    fn new(appointments: &'a [Appointment], now: Timestamp) -> Held<'a> {
        let mut by_practitioner: HashMap<Option<&'a str>, HeldSpans> = HashMap::new();
        for a in appointments.iter().filter(|a| a.occupies(now)) {
            let (spans, longest) = by_practitioner.entry(a.practitioner_id.as_deref()).or_default();
            let end = a.end();
            spans.push((a.start, end));
            *longest = (*longest).max(end.duration_since(a.start));
        }
        for (spans, _) in by_practitioner.values_mut() {
            spans.sort_unstable();
        }
        Held { by_practitioner }
    }

    fn overlaps(&self, practitioner: Option<&str>, span: (Timestamp, Timestamp)) -> bool {
        let Some((spans, longest)) = self.by_practitioner.get(&practitioner) else {
            return false;
        };
        // Spans starting before `span.0 - longest` end by `span.0` at the latest.
        let reach = span.0.checked_sub(*longest).unwrap_or(Timestamp::MIN);
        let from = spans.partition_point(|s| s.0 < reach);
        let to = spans.partition_point(|s| s.0 < span.1);
        spans[from..to.max(from)].iter().any(|s| overlaps(span, *s))
    }
}

/// The open slots, in start order (then by practitioner).
pub fn open_slots(q: &OpenSlots<'_>) -> Vec<Slot> {
    open_slots_counted(q).0
}

/// The open slots, and how many more there would be without the practitioners' busy spans.
pub fn open_slots_counted(q: &OpenSlots<'_>) -> (Vec<Slot>, usize) {
    let mut removed_by_busy = 0;
    let rules = &q.clinic.booking;
    let earliest = q.now + SignedDuration::from_hours(rules.booking_lead_hours as i64);
    let latest = q.now + SignedDuration::from_hours(rules.booking_horizon_days as i64 * 24);
    let tz = q.clinic.tz();
    let held = Held::new(q.appointments, q.now);
    let mut slots = Vec::new();
    let mut date = q.first;
    while date <= q.last {
        if !q.closed.iter().any(|c| c.date == date) {
            for time in q.times.iter().filter(|t| t.runs_on(date) && t.visible_to(q.categories)) {
                let step = SignedDuration::from_mins(time.slot_minutes as i64);
                let mut wall = date.to_datetime(time.start);
                let end_of_time = date.to_datetime(time.end);
                while wall.checked_add(step).is_ok_and(|end| end <= end_of_time) {
                    let next = wall.checked_add(step).unwrap_or(end_of_time);
                    if let Some(start) = instant(&tz, wall) {
                        let span = (start, start + step);
                        let bookable = start >= earliest
                            && start <= latest
                            && !held.overlaps(time.practitioner_id.as_deref(), span);
                        let diary_free = time
                            .practitioner_id
                            .as_ref()
                            .and_then(|p| q.busy.get(p))
                            .is_none_or(|spans| !spans.iter().any(|b| overlaps(span, *b)));
                        if bookable && !diary_free {
                            removed_by_busy += 1;
                        }
                        if bookable && diary_free {
                            let parts = local_parts(start, &tz);
                            slots.push(Slot {
                                start,
                                local_date: parts.local_date,
                                local_seconds: parts.local_seconds,
                                minutes: time.slot_minutes,
                                practitioner_id: time.practitioner_id.clone(),
                                approval_required: time.approval_required,
                                time_id: time.id.clone(),
                            });
                        }
                    }
                    wall = next;
                }
            }
        }
        match date.checked_add(1.day()) {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    slots.sort_by(|a, b| (a.start, &a.practitioner_id).cmp(&(b.start, &b.practitioner_id)));
    slots.dedup_by(|a, b| a.start == b.start && a.practitioner_id == b.practitioner_id);
    (slots, removed_by_busy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{NewClinic, NewPublishedTime};

    fn clinic(zone: &str) -> Clinic {
        let mut clinic = Clinic::create(
            "c".into(),
            NewClinic {
                name: "Harbour GP".into(),
                timezone: zone.into(),
                state: "NSW".into(),
                appointment_duration_minutes: 20,
            },
            Timestamp::UNIX_EPOCH,
        )
        .unwrap();
        clinic.booking.booking_horizon_days = 366;
        clinic
    }

    fn tuesday(start: &str, end: &str, who: Option<&str>) -> PublishedTime {
        PublishedTime::create(
            "t1".into(),
            "c".into(),
            NewPublishedTime {
                weekday: "tue".into(),
                start: start.into(),
                end: end.into(),
                slot_minutes: None,
                practitioner_id: who.map(Into::into),
                categories: vec![],
                approval_required: false,
                from: None,
                until: None,
            },
            20,
        )
        .unwrap()
    }

    fn slots(clinic: &Clinic, times: &[PublishedTime], first: &str, last: &str, now: &str) -> Vec<Slot> {
        open_slots(&OpenSlots {
            clinic,
            times,
            closed: &[],
            appointments: &[],
            categories: &[],
            first: first.parse().unwrap(),
            last: last.parse().unwrap(),
            now: now.parse().unwrap(),
            busy: &HashMap::new(),
        })
    }

    #[test]
    fn sydney_tuesday_lunch_keeps_its_wall_clock_times_either_side_of_both_dst_changes() {
        let c = clinic("Australia/Sydney");
        let times = [tuesday("12:30", "13:30", None)];
        // DST starts Sunday 2027-10-03 and ends Sunday 2027-04-04: the Tuesdays either side of each.
        for (tuesday, offset) in [
            ("2027-03-30", "+11:00"),
            ("2027-04-06", "+10:00"),
            ("2027-09-28", "+10:00"),
            ("2027-10-05", "+11:00"),
        ] {
            let found = slots(&c, &times, tuesday, tuesday, "2027-01-01T00:00:00Z");
            let local: Vec<String> = found.iter().map(Slot::local_start).collect();
            assert_eq!(
                local,
                vec![
                    format!("{tuesday}T12:30"),
                    format!("{tuesday}T12:50"),
                    format!("{tuesday}T13:10")
                ],
                "{tuesday}"
            );
            let first = crate::domain::rfc3339_in(found[0].start, &c.tz());
            assert!(first.ends_with(offset), "{first}");
        }
    }

    #[test]
    fn a_time_that_does_not_exist_is_skipped_and_one_that_happens_twice_is_offered_once() {
        let c = clinic("Australia/Sydney");
        let mut sunday = tuesday("01:40", "03:40", None);
        sunday.weekday = jiff::civil::Weekday::Sunday;
        // 2027-10-03: 02:00-03:00 does not exist.
        let found = slots(
            &c,
            &[sunday.clone()],
            "2027-10-03",
            "2027-10-03",
            "2027-01-01T00:00:00Z",
        );
        let local: Vec<String> = found.iter().map(Slot::local_start).collect();
        assert_eq!(local, vec!["2027-10-03T01:40", "2027-10-03T03:00", "2027-10-03T03:20"]);
        // 2027-04-04: 02:00-03:00 happens twice; each wall time once.
        let found = slots(&c, &[sunday], "2027-04-04", "2027-04-04", "2027-01-01T00:00:00Z");
        let local: Vec<String> = found.iter().map(Slot::local_start).collect();
        assert_eq!(local.len(), 6, "{local:?}");
        assert_eq!(local.iter().filter(|l| l.ends_with("02:20")).count(), 1);
    }

    #[test]
    fn the_past_the_lead_time_closed_dates_and_held_slots_are_not_offered() {
        let mut c = clinic("Australia/Adelaide");
        c.booking.booking_lead_hours = 24;
        let times = [tuesday("12:00", "13:00", Some("doc"))];
        // Monday 2027-03-01 13:00 local: tomorrow's 12:00 is 23 hours away (too soon).
        let now = "2027-03-01T02:30:00Z";
        assert!(slots(&c, &times, "2027-03-02", "2027-03-02", now).is_empty());
        assert_eq!(slots(&c, &times, "2027-03-09", "2027-03-09", now).len(), 3);
        let closed = [ClosedDate {
            clinic_id: "c".into(),
            date: "2027-03-09".parse().unwrap(),
            reason: String::new(),
        }];
        let busy = HashMap::new();
        let query = |closed: &[ClosedDate], appointments: &[Appointment]| {
            open_slots(&OpenSlots {
                clinic: &c,
                times: &times,
                closed,
                appointments,
                categories: &[],
                first: "2027-03-09".parse().unwrap(),
                last: "2027-03-09".parse().unwrap(),
                now: now.parse().unwrap(),
                busy: &busy,
            })
        };
        assert!(query(&closed, &[]).is_empty());
        let open = query(&[], &[]);
        let new = crate::domain::NewAppointment {
            practitioner_id: "doc".into(),
            rep: crate::domain::Rep {
                name: "R".into(),
                company: "C".into(),
                email: String::new(),
                phone: None,
            },
            start: "2027-03-09T12:20".into(),
            duration_minutes: Some(20),
            notes: String::new(),
        };
        let booked = Appointment::book("a".into(), &c, new.clone(), now.parse().unwrap()).unwrap();
        let left = query(&[], std::slice::from_ref(&booked));
        assert_eq!(left.len(), 2);
        assert!(!left.iter().any(|s| s.start == open[1].start));

        // A long visit that starts well before the time still holds what it covers, with shorter visits of
        // the same doctor sorted before and after it (slots look back by the longest visit, not by one slot).
        let at = |start: &str, minutes: u32, id: &str| {
            let visit = crate::domain::NewAppointment {
                start: start.into(),
                duration_minutes: Some(minutes),
                ..new.clone()
            };
            Appointment::book(id.into(), &c, visit, now.parse().unwrap()).unwrap()
        };
        let long = at("2027-03-09T09:00", 220, "long");
        let early = at("2027-03-09T11:00", 15, "early");
        let late = at("2027-03-09T13:30", 15, "late");
        let left = query(&[], &[late, early.clone(), long]);
        assert_eq!(left.len(), 1, "09:00 + 220 min holds 12:00 and 12:20: {left:?}");
        assert_eq!(left[0].start, open[2].start);
        assert_eq!(query(&[], &[early]).len(), 3);
    }
}
