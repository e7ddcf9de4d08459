//! Personal API tokens: made by a signed-in person for a script, acting at one clinic with one role (never
//! more than the maker's, today), until they expire or are revoked. Only the token's SHA-256 is kept.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::Role;

/// The prefix every personal token starts with, so a leaked one is recognisable (and never taken for the
/// host token).
pub const TOKEN_PREFIX: &str = "rbk_";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub maker_id: String,
    /// The clinic it acts at; `None` for an owner's host-wide token.
    pub clinic: Option<String>,
    pub role: Role,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub token_sha256: String,
    #[serde(default)]
    pub last_used_at: Option<Timestamp>,
    #[serde(default)]
    pub last_used_from: Option<String>,
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
}

impl ApiToken {
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// A token as its list shows it (never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiTokenView {
    pub id: String,
    pub name: String,
    pub maker_id: String,
    pub clinic: Option<String>,
    pub role: Role,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<Timestamp>,
    pub last_used_from: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
}

impl From<&ApiToken> for ApiTokenView {
    fn from(t: &ApiToken) -> Self {
        ApiTokenView {
            id: t.id.clone(),
            name: t.name.clone(),
            maker_id: t.maker_id.clone(),
            clinic: t.clinic.clone(),
            role: t.role,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            last_used_from: t.last_used_from.clone(),
            revoked_at: t.revoked_at,
        }
    }
}
