//! A booking link: a capability URL (`/book/<capability>`) that lets whoever holds it book the clinic's
//! times for the link's visitor categories.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{DomainError, require_text};

/// A booking link: whoever holds its capability URL may book the clinic's times for its categories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingLink {
    pub id: String,
    pub clinic_id: String,
    pub label: String,
    pub categories: Vec<String>,
    /// The secret part of `/book/<capability>` (at least 128 random bits).
    pub capability: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBookingLink {
    pub label: String,
    #[serde(default)]
    pub categories: Vec<String>,
}

impl BookingLink {
    pub fn create(
        id: String,
        clinic_id: String,
        new: NewBookingLink,
        capability: String,
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
            capability,
            created_at: now,
            revoked_at: None,
        })
    }

    pub fn url(&self) -> String {
        format!("/book/{}", self.capability)
    }
}
