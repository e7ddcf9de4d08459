//! The host's own, version-independent view of the connector contract. Generated types of each WIT version
//! convert into these, so the store, API and sync code never depend on a particular WIT version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use crate::domain::{PmsKnowledge, PmsPlacement};

/// Everything a connector call needs to know about the clinic's PMS. Secrets stay in `secrets` on the host
/// side and never reach the guest.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    pub clinic_id: String,
    pub site_id: Option<String>,
    pub pairing_code: Option<String>,
    pub location_id: Option<i64>,
    pub settings: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    pub site_cache: BTreeMap<String, String>,
    /// The clinic's IANA zone, for connectors that convert through the host's `zone` import.
    pub timezone: String,
    /// Filled by a call: how far the PMS side's clock (its HTTP `Date`) is ahead of ours, when it sent one.
    pub peer_clock_offset: Option<jiff::SignedDuration>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SettingSpec {
    pub name: String,
    /// What a practice manager reads beside the field: the first line of the connector's description
    /// (see `SettingSpec::from_described`), or the key in words when the description has one line only.
    #[serde(default)]
    pub label: String,
    /// The help under the field: the description after its first line.
    pub description: String,
    pub secret: bool,
    pub required: bool,
    pub default_value: Option<String>,
}

impl SettingSpec {
    /// A setting as a connector describes it. WIT's `setting-spec` has no label field; a connector gives one
    /// as the first line of `description` ("Halo Cloud address\nThe API's base URL..."), so no WIT version
    /// has to change and a connector written before the convention still reads: its key in words
    /// (`rep_visit_type_code` -> "Rep visit type code") and its one-line description as the help.
    pub fn from_described(
        name: String,
        description: String,
        secret: bool,
        required: bool,
        default_value: Option<String>,
    ) -> SettingSpec {
        let (label, help) = match description.split_once('\n') {
            Some((first, rest)) if !first.trim().is_empty() => (first.trim().to_string(), rest.trim().to_string()),
            _ => (key_in_words(&name), description.trim().to_string()),
        };
        SettingSpec {
            name,
            label,
            description: help,
            secret,
            required,
            default_value,
        }
    }
}

/// `base_url` -> "Base url": a key as words, for a connector that gives no label.
fn key_in_words(key: &str) -> String {
    let spaced = key.replace(['_', '-'], " ");
    let mut chars = spaced.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// How the host turns a secret into a header value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CredentialScheme {
    /// The secret is the header's value.
    Verbatim,
    /// HTTP Basic with the user name from the setting `user_setting` and the secret as the password.
    Basic { user_setting: String },
    /// `Bearer <secret>`.
    Bearer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub secret: String,
    pub header: String,
    pub origin_setting: String,
    pub scheme: CredentialScheme,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorInfo {
    pub name: String,
    pub version: String,
    pub pms: String,
    pub capabilities: Vec<String>,
    pub settings: Vec<SettingSpec>,
    pub allowed_hosts: Vec<String>,
    pub credentials: Vec<Credential>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SiteInfo {
    pub practice_name: String,
    pub availability: String,
    pub version: Option<String>,
    pub details: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Location {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PmsPractitioner {
    pub user_id: i64,
    pub title: String,
    pub first_name: String,
    pub last_name: String,
    pub has_appointments: bool,
    pub provider_number: Option<String>,
    pub ahpra: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalAppointment {
    pub reference: String,
    pub known: PmsKnowledge,
    pub practitioner_user_id: i64,
    pub date: jiff::civil::Date,
    pub start_seconds: u32,
    pub duration_seconds: u32,
    pub rep_name: String,
    pub rep_company: String,
    pub rep_email: String,
    pub notes: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PushAction {
    Created,
    Moved,
    Updated,
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PushOutcome {
    pub pms_id: String,
    pub action: PushAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PmsAppointment {
    pub pms_id: String,
    pub reference: String,
    /// `None` when the PMS names the practitioner in a way the connector cannot map to a user.
    pub practitioner_user_id: Option<i64>,
    pub date: jiff::civil::Date,
    pub start_seconds: u32,
    /// `None` when the PMS does not disclose the length.
    pub duration_seconds: Option<u32>,
    pub cancelled: bool,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusyReason {
    Away,
    OutsideSessions,
    Booked,
}

/// A span of a clinic-local day when a practitioner cannot be booked; `end_seconds` is exclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusySpan {
    pub date: jiff::civil::Date,
    pub start_seconds: u32,
    pub end_seconds: u32,
    pub reason: BusyReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteHealth {
    pub availability: String,
    pub detail: String,
}

/// A connector's own failure, shaped by how the host must react (see the WIT `connector-error`).
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum ConnectorFailure {
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("{0}")]
    SiteNotFound(String),
    #[error("not paired: {0}")]
    NotPaired(String),
    #[error("not authoritative: {0}")]
    NotAuthoritative(String),
    #[error("site offline: {0}")]
    SiteOffline(String),
    #[error("rate limited: retry after {0} ms")]
    RateLimited(u32),
    #[error("credentials refused: {0}")]
    Auth(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("rejected by the PMS: {0}")]
    Rejected(String),
    #[error("outcome unknown: {0}")]
    UnknownOutcome(String),
    #[error("temporary failure: {0}")]
    Transient(String),
    #[error("not supported by this connector: {0}")]
    Unsupported(String),
}

impl ConnectorFailure {
    pub fn code(&self) -> &'static str {
        match self {
            ConnectorFailure::InvalidConfig(_) => "invalid_config",
            ConnectorFailure::SiteNotFound(_) => "site_not_found",
            ConnectorFailure::NotPaired(_) => "not_paired",
            ConnectorFailure::NotAuthoritative(_) => "not_authoritative",
            ConnectorFailure::SiteOffline(_) => "site_offline",
            ConnectorFailure::RateLimited(_) => "rate_limited",
            ConnectorFailure::Auth(_) => "auth",
            ConnectorFailure::Conflict(_) => "conflict",
            ConnectorFailure::Rejected(_) => "rejected",
            ConnectorFailure::UnknownOutcome(_) => "unknown_outcome",
            ConnectorFailure::Transient(_) => "transient",
            ConnectorFailure::Unsupported(_) => "unsupported",
        }
    }

    /// Whether trying again later can succeed without a person changing something.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ConnectorFailure::SiteOffline(_)
                | ConnectorFailure::RateLimited(_)
                | ConnectorFailure::UnknownOutcome(_)
                | ConnectorFailure::Transient(_)
        )
    }

    /// Whether the connector guarantees that nothing reached the PMS's data (so what the host knew of its
    /// record still holds). A timeout, a batch that failed half-way or a passing failure guarantees nothing.
    pub fn nothing_written(&self) -> bool {
        matches!(
            self,
            ConnectorFailure::InvalidConfig(_)
                | ConnectorFailure::SiteNotFound(_)
                | ConnectorFailure::NotPaired(_)
                | ConnectorFailure::NotAuthoritative(_)
                | ConnectorFailure::SiteOffline(_)
                | ConnectorFailure::RateLimited(_)
                | ConnectorFailure::Auth(_)
                | ConnectorFailure::Conflict(_)
                | ConnectorFailure::Unsupported(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::SettingSpec;

    fn described(name: &str, description: &str) -> SettingSpec {
        SettingSpec::from_described(name.into(), description.into(), false, true, None)
    }

    #[test]
    fn the_first_line_of_a_description_is_the_label() {
        let spec = described(
            "base_url",
            "Halo Cloud address\nhttps://api.haloconnect.io (production)",
        );
        assert_eq!(spec.label, "Halo Cloud address");
        assert_eq!(spec.description, "https://api.haloconnect.io (production)");
    }

    #[test]
    fn a_one_line_description_keeps_its_words_and_labels_by_the_key() {
        let spec = described("rep_visit_type_code", "Bp appointment type code given to rep visits");
        assert_eq!(spec.label, "Rep visit type code");
        assert_eq!(spec.description, "Bp appointment type code given to rep visits");
        assert_eq!(described("x", "\nonly help").label, "X");
    }
}
