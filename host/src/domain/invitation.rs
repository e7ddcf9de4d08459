//! Invitations and password resets: single-use links by mail (or, without mail, shown once to whoever made
//! the invitation). Only the link's SHA-256 is kept, as for every capability.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::Grant;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: String,
    pub person_id: String,
    pub email: String,
    /// The roles the person gets by accepting (already on their record, waiting for them).
    pub roles: Vec<Grant>,
    /// Who invited, as the audit trail names them.
    pub invited_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// The SHA-256 of the link's secret.
    pub token_sha256: String,
    #[serde(default)]
    pub accepted_at: Option<Timestamp>,
}

/// A password reset asked for by mail: its link's digest, whose, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordReset {
    pub person_id: String,
    pub expires_at: Timestamp,
}

/// An invitation as the People tab shows it (never its link).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    pub roles: Vec<Grant>,
    pub invited_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
    /// Whether it has passed its time (resend it for a fresh link).
    pub expired: bool,
}

impl Invitation {
    pub fn view(&self, now: Timestamp) -> InvitationView {
        InvitationView {
            id: self.id.clone(),
            email: self.email.clone(),
            roles: self.roles.clone(),
            invited_by: self.invited_by.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            expired: now >= self.expires_at,
        }
    }
}
