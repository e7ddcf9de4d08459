//! The waitlist: a rep who found nothing that suits asks to be told of a freed time (which doctor or any,
//! which weekdays, until when), and the offers a freed time makes. Pure: which entries a slot matches, in
//! which order they hear of it, and the lifecycle of an entry and an offer. Finding freed times and
//! claiming them is the workflow's (`app::waitlist`).

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};

use super::{DomainError, OfferPolicy, Rep, Slot};

/// What a rep asks for, as the booking page sends it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitlistRequest {
    pub rep: Rep,
    /// A doctor's id; `null`: any doctor (and visits with the whole clinic).
    #[serde(default)]
    pub practitioner_id: Option<String>,
    /// `mon` .. `sun`; empty: any weekday.
    #[serde(default)]
    #[schema(max_items = 7)]
    pub weekdays: Vec<String>,
    /// The last clinic-local date (`YYYY-MM-DD`) a freed time may be on; at most the booking horizon.
    #[schema(format = Date, pattern = "@date")]
    pub until: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// The rep has not yet confirmed the address from the mail it was sent.
    Unconfirmed,
    /// On the list: freed times that match are offered.
    Waiting,
    /// The rep booked something at the clinic (through an offer or otherwise): off the list.
    Satisfied,
    /// Its end date passed.
    Expired,
    /// The rep left through the link in a message.
    Left,
    /// The clinic removed it.
    Removed,
}

/// One rep's place on a clinic's waitlist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitlistEntry {
    pub id: String,
    pub clinic_id: String,
    /// The link they joined through; its categories bound what they are offered.
    pub link_id: String,
    pub categories: Vec<String>,
    pub rep: Rep,
    pub practitioner_id: Option<String>,
    /// Monday = 0 .. Sunday = 6; empty: any day.
    pub weekdays: Vec<u8>,
    pub until: Date,
    pub status: EntryStatus,
    /// SHA-256 of the entry's capability (in every message: confirm, see, leave).
    pub token_sha256: String,
    pub created_at: Timestamp,
    /// When it was confirmed: the order reps hear of freed times in (the longest waiting first).
    #[serde(default)]
    pub waiting_since: Option<Timestamp>,
    #[serde(default)]
    pub ended_at: Option<Timestamp>,
}

pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl WaitlistRequest {
    /// The weekdays and end date checked against the clinic's horizon (`today` and `last_day` clinic-local).
    pub fn validated(&self, today: Date, last_day: Date) -> Result<(Vec<u8>, Date), DomainError> {
        let mut weekdays = Vec::new();
        for day in &self.weekdays {
            let wanted = day.trim().to_ascii_lowercase();
            let index = WEEKDAYS
                .iter()
                .position(|w| wanted.starts_with(w) && wanted.len() >= 3)
                .ok_or_else(|| DomainError::Invalid {
                    field: "weekdays",
                    message: format!("'{day}' is not a weekday; use mon, tue, wed, thu, fri, sat or sun"),
                })?;
            if !weekdays.contains(&(index as u8)) {
                weekdays.push(index as u8);
            }
        }
        weekdays.sort_unstable();
        let until: Date = self.until.trim().parse().map_err(|_| DomainError::Invalid {
            field: "until",
            message: format!("until '{}' is not a date (YYYY-MM-DD)", self.until.trim()),
        })?;
        if until < today {
            return Err(DomainError::Invalid {
                field: "until",
                message: format!("until {until} is in the past; choose a date from {today} on"),
            });
        }
        if until > last_day {
            return Err(DomainError::Invalid {
                field: "until",
                message: format!("until {until} is beyond the clinic's booking horizon; choose {last_day} or earlier"),
            });
        }
        Ok((weekdays, until))
    }
}

fn weekday_index(day: Weekday) -> u8 {
    day.to_monday_zero_offset() as u8
}

impl WaitlistEntry {
    /// Whether a freed `slot` (that the entry's categories see) is what this entry asked for.
    pub fn wants(&self, slot: &Slot) -> bool {
        self.status == EntryStatus::Waiting
            && slot.local_date <= self.until
            && (self.weekdays.is_empty() || self.weekdays.contains(&weekday_index(slot.local_date.weekday())))
            && match &self.practitioner_id {
                None => true,
                Some(id) => slot.practitioner_id.as_ref() == Some(id),
            }
    }

    /// "any weekday" / "Mon, Wed".
    pub fn weekdays_text(&self) -> String {
        if self.weekdays.is_empty() {
            return "any weekday".into();
        }
        self.weekdays
            .iter()
            .filter_map(|&d| WEEKDAYS.get(d as usize))
            .map(|d| {
                let mut c = d.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn ended(&self, status: EntryStatus, now: Timestamp) -> WaitlistEntry {
        WaitlistEntry {
            status,
            ended_at: Some(now),
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfferState {
    /// Sent; the rep may claim it (in turn: until `expires_at`).
    Open,
    /// The rep claimed it: a booking (or a request, where the time needs approval).
    Claimed,
    /// In turn: not claimed in time; the time passed to the next rep.
    Passed,
    /// To all: another rep (or a booking through the page) took it first.
    Gone,
}

/// A freed time offered to one entry. Each (entry, time) pair is offered once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitlistOffer {
    pub id: String,
    pub clinic_id: String,
    pub entry_id: String,
    pub start: Timestamp,
    pub local_date: Date,
    pub local_seconds: u32,
    pub minutes: u32,
    pub practitioner_id: Option<String>,
    pub time_id: String,
    pub policy: OfferPolicy,
    pub state: OfferState,
    /// SHA-256 of the claim link's capability.
    pub token_sha256: String,
    pub created_at: Timestamp,
    /// In turn: the held appointment that keeps the time for this rep, and until when.
    #[serde(default)]
    pub held_appointment: Option<String>,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// Once claimed: the visit it became.
    #[serde(default)]
    pub appointment_id: Option<String>,
    #[serde(default)]
    pub ended_at: Option<Timestamp>,
}

impl WaitlistOffer {
    /// Whether this offer is of `slot`'s time with its practitioner.
    pub fn is_for(&self, slot: &Slot) -> bool {
        self.start == slot.start && self.practitioner_id == slot.practitioner_id
    }

    pub fn local_start(&self) -> String {
        format!(
            "{}T{:02}:{:02}",
            self.local_date,
            self.local_seconds / 3600,
            self.local_seconds % 3600 / 60
        )
    }

    pub fn ended(&self, state: OfferState, now: Timestamp) -> WaitlistOffer {
        WaitlistOffer {
            state,
            ended_at: Some(now),
            ..self.clone()
        }
    }
}

/// The order entries hear of a freed time: the longest waiting first (ties by id, which is time-ordered).
pub fn in_turn(entries: &mut [&WaitlistEntry]) {
    entries.sort_by(|a, b| {
        (a.waiting_since.unwrap_or(a.created_at), &a.id).cmp(&(b.waiting_since.unwrap_or(b.created_at), &b.id))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(practitioner: Option<&str>, weekdays: Vec<u8>, until: &str) -> WaitlistEntry {
        WaitlistEntry {
            id: "e".into(),
            clinic_id: "c".into(),
            link_id: "l".into(),
            categories: vec![],
            rep: Rep {
                name: "R".into(),
                company: "C".into(),
                email: "r@c.test".into(),
                phone: None,
            },
            practitioner_id: practitioner.map(Into::into),
            weekdays,
            until: until.parse().unwrap(),
            status: EntryStatus::Waiting,
            token_sha256: String::new(),
            created_at: Timestamp::UNIX_EPOCH,
            waiting_since: None,
            ended_at: None,
        }
    }

    fn slot(date: &str, practitioner: Option<&str>) -> Slot {
        Slot {
            start: Timestamp::UNIX_EPOCH,
            local_date: date.parse().unwrap(),
            local_seconds: 12 * 3600,
            minutes: 15,
            practitioner_id: practitioner.map(Into::into),
            approval_required: false,
            time_id: "t".into(),
        }
    }

    #[test]
    fn an_entry_wants_its_doctor_its_weekdays_and_nothing_after_its_end() {
        // 2026-12-07 is a Monday.
        let monday = slot("2026-12-07", Some("ana"));
        assert!(entry(None, vec![], "2026-12-31").wants(&monday));
        assert!(entry(Some("ana"), vec![0], "2026-12-07").wants(&monday));
        assert!(!entry(Some("ben"), vec![], "2026-12-31").wants(&monday));
        assert!(!entry(None, vec![1, 2], "2026-12-31").wants(&monday));
        assert!(!entry(None, vec![], "2026-12-06").wants(&monday));
        let mut left = entry(None, vec![], "2026-12-31");
        left.status = EntryStatus::Left;
        assert!(!left.wants(&monday));
    }

    #[test]
    fn requests_name_what_to_fix() {
        let today: Date = "2026-12-03".parse().unwrap();
        let last: Date = "2027-01-28".parse().unwrap();
        let request = |weekdays: &[&str], until: &str| WaitlistRequest {
            rep: Rep {
                name: "R".into(),
                company: "C".into(),
                email: "r@c.test".into(),
                phone: None,
            },
            practitioner_id: None,
            weekdays: weekdays.iter().map(|d| d.to_string()).collect(),
            until: until.into(),
        };
        assert_eq!(
            request(&["Wed", "mon", "monday"], "2026-12-20")
                .validated(today, last)
                .unwrap()
                .0,
            vec![0, 2]
        );
        for (weekdays, until, says) in [
            (vec!["funday"], "2026-12-20", "not a weekday"),
            (vec![], "2026-12-01", "in the past"),
            (vec![], "2027-06-01", "booking horizon"),
            (vec![], "soon", "not a date"),
        ] {
            let error = request(&weekdays, until)
                .validated(today, last)
                .unwrap_err()
                .to_string();
            assert!(error.contains(says), "{error}");
        }
    }
}

/// An entry as the API, the booking page and webhooks show it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntryView {
    pub id: String,
    pub status: EntryStatus,
    pub rep: Rep,
    pub practitioner_id: Option<String>,
    /// "Dr Ana Ng", or "any doctor".
    pub with: String,
    pub weekdays: Vec<String>,
    /// "Mon, Wed" or "any weekday".
    pub days: String,
    pub until: String,
    /// RFC 3339.
    pub created_at: String,
    pub waiting_since: Option<String>,
}

impl EntryView {
    pub fn of(entry: &WaitlistEntry, with: String, tz: &jiff::tz::TimeZone) -> EntryView {
        EntryView {
            id: entry.id.clone(),
            status: entry.status,
            rep: entry.rep.clone(),
            practitioner_id: entry.practitioner_id.clone(),
            with,
            weekdays: entry
                .weekdays
                .iter()
                .filter_map(|&d| WEEKDAYS.get(d as usize).map(|w| w.to_string()))
                .collect(),
            days: entry.weekdays_text(),
            until: entry.until.to_string(),
            created_at: super::rfc3339_in(entry.created_at, tz),
            waiting_since: entry.waiting_since.map(|t| super::rfc3339_in(t, tz)),
        }
    }
}

/// An offer as the API, the booking page and webhooks show it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OfferView {
    pub id: String,
    pub entry_id: String,
    pub state: OfferState,
    pub policy: OfferPolicy,
    /// RFC 3339 in the clinic's offset, and clinic-local `YYYY-MM-DDTHH:MM`.
    pub start: String,
    pub local_start: String,
    pub duration_minutes: u32,
    pub practitioner_id: Option<String>,
    pub with: String,
    /// In turn: until when it is held for this rep.
    pub expires_at: Option<String>,
    /// Once claimed: the visit it became.
    pub appointment_id: Option<String>,
    pub created_at: String,
}

impl OfferView {
    pub fn of(offer: &WaitlistOffer, with: String, tz: &jiff::tz::TimeZone) -> OfferView {
        OfferView {
            id: offer.id.clone(),
            entry_id: offer.entry_id.clone(),
            state: offer.state,
            policy: offer.policy,
            start: super::rfc3339_in(offer.start, tz),
            local_start: offer.local_start(),
            duration_minutes: offer.minutes,
            practitioner_id: offer.practitioner_id.clone(),
            with,
            expires_at: offer.expires_at.map(|t| super::rfc3339_in(t, tz)),
            appointment_id: offer.appointment_id.clone(),
            created_at: super::rfc3339_in(offer.created_at, tz),
        }
    }
}
