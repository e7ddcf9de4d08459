//! Invitations: a manager or owner invites an address with a role (mailed through the outbox, or a link
//! shown once when there is no mail), resends or withdraws it; the invited person opens the link, sets their
//! name and password and is signed in (to enrol a second factor first, when the host asks for one). The
//! link works once and only its digest is kept. Also the first owner of a host that has none.

use serde::{Deserialize, Serialize};

use super::sessions::NewSession;
use super::{App, AppError, Requester, new_capability};
use crate::domain::{
    Actor, ActorKind, AuditActor, Clinic, Grant, Invitation, Person, PersonState, PersonView, Role, SessionStage,
    check_password, check_person_email, check_person_name, digest, new_id,
};
use crate::store::PeopleWrite;

/// `POST /api/v1/people`: invite an address with a role (or give someone who has an account the role).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    #[schema(min_length = 3, max_length = 254, pattern = "@email")]
    pub email: String,
    pub role: Role,
    /// The clinic of a manager or front-desk role; null for owner.
    #[serde(default)]
    pub clinic: Option<String>,
    /// Their name, when known (they may change it when they accept).
    #[serde(default)]
    #[schema(max_length = 120, pattern = "@blank-or-line")]
    pub name: Option<String>,
}
/// What an invitation made: the person as the inviter sees them, and the link when it was not mailed
/// (shown this once, to pass on by hand).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Invited {
    pub person: PersonView,
    /// Whether a new invitation was made (false: the address had an account, and now has the role).
    pub invited: bool,
    /// Whether it was mailed to them.
    pub mailed: bool,
    /// `/invite/<token>`, when it was not mailed. Shown once.
    pub invite_url: Option<String>,
}
/// `POST /invite/{token}`: the invited person's name and password.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    #[schema(min_length = 1, max_length = 120, pattern = "@line")]
    pub name: String,
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
}

/// What the invitation page shows before it is accepted.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InvitationSeen {
    pub email: String,
    pub name: String,
    /// What the invitation makes them, in words ("front desk at Harbour GP").
    pub roles: String,
    pub invited_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: jiff::Timestamp,
    /// Whether a second factor must be set up after the password.
    pub second_factor_required: bool,
    /// The zone the page tells times in (the clinic's).
    pub timezone: String,
}
impl App {
    /// What a role is, in the words an invitation uses: "front desk at Harbour GP".
    pub(super) fn grant_words(&self, grant: &Grant) -> String {
        match &grant.clinic {
            None => "host owner (every clinic on this repbook server)".into(),
            Some(clinic) => {
                let name = self
                    .store
                    .clinic(clinic)
                    .map(|c| c.name)
                    .unwrap_or_else(|_| clinic.clone());
                format!("{} at {name}", grant.role.words())
            }
        }
    }

    /// A fresh invitation for `person` (its link, the record, the mail or the link to show).
    fn fresh_invitation(
        &self,
        actor: &AuditActor,
        person: &Person,
    ) -> Result<(Invitation, String, Vec<crate::domain::OutgoingMessage>), AppError> {
        let token = new_capability()?;
        let now = self.now();
        let invitation = Invitation {
            id: new_id(),
            person_id: person.id.clone(),
            email: person.email.clone(),
            roles: person.roles.clone(),
            invited_by: match actor.kind {
                ActorKind::HostToken => "the administrator of this repbook server".into(),
                _ => actor.name.clone(),
            },
            created_at: now,
            expires_at: now + self.accounts.invitation_for,
            token_sha256: digest(&token),
            accepted_at: None,
        };
        let messages = self
            .invitation_mail(actor, person, &invitation, &token)
            .into_iter()
            .collect();
        Ok((invitation, token, messages))
    }

    fn invitation_mail(
        &self,
        actor: &AuditActor,
        person: &Person,
        invitation: &Invitation,
        token: &str,
    ) -> Option<crate::domain::OutgoingMessage> {
        let identity = self.mail.as_ref()?;
        let first_clinic: Option<Clinic> = person.clinics().next().and_then(|c| self.store.clinic(c).ok());
        let zone = first_clinic
            .as_ref()
            .map(Clinic::tz)
            .unwrap_or_else(|| self.host_zone());
        let words = person
            .roles
            .iter()
            .map(|g| self.grant_words(g))
            .collect::<Vec<_>>()
            .join(", ");
        let inviter = actor.name.split(" <").next().unwrap_or(&actor.name).to_string();
        crate::notify::accounts::invitation(
            identity,
            crate::notify::accounts::InvitationLetter {
                to: &person.email,
                inviter: &inviter,
                roles: &words,
                link_path: &format!("/invite/{token}"),
                expires_at: invitation.expires_at,
                zone: &zone,
                clinic_id: first_clinic.as_ref().map(|c| c.id.as_str()).unwrap_or(""),
            },
            self.now(),
        )
    }

    /// Invites `request.email` as `request.role` (at `request.clinic`), or, when the address has an
    /// account, gives it the role.
    pub async fn invite(&self, actor: &Actor, request: InviteRequest, from: &Requester) -> Result<Invited, AppError> {
        let grant = Grant {
            clinic: request.clinic.clone().filter(|c| !c.trim().is_empty()),
            role: request.role,
        }
        .check()?;
        actor
            .may_grant(&grant)
            .map_err(|d| self.refusal(d, "clinic", grant.clinic.as_deref().unwrap_or("")))?;
        if let Some(clinic) = &grant.clinic {
            self.store.clinic(clinic)?;
        }
        let email = check_person_email(&request.email)?;
        let name = match request.name.as_deref().filter(|n| !n.trim().is_empty()) {
            Some(name) => check_person_name(name)?,
            None => email.split('@').next().unwrap_or(&email).to_string(),
        };
        let by = actor.audit_actor();
        let _people = self.people_lock.lock().await;
        let answer = match self.store.person_by_email(&email)? {
            Some(mut person) => {
                if person.roles.contains(&grant) {
                    return Err(AppError::conflict(
                        "already_has_role",
                        format!("{email} is already {}", self.grant_words(&grant)),
                    ));
                }
                match &grant.clinic {
                    Some(clinic) => person.set_role_at(clinic, Some(grant.role)),
                    None => person.roles.push(grant.clone()),
                }
                self.store.write_people(PeopleWrite {
                    people: vec![&person],
                    ..Default::default()
                })?;
                self.audit_person(
                    &by,
                    from,
                    grant.clinic.as_deref(),
                    "role given",
                    &person,
                    self.grant_words(&grant),
                );
                Invited {
                    person: self.person_view(actor, &person)?,
                    invited: false,
                    mailed: false,
                    invite_url: None,
                }
            }
            None => {
                let person = Person {
                    id: new_id(),
                    email,
                    name,
                    state: PersonState::Invited,
                    roles: vec![grant.clone()],
                    created_at: self.now(),
                    last_sign_in_at: None,
                    factors_reset_at: None,
                    enrolment_skipped_at: None,
                };
                let (invitation, token, messages) = self.fresh_invitation(&by, &person)?;
                let mailed = !messages.is_empty();
                self.store.write_people(PeopleWrite {
                    people: vec![&person],
                    invitations: vec![&invitation],
                    messages,
                    ..Default::default()
                })?;
                self.audit_person(
                    &by,
                    from,
                    grant.clinic.as_deref(),
                    "invitation sent",
                    &person,
                    format!(
                        "as {}{}",
                        self.grant_words(&grant),
                        if mailed { ", by mail" } else { ", link shown once" }
                    ),
                );
                Invited {
                    person: self.person_view(actor, &person)?,
                    invited: true,
                    mailed,
                    invite_url: (!mailed).then(|| format!("/invite/{token}")),
                }
            }
        };
        self.store.durable().await?;
        Ok(answer)
    }

    /// A new link for an invitation not yet accepted (the old link stops), mailed again or shown once.
    pub async fn resend_invitation(&self, actor: &Actor, id: &str, from: &Requester) -> Result<Invited, AppError> {
        let _people = self.people_lock.lock().await;
        let old = self.store.invitation(id)?;
        let person = self.visible_person(actor, &old.person_id)?;
        actor
            .may_administer(&person)
            .map_err(|d| self.refusal(d, "invitation", id))?;
        if person.state != PersonState::Invited || old.accepted_at.is_some() {
            return Err(AppError::conflict(
                "invitation_accepted",
                format!(
                    "{} accepted this invitation already; they sign in with their own password",
                    person.email
                ),
            ));
        }
        let by = actor.audit_actor();
        let (fresh, token, messages) = self.fresh_invitation(&by, &person)?;
        let invitation = Invitation { id: old.id, ..fresh };
        let mailed = !messages.is_empty();
        self.store.write_people(PeopleWrite {
            invitations: vec![&invitation],
            messages,
            ..Default::default()
        })?;
        self.store.durable().await?;
        self.audit_person(
            &by,
            from,
            person.clinics().next(),
            "invitation sent again",
            &person,
            String::new(),
        );
        Ok(Invited {
            person: self.person_view(actor, &person)?,
            invited: true,
            mailed,
            invite_url: (!mailed).then(|| format!("/invite/{token}")),
        })
    }

    /// Withdraws an invitation not yet accepted: its link stops and the invited account is gone.
    pub async fn withdraw_invitation(&self, actor: &Actor, id: &str, from: &Requester) -> Result<(), AppError> {
        let _people = self.people_lock.lock().await;
        let invitation = self.store.invitation(id)?;
        let person = self.visible_person(actor, &invitation.person_id)?;
        actor
            .may_administer(&person)
            .map_err(|d| self.refusal(d, "invitation", id))?;
        if person.state != PersonState::Invited {
            return Err(AppError::conflict(
                "invitation_accepted",
                format!(
                    "{} accepted this invitation already; disable the account instead",
                    person.email
                ),
            ));
        }
        self.store.write_people(PeopleWrite {
            remove_people: vec![&person],
            remove_invitations: vec![&invitation],
            ..Default::default()
        })?;
        self.store.durable().await?;
        self.audit_person(
            &actor.audit_actor(),
            from,
            person.clinics().next(),
            "invitation withdrawn",
            &person,
            String::new(),
        );
        Ok(())
    }

    /// The first owner of a host that has none (an upgraded data dir, a new server), made from the host
    /// token's setup session: the invitation's link is answered here, for the page to continue into.
    pub async fn make_first_owner(&self, email: &str, name: &str, from: &Requester) -> Result<Invited, AppError> {
        let _people = self.people_lock.lock().await;
        if self.store.has_owner()? {
            return Err(AppError::conflict(
                "owner_exists",
                "this host has an owner already; sign in with your email address",
            ));
        }
        let email = check_person_email(email)?;
        let name = check_person_name(name)?;
        let by = AuditActor::of(ActorKind::HostToken, "host token");
        let grant = Grant {
            clinic: None,
            role: Role::Owner,
        };
        // An invited (never accepted) account of this address gives way to the owner's.
        let stale = self.store.person_by_email(&email)?;
        if stale.as_ref().is_some_and(|p| p.state != PersonState::Invited) {
            return Err(AppError::conflict(
                "email_taken",
                format!("{email} has an account already; choose the owner's own address"),
            ));
        }
        let person = Person {
            id: stale.as_ref().map(|p| p.id.clone()).unwrap_or_else(new_id),
            email,
            name,
            state: PersonState::Invited,
            roles: vec![grant],
            created_at: self.now(),
            last_sign_in_at: None,
            factors_reset_at: None,
            enrolment_skipped_at: None,
        };
        let (invitation, token, _) = self.fresh_invitation(&by, &person)?;
        self.store.write_people(PeopleWrite {
            people: vec![&person],
            invitations: vec![&invitation],
            ..Default::default()
        })?;
        self.store.durable().await?;
        self.audit_person(
            &by,
            from,
            None,
            "owner made",
            &person,
            "by the host token, on the admin page".into(),
        );
        Ok(Invited {
            person: self.person_view(&Actor::HostToken, &person)?,
            invited: true,
            mailed: false,
            invite_url: Some(format!("/invite/{token}")),
        })
    }

    /// The live invitation behind a link (used, withdrawn and unknown links are the same).
    fn invitation_of_link(&self, token: &str) -> Result<(crate::domain::Invitation, Person), AppError> {
        let gone = || AppError::DeadLink {
            code: "invitation_used",
            message: "this invitation link was used already or withdrawn; sign in with your email address, or ask \
                      the person who invited you for a new invitation"
                .into(),
        };
        let invitation = self.store.invitation_by_token(&digest(token))?.ok_or_else(gone)?;
        let person = self.store.person(&invitation.person_id).map_err(|_| gone())?;
        if person.state != PersonState::Invited || invitation.accepted_at.is_some() {
            return Err(gone());
        }
        if self.now() >= invitation.expires_at {
            return Err(AppError::Gone {
                code: "invitation_expired",
                message: format!(
                    "this invitation expired on {}; ask {} to send it again",
                    crate::notify::accounts::when_words(invitation.expires_at, &self.host_zone()),
                    invitation
                        .invited_by
                        .split(" <")
                        .next()
                        .unwrap_or(&invitation.invited_by)
                ),
            });
        }
        Ok((invitation, person))
    }

    pub fn invitation_for_link(&self, token: &str) -> Result<InvitationSeen, AppError> {
        let (invitation, person) = self.invitation_of_link(token)?;
        Ok(InvitationSeen {
            email: person.email.clone(),
            name: person.name.clone(),
            roles: person
                .roles
                .iter()
                .map(|g| self.grant_words(g))
                .collect::<Vec<_>>()
                .join(", "),
            invited_by: invitation
                .invited_by
                .split(" <")
                .next()
                .unwrap_or(&invitation.invited_by)
                .to_string(),
            expires_at: invitation.expires_at,
            second_factor_required: self.accounts.require_mfa,
            timezone: self.zone_name_of(&person),
        })
    }

    /// Accepting an invitation: the name and password set, the account active, a session opened (that
    /// enrols a second factor first when the host asks for one). The link works once.
    pub async fn accept_invitation(
        &self,
        token: &str,
        accept: AcceptInvitation,
        from: &Requester,
    ) -> Result<NewSession, AppError> {
        let _people = self.people_lock.lock().await;
        let (mut invitation, mut person) = self.invitation_of_link(token)?;
        person.name = check_person_name(&accept.name)?;
        check_password(&accept.password, &person.email)?;
        let mut credentials = self.store.credentials(&person.id)?;
        credentials.password_hash = Some(self.identity.passwords.hash(&accept.password).await?);
        person.state = PersonState::Active;
        invitation.accepted_at = Some(self.now());
        let actor = Actor::Person(person.clone()).audit_actor();
        self.audit_person(
            &actor,
            from,
            person.clinics().next(),
            "invitation accepted",
            &person,
            String::new(),
        );
        let stage = self.stage_after_password(&credentials);
        let person = if stage == SessionStage::Full {
            self.signed_in(&person, from, "on accepting the invitation")
        } else {
            person
        };
        // The accepted invitation's link stops with the same write (`write_people` keeps no link for it).
        let write = PeopleWrite {
            people: vec![&person],
            credentials: vec![(&person.id, &credentials)],
            invitations: vec![&invitation],
            ..Default::default()
        };
        self.start_session(Some(&person), stage, from, None, write).await
    }

    /// `repbook demo` only: a one-time link for its owner, printed on its console (the demo mails nobody a
    /// link it needs): the invitation on the first run and while it waits, else a password-reset link, so
    /// every run can sign in again.
    pub async fn demo_owner_link(&self, email: &str, name: &str) -> Result<String, AppError> {
        let local = Requester {
            address: std::net::IpAddr::from([127, 0, 0, 1]),
            device: "repbook demo".into(),
        };
        let email = check_person_email(email)?;
        let owner = match self.store.person_by_email(&email)? {
            Some(person) => person,
            None if !self.store.has_owner()? => {
                let made = self.make_first_owner(&email, name, &local).await?;
                return Ok(made.invite_url.unwrap_or_default());
            }
            None => self
                .store
                .people()?
                .into_iter()
                .find(Person::is_owner)
                .ok_or_else(|| AppError::conflict("no_owner", "the demo's server has no owner"))?,
        };
        let _people = self.people_lock.lock().await;
        let token = new_capability()?;
        if owner.state == PersonState::Invited {
            let (fresh, _, _) = self.fresh_invitation(&AuditActor::of(ActorKind::HostToken, "repbook demo"), &owner)?;
            let old = self.pending_invitation(&owner)?;
            let invitation = Invitation {
                id: old.map(|o| o.id).unwrap_or(fresh.id.clone()),
                token_sha256: digest(&token),
                ..fresh
            };
            self.store.write_people(PeopleWrite {
                invitations: vec![&invitation],
                ..Default::default()
            })?;
            self.store.durable().await?;
            return Ok(format!("/invite/{token}"));
        }
        let reset = crate::domain::PasswordReset {
            person_id: owner.id.clone(),
            expires_at: self.now() + self.accounts.reset_for,
        };
        self.store.write_people(PeopleWrite {
            resets: vec![(digest(&token), Some(reset))],
            ..Default::default()
        })?;
        self.store.durable().await?;
        Ok(format!("/reset/{token}"))
    }
}
