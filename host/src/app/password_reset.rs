//! "Forgot your password?": a single-use link by mail to an active account's address (never saying whether
//! there is one), and the new password it sets, which signs the person out everywhere; their second factors
//! stay, so the link alone never signs anyone in.

use serde::{Deserialize, Serialize};

use super::{App, AppError, Requester, new_capability};
use crate::domain::{Actor, AuditActor, Person, PersonState, check_password, digest, normalize_email};
use crate::store::PeopleWrite;

/// What the reset page shows.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResetSeen {
    pub email: String,
}
impl App {
    /// "Forgot your password?": a reset link by mail to an active account's address. The answer never says
    /// whether there is one.
    pub async fn forgot_password(&self, email: &str, from: &Requester) -> Result<(), AppError> {
        let account = normalize_email(&crate::domain::check_email("email", email)?);
        let person = self
            .store
            .person_by_email(&account)?
            .filter(|p| p.state == PersonState::Active);
        if let (Some(person), Some(identity)) = (person, self.mail.as_ref()) {
            let token = new_capability()?;
            let expires_at = self.now() + self.accounts.reset_for;
            let mut resets: Vec<(String, Option<crate::domain::PasswordReset>)> = self
                .store
                .password_resets_of(&person.id)?
                .into_iter()
                .map(|d| (d, None))
                .collect();
            resets.push((
                digest(&token),
                Some(crate::domain::PasswordReset {
                    person_id: person.id.clone(),
                    expires_at,
                }),
            ));
            let message = crate::notify::accounts::password_reset(
                identity,
                &person.email,
                &format!("/reset/{token}"),
                expires_at,
                &self.host_zone(),
                self.now(),
            );
            self.store.write_people(PeopleWrite {
                resets,
                messages: message.into_iter().collect(),
                ..Default::default()
            })?;
            self.audit_sign_in(
                &AuditActor::anyone(),
                from,
                "password reset asked",
                "mailed",
                Some(&person),
                String::new(),
            );
        }
        // The same wait whether or not a link was made.
        self.store.durable().await?;
        Ok(())
    }

    fn reset_of_link(&self, token: &str) -> Result<(String, Person), AppError> {
        let gone = || AppError::DeadLink {
            code: "reset_link_used",
            message:
                "this reset link was used already, has expired, or was replaced by a newer one; ask for a new one \
                      on the sign-in page"
                    .into(),
        };
        let key = digest(token);
        let reset = self.store.password_reset(&key)?.ok_or_else(gone)?;
        let person = self.store.person(&reset.person_id).map_err(|_| gone())?;
        if self.now() >= reset.expires_at || person.state != PersonState::Active {
            return Err(gone());
        }
        Ok((key, person))
    }

    pub fn reset_for_link(&self, token: &str) -> Result<ResetSeen, AppError> {
        let (_, person) = self.reset_of_link(token)?;
        Ok(ResetSeen { email: person.email })
    }

    /// A new password from a reset link: every session of the person ends; their factors stay.
    pub async fn reset_password(&self, token: &str, password: &str, from: &Requester) -> Result<(), AppError> {
        let _people = self.people_lock.lock().await;
        let (key, person) = self.reset_of_link(token)?;
        check_password(password, &person.email)?;
        let mut credentials = self.store.credentials(&person.id)?;
        credentials.password_hash = Some(self.identity.passwords.hash(password).await?);
        let sessions = self.sessions_of(&person.id)?;
        let mut resets: Vec<_> = self
            .store
            .password_resets_of(&person.id)?
            .into_iter()
            .map(|d| (d, None))
            .collect();
        resets.push((key, None));
        self.store.write_people(PeopleWrite {
            credentials: vec![(&person.id, &credentials)],
            sessions: sessions.into_iter().map(|d| (d, None)).collect(),
            resets,
            ..Default::default()
        })?;
        self.store.durable().await?;
        let actor = Actor::Person(person.clone()).audit_actor();
        self.audit_person(
            &actor,
            from,
            None,
            "password reset",
            &person,
            "signed out everywhere".into(),
        );
        Ok(())
    }
}
