//! Single sign-on, the workflows: the owner's providers and the host's sign-in policy; signing in through a
//! provider (another way for an existing person to prove who they are: it never makes an account or gives
//! a role); and the links on My account. The first sign-in links the account to the provider's
//! `(issuer, sub)` only when the provider vouches for the invited address; afterwards the link alone finds
//! the person, so a changed address at the provider moves nothing. MFA done at the provider (its `amr`)
//! counts; else the person gives repbook's own second factor. Every attempt, refused or not, is audited.

use serde::{Deserialize, Serialize};

use super::sessions::NewSession;
use super::{App, AppError, Requester};
use crate::domain::{
    Actor, AuditActor, NewSsoProvider, Person, PersonState, ProviderClaims, SessionStage, SsoLink, SsoLinkView,
    SsoPolicy, SsoProvider, SsoProviderView, SsoRefusal, mfa_at_provider, new_id, normalize_email, vouched_address,
};
use crate::identity::oidc::{Callback, DiscoveryReport, Started};
use crate::store::PeopleWrite;

/// `PUT /api/v1/sso/policy`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    /// `false`: sign in through a provider only (the break-glass owner keeps a password and passkey).
    pub password_sign_in: bool,
    /// The break-glass owner's email address; needed when `password_sign_in` is false.
    #[serde(default)]
    #[schema(max_length = 254)]
    pub break_glass: Option<String>,
}

/// The host's sign-in policy, as the owner sees it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PolicyView {
    pub password_sign_in: bool,
    /// The break-glass owner's address.
    pub break_glass: Option<String>,
}

/// What the sign-in page offers, before anyone signed in.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignInOptions {
    pub password_sign_in: bool,
    pub providers: Vec<SignInProvider>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignInProvider {
    pub id: String,
    pub name: String,
    /// Open this address to sign in ("Sign in with NAME").
    pub start_url: String,
}

fn unknown_provider() -> AppError {
    AppError::DeadLink {
        code: "no_such_provider",
        message: "this server has no such sign-in provider (it may have been removed): go back to the sign-in page"
            .into(),
    }
}

impl App {
    fn provider_with_secret(&self, id: &str) -> Result<(SsoProvider, String), AppError> {
        let provider = self.store.sso_provider(id)?.ok_or_else(unknown_provider)?;
        let secret = self.store.sso_secret(id)?.ok_or_else(unknown_provider)?;
        Ok((provider, secret))
    }

    fn provider_view(&self, provider: &SsoProvider) -> SsoProviderView {
        provider.view(self.identity.sso.base_url())
    }

    pub fn sso_providers(&self) -> Result<Vec<SsoProviderView>, AppError> {
        Ok(self
            .store
            .sso_providers()?
            .iter()
            .map(|p| self.provider_view(p))
            .collect())
    }

    pub fn add_sso_provider(&self, request: NewSsoProvider) -> Result<SsoProviderView, AppError> {
        let (provider, secret) = SsoProvider::from_request(request, new_id(), self.now())?;
        let existing = self.store.sso_providers()?;
        if existing
            .iter()
            .any(|p| p.issuer == provider.issuer && p.client_id == provider.client_id)
        {
            return Err(AppError::conflict(
                "provider_exists",
                "this issuer and client id are set up already: remove that provider first to change its secret",
            ));
        }
        if existing.iter().any(|p| p.name.eq_ignore_ascii_case(&provider.name)) {
            return Err(AppError::conflict(
                "provider_name_taken",
                format!("a provider is named {} already: choose another name", provider.name),
            ));
        }
        self.store.put_sso_provider(&provider, &secret)?;
        Ok(self.provider_view(&provider))
    }

    pub fn remove_sso_provider(&self, id: &str) -> Result<SsoProviderView, AppError> {
        let provider = self.store.sso_provider(id)?.ok_or_else(unknown_provider)?;
        let policy = self.store.sso_policy()?;
        if !policy.password_sign_in && self.store.sso_providers()?.len() == 1 {
            return Err(AppError::conflict(
                "last_provider",
                "this is the only provider and the host signs in through single sign-on only: allow password \
                 sign-in first (PUT /api/v1/sso/policy), or add another provider",
            ));
        }
        self.store.remove_sso_provider(id)?;
        self.identity.sso.forget(&provider);
        Ok(self.provider_view(&provider))
    }

    /// Reads the provider's discovery document and keys now, and says what it found.
    pub async fn test_sso_provider(&self, id: &str) -> Result<DiscoveryReport, AppError> {
        let provider = self.store.sso_provider(id)?.ok_or_else(unknown_provider)?;
        Ok(self.identity.sso.test(&provider).await?)
    }

    pub fn sso_policy(&self) -> Result<PolicyView, AppError> {
        let policy = self.store.sso_policy()?;
        let break_glass = match &policy.break_glass {
            Some(id) => self.store.person(id).ok().map(|p| p.email),
            None => None,
        };
        Ok(PolicyView {
            password_sign_in: policy.password_sign_in,
            break_glass,
        })
    }

    /// SSO only needs a provider and a break-glass owner who has a passkey, so an outage at the provider
    /// never locks the clinic out.
    pub fn set_sso_policy(&self, request: PolicyRequest) -> Result<PolicyView, AppError> {
        let break_glass = match request.break_glass.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(email) => {
                let person = self.store.person_by_email(&normalize_email(email))?.ok_or_else(|| {
                    AppError::conflict(
                        "break_glass_unknown",
                        format!("{email} has no account here: name an owner of this host"),
                    )
                })?;
                if !person.is_owner() || person.state != PersonState::Active {
                    return Err(AppError::conflict(
                        "break_glass_not_owner",
                        format!(
                            "{} is not an active owner: the break-glass account must be one",
                            person.email
                        ),
                    ));
                }
                if self.store.credentials(&person.id)?.passkeys.is_empty() {
                    return Err(AppError::conflict(
                        "break_glass_without_passkey",
                        format!(
                            "{} has no passkey: they add one on My account first (a password alone is not enough \
                             for the account that gets round single sign-on)",
                            person.email
                        ),
                    ));
                }
                Some(person.id)
            }
            None => None,
        };
        if !request.password_sign_in {
            if break_glass.is_none() {
                return Err(AppError::conflict(
                    "break_glass_needed",
                    "name the break-glass owner (break_glass: their email address) before turning password sign-in \
                     off, so a provider outage cannot lock everyone out",
                ));
            }
            if self.store.sso_providers()?.is_empty() {
                return Err(AppError::conflict(
                    "no_provider",
                    "add a sign-in provider first: with password sign-in off, it is how everyone signs in",
                ));
            }
        }
        self.store.put_sso_policy(&SsoPolicy {
            password_sign_in: request.password_sign_in,
            break_glass,
        })?;
        self.sso_policy()
    }

    /// With single sign-on the only way, the break-glass owner must stay an active owner with a passkey:
    /// refuses a change that would leave `person` (after it) otherwise.
    pub(super) fn keep_break_glass(&self, person: &Person, passkeys_after: usize) -> Result<(), AppError> {
        let policy = self.store.sso_policy()?;
        let is_break_glass = policy.break_glass.as_deref() == Some(person.id.as_str());
        if policy.password_sign_in || !is_break_glass {
            return Ok(());
        }
        if passkeys_after == 0 || !person.is_owner() || person.state != PersonState::Active {
            return Err(AppError::conflict(
                "break_glass_account",
                format!(
                    "{} is the break-glass account (single sign-on is the only other way in): they must stay an \
                     active owner with a passkey; name another break-glass owner first (PUT /api/v1/sso/policy)",
                    person.email
                ),
            ));
        }
        Ok(())
    }

    /// The sign-in page's choices.
    pub fn sign_in_options(&self) -> Result<SignInOptions, AppError> {
        Ok(SignInOptions {
            password_sign_in: self.store.sso_policy()?.password_sign_in,
            providers: self
                .sso_providers()?
                .into_iter()
                .map(|p| SignInProvider {
                    id: p.id,
                    name: p.name,
                    start_url: p.start_url,
                })
                .collect(),
        })
    }

    /// Whether `person` may sign in other than through a provider (checked once their password or passkey
    /// proved who they are, so the answer tells a stranger nothing).
    pub(super) fn refuse_unless_password_allowed(&self, person: &Person, from: &Requester) -> Result<(), AppError> {
        if self.store.sso_policy()?.allows_password(&person.id) {
            return Ok(());
        }
        let names: Vec<String> = self.store.sso_providers()?.into_iter().map(|p| p.name).collect();
        self.audit_sign_in(
            &Actor::Person(person.clone()).audit_actor(),
            from,
            "sign-in refused",
            "password_sign_in_off",
            Some(person),
            "password sign-in is off on this host".into(),
        );
        Err(AppError::Forbidden {
            code: "password_sign_in_off",
            message: format!(
                "this server signs people in through {} only: use that button on the sign-in page",
                names.join(" or ")
            ),
        })
    }

    /// Starts signing in at a provider: where the browser goes next.
    pub async fn start_sso(&self, provider_id: &str, from: &Requester) -> Result<Started, AppError> {
        let (provider, secret) = self.provider_with_secret(provider_id)?;
        match self.identity.sso.start(&provider, &secret).await {
            Ok(started) => Ok(started),
            Err(error) => {
                self.audit_sso_refusal(&provider, from, None, error.code(), &error.to_string());
                Err(error.into())
            }
        }
    }

    fn audit_sso_refusal(
        &self,
        provider: &SsoProvider,
        from: &Requester,
        person: Option<&Person>,
        code: &str,
        why: &str,
    ) {
        self.audit_sign_in(
            &AuditActor::anyone(),
            from,
            "single sign-on refused",
            code,
            person,
            format!("through {}: {why}", provider.name),
        );
    }

    fn refused(
        &self,
        provider: &SsoProvider,
        from: &Requester,
        person: Option<&Person>,
        refusal: SsoRefusal,
    ) -> AppError {
        self.audit_sso_refusal(provider, from, person, refusal.code, &refusal.why);
        AppError::Forbidden {
            code: refusal.code,
            message: refusal.why,
        }
    }

    /// The provider's answer at the redirect URI: the person it proves, in a new session (waiting for
    /// repbook's second factor unless the provider did MFA).
    pub async fn finish_sso(
        &self,
        provider_id: &str,
        callback: Callback<'_>,
        from: &Requester,
    ) -> Result<NewSession, AppError> {
        let (provider, secret) = self.provider_with_secret(provider_id)?;
        let claims = match self.identity.sso.finish(&provider, &secret, callback, self.now()).await {
            Ok(claims) => claims,
            Err(error) => {
                self.audit_sso_refusal(&provider, from, None, error.code(), &error.to_string());
                return Err(error.into());
            }
        };
        let _people = self.people_lock.lock().await;
        let (person, link) = self.person_of_claims(&provider, &claims, from)?;
        let mut person = match person.state {
            PersonState::Active | PersonState::Invited => person,
            PersonState::Disabled => {
                let refusal = SsoRefusal::new(
                    "account_disabled",
                    "your repbook account is disabled: ask your practice manager",
                );
                return Err(self.refused(&provider, from, Some(&person), refusal));
            }
        };
        let mut write_invitation = None;
        if person.state == PersonState::Invited {
            // Accepting the invitation by signing in: the provider vouched for the invited address.
            let Some(mut invitation) = self.pending_invitation(&person)? else {
                let refusal = SsoRefusal::new(
                    "not_invited",
                    "your invitation was withdrawn: ask your practice manager for a new one",
                );
                return Err(self.refused(&provider, from, Some(&person), refusal));
            };
            if self.now() >= invitation.expires_at {
                let refusal = SsoRefusal::new(
                    "invitation_expired",
                    "your invitation has expired: ask your practice manager to send it again",
                );
                return Err(self.refused(&provider, from, Some(&person), refusal));
            }
            invitation.accepted_at = Some(self.now());
            person.state = PersonState::Active;
            if let Some(name) = claims.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                person.name = name.chars().take(80).collect();
            }
            write_invitation = Some(invitation);
        }
        let credentials = self.store.credentials(&person.id)?;
        let provider_mfa = mfa_at_provider(&claims.amr);
        let stage = if provider_mfa {
            SessionStage::Full
        } else {
            self.stage_after_password(&credentials)
        };
        let how = format!(
            "through {}{}",
            provider.name,
            if provider_mfa { " (MFA at the provider)" } else { "" }
        );
        let person = if stage == SessionStage::Full {
            self.signed_in(&person, from, &how)
        } else {
            let actor = Actor::Person(person.clone()).audit_actor();
            let asked = if stage == SessionStage::SecondFactor {
                "second_factor_asked"
            } else {
                "enrolment_asked"
            };
            self.audit_sign_in(&actor, from, "single sign-on accepted", asked, Some(&person), how);
            person
        };
        let write = PeopleWrite {
            people: vec![&person],
            sso_links: vec![&link],
            invitations: write_invitation.iter().collect(),
            ..Default::default()
        };
        let mut record = self.session_record(Some(&person), stage, from);
        record.via_provider = Some(provider.id.clone());
        self.open_session(record, None, write).await
    }

    /// The person a provider's claims prove, and their link (new, or the existing one used now).
    fn person_of_claims(
        &self,
        provider: &SsoProvider,
        claims: &ProviderClaims,
        from: &Requester,
    ) -> Result<(Person, SsoLink), AppError> {
        let now = self.now();
        if let Some(mut link) = self.store.sso_link(&claims.issuer, &claims.subject)? {
            let person = self.store.person(&link.person_id)?;
            link.last_used_at = now;
            link.provider_id = provider.id.clone();
            return Ok((person, link));
        }
        let address = vouched_address(provider.email_claim, claims, &provider.name)
            .map_err(|refusal| self.refused(provider, from, None, refusal))?;
        let Some(person) = self.store.person_by_email(&address)? else {
            let refusal = SsoRefusal::new(
                "not_invited",
                format!(
                    "{address} has no account on this server: ask your practice manager to invite you (repbook makes \
                     no account by itself)"
                ),
            );
            return Err(self.refused(provider, from, None, refusal));
        };
        if self
            .store
            .sso_links_of(&person.id)?
            .iter()
            .any(|l| l.issuer == claims.issuer)
        {
            let refusal = SsoRefusal::new(
                "linked_to_another",
                format!(
                    "{address}'s account is linked to another {} account already: sign in with that one, or unlink \
                     it on My account first",
                    provider.name
                ),
            );
            return Err(self.refused(provider, from, Some(&person), refusal));
        }
        let link = SsoLink {
            id: new_id(),
            issuer: claims.issuer.clone(),
            subject: claims.subject.clone(),
            provider_id: provider.id.clone(),
            person_id: person.id.clone(),
            email_at_link: address,
            linked_at: now,
            last_used_at: now,
        };
        Ok((person, link))
    }

    pub fn my_sso_links(&self, person: &Person) -> Result<Vec<SsoLinkView>, AppError> {
        let providers = self.store.sso_providers()?;
        Ok(self
            .store
            .sso_links_of(&person.id)?
            .iter()
            .map(|link| link_view(&providers, link))
            .collect())
    }

    /// Unlinks one of the person's sign-ins: the next sign-in through that provider links again (by the
    /// vouched address).
    pub async fn unlink_sso(&self, person: &Person, link_id: &str) -> Result<SsoLinkView, AppError> {
        let _people = self.people_lock.lock().await;
        let link = self
            .store
            .sso_links_of(&person.id)?
            .into_iter()
            .find(|l| l.id == link_id)
            .ok_or_else(|| AppError::DeadLink {
                code: "not_found",
                message: "no such linked sign-in on your account".into(),
            })?;
        let view = link_view(&self.store.sso_providers()?, &link);
        self.store.write_people(PeopleWrite {
            remove_sso_links: vec![&link],
            ..Default::default()
        })?;
        self.store.durable().await?;
        Ok(view)
    }
}

/// A link as My account shows it: by its provider's name (its issuer, once that provider was removed).
fn link_view(providers: &[SsoProvider], link: &SsoLink) -> SsoLinkView {
    SsoLinkView {
        id: link.id.clone(),
        provider: providers
            .iter()
            .find(|p| p.issuer == link.issuer)
            .map_or_else(|| link.issuer.clone(), |p| p.name.clone()),
        email_at_link: link.email_at_link.clone(),
        linked_at: link.linked_at,
        last_used_at: link.last_used_at,
    }
}
