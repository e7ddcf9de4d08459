//! A booking link: a capability URL (`/book/<capability>`) that lets whoever holds it book the clinic's
//! times for the link's visitor categories. Only the capability's SHA-256 is kept (as for manage links):
//! the URL is shown once, when the link is made or renewed.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The SHA-256 of a capability, as stored: a leaked store or backup gives out no link.
pub fn digest(capability: &str) -> String {
    format!("{:x}", Sha256::digest(capability.as_bytes()))
}

use super::{DomainError, require_text};

/// A booking link: whoever holds its capability URL may book the clinic's times for its categories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingLink {
    pub id: String,
    pub clinic_id: String,
    pub label: String,
    pub categories: Vec<String>,
    /// The SHA-256 of the secret part of `/book/<capability>` (256 random bits).
    pub capability_sha256: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBookingLink {
    #[schema(min_length = 1, max_length = 120, pattern = "@line")]
    pub label: String,
    #[serde(default)]
    pub categories: Vec<String>,
}

impl BookingLink {
    pub fn create(
        id: String,
        clinic_id: String,
        new: NewBookingLink,
        capability: &str,
        now: Timestamp,
    ) -> Result<Self, DomainError> {
        let mut categories = new.categories;
        categories.sort();
        categories.dedup();
        Ok(BookingLink {
            id,
            clinic_id,
            label: require_text("label", &new.label, 120)?,
            categories,
            capability_sha256: digest(capability),
            created_at: now,
            revoked_at: None,
        })
    }

    /// The link's URL for `capability` (the one it was made or renewed with).
    pub fn url(capability: &str) -> String {
        format!("/book/{capability}")
    }
}
