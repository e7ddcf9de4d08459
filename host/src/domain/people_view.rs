//! A person as the People tab and "My account" show them: who, their roles (with the clinic's name), whether
//! they have their factors, their pending invitation. Never a secret: no hash, no TOTP secret, no key.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Credentials, InvitationView, PasskeyView, Person, PersonState, Role};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoleView {
    /// The clinic's id; null for the host owner.
    pub clinic: Option<String>,
    pub clinic_name: Option<String>,
    pub role: Role,
}

/// What a person has to prove who they are (counts and names, never the secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FactorsView {
    pub password: bool,
    pub totp: bool,
    pub passkeys: Vec<PasskeyView>,
    pub recovery_codes_left: usize,
}

impl FactorsView {
    pub fn of(credentials: &Credentials) -> FactorsView {
        FactorsView {
            password: credentials.password_hash.is_some(),
            totp: credentials.totp.is_some(),
            passkeys: credentials.passkeys.iter().map(PasskeyView::from).collect(),
            recovery_codes_left: credentials.recovery_codes.len(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PersonView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub state: PersonState,
    /// The roles the viewer may see (an owner sees all; a manager those at their clinics).
    pub roles: Vec<RoleView>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_sign_in_at: Option<Timestamp>,
    pub factors: FactorsView,
    /// Whether their next sign-in enrols a second factor first.
    pub enrolment_required: bool,
    /// The invitation waiting for them, when they have not accepted yet.
    pub invitation: Option<InvitationView>,
}

impl PersonView {
    pub fn new(
        person: &Person,
        roles: Vec<RoleView>,
        credentials: &Credentials,
        require_mfa: bool,
        invitation: Option<InvitationView>,
    ) -> PersonView {
        PersonView {
            id: person.id.clone(),
            email: person.email.clone(),
            name: person.name.clone(),
            state: person.state,
            roles,
            last_sign_in_at: person.last_sign_in_at,
            factors: FactorsView::of(credentials),
            enrolment_required: require_mfa && !credentials.has_second_factor(),
            invitation,
        }
    }
}
