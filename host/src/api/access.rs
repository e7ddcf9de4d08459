//! What a caller may do, checked in one place: every admin handler names the role it needs as the type of
//! one of its arguments (Vaultwarden's request guards), so its signature says who may call it.
//!
//! - `AsFrontDesk`, `AsManager`: at least that role at the clinic the request is about: the `{clinic}` of
//!   its path, or the clinic of the appointment or message it names. A clinic where the caller has no role
//!   answers exactly as one that does not exist (404), so ids of other clinics leak nothing; a role too
//!   small answers 403 naming the role needed.
//! - `AsOwner`: the host (connectors, backups, server settings, clinics made or deleted).
//! - `AsAnyManager`: a manager somewhere (the People tab, the audit trail: the app filters by caller).
//! - `AsStaff`: anyone signed in (lists filtered by who asks, their own tokens).
//! - `AsSession`: the admin page's own session, signed in or still enrolling: My account. Never a token.
//! - `AsSetup`: the host token's session on a host with no owner yet: making the owner, nothing else.
//!
//! The rules themselves are the domain's (`Actor::permit`); the authorisation matrix test holds every route
//! to its row.

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams};
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::AppState;
use super::auth::{Caller, Scope};
use super::error::ApiError;
use crate::app::LiveSession;
use crate::domain::{Actor, Denied, Person, Role, SessionStage};
use crate::store::StoreError;

fn caller(parts: &Parts) -> Result<Caller, ApiError> {
    parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
        // Only a route outside the authenticating router can get here: a wiring mistake, never a client's.
        ApiError::internal("a role extractor ran on a route without authentication")
    })
}

fn note_scope(parts: &Parts, role: Role, clinic: Option<String>) {
    if let Some(scope) = parts.extensions.get::<Scope>() {
        scope.set(role, clinic);
    }
}

/// A role too small, in words.
pub fn needs_role(needed: Role, has: Role) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "role_required",
        format!(
            "this needs the {} role (you act as {}); ask {}",
            needed.words(),
            has.words(),
            match needed {
                Role::Owner => "the person who runs this repbook server",
                _ => "the clinic's practice manager",
            }
        ),
    )
}

/// A refusal of the domain's rules as the API answers it: hidden is not found, as `entity` `id`.
fn refusal(denied: Denied, entity: &'static str, id: &str) -> ApiError {
    match denied {
        Denied::Hidden => StoreError::NotFound {
            entity,
            id: id.to_string(),
        }
        .into(),
        Denied::NeedsRole { needed, has } => needs_role(needed, has),
    }
}

/// The role a clinic-scoped extractor needs.
pub trait Needs: Send + Sync {
    const ROLE: Role;
}

pub struct FrontDeskRole;
impl Needs for FrontDeskRole {
    const ROLE: Role = Role::FrontDesk;
}

pub struct ManagerRole;
impl Needs for ManagerRole {
    const ROLE: Role = Role::Manager;
}

/// At least `N::ROLE` at the clinic the request is about.
pub struct AtClinic<N: Needs> {
    pub caller: Caller,
    pub clinic: String,
    pub role: Role,
    _needs: PhantomData<N>,
}

pub type AsFrontDesk = AtClinic<FrontDeskRole>;
pub type AsManager = AtClinic<ManagerRole>;

/// The clinic a request is about, and what a hidden one is called in the 404: the path's `{clinic}`, or
/// the clinic of the appointment or message its `{id}` names.
impl AppState {
    async fn clinic_of_request(&self, parts: &mut Parts) -> Result<(String, &'static str, String), ApiError> {
        let params = RawPathParams::from_request_parts(parts, self)
            .await
            .map_err(|e| ApiError::bad_request("invalid_path", e.to_string()))?;
        let param = |name: &str| params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string());
        if let Some(clinic) = param("clinic") {
            return Ok((clinic.clone(), "clinic", clinic));
        }
        let template = parts
            .extensions
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default();
        let id = param("id").unwrap_or_default();
        if template.starts_with("/api/v1/appointments/{id}") {
            let clinic = self.app.clinic_of_appointment(&id)?;
            return Ok((clinic, "appointment", id));
        }
        if template.starts_with("/api/v1/messages/{id}") {
            let clinic = self.app.clinic_of_message(&id)?;
            return Ok((clinic, "message", id));
        }
        Err(ApiError::internal(format!(
            "route {template} names no clinic for its role check"
        )))
    }
}

impl<N: Needs> FromRequestParts<AppState> for AtClinic<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = caller(parts)?;
        let actor = caller.signed_in()?.clone();
        let (clinic, entity, id) = state.clinic_of_request(parts).await?;
        let role = actor.permit(&clinic, N::ROLE).map_err(|d| refusal(d, entity, &id))?;
        note_scope(parts, N::ROLE, Some(clinic.clone()));
        Ok(AtClinic {
            caller,
            clinic,
            role,
            _needs: PhantomData,
        })
    }
}

/// The host owner (or the host token).
pub struct AsOwner(pub Caller);

impl FromRequestParts<AppState> for AsOwner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = caller(parts)?;
        let actor = caller.signed_in()?;
        if !actor.is_owner() {
            return Err(needs_role(Role::Owner, actor.top_role().unwrap_or(Role::FrontDesk)));
        }
        note_scope(parts, Role::Owner, None);
        Ok(AsOwner(caller))
    }
}

/// A practice manager of some clinic (or the owner): routes whose answer the app filters by caller.
pub struct AsAnyManager(pub Caller);

impl FromRequestParts<AppState> for AsAnyManager {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = caller(parts)?;
        let role = caller
            .signed_in()?
            .permit_anywhere(Role::Manager)
            .map_err(|d| refusal(d, "route", ""))?;
        note_scope(parts, role.min(Role::Manager), None);
        Ok(AsAnyManager(caller))
    }
}

/// Anyone signed in (a token, or a session that finished signing in).
pub struct AsStaff(pub Caller);

impl AsStaff {
    pub fn actor(&self) -> &Actor {
        &self.0.actor
    }
}

impl FromRequestParts<AppState> for AsStaff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = caller(parts)?;
        caller.signed_in()?;
        Ok(AsStaff(caller))
    }
}

/// The admin page's session of a person: signed in, or still enrolling the second factor the host asks
/// for. My account's routes need it; a token never passes (so no token can change a factor).
pub struct AsSession {
    pub session: LiveSession,
    pub person: Person,
    pub caller: Caller,
}

impl FromRequestParts<AppState> for AsSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = caller(parts)?;
        let Some(session) = caller.session.clone() else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "session_required",
                "your own account is changed on the admin page, signed in as yourself; a token cannot do it",
            ));
        };
        let person = match (session.record.stage, session.person.clone()) {
            (SessionStage::Full | SessionStage::Enrol, Some(person)) => person,
            // A session still at its password, or the host token's setup: what it must do first.
            _ => {
                return Err(caller
                    .signed_in()
                    .err()
                    .unwrap_or_else(|| ApiError::internal("a session with no person")));
            }
        };
        Ok(AsSession {
            session,
            person,
            caller,
        })
    }
}

/// The host token's setup session, on a host that has no owner yet.
pub struct AsSetup(pub Caller);

impl FromRequestParts<AppState> for AsSetup {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = caller(parts)?;
        let setup = caller
            .session
            .as_ref()
            .is_some_and(|s| s.record.stage == SessionStage::Setup && s.person.is_none());
        if !setup && !matches!(caller.actor, Actor::HostToken) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "owner_exists_or_not_host_token",
                "only the host token makes the first owner, and only while the host has none",
            ));
        }
        Ok(AsSetup(caller))
    }
}
