//! The audit trail: who did what, when and from where — sign-ins (right or wrong) and every change through
//! the API (the CLI and the admin page use it too), reps' bookings, confirmations, swaps and cancellations,
//! refusals by a clinic's rules, and the removal of reps' details. Append-only; it holds no secret (never a
//! token, a capability, a password or a request body) and no rep's address (a rep is named by a digest of
//! it, so `repbook rep forget` can find their entries).

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};

use super::Role;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// A ULID: entries sort by time.
    pub id: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub clinic_id: Option<String>,
    /// Who.
    #[serde(deserialize_with = "actor_of_any_release")]
    pub actor: AuditActor,
    /// The role the actor acted in, when a role was needed.
    #[serde(default)]
    pub role: Option<Role>,
    /// The address the request came from (the client's, behind a trusted proxy).
    pub client: Option<String>,
    /// What, e.g. "POST /api/v1/clinics/{clinic}/links", "booking refused", "sign-in refused".
    pub action: String,
    /// The answer's status, or a refusal's code.
    pub outcome: String,
    /// In words; never a secret.
    pub detail: String,
    /// What it is about (an appointment's id, a person's id), when known.
    pub subject: Option<String>,
    /// The SHA-256 of the rep's normalised address, for forgetting a rep on request; not shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub rep: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A staff account, signed in.
    Person,
    /// A person's API token.
    Token,
    /// The data dir's host token (the CLI on the server).
    HostToken,
    /// A rep, through a link of theirs.
    Rep,
    /// repbook itself (housekeeping, retention).
    System,
    /// Someone not signed in (a sign-in attempt, an address that asked for a reset).
    Anyone,
}

/// Who did it: a person (id and "Name <address>"), a token (id and its name and maker), the host token, a
/// rep, repbook, or someone not signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditActor {
    pub kind: ActorKind,
    pub id: Option<String>,
    pub name: String,
}

impl AuditActor {
    pub fn of(kind: ActorKind, name: &str) -> AuditActor {
        AuditActor {
            kind,
            id: None,
            name: name.into(),
        }
    }

    pub fn rep() -> AuditActor {
        Self::of(ActorKind::Rep, "rep")
    }

    pub fn system() -> AuditActor {
        Self::of(ActorKind::System, "repbook")
    }

    pub fn anyone() -> AuditActor {
        Self::of(ActorKind::Anyone, "not signed in")
    }
}

/// Entries written before staff accounts named the actor in words ("admin (API token)", "rep", "repbook");
/// they read as the kind those words meant, so an upgraded trail stays whole.
fn actor_of_any_release<'de, D: Deserializer<'de>>(deserializer: D) -> Result<AuditActor, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Now(AuditActor),
        Before(String),
    }
    Ok(match Either::deserialize(deserializer)? {
        Either::Now(actor) => actor,
        Either::Before(words) => {
            let kind = match words.as_str() {
                "rep" => ActorKind::Rep,
                "repbook" => ActorKind::System,
                "anyone" => ActorKind::Anyone,
                _ => ActorKind::HostToken,
            };
            AuditActor {
                kind,
                id: None,
                name: if kind == ActorKind::HostToken {
                    "host token".into()
                } else {
                    words
                },
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_of_the_release_before_accounts_read_with_their_actor_kind() {
        let old = r#"{"id":"01J","at":"2026-11-01T00:00:00Z","clinic_id":null,"actor":"admin (API token)",
            "client":"127.0.0.1","action":"POST /api/v1/clinics","outcome":"201","detail":"","subject":null}"#;
        let entry: AuditEntry = serde_json::from_str(old).unwrap();
        assert_eq!(entry.actor.kind, ActorKind::HostToken);
        assert_eq!(entry.role, None);
        let rep: AuditEntry = serde_json::from_str(&old.replace("admin (API token)", "rep")).unwrap();
        assert_eq!(rep.actor, AuditActor::rep());
        let again: AuditEntry = serde_json::from_str(&serde_json::to_string(&entry).unwrap()).unwrap();
        assert_eq!(again, entry);
    }
}
