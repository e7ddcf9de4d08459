//! Staff accounts' trees: people (and their addresses, unique), their credentials (kept apart from the
//! person, so nothing that lists people reads a secret), passkey user handles, sessions, invitations,
//! password resets and personal API tokens. Every capability (session cookie, invitation and reset link,
//! token) is keyed by its SHA-256 only. A change to several of them (an invitation: the person, the
//! invitation, its link and its mail) is one transaction (`write_people`).

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree, abort};

use super::codec::{decode, encode};
use super::messages::MessageTrees;
use super::{Store, StoreError, tx_abort_error};
use crate::domain::{
    ApiToken, Credentials, Invitation, OutgoingMessage, PasswordReset, Person, SessionRecord, SsoLink, sso_link_key,
};

pub(super) struct PeopleTrees {
    people: sled::Tree,
    people_by_email: sled::Tree,
    credentials: sled::Tree,
    /// A passkey's user handle (a UUID) → the person: how a passkey alone finds its person.
    passkey_users: sled::Tree,
    sessions: sled::Tree,
    invitations: sled::Tree,
    invitation_tokens: sled::Tree,
    password_resets: sled::Tree,
    api_tokens: sled::Tree,
    api_token_digests: sled::Tree,
    /// `issuer \0 subject` → the person's SSO link (`store/sso.rs` reads them).
    pub(super) sso_links: sled::Tree,
}

impl PeopleTrees {
    pub(super) fn open(db: &sled::Db) -> Result<PeopleTrees, StoreError> {
        Ok(PeopleTrees {
            people: db.open_tree("people")?,
            people_by_email: db.open_tree("people_by_email")?,
            credentials: db.open_tree("credentials")?,
            passkey_users: db.open_tree("passkey_users")?,
            sessions: db.open_tree("sessions")?,
            invitations: db.open_tree("invitations")?,
            invitation_tokens: db.open_tree("invitation_tokens")?,
            password_resets: db.open_tree("password_resets")?,
            api_tokens: db.open_tree("api_tokens")?,
            api_token_digests: db.open_tree("api_token_digests")?,
            sso_links: db.open_tree("sso_links")?,
        })
    }
}

/// One change to people and what hangs off them, written all or nothing.
#[derive(Default)]
pub struct PeopleWrite<'a> {
    /// Written (created or changed); an address another person has is refused.
    pub people: Vec<&'a Person>,
    /// Removed with their credentials (an invitation withdrawn before it was accepted).
    pub remove_people: Vec<&'a Person>,
    pub credentials: Vec<(&'a str, &'a Credentials)>,
    /// A passkey user handle and its person.
    pub passkey_user: Option<(String, String)>,
    /// Written, with the digest of their link as the way to find them.
    pub invitations: Vec<&'a Invitation>,
    pub remove_invitations: Vec<&'a Invitation>,
    /// A reset link's digest and what it resets; `None` consumes it.
    pub resets: Vec<(String, Option<PasswordReset>)>,
    /// Session cookies' digests and their records; `None` ends the session.
    pub sessions: Vec<(String, Option<SessionRecord>)>,
    pub tokens: Vec<&'a ApiToken>,
    pub messages: Vec<OutgoingMessage>,
    /// SSO links made or used; `remove_sso_links` are unlinked.
    pub sso_links: Vec<&'a SsoLink>,
    pub remove_sso_links: Vec<&'a SsoLink>,
}

fn abort_with(error: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(error)
}

fn encoded<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ConflictableTransactionError<StoreError>> {
    encode(value).map_err(abort_with)
}

fn get<T: serde::de::DeserializeOwned>(
    tree: &sled::Tree,
    what: &'static str,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    tree.get(key)?.map(|bytes| decode(what, &bytes)).transpose()
}

fn all<T: serde::de::DeserializeOwned>(tree: &sled::Tree, what: &'static str) -> Result<Vec<T>, StoreError> {
    tree.iter().values().map(|v| decode(what, &v?)).collect()
}

fn id_at(tree: &sled::Tree, key: &[u8]) -> Result<Option<String>, StoreError> {
    Ok(tree.get(key)?.map(|id| String::from_utf8_lossy(&id).to_string()))
}

impl Store {
    pub fn write_people(&self, write: PeopleWrite<'_>) -> Result<(), StoreError> {
        let t = &self.people;
        let (m, c, q, p) = self.message_trees();
        let trees: [&sled::Tree; 15] = [
            &t.people,
            &t.people_by_email,
            &t.credentials,
            &t.passkey_users,
            &t.sessions,
            &t.invitations,
            &t.invitation_tokens,
            &t.password_resets,
            &t.api_tokens,
            &t.api_token_digests,
            &t.sso_links,
            m,
            c,
            q,
            p,
        ];
        trees[..]
            .transaction(|trees: &Vec<TransactionalTree>| {
                let [
                    people,
                    by_email,
                    credentials,
                    passkey_users,
                    sessions,
                    invitations,
                    invitation_tokens,
                    resets,
                    tokens,
                    token_digests,
                    sso_links,
                    messages,
                    by_clinic,
                    queue,
                    parked,
                ] = trees.as_slice()
                else {
                    return abort(StoreError::Aborted("the people trees".into()));
                };
                for person in &write.remove_people {
                    people.remove(person.id.as_bytes())?;
                    by_email.remove(person.email.as_bytes())?;
                    credentials.remove(person.id.as_bytes())?;
                }
                for person in &write.people {
                    if let Some(holder) = by_email.insert(person.email.as_bytes(), person.id.as_bytes())?
                        && holder.as_ref() != person.id.as_bytes()
                    {
                        return abort(StoreError::Conflict {
                            code: "email_taken",
                            message: format!(
                                "{} already has an account here; give them a role at this clinic instead of a new invitation",
                                person.email
                            ),
                        });
                    }
                    people.insert(person.id.as_bytes(), encoded(*person)?)?;
                }
                for (id, creds) in &write.credentials {
                    credentials.insert(id.as_bytes(), encoded(*creds)?)?;
                }
                if let Some((user, person)) = &write.passkey_user {
                    passkey_users.insert(user.as_bytes(), person.as_bytes())?;
                }
                for invitation in &write.remove_invitations {
                    invitations.remove(invitation.id.as_bytes())?;
                    invitation_tokens.remove(invitation.token_sha256.as_bytes())?;
                }
                for invitation in &write.invitations {
                    // A resend makes a new link: the old one stops.
                    if let Some(old) = invitations.get(invitation.id.as_bytes())? {
                        let old: Invitation = decode("invitation", &old).map_err(abort_with)?;
                        invitation_tokens.remove(old.token_sha256.as_bytes())?;
                    }
                    invitations.insert(invitation.id.as_bytes(), encoded(*invitation)?)?;
                    if invitation.accepted_at.is_none() {
                        invitation_tokens.insert(invitation.token_sha256.as_bytes(), invitation.id.as_bytes())?;
                    }
                }
                for (digest, reset) in &write.resets {
                    match reset {
                        Some(reset) => resets.insert(digest.as_bytes(), encoded(reset)?)?,
                        None => resets.remove(digest.as_bytes())?,
                    };
                }
                for (digest, session) in &write.sessions {
                    match session {
                        Some(session) => sessions.insert(digest.as_bytes(), encoded(session)?)?,
                        None => sessions.remove(digest.as_bytes())?,
                    };
                }
                for token in &write.tokens {
                    tokens.insert(token.id.as_bytes(), encoded(*token)?)?;
                    token_digests.insert(token.token_sha256.as_bytes(), token.id.as_bytes())?;
                }
                for link in &write.remove_sso_links {
                    sso_links.remove(sso_link_key(&link.issuer, &link.subject))?;
                }
                for link in &write.sso_links {
                    sso_links.insert(sso_link_key(&link.issuer, &link.subject), encoded(*link)?)?;
                }
                let outbox = MessageTrees {
                    messages,
                    by_clinic,
                    queue,
                    parked,
                };
                for message in &write.messages {
                    outbox.put(message)?;
                }
                Ok(())
            })
            .map_err(tx_abort_error)?;
        if !write.messages.is_empty() {
            self.message_signal.notify_one();
        }
        Ok(())
    }

    // ---- people ----

    pub fn person(&self, id: &str) -> Result<Person, StoreError> {
        get(&self.people.people, "person", id.as_bytes())?.ok_or_else(|| StoreError::NotFound {
            entity: "person",
            id: id.to_string(),
        })
    }

    /// The person with this (normalised) address.
    pub fn person_by_email(&self, email: &str) -> Result<Option<Person>, StoreError> {
        match id_at(&self.people.people_by_email, email.as_bytes())? {
            Some(id) => get(&self.people.people, "person", id.as_bytes()),
            None => Ok(None),
        }
    }

    pub fn people(&self) -> Result<Vec<Person>, StoreError> {
        all(&self.people.people, "person")
    }

    /// Whether anyone holds the owner role (until someone does, the host token makes the first owner).
    pub fn has_owner(&self) -> Result<bool, StoreError> {
        Ok(self.people()?.iter().any(|p| p.is_owner()))
    }

    pub fn credentials(&self, person_id: &str) -> Result<Credentials, StoreError> {
        Ok(get(&self.people.credentials, "credentials", person_id.as_bytes())?.unwrap_or_default())
    }

    /// The person a passkey's user handle belongs to.
    pub fn passkey_user(&self, user: &str) -> Result<Option<String>, StoreError> {
        id_at(&self.people.passkey_users, user.as_bytes())
    }

    // ---- sessions ----

    pub fn session(&self, digest: &str) -> Result<Option<SessionRecord>, StoreError> {
        get(&self.people.sessions, "session", digest.as_bytes())
    }

    /// Notes a session's activity. Not waited for: losing it to a crash costs only a minute of idle time.
    pub fn touch_session(&self, digest: &str, session: &SessionRecord) -> Result<(), StoreError> {
        self.people.sessions.insert(digest.as_bytes(), encode(session)?)?;
        Ok(())
    }

    /// Every session, with its cookie's digest.
    pub fn sessions(&self) -> Result<Vec<(String, SessionRecord)>, StoreError> {
        self.people
            .sessions
            .iter()
            .map(|item| {
                let (key, value) = item?;
                Ok((String::from_utf8_lossy(&key).to_string(), decode("session", &value)?))
            })
            .collect()
    }

    // ---- invitations and resets ----

    pub fn invitation(&self, id: &str) -> Result<Invitation, StoreError> {
        get(&self.people.invitations, "invitation", id.as_bytes())?.ok_or_else(|| StoreError::NotFound {
            entity: "invitation",
            id: id.to_string(),
        })
    }

    /// The invitation whose link has this digest (a used or withdrawn link finds nothing).
    pub fn invitation_by_token(&self, digest: &str) -> Result<Option<Invitation>, StoreError> {
        match id_at(&self.people.invitation_tokens, digest.as_bytes())? {
            Some(id) => get(&self.people.invitations, "invitation", id.as_bytes()),
            None => Ok(None),
        }
    }

    pub fn invitations(&self) -> Result<Vec<Invitation>, StoreError> {
        all(&self.people.invitations, "invitation")
    }

    pub fn password_reset(&self, digest: &str) -> Result<Option<PasswordReset>, StoreError> {
        get(&self.people.password_resets, "password reset", digest.as_bytes())
    }

    /// Every reset link of one person (a new one replaces them).
    pub fn password_resets_of(&self, person_id: &str) -> Result<Vec<String>, StoreError> {
        let mut digests = Vec::new();
        for item in self.people.password_resets.iter() {
            let (key, value) = item?;
            let reset: PasswordReset = decode("password reset", &value)?;
            if reset.person_id == person_id {
                digests.push(String::from_utf8_lossy(&key).to_string());
            }
        }
        Ok(digests)
    }

    // ---- personal API tokens ----

    pub fn api_token(&self, id: &str) -> Result<ApiToken, StoreError> {
        get(&self.people.api_tokens, "API token", id.as_bytes())?.ok_or_else(|| StoreError::NotFound {
            entity: "token",
            id: id.to_string(),
        })
    }

    pub fn api_token_by_digest(&self, digest: &str) -> Result<Option<ApiToken>, StoreError> {
        match id_at(&self.people.api_token_digests, digest.as_bytes())? {
            Some(id) => get(&self.people.api_tokens, "API token", id.as_bytes()),
            None => Ok(None),
        }
    }

    pub fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        all(&self.people.api_tokens, "API token")
    }

    /// Notes a token's use (when, from where); not waited for, like a session's.
    pub fn touch_api_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        self.people.api_tokens.insert(token.id.as_bytes(), encode(token)?)?;
        Ok(())
    }
}
