//! The clinic's people: invitations (mailed through the outbox, or a link shown once when there is no mail),
//! roles per clinic, disabling and enabling, resetting someone's factors, and the first owner of a host that
//! has none. Who may do what to whom is the domain's (`Actor::may_grant`, `may_administer`, `sees_person`);
//! this module reads what it needs, writes each change in one transaction and puts it in the audit trail.

use std::collections::HashMap;

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use super::{App, AppError, Requester};
use crate::domain::{
    Actor, AuditActor, Credentials, Denied, Grant, Invitation, Person, PersonState, PersonView, Role, RoleView,
    SessionPolicy, check_person_name, new_id,
};
use crate::store::{PeopleWrite, StoreError};

/// The host's rules for accounts (`repbook serve` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountPolicy {
    /// Every account enrols a second factor before it can do anything else.
    pub require_mfa: bool,
    pub sessions: SessionPolicy,
    /// How long an invitation's link works.
    pub invitation_for: SignedDuration,
    /// How long a password reset's link works.
    pub reset_for: SignedDuration,
    /// `repbook demo` only: the owner may put off enrolment once.
    pub demo_skip_enrolment: bool,
}

impl Default for AccountPolicy {
    fn default() -> Self {
        AccountPolicy {
            require_mfa: true,
            sessions: SessionPolicy::default(),
            invitation_for: SignedDuration::from_hours(72),
            reset_for: SignedDuration::from_hours(1),
            demo_skip_enrolment: false,
        }
    }
}

/// `PATCH /api/v1/people/{id}`: only the fields given change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonPatch {
    /// The person's roles as you see them (GET), changed: each role added, changed or removed must be
    /// one you may give (a manager: front desk or manager at a clinic they manage). Roles at clinics you do
    /// not see stay as they are.
    #[serde(default)]
    pub roles: Option<Vec<Grant>>,
    /// true signs them out everywhere and revokes their tokens; false lets them in again.
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 120, pattern = "@line")]
    pub name: Option<String>,
}

impl App {
    /// A refusal as the adapters show it: hidden things are not found, too small a role names the one needed.
    pub(crate) fn refusal(&self, denied: Denied, entity: &'static str, id: &str) -> AppError {
        match denied {
            Denied::Hidden => StoreError::NotFound {
                entity,
                id: id.to_string(),
            }
            .into(),
            Denied::NeedsRole { needed, has } => AppError::Forbidden {
                code: "role_required",
                message: format!(
                    "this needs the {} role (you act as {}); ask a {} of the clinic",
                    needed.words(),
                    has.words(),
                    if needed == Role::Owner {
                        "host owner"
                    } else {
                        "practice manager"
                    }
                ),
            },
        }
    }

    fn clinic_names(&self) -> Result<HashMap<String, String>, AppError> {
        Ok(self.store.clinics()?.into_iter().map(|c| (c.id, c.name)).collect())
    }

    /// `person`'s roles as `viewer` may see them, with each clinic's name.
    fn role_views(&self, viewer: &Actor, person: &Person, names: &HashMap<String, String>) -> Vec<RoleView> {
        let mut roles: Vec<RoleView> = person
            .roles
            .iter()
            .filter(|g| match &g.clinic {
                None => true,
                Some(clinic) => viewer.sees_clinic(clinic),
            })
            .map(|g| RoleView {
                clinic: g.clinic.clone(),
                clinic_name: g.clinic.as_ref().and_then(|c| names.get(c).cloned()),
                role: g.role,
            })
            .collect();
        roles.sort_by(|a, b| (b.role, &a.clinic_name).cmp(&(a.role, &b.clinic_name)));
        roles
    }

    pub(super) fn pending_invitation(&self, person: &Person) -> Result<Option<Invitation>, AppError> {
        if person.state != PersonState::Invited {
            return Ok(None);
        }
        Ok(self
            .store
            .invitations()?
            .into_iter()
            .filter(|i| i.person_id == person.id && i.accepted_at.is_none())
            .max_by_key(|i| i.created_at))
    }

    pub(crate) fn person_view(&self, viewer: &Actor, person: &Person) -> Result<PersonView, AppError> {
        let names = self.clinic_names()?;
        let credentials = self.store.credentials(&person.id)?;
        let invitation = self.pending_invitation(person)?.map(|i| i.view(self.now()));
        Ok(PersonView::new(
            person,
            self.role_views(viewer, person, &names),
            &credentials,
            self.accounts.require_mfa,
            invitation,
        ))
    }

    /// The People tab: everyone the actor may see, by name.
    pub fn people_for(&self, actor: &Actor) -> Result<Vec<PersonView>, AppError> {
        actor
            .permit_anywhere(Role::Manager)
            .map_err(|d| self.refusal(d, "person", ""))?;
        let names = self.clinic_names()?;
        let invitations = self.store.invitations()?;
        let mut people: Vec<PersonView> = self
            .store
            .people()?
            .into_iter()
            .filter(|p| actor.sees_person(p))
            .map(|person| {
                let credentials = self.store.credentials(&person.id)?;
                let invitation = invitations
                    .iter()
                    .filter(|i| i.person_id == person.id && i.accepted_at.is_none())
                    .filter(|_| person.state == PersonState::Invited)
                    .max_by_key(|i| i.created_at)
                    .map(|i| i.view(self.now()));
                Ok(PersonView::new(
                    &person,
                    self.role_views(actor, &person, &names),
                    &credentials,
                    self.accounts.require_mfa,
                    invitation,
                ))
            })
            .collect::<Result<_, AppError>>()?;
        people.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then(a.email.cmp(&b.email))
        });
        Ok(people)
    }

    /// A person the actor may see (as if nobody else existed).
    pub(super) fn visible_person(&self, actor: &Actor, id: &str) -> Result<Person, AppError> {
        let person = self.store.person(id)?;
        if !actor.sees_person(&person) {
            return Err(self.refusal(Denied::Hidden, "person", id));
        }
        Ok(person)
    }

    pub fn person_for(&self, actor: &Actor, id: &str) -> Result<PersonView, AppError> {
        actor
            .permit_anywhere(Role::Manager)
            .map_err(|d| self.refusal(d, "person", id))?;
        let person = self.visible_person(actor, id)?;
        self.person_view(actor, &person)
    }

    /// The IANA name of the zone a person's times are told in: their first clinic's, else the host's.
    pub(crate) fn zone_name_of(&self, person: &Person) -> String {
        let clinic = person.clinics().next().and_then(|c| self.store.clinic(c).ok());
        match clinic {
            Some(clinic) => clinic.timezone,
            None => self.host_zone().iana_name().unwrap_or("Australia/Sydney").to_string(),
        }
    }

    /// The zone host-wide times are told in: the first clinic's, else Sydney's (most practices' east coast).
    pub(crate) fn host_zone(&self) -> jiff::tz::TimeZone {
        self.store
            .clinics()
            .ok()
            .and_then(|clinics| clinics.into_iter().next())
            .map(|c| c.tz())
            .unwrap_or_else(|| crate::domain::time_zone("Australia/Sydney").unwrap_or(jiff::tz::TimeZone::UTC))
    }

    /// Changes a person's roles, name or whether they may sign in.
    pub async fn update_person(
        &self,
        actor: &Actor,
        id: &str,
        patch: PersonPatch,
        from: &Requester,
    ) -> Result<PersonView, AppError> {
        actor
            .permit_anywhere(Role::Manager)
            .map_err(|d| self.refusal(d, "person", id))?;
        let _people = self.people_lock.lock().await;
        let mut person = self.visible_person(actor, id)?;
        let before = person.clone();
        let by = actor.audit_actor();
        let myself = actor.person().is_some_and(|me| me.id == person.id);
        let mut changes: Vec<(Option<String>, &str, String)> = Vec::new();
        if let Some(name) = &patch.name {
            if !myself {
                actor
                    .may_administer(&person)
                    .map_err(|d| self.refusal(d, "person", id))?;
            }
            person.name = check_person_name(name)?;
            changes.push((None, "name changed", format!("to {}", person.name)));
        }
        if let Some(roles) = &patch.roles {
            if person.is_owner() && !actor.is_owner() {
                return Err(self.refusal(
                    Denied::NeedsRole {
                        needed: Role::Owner,
                        has: Role::Manager,
                    },
                    "person",
                    id,
                ));
            }
            let wanted = roles.iter().cloned().map(Grant::check).collect::<Result<Vec<_>, _>>()?;
            let mut clinics = std::collections::HashSet::new();
            for grant in &wanted {
                if let Some(clinic) = &grant.clinic {
                    self.store.clinic(clinic)?;
                }
                if !clinics.insert(grant.clinic.clone()) {
                    return Err(crate::domain::DomainError::Invalid {
                        field: "roles",
                        message: "roles name one role per clinic (and owner once); remove the repeat".into(),
                    }
                    .into());
                }
            }
            // `wanted` is the person's roles as the actor sees them, changed: each role added, changed or
            // taken away must be one the actor may give; roles at clinics the actor cannot see stay.
            let visible = |g: &Grant| g.clinic.as_deref().is_none_or(|c| actor.sees_clinic(c));
            let current: Vec<Grant> = person.roles.iter().filter(|g| visible(g)).cloned().collect();
            for grant in wanted
                .iter()
                .filter(|g| !current.contains(g))
                .chain(current.iter().filter(|g| !wanted.contains(g)))
            {
                actor
                    .may_grant(grant)
                    .map_err(|d| self.refusal(d, "clinic", grant.clinic.as_deref().unwrap_or("")))?;
            }
            let mut next: Vec<Grant> = person.roles.iter().filter(|g| !visible(g)).cloned().collect();
            next.extend(wanted);
            person.roles = next;
            for clinic in before
                .clinics()
                .chain(person.clinics())
                .collect::<std::collections::BTreeSet<_>>()
            {
                let (was, now) = (before.role_at(clinic), person.role_at(clinic));
                if was != now && !(before.is_owner() && person.is_owner()) {
                    let words = match now {
                        Some(role) => format!("now {}", role.words()),
                        None => "no role any more".into(),
                    };
                    changes.push((Some(clinic.to_string()), "role changed", words));
                }
            }
            if before.is_owner() != person.is_owner() {
                let words = if person.is_owner() {
                    "now host owner"
                } else {
                    "no longer host owner"
                };
                changes.push((None, "role changed", words.into()));
            }
            if before.is_owner() && !person.is_owner() {
                self.refuse_last_owner(&person)?;
            }
        }
        let mut end_sessions = false;
        if let Some(disabled) = patch.disabled {
            actor
                .may_administer(&person)
                .map_err(|d| self.refusal(d, "person", id))?;
            if disabled && person.state != PersonState::Disabled {
                if myself {
                    return Err(AppError::conflict(
                        "cannot_disable_yourself",
                        "you cannot disable your own account; ask another manager or the host owner",
                    ));
                }
                if person.is_owner() {
                    self.refuse_last_owner(&person)?;
                }
                person.state = PersonState::Disabled;
                end_sessions = true;
                changes.push((None, "person disabled", "signed out everywhere, tokens revoked".into()));
            } else if !disabled && person.state == PersonState::Disabled {
                person.state = PersonState::Active;
                changes.push((None, "person enabled", String::new()));
            }
        }
        if person != before {
            let passkeys = self.store.credentials(&person.id)?.passkeys.len();
            self.keep_break_glass(&person, passkeys)?;
            let (sessions, tokens) = if end_sessions {
                (self.sessions_of(&person.id)?, self.revoked_tokens_of(&person.id)?)
            } else {
                (Vec::new(), Vec::new())
            };
            self.store.write_people(PeopleWrite {
                people: vec![&person],
                sessions: sessions.into_iter().map(|digest| (digest, None)).collect(),
                tokens: tokens.iter().collect(),
                ..Default::default()
            })?;
            self.store.durable().await?;
        }
        for (clinic, action, detail) in changes {
            let clinic = clinic.or_else(|| person.clinics().next().map(str::to_string));
            self.audit_person(&by, from, clinic.as_deref(), action, &person, detail);
        }
        self.person_view(actor, &person)
    }

    /// Someone must remain who can run the host.
    fn refuse_last_owner(&self, leaving: &Person) -> Result<(), AppError> {
        let others = self
            .store
            .people()?
            .into_iter()
            .filter(|p| p.id != leaving.id && p.is_owner() && p.state == PersonState::Active)
            .count();
        if others == 0 {
            return Err(AppError::conflict(
                "last_owner",
                "this is the host's only active owner; make someone else owner first",
            ));
        }
        Ok(())
    }

    /// Removes a person's passkeys, TOTP and recovery codes (their password stays) and signs them out: their
    /// next sign-in enrols a second factor again.
    pub async fn reset_factors(&self, actor: &Actor, id: &str, from: &Requester) -> Result<PersonView, AppError> {
        actor
            .permit_anywhere(Role::Manager)
            .map_err(|d| self.refusal(d, "person", id))?;
        let _people = self.people_lock.lock().await;
        let mut person = self.visible_person(actor, id)?;
        actor
            .may_administer(&person)
            .map_err(|d| self.refusal(d, "person", id))?;
        if actor.person().is_some_and(|me| me.id == person.id) {
            return Err(AppError::conflict(
                "reset_your_own_on_my_account",
                "change your own factors on My account; a reset is for someone who lost theirs",
            ));
        }
        self.keep_break_glass(&person, 0)?;
        let mut credentials: Credentials = self.store.credentials(&person.id)?;
        credentials.reset_factors();
        person.factors_reset_at = Some(self.now());
        let sessions = self.sessions_of(&person.id)?;
        self.store.write_people(PeopleWrite {
            people: vec![&person],
            credentials: vec![(&person.id, &credentials)],
            sessions: sessions.into_iter().map(|digest| (digest, None)).collect(),
            ..Default::default()
        })?;
        self.store.durable().await?;
        self.audit_person(
            &actor.audit_actor(),
            from,
            person.clinics().next(),
            "factors reset",
            &person,
            "passkeys, TOTP and recovery codes removed; signed out; enrols again at the next sign-in".into(),
        );
        self.person_view(actor, &person)
    }

    /// An audit entry about a person (their id is the entry's subject, so their managers see it).
    pub(crate) fn audit_person(
        &self,
        by: &AuditActor,
        from: &Requester,
        clinic: Option<&str>,
        action: &str,
        person: &Person,
        detail: String,
    ) {
        let about = format!("{} <{}>", person.name, person.email);
        self.audit(crate::domain::AuditEntry {
            id: new_id(),
            at: self.now(),
            clinic_id: clinic.map(str::to_string),
            actor: by.clone(),
            role: None,
            client: Some(from.address.to_string()),
            action: action.into(),
            outcome: "done".into(),
            detail: if detail.is_empty() {
                about
            } else {
                format!("{about}: {detail}")
            },
            subject: Some(person.id.clone()),
            rep: None,
        });
    }
}
