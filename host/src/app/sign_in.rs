//! Signing in, as a small state machine (Kanidm's `authsession` shape): the password opens a session that
//! waits for a second factor (a passkey, a TOTP code or a recovery code) or, when the person has none and the
//! host asks for one, a session that may only enrol one; a passkey alone signs in at once (it is both
//! factors, and phishing-resistant). Each step done rotates the session's cookie. An unknown address, a
//! wrong password and an account that may not sign in get the same answer after the same work; wrong
//! passwords and codes are throttled per account and per address. Also the single-use links: accepting an
//! invitation and resetting a password.

use std::time::Instant;

use serde_json::Value;

use super::sessions::{LiveSession, NewSession};
use super::{App, AppError, Requester};
use crate::domain::{
    Actor, ActorKind, AuditActor, Credentials, Person, PersonState, SecondFactor, SessionStage, normalize_email,
};
use crate::identity::passkeys::Lookup;
use crate::identity::{recovery, totp};
use crate::store::PeopleWrite;

fn sign_in_failed() -> AppError {
    AppError::Unauthenticated {
        code: "sign_in_failed",
        message:
            "that email address and password do not sign in here (wrong, unknown, or an account that is not active); \
                  check them and try again, or choose \"Forgot your password?\""
                .into(),
    }
}

fn not_signing_in() -> AppError {
    AppError::Unauthenticated {
        code: "not_signing_in",
        message: "this step needs the password first: sign in again".into(),
    }
}

impl App {
    pub(super) fn throttled(&self, account: &str, from: &Requester) -> Result<(), AppError> {
        match self.identity.throttle.check(account, from.address, Instant::now()) {
            Some(wait) => {
                let actor = AuditActor::anyone();
                self.audit_sign_in(
                    &actor,
                    from,
                    "locked out",
                    "too_many_attempts",
                    None,
                    "too many wrong attempts".into(),
                );
                Err(AppError::Throttled {
                    wait_secs: wait.for_.as_secs().max(1),
                })
            }
            None => Ok(()),
        }
    }

    pub(super) fn audit_sign_in(
        &self,
        actor: &AuditActor,
        from: &Requester,
        action: &str,
        outcome: &str,
        person: Option<&Person>,
        detail: String,
    ) {
        self.audit(crate::domain::AuditEntry {
            id: crate::domain::new_id(),
            at: self.now(),
            clinic_id: None,
            actor: actor.clone(),
            role: None,
            client: Some(from.address.to_string()),
            action: action.into(),
            outcome: outcome.into(),
            detail: match person {
                Some(p) => format!(
                    "{} <{}>{}",
                    p.name,
                    p.email,
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(": {detail}")
                    }
                ),
                None => detail,
            },
            subject: person.map(|p| p.id.clone()),
            rep: None,
        });
    }

    /// A step of signing in that ends signed in: the person's last sign-in, their throttle forgiven.
    pub(super) fn signed_in(&self, person: &Person, from: &Requester, how: &str) -> Person {
        self.identity.throttle.succeeded(&person.email, from.address);
        let mut person = person.clone();
        person.last_sign_in_at = Some(self.now());
        let actor = Actor::Person(person.clone()).audit_actor();
        self.audit_sign_in(&actor, from, "signed in", "done", Some(&person), how.into());
        person
    }

    /// The stage a person's session reaches once they proved who they are with `credentials`' factors.
    pub(super) fn stage_after_password(&self, credentials: &Credentials) -> SessionStage {
        if credentials.has_second_factor() {
            SessionStage::SecondFactor
        } else if self.accounts.require_mfa {
            SessionStage::Enrol
        } else {
            SessionStage::Full
        }
    }

    /// Email and password: a session that waits for the second factor (or enrols one, or is signed in).
    pub async fn sign_in_with_password(
        &self,
        email: &str,
        password: &str,
        from: &Requester,
    ) -> Result<(NewSession, Vec<SecondFactor>), AppError> {
        let account = normalize_email(email);
        self.throttled(&account, from)?;
        let person = self.store.person_by_email(&account)?;
        let credentials = match &person {
            Some(p) => self.store.credentials(&p.id)?,
            None => Credentials::default(),
        };
        let right = self
            .identity
            .passwords
            .verify(credentials.password_hash.as_deref(), password)
            .await;
        let person = match person {
            Some(person) if right && person.state == PersonState::Active => person,
            other => {
                self.identity.throttle.failed(&account, from.address, Instant::now());
                let why = match &other {
                    None => "unknown address",
                    Some(p) if p.state == PersonState::Disabled => "account disabled",
                    Some(p) if p.state == PersonState::Invited => "invitation not accepted yet",
                    Some(_) => "wrong password",
                };
                self.audit_sign_in(
                    &AuditActor::anyone(),
                    from,
                    "sign-in refused",
                    "sign_in_failed",
                    other.as_ref(),
                    why.into(),
                );
                return Err(sign_in_failed());
            }
        };
        self.refuse_unless_password_allowed(&person, from)?;
        let stage = self.stage_after_password(&credentials);
        let person = if stage == SessionStage::SecondFactor {
            let actor = Actor::Person(person.clone()).audit_actor();
            self.audit_sign_in(
                &actor,
                from,
                "password accepted",
                "second_factor_asked",
                Some(&person),
                String::new(),
            );
            person
        } else {
            self.signed_in(&person, from, "with a password (no second factor enrolled)")
        };
        let session = self
            .start_session(
                Some(&person),
                stage,
                from,
                None,
                PeopleWrite {
                    people: vec![&person],
                    ..Default::default()
                },
            )
            .await?;
        Ok((session, self.methods_allowed(&credentials, false)?))
    }

    /// The second factors a person may finish with: after a password with password sign-in off (the
    /// break-glass owner), only a passkey, which cannot be phished; after single sign-on, any of theirs.
    pub fn methods_allowed(
        &self,
        credentials: &Credentials,
        via_provider: bool,
    ) -> Result<Vec<SecondFactor>, AppError> {
        let mut methods = credentials.methods();
        if !via_provider && !self.store.sso_policy()?.password_sign_in {
            methods.retain(|m| *m == SecondFactor::Passkey);
        }
        Ok(methods)
    }

    /// A wrong host token typed on the admin page, for the trail.
    pub fn audit_wrong_host_token(&self, from: &Requester) {
        self.audit_sign_in(
            &AuditActor::anyone(),
            from,
            "sign-in refused",
            "bad_token",
            None,
            "a wrong host token".into(),
        );
    }

    /// The host token on the admin page: only while the host has no owner, and then only to make one.
    pub async fn sign_in_with_host_token(&self, from: &Requester) -> Result<NewSession, AppError> {
        if self.store.has_owner()? {
            return Err(AppError::Forbidden {
                code: "host_token_not_for_the_page",
                message: "the host token signs in on this page only until the host has an owner; sign in with your \
                          email address (the host token stays for repbook's command line on the server)"
                    .into(),
            });
        }
        let actor = AuditActor::of(ActorKind::HostToken, "host token");
        self.audit_sign_in(
            &actor,
            from,
            "signed in",
            "setup",
            None,
            "to make the host's first owner".into(),
        );
        self.start_session(None, SessionStage::Setup, from, None, PeopleWrite::default())
            .await
    }

    /// The session's person and their credentials, when it waits for a second factor.
    fn waiting_for_second_factor(&self, session: &LiveSession) -> Result<(Person, Credentials), AppError> {
        match (&session.person, session.record.stage) {
            (Some(person), SessionStage::SecondFactor) => Ok((person.clone(), self.store.credentials(&person.id)?)),
            _ => Err(not_signing_in()),
        }
    }

    /// A TOTP code or a recovery code after the password.
    pub async fn sign_in_with_code(
        &self,
        session: &LiveSession,
        code: &str,
        factor: SecondFactor,
        from: &Requester,
    ) -> Result<NewSession, AppError> {
        let (person, mut credentials) = self.waiting_for_second_factor(session)?;
        self.throttled(&person.email, from)?;
        if !self
            .methods_allowed(&credentials, session.record.via_provider.is_some())?
            .contains(&factor)
        {
            return Err(AppError::Forbidden {
                code: "passkey_required",
                message: "with single sign-on the only way, the break-glass account finishes signing in with its \
                          passkey"
                    .into(),
            });
        }
        let accepted = match factor {
            SecondFactor::Totp => credentials.totp.as_mut().and_then(|secret| {
                let step = totp::accepted_step(&secret.secret, code, unix_now(), secret.last_step)?;
                secret.last_step = step;
                Some("with a code from an authenticator app")
            }),
            SecondFactor::Recovery => {
                let wanted = recovery::digest_of(code);
                let before = credentials.recovery_codes.len();
                credentials.recovery_codes.retain(|d| *d != wanted);
                (credentials.recovery_codes.len() < before).then_some("with a recovery code")
            }
            SecondFactor::Passkey => None,
        };
        let Some(how) = accepted else {
            self.identity
                .throttle
                .failed(&person.email, from.address, Instant::now());
            let actor = Actor::Person(person.clone()).audit_actor();
            let what = if factor == SecondFactor::Totp {
                "wrong code"
            } else {
                "wrong recovery code"
            };
            self.audit_sign_in(
                &actor,
                from,
                "second factor refused",
                "wrong_code",
                Some(&person),
                what.into(),
            );
            return Err(AppError::Unauthenticated {
                code: "wrong_code",
                message: match factor {
                    SecondFactor::Recovery => {
                        "that recovery code is not one of yours, or was used already; each works once".into()
                    }
                    _ => "that code is not right: type the six digits your authenticator app shows now (each code works once)"
                        .into(),
                },
            });
        };
        let person = self.signed_in(&person, from, how);
        self.rotate_session(
            session,
            SessionStage::Full,
            PeopleWrite {
                people: vec![&person],
                credentials: vec![(&person.id, &credentials)],
                ..Default::default()
            },
        )
        .await
    }

    /// WebAuthn options to sign in: the person's keys after their password, else any passkey of this host.
    pub fn passkey_sign_in_options(&self, session: Option<&LiveSession>) -> Result<(String, Value), AppError> {
        let passkeys = &self.identity.passkeys;
        match session.filter(|s| s.record.stage == SessionStage::SecondFactor) {
            Some(session) => {
                let (person, credentials) = self.waiting_for_second_factor(session)?;
                Ok(passkeys.start_sign_in(Some((&person.id, &credentials.passkeys)))?)
            }
            None => Ok(passkeys.start_sign_in(None)?),
        }
    }

    /// A passkey's answer: the second factor after the password, or the whole sign-in by itself.
    pub async fn sign_in_with_passkey(
        &self,
        session: Option<&LiveSession>,
        ceremony: &str,
        credential: Value,
        from: &Requester,
    ) -> Result<NewSession, AppError> {
        let lookup = |wanted: Lookup<'_>| {
            let person_id = match wanted {
                Lookup::Person(id) => Some(id.to_string()),
                Lookup::User(user) => self.store.passkey_user(&user.to_string()).ok().flatten(),
            }?;
            let credentials = self.store.credentials(&person_id).ok()?;
            Some((person_id, credentials.passkeys))
        };
        let proven = match self.identity.passkeys.finish_sign_in(ceremony, credential, lookup) {
            Ok(proven) => proven,
            Err(error) => {
                let person = session.and_then(|s| s.person.as_ref());
                self.audit_sign_in(
                    &AuditActor::anyone(),
                    from,
                    "passkey refused",
                    "passkey_refused",
                    person,
                    error.to_string(),
                );
                return Err(error.into());
            }
        };
        let person = self.store.person(&proven.person_id)?;
        if person.state != PersonState::Active {
            self.audit_sign_in(
                &AuditActor::anyone(),
                from,
                "sign-in refused",
                "sign_in_failed",
                Some(&person),
                "account not active".into(),
            );
            return Err(sign_in_failed());
        }
        let alone = session.is_none_or(|s| s.record.stage != SessionStage::SecondFactor);
        if alone {
            self.refuse_unless_password_allowed(&person, from)?;
        }
        let mut credentials = self.store.credentials(&person.id)?;
        for key in credentials
            .passkeys
            .iter_mut()
            .filter(|k| k.credential_id == proven.credential_id)
        {
            key.key = proven.key.clone();
            key.last_used_at = Some(self.now());
        }
        let person = self.signed_in(
            &person,
            from,
            if alone {
                "with a passkey alone"
            } else {
                "with a password and a passkey"
            },
        );
        let write = PeopleWrite {
            people: vec![&person],
            credentials: vec![(&person.id, &credentials)],
            ..Default::default()
        };
        match session.filter(|s| !alone && s.person.as_ref().is_some_and(|p| p.id == person.id)) {
            Some(session) => self.rotate_session(session, SessionStage::Full, write).await,
            None => {
                let replaces = session.map(|s| s.digest.as_str());
                self.start_session(Some(&person), SessionStage::Full, from, replaces, write)
                    .await
            }
        }
    }

    /// `repbook demo` only: the owner puts enrolment off, once, and is signed in without a second factor.
    pub async fn skip_enrolment(&self, session: &LiveSession, from: &Requester) -> Result<NewSession, AppError> {
        let person = match (&session.person, session.record.stage) {
            (Some(person), SessionStage::Enrol) => person.clone(),
            _ => return Err(not_signing_in()),
        };
        if !self.accounts.demo_skip_enrolment || person.enrolment_skipped_at.is_some() {
            return Err(AppError::Forbidden {
                code: "enrolment_required",
                message:
                    "this host asks every account for a second factor: add a passkey or an authenticator app to go on"
                        .into(),
            });
        }
        let mut person = self.signed_in(&person, from, "without a second factor (the demo's one skip)");
        person.enrolment_skipped_at = Some(self.now());
        self.rotate_session(
            session,
            SessionStage::Full,
            PeopleWrite {
                people: vec![&person],
                ..Default::default()
            },
        )
        .await
    }
}

/// Seconds since 1970 by the machine's clock: TOTP codes follow the phone's real time, not a test clock.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
