//! Sessions of the admin page, kept in the store: opened at the end of each step of signing in, rotated (a
//! new cookie) at every step and every change of factors, ended by signing out, by "sign this one out" on
//! My account, by idling past the policy's limit, at their absolute end, and everywhere at once when a
//! person is disabled, resets their password or has their factors reset.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{App, AppError, Requester, new_capability};
use crate::domain::{Person, PersonState, SIGNING_IN_FOR, SessionRecord, SessionStage, digest, new_id};
use crate::store::PeopleWrite;

/// At most this many sessions per person; a new one ends the oldest.
const SESSIONS_PER_PERSON: usize = 20;

/// A session just opened or rotated: the cookie to set (its value exists only here and in the browser).
pub struct NewSession {
    pub cookie: String,
    pub csrf: String,
    pub stage: SessionStage,
    pub expires_in_secs: i64,
}

/// The session a request came with, found live.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub digest: String,
    pub record: SessionRecord,
    /// Whose (none for the host token's setup session). Active, or the session would not be live.
    pub person: Option<Person>,
}

/// A session as "My account" lists it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionListed {
    pub id: String,
    pub device: String,
    pub client: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: Timestamp,
    /// The session this list was asked from.
    pub current: bool,
}

impl App {
    /// A new session record in `stage` (not yet written).
    pub(super) fn session_record(
        &self,
        person: Option<&Person>,
        stage: SessionStage,
        from: &Requester,
    ) -> SessionRecord {
        let now = self.now();
        let lifetime = match stage {
            SessionStage::Full | SessionStage::Enrol => self.accounts.sessions.max,
            SessionStage::SecondFactor | SessionStage::Setup => SIGNING_IN_FOR,
        };
        SessionRecord {
            id: new_id(),
            person_id: person.map(|p| p.id.clone()),
            stage,
            csrf: String::new(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + lifetime,
            client: from.address.to_string(),
            device: crate::domain::device_words(&from.device),
            skipped_enrolment: false,
            via_provider: None,
        }
    }

    /// Writes `record` under a fresh cookie (ending `replaces`, the session it comes after, in the same
    /// write) and answers the cookie.
    pub(crate) async fn open_session(
        &self,
        mut record: SessionRecord,
        replaces: Option<&str>,
        mut write: PeopleWrite<'_>,
    ) -> Result<NewSession, AppError> {
        let cookie = new_capability()?;
        record.csrf = new_capability()?;
        let stage = record.stage;
        let expires_in_secs = record.seconds_left(self.now(), self.accounts.sessions);
        let csrf = record.csrf.clone();
        if let Some(old) = replaces {
            write.sessions.push((old.to_string(), None));
        }
        if let Some(person) = &record.person_id {
            let mut theirs: Vec<(String, SessionRecord)> = self
                .store
                .sessions()?
                .into_iter()
                .filter(|(d, s)| s.person_id.as_ref() == Some(person) && Some(d.as_str()) != replaces)
                .collect();
            theirs.sort_by_key(|(_, s)| s.last_seen_at);
            let excess = (theirs.len() + 1).saturating_sub(SESSIONS_PER_PERSON);
            write
                .sessions
                .extend(theirs.into_iter().take(excess).map(|(d, _)| (d, None)));
        }
        write.sessions.push((digest(&cookie), Some(record)));
        self.store.write_people(write)?;
        self.store.durable().await?;
        Ok(NewSession {
            cookie,
            csrf,
            stage,
            expires_in_secs,
        })
    }

    /// Opens a session for `person` in `stage`.
    pub(crate) async fn start_session(
        &self,
        person: Option<&Person>,
        stage: SessionStage,
        from: &Requester,
        replaces: Option<&str>,
        write: PeopleWrite<'_>,
    ) -> Result<NewSession, AppError> {
        let record = self.session_record(person, stage, from);
        self.open_session(record, replaces, write).await
    }

    /// The same session under a new cookie, in `stage` (a step of signing in done, factors changed).
    pub(crate) async fn rotate_session(
        &self,
        session: &LiveSession,
        stage: SessionStage,
        write: PeopleWrite<'_>,
    ) -> Result<NewSession, AppError> {
        let mut record = session.record.clone();
        if stage != record.stage {
            // A step of signing in done: the session now runs for the full lifetime from here.
            record.created_at = self.now();
            record.expires_at = self.now() + self.accounts.sessions.max;
        }
        record.stage = stage;
        record.last_seen_at = self.now();
        self.open_session(record, Some(&session.digest), write).await
    }

    /// The live session under this cookie's digest, its activity noted; `None` when it ended (and then it is
    /// removed) or its person may no longer sign in.
    pub fn live_session(&self, cookie_digest: &str, from: &Requester) -> Result<Option<LiveSession>, AppError> {
        let Some(mut record) = self.store.session(cookie_digest)? else {
            return Ok(None);
        };
        let now = self.now();
        let person = match &record.person_id {
            Some(id) => match self.store.person(id) {
                Ok(person) if person.state == PersonState::Active => Some(person),
                _ => None,
            },
            None => None,
        };
        let orphaned = record.person_id.is_some() && person.is_none();
        if orphaned || !record.is_live(now, self.accounts.sessions) {
            self.store.write_people(PeopleWrite {
                sessions: vec![(cookie_digest.to_string(), None)],
                ..Default::default()
            })?;
            return Ok(None);
        }
        let address = from.address.to_string();
        if record.worth_touching(now) || record.client != address {
            record.last_seen_at = now;
            record.client = address;
            self.store.touch_session(cookie_digest, &record)?;
        }
        Ok(Some(LiveSession {
            digest: cookie_digest.to_string(),
            record,
            person,
        }))
    }

    /// Seconds before `session` ends by itself.
    pub fn session_seconds_left(&self, session: &LiveSession) -> i64 {
        session.record.seconds_left(self.now(), self.accounts.sessions)
    }

    pub async fn sign_out(&self, session: &LiveSession, from: &Requester) -> Result<(), AppError> {
        self.store.write_people(PeopleWrite {
            sessions: vec![(session.digest.clone(), None)],
            ..Default::default()
        })?;
        self.store.durable().await?;
        if let Some(person) = &session.person {
            let actor = crate::domain::Actor::Person(person.clone()).audit_actor();
            self.audit_person(&actor, from, None, "signed out", person, String::new());
        }
        Ok(())
    }

    /// The cookies' digests of every session of a person.
    pub(crate) fn sessions_of(&self, person_id: &str) -> Result<Vec<String>, AppError> {
        Ok(self
            .store
            .sessions()?
            .into_iter()
            .filter(|(_, s)| s.person_id.as_deref() == Some(person_id))
            .map(|(digest, _)| digest)
            .collect())
    }

    /// "My account": the person's sessions, the current one marked.
    pub fn my_sessions(&self, session: &LiveSession) -> Result<Vec<SessionListed>, AppError> {
        let now = self.now();
        let mut listed: Vec<SessionListed> = self
            .store
            .sessions()?
            .into_iter()
            .filter(|(_, s)| s.person_id == session.record.person_id && s.is_live(now, self.accounts.sessions))
            .map(|(digest, s)| SessionListed {
                current: digest == session.digest,
                id: s.id,
                device: s.device,
                client: s.client,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
            })
            .collect();
        listed.sort_by(|a, b| b.current.cmp(&a.current).then(b.last_seen_at.cmp(&a.last_seen_at)));
        Ok(listed)
    }

    /// Signs out one of the person's sessions (`id` as listed), or every other one (`id` = "others").
    pub async fn end_my_session(&self, session: &LiveSession, id: &str, from: &Requester) -> Result<usize, AppError> {
        let ended: Vec<String> = self
            .store
            .sessions()?
            .into_iter()
            .filter(|(digest, s)| {
                s.person_id == session.record.person_id
                    && if id == "others" {
                        *digest != session.digest
                    } else {
                        s.id == id
                    }
            })
            .map(|(digest, _)| digest)
            .collect();
        if ended.is_empty() && id != "others" {
            return Err(crate::store::StoreError::NotFound {
                entity: "session",
                id: id.to_string(),
            }
            .into());
        }
        let count = ended.len();
        self.store.write_people(PeopleWrite {
            sessions: ended.into_iter().map(|d| (d, None)).collect(),
            ..Default::default()
        })?;
        self.store.durable().await?;
        if let Some(person) = &session.person {
            let actor = crate::domain::Actor::Person(person.clone()).audit_actor();
            let what = if id == "others" {
                "other sessions signed out"
            } else {
                "session signed out"
            };
            self.audit_person(&actor, from, None, what, person, format!("{count} ended"));
        }
        Ok(count)
    }
}
