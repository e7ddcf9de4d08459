//! "My account": a person changing their own name, password and second factors (Kanidm's
//! `credupdatesession`): enrolling TOTP (the secret shown once, confirmed with a code), adding and removing
//! passkeys, new recovery codes. Only a session signed in with the person's factors (or one that must
//! enrol) may do this: never a token. The first factor brings ten recovery codes; every change rotates the
//! session's cookie; a change of password signs out every other session.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::sessions::{LiveSession, NewSession};
use super::sign_in::unix_now;
use super::{App, AppError, Requester};
use crate::domain::{
    Actor, Credentials, PasskeyView, Person, PersonView, SessionStage, StoredPasskey, TotpSecret, check_password,
    check_person_name, new_id,
};
use crate::identity::{recovery, totp};
use crate::store::PeopleWrite;

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MePatch {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 120, pattern = "@line")]
    pub name: Option<String>,
    /// A new password; needs `current_password`.
    #[serde(default)]
    #[schema(min_length = 12, max_length = 256)]
    pub password: Option<String>,
    #[serde(default)]
    pub current_password: Option<String>,
}

/// What an authenticator app scans to enrol, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TotpEnrolment {
    pub otpauth_uri: String,
    /// The same as a QR code, drawn by the server.
    pub qr_svg: String,
    /// The secret, for typing into an app by hand (base32).
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyFinish {
    /// The id `…/options` answered.
    pub ceremony: String,
    /// What to call it on My account ("Work laptop").
    #[serde(default)]
    pub name: Option<String>,
    /// The browser's `PublicKeyCredential`, as JSON.
    #[schema(value_type = Object)]
    pub credential: Value,
}

/// A factor change: the session's new cookie, and recovery codes when this was the first factor (shown once).
pub struct FactorChanged {
    pub session: NewSession,
    pub recovery_codes: Option<Vec<String>>,
}

fn needs_password() -> AppError {
    crate::domain::DomainError::Invalid {
        field: "current_password",
        message: "your current password is not right; type it again to change it".into(),
    }
    .into()
}

impl App {
    /// The person a session belongs to, when it may change their own account.
    fn account_of(&self, session: &LiveSession) -> Result<(Person, Credentials), AppError> {
        match (&session.person, session.record.stage) {
            (Some(person), SessionStage::Full | SessionStage::Enrol) => {
                Ok((person.clone(), self.store.credentials(&person.id)?))
            }
            _ => Err(AppError::Forbidden {
                code: "sign_in_first",
                message: "finish signing in first".into(),
            }),
        }
    }

    pub fn me(&self, session: &LiveSession) -> Result<PersonView, AppError> {
        let (person, _) = self.account_of(session)?;
        self.person_view(&Actor::Person(person.clone()), &person)
    }

    /// After a factor change: a session that had to enrol is now signed in.
    async fn factor_changed(
        &self,
        session: &LiveSession,
        person: Person,
        credentials: &Credentials,
        had_factor: bool,
        mut write: PeopleWrite<'_>,
        from: &Requester,
    ) -> Result<FactorChanged, AppError> {
        let mut credentials = credentials.clone();
        let recovery_codes = (!had_factor && credentials.has_second_factor()).then(|| {
            let (codes, digests) = recovery::fresh_codes();
            credentials.recovery_codes = digests;
            codes
        });
        let enrolled = session.record.stage == SessionStage::Enrol && credentials.has_second_factor();
        let person = if enrolled {
            self.signed_in(&person, from, "after enrolling a second factor")
        } else {
            person
        };
        let stage = if enrolled {
            SessionStage::Full
        } else {
            session.record.stage
        };
        write.people.push(&person);
        write.credentials.push((&person.id, &credentials));
        let session = self.rotate_session(session, stage, write).await?;
        Ok(FactorChanged {
            session,
            recovery_codes,
        })
    }

    fn audit_factor(&self, person: &Person, from: &Requester, action: &str, detail: String) {
        let actor = Actor::Person(person.clone()).audit_actor();
        self.audit_person(&actor, from, None, action, person, detail);
    }

    /// A change of name, or of password (with the current one; other sessions end).
    pub async fn update_me(
        &self,
        session: &LiveSession,
        patch: MePatch,
        from: &Requester,
    ) -> Result<(PersonView, Option<NewSession>), AppError> {
        let (mut person, mut credentials) = self.account_of(session)?;
        if let Some(name) = &patch.name {
            person.name = check_person_name(name)?;
        }
        let mut rotated = None;
        if let Some(password) = &patch.password {
            self.throttled(&person.email, from)?;
            let current = patch.current_password.as_deref().unwrap_or_default();
            if !self
                .identity
                .passwords
                .verify(credentials.password_hash.as_deref(), current)
                .await
            {
                self.identity
                    .throttle
                    .failed(&person.email, from.address, Instant::now());
                return Err(needs_password());
            }
            check_password(password, &person.email)?;
            credentials.password_hash = Some(self.identity.passwords.hash(password).await?);
            let others = self
                .sessions_of(&person.id)?
                .into_iter()
                .filter(|d| *d != session.digest)
                .map(|d| (d, None))
                .collect();
            rotated = Some(
                self.rotate_session(
                    session,
                    session.record.stage,
                    PeopleWrite {
                        people: vec![&person],
                        credentials: vec![(&person.id, &credentials)],
                        sessions: others,
                        ..Default::default()
                    },
                )
                .await?,
            );
            self.audit_factor(&person, from, "password changed", "other sessions signed out".into());
        } else if patch.name.is_some() {
            self.store.write_people(PeopleWrite {
                people: vec![&person],
                ..Default::default()
            })?;
            self.store.durable().await?;
        }
        if patch.name.is_some() {
            self.audit_factor(&person, from, "name changed", format!("to {}", person.name));
        }
        Ok((self.person_view(&Actor::Person(person.clone()), &person)?, rotated))
    }

    /// A fresh TOTP secret to enrol (replacing one not yet confirmed); the app's code confirms it.
    pub async fn start_totp(&self, session: &LiveSession) -> Result<TotpEnrolment, AppError> {
        let (person, mut credentials) = self.account_of(session)?;
        let secret = totp::fresh_secret();
        let enrolment = totp::enrolment(&secret, &person.email)?;
        credentials.totp_pending = Some(TotpSecret {
            secret: secret.clone(),
            last_step: 0,
            created_at: self.now(),
        });
        self.store.write_people(PeopleWrite {
            credentials: vec![(&person.id, &credentials)],
            ..Default::default()
        })?;
        self.store.durable().await?;
        Ok(TotpEnrolment {
            otpauth_uri: enrolment.uri,
            qr_svg: enrolment.qr_svg,
            secret,
        })
    }

    /// The code from the app that confirms the secret shown: TOTP is on from now.
    pub async fn confirm_totp(
        &self,
        session: &LiveSession,
        code: &str,
        from: &Requester,
    ) -> Result<FactorChanged, AppError> {
        let (person, mut credentials) = self.account_of(session)?;
        self.throttled(&person.email, from)?;
        let Some(mut pending) = credentials.totp_pending.take() else {
            return Err(AppError::conflict(
                "no_totp_enrolment",
                "start with \"Set up an authenticator app\": there is no code to confirm yet",
            ));
        };
        let Some(step) = totp::accepted_step(&pending.secret, code, unix_now(), 0) else {
            self.identity
                .throttle
                .failed(&person.email, from.address, Instant::now());
            return Err(crate::domain::DomainError::Invalid {
                field: "code",
                message: "that code is not right: type the six digits the app shows now for repbook".into(),
            }
            .into());
        };
        pending.last_step = step;
        let had = credentials.has_second_factor();
        credentials.totp = Some(pending);
        self.audit_factor(&person, from, "factor added", "authenticator app (TOTP)".into());
        self.factor_changed(session, person, &credentials, had, PeopleWrite::default(), from)
            .await
    }

    fn keep_a_factor(&self, credentials: &Credentials) -> Result<(), AppError> {
        if self.accounts.require_mfa && !credentials.has_second_factor() {
            return Err(AppError::conflict(
                "last_factor",
                "this host asks every account for a second factor, and this is your last one: add another passkey \
                 or an authenticator app first",
            ));
        }
        Ok(())
    }

    pub async fn remove_totp(&self, session: &LiveSession, from: &Requester) -> Result<FactorChanged, AppError> {
        let (person, mut credentials) = self.account_of(session)?;
        if credentials.totp.take().is_none() {
            return Err(crate::store::StoreError::NotFound {
                entity: "TOTP",
                id: "authenticator app".into(),
            }
            .into());
        }
        self.keep_a_factor(&credentials)?;
        self.audit_factor(&person, from, "factor removed", "authenticator app (TOTP)".into());
        self.factor_changed(session, person, &credentials, true, PeopleWrite::default(), from)
            .await
    }

    /// WebAuthn options to make a passkey for the session's person. Their user handle is made (and kept)
    /// on their first passkey, so every passkey of theirs names them the same way.
    pub async fn passkey_registration_options(&self, session: &LiveSession) -> Result<(String, Value), AppError> {
        let (person, mut credentials) = self.account_of(session)?;
        let user = webauthn_user(&credentials)?;
        if credentials.webauthn_user.is_none() {
            credentials.webauthn_user = Some(user.to_string());
            self.store.write_people(PeopleWrite {
                credentials: vec![(&person.id, &credentials)],
                passkey_user: Some((user.to_string(), person.id.clone())),
                ..Default::default()
            })?;
            self.store.durable().await?;
        }
        Ok(self.identity.passkeys.start_registration(
            &person.id,
            user,
            &person.email,
            &person.name,
            &credentials.passkeys,
        )?)
    }

    pub async fn finish_passkey_registration(
        &self,
        session: &LiveSession,
        finish: PasskeyFinish,
        from: &Requester,
    ) -> Result<(FactorChanged, PasskeyView), AppError> {
        let (person, mut credentials) = self.account_of(session)?;
        let registered = self
            .identity
            .passkeys
            .finish_registration(&finish.ceremony, &person.id, finish.credential)?;
        if credentials
            .passkeys
            .iter()
            .any(|k| k.credential_id == registered.credential_id)
        {
            return Err(AppError::conflict(
                "passkey_exists",
                "this passkey is registered already",
            ));
        }
        let name = match finish.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => crate::domain::require_text("name", name, 80)?,
            None => format!("Passkey {}", credentials.passkeys.len() + 1),
        };
        let stored = StoredPasskey {
            id: new_id(),
            name,
            credential_id: registered.credential_id,
            key: registered.key,
            created_at: self.now(),
            last_used_at: None,
        };
        let view = PasskeyView::from(&stored);
        let user = webauthn_user(&credentials)?.to_string();
        credentials.webauthn_user = Some(user.clone());
        let had = credentials.has_second_factor();
        credentials.passkeys.push(stored);
        self.audit_factor(&person, from, "factor added", format!("passkey \"{}\"", view.name));
        let write = PeopleWrite {
            passkey_user: Some((user, person.id.clone())),
            ..Default::default()
        };
        let changed = self
            .factor_changed(session, person, &credentials, had, write, from)
            .await?;
        Ok((changed, view))
    }

    pub async fn remove_passkey(
        &self,
        session: &LiveSession,
        id: &str,
        from: &Requester,
    ) -> Result<FactorChanged, AppError> {
        let (person, mut credentials) = self.account_of(session)?;
        let Some(at) = credentials.passkeys.iter().position(|k| k.id == id) else {
            return Err(crate::store::StoreError::NotFound {
                entity: "passkey",
                id: id.to_string(),
            }
            .into());
        };
        let removed = credentials.passkeys.remove(at);
        self.keep_a_factor(&credentials)?;
        self.keep_break_glass(&person, credentials.passkeys.len())?;
        self.audit_factor(&person, from, "factor removed", format!("passkey \"{}\"", removed.name));
        self.factor_changed(session, person, &credentials, true, PeopleWrite::default(), from)
            .await
    }

    /// Ten new recovery codes (the old ones stop), shown once.
    pub async fn new_recovery_codes(
        &self,
        session: &LiveSession,
        from: &Requester,
    ) -> Result<(NewSession, Vec<String>), AppError> {
        let (person, mut credentials) = self.account_of(session)?;
        if !credentials.has_second_factor() {
            return Err(AppError::conflict(
                "no_second_factor",
                "recovery codes stand in for a second factor: add a passkey or an authenticator app first",
            ));
        }
        let (codes, digests) = recovery::fresh_codes();
        credentials.recovery_codes = digests;
        self.audit_factor(&person, from, "recovery codes made", "the old ones stopped".into());
        let changed = self
            .factor_changed(session, person, &credentials, true, PeopleWrite::default(), from)
            .await?;
        Ok((changed.session, codes))
    }
}

/// The person's WebAuthn user handle: the one kept, else a fresh one to keep.
fn webauthn_user(credentials: &Credentials) -> Result<uuid::Uuid, AppError> {
    match &credentials.webauthn_user {
        Some(user) => uuid::Uuid::parse_str(user).map_err(|e| {
            AppError::Store(crate::store::StoreError::Corrupt {
                what: "passkey user handle",
                message: e.to_string(),
            })
        }),
        None => Ok(uuid::Uuid::new_v4()),
    }
}
