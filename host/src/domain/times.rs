//! The times a clinic offers reps: visitor categories (which reps may see a time), weekly rep-visit times
//! cut into slots, and dates closed to rep visits. Clinic-local wall-clock values throughout.

use jiff::civil::{Date, Time, Weekday};
use serde::{Deserialize, Serialize};

use super::local_time::parse_date;
use super::{DomainError, check_duration, require_text};

/// A kind of representative a time can be reserved for, e.g. "Specialist Services".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VisitorCategory {
    pub id: String,
    pub clinic_id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    #[schema(min_length = 1, max_length = 80, pattern = "@line")]
    pub name: String,
}

impl VisitorCategory {
    pub fn create(id: String, clinic_id: String, new: NewCategory) -> Result<Self, DomainError> {
        Ok(VisitorCategory {
            id,
            clinic_id,
            name: require_text("name", &new.name, 80)?,
        })
    }
}

/// A weekly rep-visit time: on `weekday`, from `start` to `end` (clinic-local wall clock), cut into slots
/// of `slot_minutes`, with one doctor or the whole clinic, for some visitor categories (none = every rep).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedTime {
    pub id: String,
    pub clinic_id: String,
    #[serde(with = "weekday_text")]
    pub weekday: Weekday,
    pub start: Time,
    pub end: Time,
    pub slot_minutes: u32,
    /// `None`: the whole clinic.
    pub practitioner_id: Option<String>,
    /// Category ids; empty: every rep.
    pub categories: Vec<String>,
    pub approval_required: bool,
    pub from: Option<Date>,
    pub until: Option<Date>,
}

/// A POST of a published time, as people write it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPublishedTime {
    /// mon, tue, wed, thu, fri, sat, sun (or the full name).
    #[schema(
        pattern = r"^\s*([Mm][Oo][Nn]([Dd]([Aa]([Yy])?)?)?|[Tt][Uu][Ee]([Ss]([Dd]([Aa]([Yy])?)?)?)?|[Ww][Ee][Dd]([Nn]([Ee]([Ss]([Dd]([Aa]([Yy])?)?)?)?)?)?|[Tt][Hh][Uu]([Rr]([Ss]([Dd]([Aa]([Yy])?)?)?)?)?|[Ff][Rr][Ii]([Dd]([Aa]([Yy])?)?)?|[Ss][Aa][Tt]([Uu]([Rr]([Dd]([Aa]([Yy])?)?)?)?)?|[Ss][Uu][Nn]([Dd]([Aa]([Yy])?)?)?)\s*$"
    )]
    pub weekday: String,
    /// HH:MM, clinic-local.
    #[schema(pattern = "@hh-mm")]
    pub start: String,
    /// HH:MM, clinic-local.
    #[schema(pattern = "@hh-mm")]
    pub end: String,
    /// Default: the clinic's appointment duration.
    #[serde(default)]
    #[schema(minimum = 5, maximum = 240)]
    pub slot_minutes: Option<u32>,
    #[serde(default)]
    pub practitioner_id: Option<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub approval_required: bool,
    #[serde(default)]
    #[schema(format = Date, pattern = "@date")]
    pub from: Option<String>,
    #[serde(default)]
    #[schema(format = Date, pattern = "@date")]
    pub until: Option<String>,
}

pub fn parse_weekday(text: &str) -> Result<Weekday, DomainError> {
    let lower = text.trim().to_ascii_lowercase();
    let days = [
        (Weekday::Monday, "monday"),
        (Weekday::Tuesday, "tuesday"),
        (Weekday::Wednesday, "wednesday"),
        (Weekday::Thursday, "thursday"),
        (Weekday::Friday, "friday"),
        (Weekday::Saturday, "saturday"),
        (Weekday::Sunday, "sunday"),
    ];
    days.iter()
        .find(|(_, name)| lower.len() >= 3 && name.starts_with(&lower))
        .map(|(day, _)| *day)
        .ok_or_else(|| DomainError::Invalid {
            field: "weekday",
            message: format!("weekday '{text}' is not a day of the week; write mon, tue, wed, thu, fri, sat or sun"),
        })
}

pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "mon",
        Weekday::Tuesday => "tue",
        Weekday::Wednesday => "wed",
        Weekday::Thursday => "thu",
        Weekday::Friday => "fri",
        Weekday::Saturday => "sat",
        Weekday::Sunday => "sun",
    }
}

/// A weekday as people write it in requests and read it in answers: `mon` ... `sun`.
mod weekday_text {
    use jiff::civil::Weekday;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(day: &Weekday, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(super::weekday_name(*day))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Weekday, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_weekday(&text).map_err(serde::de::Error::custom)
    }
}

fn parse_time(field: &'static str, text: &str) -> Result<Time, DomainError> {
    let bad = || DomainError::Invalid {
        field,
        message: format!("{field} '{text}' is not a time of day; write HH:MM, e.g. 12:30"),
    };
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    Time::new(h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, 0, 0).map_err(|_| bad())
}

impl PublishedTime {
    /// Checks the values; the caller has checked that the practitioner and categories belong to the clinic.
    pub fn create(
        id: String,
        clinic_id: String,
        new: NewPublishedTime,
        default_minutes: u32,
    ) -> Result<Self, DomainError> {
        let start = parse_time("start", &new.start)?;
        let end = parse_time("end", &new.end)?;
        if end <= start {
            return Err(DomainError::Invalid {
                field: "end",
                message: format!("end {} must be after start {}", new.end.trim(), new.start.trim()),
            });
        }
        let slot_minutes = check_duration("slot_minutes", new.slot_minutes.unwrap_or(default_minutes))?;
        let span = (end - start).get_minutes() as u32 + (end - start).get_hours() as u32 * 60;
        if slot_minutes > span {
            return Err(DomainError::Invalid {
                field: "slot_minutes",
                message: format!(
                    "slot_minutes {slot_minutes} does not fit between {} and {}",
                    new.start.trim(),
                    new.end.trim()
                ),
            });
        }
        let from = new.from.as_deref().map(|d| parse_date("from", d)).transpose()?;
        let until = new.until.as_deref().map(|d| parse_date("until", d)).transpose()?;
        if let (Some(from), Some(until)) = (from, until)
            && until < from
        {
            return Err(DomainError::Invalid {
                field: "until",
                message: format!("until {until} is before from {from}"),
            });
        }
        let mut categories = new.categories;
        categories.sort();
        categories.dedup();
        Ok(PublishedTime {
            id,
            clinic_id,
            weekday: parse_weekday(&new.weekday)?,
            start,
            end,
            slot_minutes,
            practitioner_id: new.practitioner_id.filter(|p| !p.trim().is_empty()),
            categories,
            approval_required: new.approval_required,
            from,
            until,
        })
    }

    pub fn runs_on(&self, date: Date) -> bool {
        date.weekday() == self.weekday && self.from.is_none_or(|f| date >= f) && self.until.is_none_or(|u| date <= u)
    }

    /// Whether a link with these categories sees this time (a time for every rep is seen by all links).
    pub fn visible_to(&self, link_categories: &[String]) -> bool {
        self.categories.is_empty() || self.categories.iter().any(|c| link_categories.contains(c))
    }
}

/// A date the clinic takes no rep visits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClosedDate {
    pub clinic_id: String,
    #[schema(value_type = String, format = Date)]
    pub date: Date,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClosedDate {
    #[schema(format = Date, pattern = "@date")]
    pub date: String,
    #[serde(default)]
    #[schema(max_length = 200, pattern = "@line-or-empty")]
    pub reason: String,
}

impl ClosedDate {
    pub fn create(clinic_id: String, new: NewClosedDate) -> Result<Self, DomainError> {
        super::refuse_controls("reason", &new.reason, false)?;
        super::refuse_invisible("reason", &new.reason)?;
        let reason = new.reason.trim();
        if reason.chars().count() > 200 {
            return Err(DomainError::Invalid {
                field: "reason",
                message: "reason is longer than 200 characters".into(),
            });
        }
        Ok(ClosedDate {
            clinic_id,
            date: parse_date("date", &new.date)?,
            reason: reason.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(weekday: &str, start: &str, end: &str, minutes: Option<u32>) -> Result<PublishedTime, DomainError> {
        PublishedTime::create(
            "t".into(),
            "c".into(),
            NewPublishedTime {
                weekday: weekday.into(),
                start: start.into(),
                end: end.into(),
                slot_minutes: minutes,
                practitioner_id: None,
                categories: vec![],
                approval_required: false,
                from: None,
                until: None,
            },
            20,
        )
    }

    #[test]
    fn published_times_name_what_is_wrong() {
        let t = time("Tue", "12:30", "13:30", None).unwrap();
        assert_eq!((t.weekday, t.slot_minutes), (Weekday::Tuesday, 20));
        assert_eq!(time("tu", "12:30", "13:30", None).unwrap_err().code(), "invalid_value");
        assert!(
            time("tue", "13:30", "12:30", None)
                .unwrap_err()
                .to_string()
                .contains("after start")
        );
        assert!(
            time("tue", "12:30", "12:40", Some(15))
                .unwrap_err()
                .to_string()
                .contains("does not fit")
        );
        assert!(
            time("tue", "7:30", "12:40", None)
                .unwrap_err()
                .to_string()
                .contains("HH:MM")
        );
    }

    #[test]
    fn a_time_for_every_rep_is_seen_by_every_link() {
        let mut t = time("mon", "12:00", "13:00", None).unwrap();
        assert!(t.visible_to(&[]));
        t.categories = vec!["spec".into()];
        assert!(!t.visible_to(&[]));
        assert!(!t.visible_to(&["gen".into()]));
        assert!(t.visible_to(&["gen".into(), "spec".into()]));
    }
}
