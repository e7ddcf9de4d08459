//! The audit trail: who did what, when and from where — admin sign-ins and changes through the API (the
//! CLI and the admin page use it too), reps' bookings, confirmations, swaps and cancellations, refusals by
//! a clinic's rules, and the removal of reps' details. Append-only; it holds no secret (never a token, a
//! capability, a password or a request body) and no rep's address (a rep is named by a digest of it, so
//! `repbook rep forget` can find their entries).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// A ULID: entries sort by time.
    pub id: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub clinic_id: Option<String>,
    /// Who: "admin (API token)", "admin (admin page)", "rep", "repbook".
    pub actor: String,
    /// The address the request came from (the client's, behind a trusted proxy).
    pub client: Option<String>,
    /// What, e.g. "POST /api/v1/clinics/{clinic}/links", "booking refused", "rep details removed".
    pub action: String,
    /// The answer's status, or a refusal's code.
    pub outcome: String,
    /// In words; never a secret.
    pub detail: String,
    /// What it is about (an appointment's id), when known.
    pub subject: Option<String>,
    /// The SHA-256 of the rep's normalised address, for forgetting a rep on request; not shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub rep: Option<String>,
}
