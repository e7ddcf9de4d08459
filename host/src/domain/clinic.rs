//! A clinic: its identity, time zone, default appointment length, PMS settings and the rules its rep
//! bookings follow.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::local_time::time_zone;
use super::notify_settings::{NotifySettings, NotifyUpdate};
use super::{DomainError, check_duration, require_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum AuState {
    NSW,
    VIC,
    QLD,
    SA,
    WA,
    TAS,
    NT,
    ACT,
}

impl AuState {
    const ALL: [AuState; 8] = [
        AuState::NSW,
        AuState::VIC,
        AuState::QLD,
        AuState::SA,
        AuState::WA,
        AuState::TAS,
        AuState::NT,
        AuState::ACT,
    ];

    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let upper = text.trim().to_ascii_uppercase();
        Self::ALL.into_iter().find(|s| format!("{s:?}") == upper).ok_or_else(|| DomainError::Invalid {
            field: "state",
            message: format!("state '{text}' is not an Australian state or territory; use one of NSW, VIC, QLD, SA, WA, TAS, NT, ACT"),
        })
    }
}

impl std::fmt::Display for AuState {
    /// The abbreviation Australians write (NSW, VIC, ...).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// How appointments reach the PMS. Only Halo Link exists today; the field is explicit because the
/// practice manager picks it as a step of the Bp setup guide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SendVia {
    HaloLink,
}

/// The clinic's PMS configuration. Secret settings are kept apart from the rest so that no code path that
/// shows settings can show a secret by accident.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PmsSettings {
    pub connector: Option<String>,
    pub send_via: Option<SendVia>,
    pub enabled: bool,
    pub site_id: Option<String>,
    pub pairing_code: Option<String>,
    pub location_id: Option<i64>,
    pub location_name: Option<String>,
    pub settings: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    /// What the connector learned about the site (e.g. the Halo GUID); cleared by a reset.
    pub site_cache: BTreeMap<String, String>,
    pub validated_at: Option<Timestamp>,
}

/// A PUT of the PMS settings. Absent fields keep their stored value, so a secret need not be re-entered.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PmsSettingsUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 64, pattern = "@line")]
    pub connector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_via: Option<SendVia>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 64, pattern = "@line")]
    pub site_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 64, pattern = "@line")]
    pub pairing_code: Option<String>,
    /// Absent: unchanged; `null`: no location; a number: that location.
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub location_id: Option<Option<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 200, pattern = "@line")]
    pub location_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<BTreeMap<String, String>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
pub(crate) fn double_option<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Setting names treated as secrets: stored, never shown. Connectors declare theirs; these names are
/// recognised whatever the connector says, so a key is never echoed because of a missing declaration.
pub fn is_secret_setting(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["key", "secret", "password", "token"]
        .iter()
        .any(|word| lower.contains(word))
}

impl PmsSettings {
    /// Applies an update. Changing the site id or connector forgets what was learned about the old site.
    pub fn apply(&mut self, update: PmsSettingsUpdate) -> Result<(), DomainError> {
        if let Some(connector) = update.connector {
            let connector = require_text("connector", &connector, 64)?;
            let plugin_name = connector
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !plugin_name {
                return Err(DomainError::Invalid {
                    field: "connector",
                    message: format!(
                        "connector '{connector}' is not a plugin name (lower-case letters, digits and '-', e.g. halo-bp); \
                         `repbook plugin list` shows the installed ones"
                    ),
                });
            }
            if self.connector.as_deref() != Some(connector.as_str()) {
                self.forget_site();
            }
            self.connector = Some(connector);
        }
        if let Some(send_via) = update.send_via {
            self.send_via = Some(send_via);
        }
        if let Some(enabled) = update.enabled {
            self.enabled = enabled;
        }
        if let Some(site_id) = update.site_id {
            let site_id = require_text("site_id", &site_id, 64)?;
            if self.site_id.as_deref() != Some(site_id.as_str()) {
                self.forget_site();
            }
            self.site_id = Some(site_id);
        }
        if let Some(code) = update.pairing_code {
            self.pairing_code = Some(require_text("pairing_code", &code, 64)?);
        }
        if let Some(location) = update.location_id {
            self.location_id = location;
            if location.is_none() {
                self.location_name = None;
            }
        }
        if let Some(name) = update.location_name {
            self.location_name = Some(require_text("location_name", &name, 200)?);
        }
        if let Some(settings) = update.settings {
            for (name, value) in settings {
                let name = require_text("settings", &name, 64)?;
                let target = if is_secret_setting(&name) {
                    &mut self.secrets
                } else {
                    &mut self.settings
                };
                if value.is_empty() {
                    target.remove(&name);
                } else {
                    target.insert(name, value);
                }
            }
        }
        if self.enabled && self.connector.is_none() {
            return Err(DomainError::Invalid {
                field: "enabled",
                message: "cannot enable PMS sync without a connector; set \"connector\": \"halo-bp\"".into(),
            });
        }
        Ok(())
    }

    pub fn forget_site(&mut self) {
        self.site_cache.clear();
        self.validated_at = None;
        self.location_id = None;
        self.location_name = None;
    }

    pub fn is_active(&self) -> bool {
        self.enabled && self.connector.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clinic {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub state: AuState,
    pub appointment_duration_minutes: u32,
    pub pms: PmsSettings,
    pub created_at: Timestamp,
    #[serde(default)]
    pub booking: BookingRules,
    #[serde(default)]
    pub notify: NotifySettings,
}

/// A PATCH of a clinic: only the fields given change (`null` clears an optional rule).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClinicUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 200, pattern = "@line")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "@state")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 5, maximum = 240)]
    pub appointment_duration_minutes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 1440)]
    pub booking_lead_hours: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 366)]
    pub booking_horizon_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 50)]
    pub max_open_bookings_per_rep: Option<u32>,
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 52)]
    pub company_visit_interval_weeks: Option<Option<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 720)]
    pub cancel_cutoff_hours: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 720)]
    pub swap_cutoff_hours: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 50)]
    pub swaps_per_day: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 3650)]
    pub rep_data_retention_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 720)]
    pub request_expiry_hours: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1000)]
    pub link_daily_cap: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waitlist_policy: Option<OfferPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 5, maximum = 10080)]
    pub offer_hold_minutes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2000, pattern = "@text")]
    pub visiting_instructions: Option<String>,
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub clinic_visit_practitioner_id: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 10, inline)]
    pub notify_email: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 168)]
    pub reminder_hours: Option<u32>,
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "@hh-mm")]
    pub daily_agenda_local_time: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 5, maximum = 1440)]
    pub confirm_hold_minutes: Option<u32>,
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 120, pattern = "@blank-or-line")]
    pub mail_display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 254, pattern = "@email-or-blank")]
    pub reply_to: Option<Option<String>>,
    /// `{"count": 2, "days": 180, "block_days": 90}`: that many no-shows within `days` pause a rep's link
    /// bookings for `block_days`; `null` turns it off.
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    pub no_show_limit: Option<Option<super::NoShowLimit>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClinic {
    #[schema(min_length = 1, max_length = 200, pattern = "@line")]
    pub name: String,
    pub timezone: String,
    #[schema(pattern = "@state")]
    pub state: String,
    #[serde(default = "default_duration")]
    #[schema(minimum = 5, maximum = 240)]
    pub appointment_duration_minutes: u32,
}

fn default_duration() -> u32 {
    15
}

impl Clinic {
    pub fn create(id: String, new: NewClinic, now: Timestamp) -> Result<Self, DomainError> {
        let name = require_text("name", &new.name, 200)?;
        let timezone = new.timezone.trim().to_string();
        time_zone(&timezone)?;
        Ok(Clinic {
            id,
            name,
            timezone,
            state: AuState::parse(&new.state)?,
            appointment_duration_minutes: check_duration(
                "appointment_duration_minutes",
                new.appointment_duration_minutes,
            )?,
            pms: PmsSettings::default(),
            created_at: now,
            booking: BookingRules::default(),
            notify: NotifySettings::default(),
        })
    }

    /// Applies a PATCH; the time zone cannot change once appointments exist, so callers check that first.
    /// Nothing changes unless every given field is valid.
    pub fn update(&mut self, change: &ClinicUpdate) -> Result<(), DomainError> {
        let mut next = self.clone();
        if let Some(name) = &change.name {
            next.name = require_text("name", name, 200)?;
        }
        if let Some(zone) = &change.timezone {
            let zone = zone.trim().to_string();
            time_zone(&zone)?;
            next.timezone = zone;
        }
        if let Some(state) = &change.state {
            next.state = AuState::parse(state)?;
        }
        if let Some(minutes) = change.appointment_duration_minutes {
            next.appointment_duration_minutes = check_duration("appointment_duration_minutes", minutes)?;
        }
        next.booking.apply(change)?;
        next.notify.apply(NotifyUpdate {
            notify_email: change.notify_email.as_ref(),
            reminder_hours: change.reminder_hours,
            daily_agenda_local_time: change.daily_agenda_local_time.as_ref(),
            confirm_hold_minutes: change.confirm_hold_minutes,
            mail_display_name: change.mail_display_name.as_ref(),
            reply_to: change.reply_to.as_ref(),
        })?;
        *self = next;
        Ok(())
    }

    pub fn tz(&self) -> jiff::tz::TimeZone {
        // Validated on create and update; a zone that vanished from the bundled database falls back to UTC
        // rather than making the clinic unreadable.
        time_zone(&self.timezone).unwrap_or(jiff::tz::TimeZone::UTC)
    }
}

/// How a clinic's bookings behave; fields of the clinic, changed with a PATCH.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct BookingRules {
    /// Slots closer than this are not offered.
    pub booking_lead_hours: u32,
    /// Slots further ahead than this are not offered.
    pub booking_horizon_days: u32,
    /// Booked or requested future visits one rep (by email) may hold at this clinic.
    pub max_open_bookings_per_rep: u32,
    /// At most one visit per company per doctor within this many weeks; `None`: no such rule.
    pub company_visit_interval_weeks: Option<u32>,
    /// A rep may cancel up to this many hours before the visit.
    pub cancel_cutoff_hours: u32,
    /// A rep may swap to another time up to this many hours before the visit.
    pub swap_cutoff_hours: u32,
    /// Swaps one booking may take in 24 hours (each one writes into the PMS).
    pub swaps_per_day: u32,
    /// Days after a visit ends that its rep's name, address and phone are kept (APP 11.2).
    pub rep_data_retention_days: u32,
    /// An approval-required request holds its slot this long, then expires.
    pub request_expiry_hours: u32,
    /// Bookings one link may take per clinic-local day.
    pub link_daily_cap: u32,
    /// What reps should know (parking, where to wait); shown on the booking pages and in the ICS.
    pub visiting_instructions: String,
    /// Whose PMS appointment book receives visits with the whole clinic.
    pub clinic_visit_practitioner_id: Option<String>,
    /// Who hears first of a freed time: the longest-waiting matching rep (`in_turn`, the time held for
    /// them) or every matching rep at once (`all`, first to claim wins).
    pub waitlist_policy: OfferPolicy,
    /// In turn: how long a freed time is held for the rep it is offered to before it passes to the next.
    pub offer_hold_minutes: u32,
    /// No-shows that pause a rep's link bookings here; `None` (the default): no pause.
    pub no_show_limit: Option<super::NoShowLimit>,
}

/// How a clinic offers a freed time to the reps on its waitlist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfferPolicy {
    #[default]
    InTurn,
    /// `"all"` (DESIGN.md's word); `"to_all"` is read too.
    #[serde(rename = "all", alias = "to_all")]
    ToAll,
}

impl Default for BookingRules {
    fn default() -> Self {
        BookingRules {
            booking_lead_hours: 24,
            booking_horizon_days: 56,
            max_open_bookings_per_rep: 1,
            company_visit_interval_weeks: None,
            cancel_cutoff_hours: 24,
            swap_cutoff_hours: 24,
            swaps_per_day: 3,
            rep_data_retention_days: 730,
            request_expiry_hours: 72,
            link_daily_cap: 20,
            visiting_instructions: String::new(),
            clinic_visit_practitioner_id: None,
            waitlist_policy: OfferPolicy::InTurn,
            offer_hold_minutes: 120,
            no_show_limit: None,
        }
    }
}

fn in_range(
    field: &'static str,
    value: u32,
    range: std::ops::RangeInclusive<u32>,
    unit: &str,
) -> Result<u32, DomainError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(DomainError::Invalid {
            field,
            message: format!(
                "{field} is {value}; it must be {} to {} {unit}",
                range.start(),
                range.end()
            ),
        })
    }
}

impl BookingRules {
    pub fn apply(&mut self, update: &ClinicUpdate) -> Result<(), DomainError> {
        if let Some(v) = update.booking_lead_hours {
            self.booking_lead_hours = in_range("booking_lead_hours", v, 0..=24 * 60, "hours")?;
        }
        if let Some(v) = update.booking_horizon_days {
            self.booking_horizon_days = in_range("booking_horizon_days", v, 1..=366, "days")?;
        }
        if let Some(v) = update.max_open_bookings_per_rep {
            self.max_open_bookings_per_rep = in_range("max_open_bookings_per_rep", v, 1..=50, "bookings")?;
        }
        if let Some(limit) = update.no_show_limit {
            self.no_show_limit = limit.map(super::NoShowLimit::checked).transpose()?;
        }
        if let Some(v) = update.company_visit_interval_weeks {
            self.company_visit_interval_weeks = v
                .map(|w| in_range("company_visit_interval_weeks", w, 1..=52, "weeks"))
                .transpose()?;
        }
        if let Some(v) = update.cancel_cutoff_hours {
            self.cancel_cutoff_hours = in_range("cancel_cutoff_hours", v, 0..=24 * 30, "hours")?;
        }
        if let Some(v) = update.swap_cutoff_hours {
            self.swap_cutoff_hours = in_range("swap_cutoff_hours", v, 0..=24 * 30, "hours")?;
        }
        if let Some(v) = update.swaps_per_day {
            self.swaps_per_day = in_range("swaps_per_day", v, 1..=50, "swaps")?;
        }
        if let Some(v) = update.rep_data_retention_days {
            self.rep_data_retention_days = in_range("rep_data_retention_days", v, 1..=3650, "days")?;
        }
        if let Some(v) = update.request_expiry_hours {
            self.request_expiry_hours = in_range("request_expiry_hours", v, 1..=24 * 30, "hours")?;
        }
        if let Some(v) = update.link_daily_cap {
            self.link_daily_cap = in_range("link_daily_cap", v, 1..=1000, "bookings")?;
        }
        if let Some(text) = &update.visiting_instructions {
            super::refuse_controls("visiting_instructions", text, true)?;
            super::refuse_invisible("visiting_instructions", text)?;
            let text = text.trim();
            if text.chars().count() > 2000 {
                return Err(DomainError::Invalid {
                    field: "visiting_instructions",
                    message: "visiting_instructions is longer than 2000 characters".into(),
                });
            }
            self.visiting_instructions = text.to_string();
        }
        if let Some(v) = update.waitlist_policy {
            self.waitlist_policy = v;
        }
        if let Some(v) = update.offer_hold_minutes {
            self.offer_hold_minutes = in_range("offer_hold_minutes", v, 5..=24 * 60 * 7, "minutes")?;
        }
        if let Some(v) = &update.clinic_visit_practitioner_id {
            self.clinic_visit_practitioner_id = v.clone().filter(|p| !p.trim().is_empty());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(zone: &str, state: &str, minutes: u32) -> NewClinic {
        NewClinic {
            name: "Harbour GP".into(),
            timezone: zone.into(),
            state: state.into(),
            appointment_duration_minutes: minutes,
        }
    }

    #[test]
    fn clinic_rules_name_the_bad_field() {
        let now = Timestamp::now();
        assert!(Clinic::create("c".into(), new("Australia/Adelaide", "sa", 20), now).is_ok());
        assert_eq!(
            Clinic::create("c".into(), new("Australia/Nowhere", "SA", 20), now)
                .unwrap_err()
                .code(),
            "unknown_time_zone"
        );
        assert!(
            Clinic::create("c".into(), new("Australia/Sydney", "XYZ", 20), now)
                .unwrap_err()
                .to_string()
                .contains("NSW")
        );
        assert!(
            Clinic::create("c".into(), new("Australia/Sydney", "NSW", 300), now)
                .unwrap_err()
                .to_string()
                .contains("240")
        );
    }

    #[test]
    fn secrets_are_kept_apart_and_site_change_forgets_the_cache() {
        let mut pms = PmsSettings::default();
        let update: PmsSettingsUpdate = serde_json::from_value(serde_json::json!({
            "connector": "halo-bp", "send_via": "halo-link", "enabled": true, "site_id": "12345",
            "settings": {"base_url": "http://127.0.0.1:9", "subscription_key": "s3cret"}
        }))
        .unwrap();
        pms.apply(update).unwrap();
        assert_eq!(pms.secrets.get("subscription_key").map(String::as_str), Some("s3cret"));
        assert!(!pms.settings.contains_key("subscription_key"));
        pms.site_cache.insert("halo_guid".into(), "g".into());
        pms.apply(PmsSettingsUpdate {
            site_id: Some("999".into()),
            ..Default::default()
        })
        .unwrap();
        assert!(pms.site_cache.is_empty());
        let disable_connectorless = PmsSettings::default().apply(PmsSettingsUpdate {
            enabled: Some(true),
            ..Default::default()
        });
        assert!(disable_connectorless.is_err());
    }
}
