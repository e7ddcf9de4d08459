//! Personal API tokens: made by a person signed in with their factors (or by one of their tokens, never
//! beyond it), so a token cannot get round the second factor; each acts at one clinic with one role, never
//! more than its maker's today, until it expires or is revoked, and stops when its maker is disabled. The
//! token is shown once; only its SHA-256 is kept, with when and from where it was last used.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{App, AppError, Requester, new_capability};
use crate::domain::{Actor, ApiToken, ApiTokenView, Denied, Person, PersonState, Role, TOKEN_PREFIX, digest, new_id};
use crate::store::PeopleWrite;

/// How long a token lives unless told: 90 days; at most a year.
const DEFAULT_DAYS: u32 = 90;
const MAX_DAYS: u32 = 366;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What it is for ("nightly export").
    #[schema(min_length = 1, max_length = 80, pattern = "@line")]
    pub name: String,
    /// The clinic it acts at; null for an owner's host-wide token.
    #[serde(default)]
    pub clinic: Option<String>,
    pub role: Role,
    /// Days until it stops (default 90, at most 366).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 366)]
    pub expires_days: Option<u32>,
}

/// A new token: the token itself, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MadeToken {
    pub token: String,
    #[serde(flatten)]
    pub view: ApiTokenView,
}

fn dead_token() -> AppError {
    AppError::Unauthenticated {
        code: "bad_token",
        message: "this token is not valid here (wrong, expired or revoked, or its maker may no longer sign in); \
                  make a new one on My account"
            .into(),
    }
}

impl App {
    /// The actor behind a personal token, its use noted.
    pub fn actor_of_token(&self, token: &str, from: &Requester) -> Result<Actor, AppError> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(dead_token());
        }
        let mut record = self.store.api_token_by_digest(&digest(token))?.ok_or_else(dead_token)?;
        let now = self.now();
        if !record.is_live(now) {
            return Err(dead_token());
        }
        let maker = self.store.person(&record.maker_id).map_err(|_| dead_token())?;
        if maker.state != PersonState::Active {
            return Err(dead_token());
        }
        let address = from.address.to_string();
        let stale = record
            .last_used_at
            .is_none_or(|at| now.duration_since(at) >= SignedDuration::from_mins(1));
        if stale || record.last_used_from.as_deref() != Some(address.as_str()) {
            record.last_used_at = Some(now);
            record.last_used_from = Some(address);
            self.store.touch_api_token(&record)?;
        }
        Ok(Actor::Token {
            id: record.id,
            name: record.name,
            maker,
            clinic: record.clinic,
            role: record.role,
        })
    }

    /// The tokens the actor may see: an owner all, anyone else their own.
    pub fn tokens_for(&self, actor: &Actor) -> Result<Vec<ApiTokenView>, AppError> {
        let mine = actor.person().map(|p| p.id.clone());
        let mut tokens: Vec<ApiTokenView> = self
            .store
            .api_tokens()?
            .iter()
            .filter(|t| actor.is_owner() || Some(&t.maker_id) == mine.as_ref())
            .map(ApiTokenView::from)
            .collect();
        tokens.sort_by_key(|t| std::cmp::Reverse(t.created_at));
        Ok(tokens)
    }

    /// A token for the actor's person, acting as `request.role` at `request.clinic`, never beyond the actor.
    pub async fn create_token(
        &self,
        actor: &Actor,
        request: NewToken,
        from: &Requester,
    ) -> Result<MadeToken, AppError> {
        let maker: &Person = actor.person().ok_or_else(|| AppError::Forbidden {
            code: "tokens_belong_to_people",
            message:
                "a token belongs to a person: sign in on the admin page and make it on My account (the host token \
                      needs none)"
                    .into(),
        })?;
        let name = crate::domain::require_text("name", &request.name, 80)?;
        let clinic = request.clinic.filter(|c| !c.trim().is_empty());
        match &clinic {
            Some(clinic) => {
                if request.role == Role::Owner {
                    return Err(crate::domain::DomainError::Invalid {
                        field: "role",
                        message: "an owner's token acts over the whole host: leave clinic out (null) for it".into(),
                    }
                    .into());
                }
                actor
                    .permit(clinic, request.role)
                    .map_err(|d| self.refusal(d, "clinic", clinic))?;
                self.store.clinic(clinic)?;
            }
            None if request.role == Role::Owner && actor.is_owner() => {}
            None if request.role == Role::Owner => {
                return Err(self.refusal(
                    Denied::NeedsRole {
                        needed: Role::Owner,
                        has: actor.top_role().unwrap_or(Role::FrontDesk),
                    },
                    "clinic",
                    "",
                ));
            }
            None => {
                return Err(crate::domain::DomainError::Invalid {
                    field: "clinic",
                    message: format!(
                        "a {} token acts at one clinic: give the clinic's id",
                        request.role.words()
                    ),
                }
                .into());
            }
        }
        let days = request.expires_days.unwrap_or(DEFAULT_DAYS);
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(crate::domain::DomainError::Invalid {
                field: "expires_days",
                message: format!("expires_days is {days}; give 1 to {MAX_DAYS} days"),
            }
            .into());
        }
        let secret = format!("{TOKEN_PREFIX}{}", new_capability()?);
        let now: Timestamp = self.now();
        let token = ApiToken {
            id: new_id(),
            name,
            maker_id: maker.id.clone(),
            clinic,
            role: request.role,
            created_at: now,
            expires_at: now + SignedDuration::from_hours(24 * i64::from(days)),
            token_sha256: digest(&secret),
            last_used_at: None,
            last_used_from: None,
            revoked_at: None,
        };
        self.store.write_people(PeopleWrite {
            tokens: vec![&token],
            ..Default::default()
        })?;
        self.store.durable().await?;
        self.audit_person(
            &actor.audit_actor(),
            from,
            token.clinic.as_deref(),
            "token made",
            maker,
            format!("\"{}\" as {} for {days} days", token.name, token.role.words()),
        );
        Ok(MadeToken {
            token: secret,
            view: ApiTokenView::from(&token),
        })
    }

    /// Revokes a token of the actor's (an owner: anyone's).
    pub async fn revoke_token(&self, actor: &Actor, id: &str, from: &Requester) -> Result<ApiTokenView, AppError> {
        let mut token = self.store.api_token(id)?;
        let mine = actor.person().is_some_and(|p| p.id == token.maker_id);
        if !mine && !actor.is_owner() {
            return Err(self.refusal(Denied::Hidden, "token", id));
        }
        if token.revoked_at.is_none() {
            token.revoked_at = Some(self.now());
            self.store.write_people(PeopleWrite {
                tokens: vec![&token],
                ..Default::default()
            })?;
            self.store.durable().await?;
            let maker = self.store.person(&token.maker_id)?;
            self.audit_person(
                &actor.audit_actor(),
                from,
                token.clinic.as_deref(),
                "token revoked",
                &maker,
                format!("\"{}\"", token.name),
            );
        }
        Ok(ApiTokenView::from(&token))
    }

    /// The tokens of a person being disabled, revoked.
    pub(crate) fn revoked_tokens_of(&self, person_id: &str) -> Result<Vec<ApiToken>, AppError> {
        let now = self.now();
        Ok(self
            .store
            .api_tokens()?
            .into_iter()
            .filter(|t| t.maker_id == person_id && t.revoked_at.is_none())
            .map(|mut t| {
                t.revoked_at = Some(now);
                t
            })
            .collect())
    }
}
