//! The clinic's people and what each may do: a staff account (address, name, state), its roles (owner of the
//! whole host, or practice manager or front desk at a clinic), and the one set of rules that says whether
//! someone may act at a clinic or on another person. Pure: the api's extractors and the people workflows ask
//! these rules and never decide for themselves.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{DomainError, normalize_email, require_text};

/// What a person may do. Ordered: each role may do everything of the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A clinic's day: appointments, requests, the waitlist; reads Sync and Messages.
    FrontDesk,
    /// Everything about a clinic, its people included (never a host owner).
    Manager,
    /// Everything on the host: every clinic, connectors, server settings, backups, everyone.
    Owner,
}

impl Role {
    /// How people read it.
    pub fn words(self) -> &'static str {
        match self {
            Role::FrontDesk => "front desk",
            Role::Manager => "practice manager",
            Role::Owner => "host owner",
        }
    }

    pub fn parse(text: &str) -> Result<Role, DomainError> {
        match text.trim() {
            "front_desk" | "front-desk" => Ok(Role::FrontDesk),
            "manager" => Ok(Role::Manager),
            "owner" => Ok(Role::Owner),
            other => Err(DomainError::Invalid {
                field: "role",
                message: format!("role '{other}' is not one of front_desk, manager or owner"),
            }),
        }
    }
}

/// One role of a person: at a clinic (manager, front desk), or over the host (`clinic: null`, owner).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// The clinic's id; null for the host owner.
    pub clinic: Option<String>,
    pub role: Role,
}

impl Grant {
    /// An owner is host-wide and a clinic role names its clinic; anything else is refused in words.
    pub fn check(self) -> Result<Grant, DomainError> {
        match (&self.clinic, self.role) {
            (None, Role::Owner) => Ok(self),
            (Some(clinic), Role::Manager | Role::FrontDesk) if !clinic.trim().is_empty() => Ok(self),
            (Some(_), Role::Owner) => Err(DomainError::Invalid {
                field: "role",
                message: "owner is a role over the whole host: leave clinic out (null) for it".into(),
            }),
            _ => Err(DomainError::Invalid {
                field: "clinic",
                message: format!("a {} role is at a clinic: give the clinic's id", self.role.words()),
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PersonState {
    /// Invited by mail (or by a link passed on by hand) and not yet accepted: cannot sign in.
    Invited,
    Active,
    /// Signed out everywhere, its tokens revoked; cannot sign in until enabled again.
    Disabled,
}

/// A staff account. Its secrets (password hash, TOTP secret, passkeys, recovery codes) live apart, in
/// [`super::Credentials`], which no API answer, log line or audit entry ever carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// A ULID.
    pub id: String,
    /// Normalised (`normalize_email`): unique across the host.
    pub email: String,
    pub name: String,
    pub state: PersonState,
    pub roles: Vec<Grant>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub last_sign_in_at: Option<Timestamp>,
    /// Set when a manager or owner reset this person's factors: the next sign-in enrols again.
    #[serde(default)]
    pub factors_reset_at: Option<Timestamp>,
    /// The demo lets its owner put off enrolment once; when they did.
    #[serde(default)]
    pub enrolment_skipped_at: Option<Timestamp>,
}

impl Person {
    pub fn is_owner(&self) -> bool {
        self.roles.iter().any(|g| g.role == Role::Owner)
    }

    /// The person's role at `clinic` (an owner's is owner everywhere).
    pub fn role_at(&self, clinic: &str) -> Option<Role> {
        if self.is_owner() {
            return Some(Role::Owner);
        }
        self.roles
            .iter()
            .filter(|g| g.clinic.as_deref() == Some(clinic))
            .map(|g| g.role)
            .max()
    }

    /// The clinics where the person holds a role (an owner's are all, which this does not list).
    pub fn clinics(&self) -> impl Iterator<Item = &str> {
        self.roles.iter().filter_map(|g| g.clinic.as_deref())
    }

    /// Replaces the person's role at `clinic` (`None` removes it).
    pub fn set_role_at(&mut self, clinic: &str, role: Option<Role>) {
        self.roles.retain(|g| g.clinic.as_deref() != Some(clinic));
        if let Some(role) = role {
            self.roles.push(Grant {
                clinic: Some(clinic.to_string()),
                role,
            });
        }
    }
}

/// A person's name as typed: plain text on one line.
pub fn check_person_name(name: &str) -> Result<String, DomainError> {
    require_text("name", name, 120)
}

/// An address a person signs in with, in the form it is compared and kept in.
pub fn check_person_email(email: &str) -> Result<String, DomainError> {
    let checked = super::check_email("email", email)?;
    Ok(normalize_email(&checked))
}

/// Passwords: at least 12 characters (NIST SP 800-63B asks 8 with a second factor, 15 without; 12 with the
/// second factor repbook asks for by default), at most 256 (argon2 takes any length; this bounds the work a
/// request can ask for), not the address itself.
pub fn check_password(password: &str, email: &str) -> Result<(), DomainError> {
    let length = password.chars().count();
    let refuse = |message: String| {
        Err(DomainError::Invalid {
            field: "password",
            message,
        })
    };
    if length < PASSWORD_MIN {
        return refuse(format!(
            "the password has {length} characters; use at least {PASSWORD_MIN} (a few unrelated words are easy to remember)"
        ));
    }
    if length > PASSWORD_MAX {
        return refuse(format!("the password is longer than {PASSWORD_MAX} characters"));
    }
    let lowered = password.to_lowercase();
    if lowered == email
        || email
            .split('@')
            .next()
            .is_some_and(|local| local.len() >= 4 && lowered == local)
    {
        return refuse("the password must not be your email address".into());
    }
    if password.chars().all(|c| c == password.chars().next().unwrap_or(' ')) {
        return refuse("the password is one character repeated; choose something harder to guess".into());
    }
    Ok(())
}

pub const PASSWORD_MIN: usize = 12;
pub const PASSWORD_MAX: usize = 256;

/// Who is asking, once their credential checked out: the data dir's host token, a signed-in person, or a
/// person's API token (with the role it acts as, never more than its maker's today).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    HostToken,
    Person(Person),
    Token {
        id: String,
        name: String,
        maker: Person,
        /// The clinic it acts at; `None` for an owner's host-wide token.
        clinic: Option<String>,
        /// What it was made to act as.
        role: Role,
    },
}

/// Why an actor may not do something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// The actor has no role there: answer as if it did not exist.
    Hidden,
    /// The actor's role there is too small: answer naming the role needed.
    NeedsRole { needed: Role, has: Role },
}

impl Actor {
    /// The person behind the request (a token's maker), if any.
    pub fn person(&self) -> Option<&Person> {
        match self {
            Actor::HostToken => None,
            Actor::Person(person) => Some(person),
            Actor::Token { maker, .. } => Some(maker),
        }
    }

    /// The actor's role at `clinic`, today: a token's is the smaller of what it was made as and its maker's.
    pub fn role_at(&self, clinic: &str) -> Option<Role> {
        match self {
            Actor::HostToken => Some(Role::Owner),
            Actor::Person(person) => person.role_at(clinic),
            Actor::Token {
                maker,
                clinic: scope,
                role,
                ..
            } => {
                let maker_role = maker.role_at(clinic)?;
                match scope {
                    None => Some((*role).min(maker_role)),
                    Some(scope) if scope == clinic => Some((*role).min(maker_role)),
                    Some(_) => None,
                }
            }
        }
    }

    pub fn is_owner(&self) -> bool {
        match self {
            Actor::HostToken => true,
            Actor::Person(person) => person.is_owner(),
            Actor::Token {
                maker, clinic, role, ..
            } => clinic.is_none() && *role == Role::Owner && maker.is_owner(),
        }
    }

    /// The largest role the actor holds anywhere (for routes that are not about one clinic).
    pub fn top_role(&self) -> Option<Role> {
        if self.is_owner() {
            return Some(Role::Owner);
        }
        match self {
            Actor::HostToken => Some(Role::Owner),
            Actor::Person(person) => person.roles.iter().map(|g| g.role).max(),
            Actor::Token {
                maker, clinic, role, ..
            } => {
                let clinic = clinic.as_deref()?;
                maker.role_at(clinic).map(|has| has.min(*role))
            }
        }
    }

    /// Whether the actor may do what needs `needed` at `clinic`.
    pub fn permit(&self, clinic: &str, needed: Role) -> Result<Role, Denied> {
        match self.role_at(clinic) {
            None => Err(Denied::Hidden),
            Some(has) if has >= needed => Ok(has),
            Some(has) => Err(Denied::NeedsRole { needed, has }),
        }
    }

    /// Whether the actor may do what needs `needed` over the whole host (or, for a manager, at some clinic).
    pub fn permit_anywhere(&self, needed: Role) -> Result<Role, Denied> {
        match self.top_role() {
            Some(has) if has >= needed => Ok(has),
            Some(has) => Err(Denied::NeedsRole { needed, has }),
            None => Err(Denied::NeedsRole {
                needed,
                has: Role::FrontDesk,
            }),
        }
    }

    /// Whether the actor may see `clinic` at all.
    pub fn sees_clinic(&self, clinic: &str) -> bool {
        self.role_at(clinic).is_some()
    }

    /// Whether the actor may see `person` in the People list: an owner sees everyone, a manager the people
    /// with a role at a clinic they manage (and themselves).
    pub fn sees_person(&self, person: &Person) -> bool {
        if self.is_owner() || self.person().is_some_and(|me| me.id == person.id) {
            return true;
        }
        person
            .clinics()
            .any(|clinic| self.role_at(clinic).is_some_and(|r| r >= Role::Manager))
    }

    /// Whether the actor may disable, enable or reset the factors of `person`: an owner anyone; a manager
    /// someone who is no owner and whose every role is at a clinic the manager manages (so a manager of one
    /// clinic never locks someone out of another's).
    pub fn may_administer(&self, person: &Person) -> Result<(), Denied> {
        if !self.sees_person(person) {
            return Err(Denied::Hidden);
        }
        if self.is_owner() {
            return Ok(());
        }
        let everywhere_managed = person
            .clinics()
            .all(|clinic| self.role_at(clinic).is_some_and(|r| r >= Role::Manager));
        if person.is_owner() || !everywhere_managed {
            return Err(Denied::NeedsRole {
                needed: Role::Owner,
                has: Role::Manager,
            });
        }
        Ok(())
    }

    /// Whether the actor may give (or take away) `grant`: an owner any; a manager clinic roles at clinics
    /// they manage, never owner.
    pub fn may_grant(&self, grant: &Grant) -> Result<(), Denied> {
        match &grant.clinic {
            None if self.is_owner() => Ok(()),
            None => Err(Denied::NeedsRole {
                needed: Role::Owner,
                has: self.top_role().unwrap_or(Role::FrontDesk),
            }),
            Some(clinic) => self.permit(clinic, Role::Manager).map(|_| ()),
        }
    }

    /// How the audit trail names the actor.
    pub fn audit_actor(&self) -> super::AuditActor {
        use super::{ActorKind, AuditActor};
        match self {
            Actor::HostToken => AuditActor {
                kind: ActorKind::HostToken,
                id: None,
                name: "host token".into(),
            },
            Actor::Person(person) => AuditActor {
                kind: ActorKind::Person,
                id: Some(person.id.clone()),
                name: format!("{} <{}>", person.name, person.email),
            },
            Actor::Token { id, name, maker, .. } => AuditActor {
                kind: ActorKind::Token,
                id: Some(id.clone()),
                name: format!("token \"{name}\" of {} <{}>", maker.name, maker.email),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(roles: &[(Option<&str>, Role)]) -> Person {
        Person {
            id: "P".into(),
            email: "p@clinic.test".into(),
            name: "P".into(),
            state: PersonState::Active,
            roles: roles
                .iter()
                .map(|(clinic, role)| Grant {
                    clinic: clinic.map(str::to_string),
                    role: *role,
                })
                .collect(),
            created_at: Timestamp::UNIX_EPOCH,
            last_sign_in_at: None,
            factors_reset_at: None,
            enrolment_skipped_at: None,
        }
    }

    #[test]
    fn a_clinic_role_holds_only_at_its_clinic_and_an_owner_holds_everywhere() {
        let desk = Actor::Person(person(&[(Some("A"), Role::FrontDesk)]));
        assert_eq!(desk.permit("A", Role::FrontDesk), Ok(Role::FrontDesk));
        assert_eq!(
            desk.permit("A", Role::Manager),
            Err(Denied::NeedsRole {
                needed: Role::Manager,
                has: Role::FrontDesk
            })
        );
        assert_eq!(desk.permit("B", Role::FrontDesk), Err(Denied::Hidden));
        let owner = Actor::Person(person(&[(None, Role::Owner)]));
        assert_eq!(owner.permit("B", Role::Owner), Ok(Role::Owner));
        assert_eq!(Actor::HostToken.permit("Z", Role::Owner), Ok(Role::Owner));
    }

    #[test]
    fn a_token_never_acts_beyond_its_makers_role_of_today() {
        let token = |maker: Person| Actor::Token {
            id: "T".into(),
            name: "script".into(),
            maker,
            clinic: Some("A".into()),
            role: Role::Manager,
        };
        assert_eq!(
            token(person(&[(Some("A"), Role::Manager)])).role_at("A"),
            Some(Role::Manager)
        );
        // The maker was demoted: the token follows.
        assert_eq!(
            token(person(&[(Some("A"), Role::FrontDesk)])).role_at("A"),
            Some(Role::FrontDesk)
        );
        // Its maker left the clinic, or it is asked about another clinic: nothing.
        assert_eq!(token(person(&[(Some("B"), Role::Manager)])).role_at("A"), None);
        assert_eq!(token(person(&[(None, Role::Owner)])).role_at("B"), None);
        assert!(!token(person(&[(None, Role::Owner)])).is_owner());
    }

    #[test]
    fn a_manager_administers_only_people_wholly_within_their_clinics_and_never_an_owner() {
        let manager = Actor::Person(Person {
            id: "M".into(),
            ..person(&[(Some("A"), Role::Manager), (Some("B"), Role::FrontDesk)])
        });
        let at_a = person(&[(Some("A"), Role::FrontDesk)]);
        assert_eq!(manager.may_administer(&at_a), Ok(()));
        let also_at_b = person(&[(Some("A"), Role::FrontDesk), (Some("B"), Role::FrontDesk)]);
        assert!(matches!(
            manager.may_administer(&also_at_b),
            Err(Denied::NeedsRole { .. })
        ));
        assert_eq!(
            manager.may_administer(&person(&[(Some("C"), Role::Manager)])),
            Err(Denied::Hidden)
        );
        let owner_at_a = person(&[(None, Role::Owner), (Some("A"), Role::FrontDesk)]);
        assert!(matches!(
            manager.may_administer(&owner_at_a),
            Err(Denied::NeedsRole { .. })
        ));
        assert!(
            manager
                .may_grant(&Grant {
                    clinic: None,
                    role: Role::Owner
                })
                .is_err()
        );
        assert_eq!(
            manager.may_grant(&Grant {
                clinic: Some("B".into()),
                role: Role::FrontDesk
            }),
            Err(Denied::NeedsRole {
                needed: Role::Manager,
                has: Role::FrontDesk
            })
        );
    }

    #[test]
    fn grants_name_a_clinic_exactly_when_they_are_not_owner() {
        assert!(
            Grant {
                clinic: None,
                role: Role::Owner
            }
            .check()
            .is_ok()
        );
        assert!(
            Grant {
                clinic: Some("A".into()),
                role: Role::Owner
            }
            .check()
            .is_err()
        );
        assert!(
            Grant {
                clinic: None,
                role: Role::Manager
            }
            .check()
            .is_err()
        );
        assert!(
            Grant {
                clinic: Some(" ".into()),
                role: Role::FrontDesk
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn passwords_are_long_enough_and_not_the_address() {
        assert!(check_password("correct horse battery", "ana@clinic.test").is_ok());
        assert!(check_password("short", "ana@clinic.test").is_err());
        assert!(check_password("ana@clinic.test", "ana@clinic.test").is_err());
        assert!(check_password("aaaaaaaaaaaaaaaa", "ana@clinic.test").is_err());
        assert!(check_password(&"x".repeat(300), "ana@clinic.test").is_err());
    }
}
