//! Passkeys (WebAuthn) through kanidm's webauthn-rs, which checks every step of the ceremonies: origin, RP
//! id, challenge, user verification, signature, counter. repbook asks authenticators for discoverable
//! credentials, so a passkey alone can sign someone in (no address typed: phishing-resistant), and for user
//! verification always. A ceremony's state (its challenge) stays here, in memory, for five minutes: a
//! restart in the middle of one only means trying again.
//!
//! The relying party is the name people reach repbook by (`--public-url`'s host); without one it is
//! `localhost`, which browsers treat as secure over plain HTTP. An IP address cannot be a relying party: a
//! server reached only as `http://127.0.0.1:7878` offers TOTP, not passkeys.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::domain::StoredPasskey;

const CEREMONY_LIFETIME: Duration = Duration::from_secs(300);
/// At most this many ceremonies wait at once; past it the oldest goes (a flood cannot grow memory).
const MAX_CEREMONIES: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error(
        "passkeys need the server's name: open the admin page as http://localhost:PORT on the server itself, or \
         start repbook with --public-url https://NAME (an IP address cannot hold a passkey); a code from an \
         authenticator app works meanwhile"
    )]
    Unavailable,
    #[error("this passkey step took too long or was already used; start again")]
    UnknownCeremony,
    #[error("the browser's answer is not a WebAuthn credential: {0}")]
    Malformed(String),
    #[error("the passkey was not accepted ({0}); try again, or use another way to sign in")]
    Refused(String),
    #[error("this passkey is not registered here; sign in another way and add it on My account")]
    UnknownKey,
}

enum Ceremony {
    Register {
        person_id: String,
        state: PasskeyRegistration,
    },
    /// A person's own keys (after their password).
    SignIn {
        person_id: String,
        state: PasskeyAuthentication,
    },
    /// Any discoverable key (a passkey alone).
    Discover { state: DiscoverableAuthentication },
}

pub struct Passkeys {
    webauthn: Option<Webauthn>,
    rp_id: String,
    ceremonies: Mutex<HashMap<String, (Instant, Ceremony)>>,
}

/// What a finished registration gives the person's record.
pub struct Registered {
    pub credential_id: String,
    pub key: Value,
}

/// Who a finished sign-in proved to be, and the key's record with its counter moved on.
pub struct Proven {
    pub person_id: String,
    pub credential_id: String,
    pub key: Value,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn passkey_of(stored: &StoredPasskey) -> Option<Passkey> {
    serde_json::from_value(stored.key.clone()).ok()
}

impl Passkeys {
    /// `public_url`: where people reach repbook; its host is the relying party when it is a name.
    pub fn new(public_url: Option<&str>) -> Passkeys {
        let configured = public_url
            .and_then(|u| Url::parse(u).ok())
            .filter(|u| matches!(u.host(), Some(url::Host::Domain(_))));
        let (origin, any_port) = match configured {
            Some(url) => (url, false),
            None => (Url::parse("http://localhost").expect("a constant URL"), true),
        };
        let rp_id = origin.host_str().unwrap_or("localhost").to_string();
        let webauthn = WebauthnBuilder::new(&rp_id, &origin)
            .map(|b| b.rp_name("repbook").allow_any_port(any_port).timeout(CEREMONY_LIFETIME))
            .and_then(|b| b.build())
            .map_err(|error| tracing::warn!(%error, rp_id, "passkeys are off: the relying party is not usable"))
            .ok();
        Passkeys {
            webauthn,
            rp_id,
            ceremonies: Mutex::default(),
        }
    }

    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }

    fn webauthn(&self) -> Result<&Webauthn, PasskeyError> {
        self.webauthn.as_ref().ok_or(PasskeyError::Unavailable)
    }

    fn keep(&self, ceremony: Ceremony) -> Result<String, PasskeyError> {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        let id = b64(&bytes);
        let mut waiting = self.ceremonies.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        waiting.retain(|_, (at, _)| now.duration_since(*at) < CEREMONY_LIFETIME);
        if waiting.len() >= MAX_CEREMONIES
            && let Some(oldest) = waiting.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone())
        {
            waiting.remove(&oldest);
        }
        waiting.insert(id.clone(), (now, ceremony));
        Ok(id)
    }

    fn take(&self, id: &str) -> Result<Ceremony, PasskeyError> {
        let mut waiting = self.ceremonies.lock().unwrap_or_else(|p| p.into_inner());
        match waiting.remove(id) {
            Some((at, ceremony)) if at.elapsed() < CEREMONY_LIFETIME => Ok(ceremony),
            _ => Err(PasskeyError::UnknownCeremony),
        }
    }

    /// The options a browser's `navigator.credentials.create` takes to make a passkey for this person,
    /// and the ceremony's id to finish it with.
    pub fn start_registration(
        &self,
        person_id: &str,
        user: Uuid,
        email: &str,
        name: &str,
        existing: &[StoredPasskey],
    ) -> Result<(String, Value), PasskeyError> {
        let exclude = existing
            .iter()
            .filter_map(passkey_of)
            .map(|p| p.cred_id().clone())
            .collect::<Vec<_>>();
        let (options, state) = self
            .webauthn()?
            .start_passkey_registration(user, email, name, Some(exclude))
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let mut options = serde_json::to_value(options).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        // A discoverable credential, so that the passkey alone signs in; the library checks the same
        // ceremony whichever kind the authenticator makes.
        if let Some(selection) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(Value::as_object_mut)
        {
            selection.insert("residentKey".into(), "required".into());
            selection.insert("requireResidentKey".into(), true.into());
        }
        let id = self.keep(Ceremony::Register {
            person_id: person_id.to_string(),
            state,
        })?;
        Ok((id, options))
    }

    pub fn finish_registration(
        &self,
        ceremony: &str,
        person_id: &str,
        credential: Value,
    ) -> Result<Registered, PasskeyError> {
        let Ceremony::Register {
            person_id: owner,
            state,
        } = self.take(ceremony)?
        else {
            return Err(PasskeyError::UnknownCeremony);
        };
        if owner != person_id {
            return Err(PasskeyError::UnknownCeremony);
        }
        let credential: RegisterPublicKeyCredential =
            serde_json::from_value(credential).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let passkey = self
            .webauthn()?
            .finish_passkey_registration(&credential, &state)
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        Ok(Registered {
            credential_id: b64(passkey.cred_id().as_ref()),
            key: serde_json::to_value(&passkey).map_err(|e| PasskeyError::Malformed(e.to_string()))?,
        })
    }

    /// Options for `navigator.credentials.get`: with `person`, that person's keys (after their password);
    /// without, any discoverable key of this relying party (a passkey alone).
    pub fn start_sign_in(&self, person: Option<(&str, &[StoredPasskey])>) -> Result<(String, Value), PasskeyError> {
        let webauthn = self.webauthn()?;
        let (options, ceremony) = match person {
            Some((person_id, keys)) => {
                let keys: Vec<Passkey> = keys.iter().filter_map(passkey_of).collect();
                if keys.is_empty() {
                    return Err(PasskeyError::UnknownKey);
                }
                let (options, state) = webauthn
                    .start_passkey_authentication(&keys)
                    .map_err(|e| PasskeyError::Refused(e.to_string()))?;
                (
                    options,
                    Ceremony::SignIn {
                        person_id: person_id.to_string(),
                        state,
                    },
                )
            }
            None => {
                let (mut options, state) = webauthn
                    .start_discoverable_authentication()
                    .map_err(|e| PasskeyError::Refused(e.to_string()))?;
                // A button press ("Use a passkey"), not the autofill of conditional UI.
                options.mediation = None;
                (options, Ceremony::Discover { state })
            }
        };
        let id = self.keep(ceremony)?;
        let options = serde_json::to_value(options).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        Ok((id, options))
    }

    /// Checks the browser's answer. `keys_of` finds a person and their keys: by person id after a password,
    /// or by the passkey's user handle (the person's WebAuthn id) when the key came alone.
    pub fn finish_sign_in(
        &self,
        ceremony: &str,
        credential: Value,
        keys_of: impl FnOnce(Lookup<'_>) -> Option<(String, Vec<StoredPasskey>)>,
    ) -> Result<Proven, PasskeyError> {
        let credential: PublicKeyCredential =
            serde_json::from_value(credential).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let webauthn = self.webauthn()?;
        let used = b64(credential.get_credential_id());
        let (person_id, keys, result) = match self.take(ceremony)? {
            Ceremony::SignIn { person_id, state } => {
                let (_, keys) = keys_of(Lookup::Person(&person_id)).ok_or(PasskeyError::UnknownKey)?;
                let result = webauthn
                    .finish_passkey_authentication(&credential, &state)
                    .map_err(|e| PasskeyError::Refused(e.to_string()))?;
                (person_id, keys, result)
            }
            Ceremony::Discover { state } => {
                let (user, _) = webauthn
                    .identify_discoverable_authentication(&credential)
                    .map_err(|e| PasskeyError::Refused(e.to_string()))?;
                let (person_id, keys) = keys_of(Lookup::User(user)).ok_or(PasskeyError::UnknownKey)?;
                let key = keys
                    .iter()
                    .find(|k| k.credential_id == used)
                    .and_then(passkey_of)
                    .ok_or(PasskeyError::UnknownKey)?;
                let result = webauthn
                    .finish_discoverable_authentication_v2(&credential, state, DiscoverableKey::from(&key))
                    .map_err(|e| PasskeyError::Refused(e.to_string()))?;
                (person_id, keys, result)
            }
            Ceremony::Register { .. } => return Err(PasskeyError::UnknownCeremony),
        };
        let stored = keys
            .iter()
            .find(|k| k.credential_id == used)
            .ok_or(PasskeyError::UnknownKey)?;
        let mut passkey = passkey_of(stored).ok_or(PasskeyError::UnknownKey)?;
        passkey.update_credential(&result);
        Ok(Proven {
            person_id,
            credential_id: used,
            key: serde_json::to_value(&passkey).map_err(|e| PasskeyError::Malformed(e.to_string()))?,
        })
    }
}

/// How `finish_sign_in` asks for a person's keys.
pub enum Lookup<'a> {
    Person(&'a str),
    /// The user handle the passkey carries.
    User(Uuid),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_public_name_or_localhost_never_an_address() {
        assert_eq!(
            Passkeys::new(Some("https://visits.harbourgp.com.au")).rp_id(),
            "visits.harbourgp.com.au"
        );
        assert_eq!(Passkeys::new(Some("http://192.168.1.20:7878")).rp_id(), "localhost");
        assert_eq!(Passkeys::new(None).rp_id(), "localhost");
    }

    #[test]
    fn registration_asks_for_a_discoverable_key_with_user_verification() {
        let passkeys = Passkeys::new(None);
        let (ceremony, options) = passkeys
            .start_registration("P", Uuid::new_v4(), "ana@clinic.test", "Ana", &[])
            .unwrap();
        let selection = &options["publicKey"]["authenticatorSelection"];
        assert_eq!(selection["residentKey"], "required");
        assert_eq!(selection["userVerification"], "required");
        assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
        // A ceremony is finished once, by the person who began it.
        assert!(matches!(
            passkeys.finish_registration(&ceremony, "someone else", serde_json::json!({})),
            Err(PasskeyError::UnknownCeremony)
        ));
        assert!(matches!(
            passkeys.finish_registration(&ceremony, "P", serde_json::json!({})),
            Err(PasskeyError::UnknownCeremony)
        ));
    }
}
