//! Who hears of what at a clinic: the practice's inbox (requests waiting for approval, reps' cancellations
//! and swaps, the daily agenda, PMS sync trouble), the reminder reps get before a visit, how long a booking
//! through a link holds its slot while the rep confirms their address, and how the clinic is named in the
//! mail reps get. Fields of the clinic, changed with a PATCH.

use jiff::civil::Time;
use serde::{Deserialize, Serialize};

use super::email::check_email;
use super::{DomainError, require_text};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NotifySettings {
    /// The practice's inbox(es): requests waiting for approval, reps' cancellations and swaps, the daily
    /// agenda and PMS sync trouble. Empty: the clinic is not mailed.
    pub notify_email: Vec<String>,
    /// Hours before a visit the rep is reminded of it; 0: no reminders.
    pub reminder_hours: u32,
    /// Clinic-local `HH:MM` at which the day's rep visits are mailed to `notify_email` (only on days with
    /// visits); `null`: no agenda.
    pub daily_agenda_local_time: Option<String>,
    /// Minutes a booking through a link holds its slot while the rep confirms their address by email.
    pub confirm_hold_minutes: u32,
    /// The sender's name reps see (default: the clinic's name).
    pub mail_display_name: Option<String>,
    /// Where reps' replies go (default: the first `notify_email`).
    pub reply_to: Option<String>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            notify_email: Vec::new(),
            reminder_hours: 24,
            daily_agenda_local_time: Some("07:00".into()),
            confirm_hold_minutes: 30,
            mail_display_name: None,
            reply_to: None,
        }
    }
}

/// The fields of a clinic PATCH these settings take (`None`: unchanged; `Some(None)`: cleared).
#[derive(Debug, Default)]
pub struct NotifyUpdate<'a> {
    pub notify_email: Option<&'a Vec<String>>,
    pub reminder_hours: Option<u32>,
    pub daily_agenda_local_time: Option<&'a Option<String>>,
    pub confirm_hold_minutes: Option<u32>,
    pub mail_display_name: Option<&'a Option<String>>,
    pub reply_to: Option<&'a Option<String>>,
}

/// A clinic-local `HH:MM`.
pub fn parse_hhmm(field: &'static str, text: &str) -> Result<Time, DomainError> {
    let text = text.trim();
    let valid = text.len() == 5 && text.as_bytes()[2] == b':';
    let time = valid.then(|| Time::strptime("%H:%M", text).ok()).flatten();
    time.ok_or_else(|| DomainError::Invalid {
        field,
        message: format!("{field} '{text}' is not a time; write HH:MM, e.g. 07:00"),
    })
}

impl NotifySettings {
    pub fn apply(&mut self, update: NotifyUpdate<'_>) -> Result<(), DomainError> {
        if let Some(addresses) = update.notify_email {
            if addresses.len() > 10 {
                return Err(DomainError::Invalid {
                    field: "notify_email",
                    message: "notify_email takes at most 10 addresses".into(),
                });
            }
            let mut checked = Vec::new();
            for address in addresses {
                let address = check_email("notify_email", address)?;
                if !checked.contains(&address) {
                    checked.push(address);
                }
            }
            self.notify_email = checked;
        }
        if let Some(hours) = update.reminder_hours {
            if hours > 168 {
                return Err(DomainError::Invalid {
                    field: "reminder_hours",
                    message: format!("reminder_hours is {hours}; it must be 0 (no reminders) to 168 hours"),
                });
            }
            self.reminder_hours = hours;
        }
        if let Some(time) = update.daily_agenda_local_time {
            self.daily_agenda_local_time = match time {
                Some(text) => {
                    let time = parse_hhmm("daily_agenda_local_time", text)?;
                    Some(format!("{:02}:{:02}", time.hour(), time.minute()))
                }
                None => None,
            };
        }
        if let Some(minutes) = update.confirm_hold_minutes {
            if !(5..=24 * 60).contains(&minutes) {
                return Err(DomainError::Invalid {
                    field: "confirm_hold_minutes",
                    message: format!("confirm_hold_minutes is {minutes}; it must be 5 to 1440 minutes"),
                });
            }
            self.confirm_hold_minutes = minutes;
        }
        if let Some(name) = update.mail_display_name {
            self.mail_display_name = name
                .as_deref()
                .filter(|n| !n.trim().is_empty())
                .map(|n| require_text("mail_display_name", n, 120))
                .transpose()?;
        }
        if let Some(address) = update.reply_to {
            self.reply_to = address
                .as_deref()
                .filter(|a| !a.trim().is_empty())
                .map(|a| check_email("reply_to", a))
                .transpose()?;
        }
        Ok(())
    }

    /// The agenda's clinic-local time, when there is one.
    pub fn agenda_time(&self) -> Option<Time> {
        self.daily_agenda_local_time
            .as_deref()
            .and_then(|t| parse_hhmm("daily_agenda_local_time", t).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_name_what_is_wrong_and_change_only_what_is_given() {
        let mut settings = NotifySettings::default();
        let addresses = vec!["office@clinic.test".to_string(), " office@clinic.test".to_string()];
        settings
            .apply(NotifyUpdate {
                notify_email: Some(&addresses),
                reminder_hours: Some(0),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(settings.notify_email, vec!["office@clinic.test"]);
        assert_eq!((settings.reminder_hours, settings.confirm_hold_minutes), (0, 30));
        let late = Some("7:5".to_string());
        let refused = settings
            .apply(NotifyUpdate {
                daily_agenda_local_time: Some(&late),
                ..Default::default()
            })
            .unwrap_err();
        assert!(refused.to_string().contains("HH:MM"), "{refused}");
        let off = None;
        settings
            .apply(NotifyUpdate {
                daily_agenda_local_time: Some(&off),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(settings.agenda_time(), None);
        assert!(
            settings
                .apply(NotifyUpdate {
                    confirm_hold_minutes: Some(1),
                    ..Default::default()
                })
                .is_err()
        );
    }
}
