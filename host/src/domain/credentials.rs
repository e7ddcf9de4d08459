//! A person's proofs of who they are, as the store keeps them apart from the person: the password's hash,
//! the TOTP secret (and the last step a code was used for), passkeys, recovery codes' digests. Nothing here
//! ever goes into an API answer, a log line or an audit entry; `PasskeyView` is what may be shown.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A person's second factors and password, as the store keeps them; never in an API answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// argon2id, in the PHC string format (parameters and salt included).
    pub password_hash: Option<String>,
    pub totp: Option<TotpSecret>,
    /// A TOTP secret shown for enrolment, not yet confirmed with a code.
    #[serde(default)]
    pub totp_pending: Option<TotpSecret>,
    #[serde(default)]
    pub passkeys: Vec<StoredPasskey>,
    /// SHA-256 digests of the recovery codes not yet used.
    #[serde(default)]
    pub recovery_codes: Vec<String>,
    /// The passkeys' user handle (a UUID, random per person).
    #[serde(default)]
    pub webauthn_user: Option<String>,
}

impl Credentials {
    /// A second factor that signs in: a confirmed TOTP or a passkey (recovery codes only stand in for one).
    pub fn has_second_factor(&self) -> bool {
        self.totp.is_some() || !self.passkeys.is_empty()
    }

    /// The ways this person can finish signing in after the password.
    pub fn methods(&self) -> Vec<SecondFactor> {
        let mut methods = Vec::new();
        if !self.passkeys.is_empty() {
            methods.push(SecondFactor::Passkey);
        }
        if self.totp.is_some() {
            methods.push(SecondFactor::Totp);
        }
        if self.has_second_factor() && !self.recovery_codes.is_empty() {
            methods.push(SecondFactor::Recovery);
        }
        methods
    }

    /// Everything but the password: what "reset factors" removes.
    pub fn reset_factors(&mut self) {
        self.totp = None;
        self.totp_pending = None;
        self.passkeys.clear();
        self.recovery_codes.clear();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactor {
    Passkey,
    Totp,
    Recovery,
}

/// An RFC 6238 secret and the last time step a code was accepted for (a code works once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpSecret {
    /// The secret, base32 (as the otpauth URI carries it).
    pub secret: String,
    #[serde(default)]
    pub last_step: u64,
    pub created_at: Timestamp,
}

/// A registered passkey. `key` is the WebAuthn library's own record (public key, counter), kept as it wrote
/// it so this module stays free of the library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPasskey {
    pub id: String,
    pub name: String,
    /// The credential id, base64url: how a sign-in names the key it used.
    pub credential_id: String,
    pub key: serde_json::Value,
    pub created_at: Timestamp,
    #[serde(default)]
    pub last_used_at: Option<Timestamp>,
}

/// A passkey as "My account" lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<Timestamp>,
}

impl From<&StoredPasskey> for PasskeyView {
    fn from(key: &StoredPasskey) -> Self {
        PasskeyView {
            id: key.id.clone(),
            name: key.name.clone(),
            created_at: key.created_at,
            last_used_at: key.last_used_at,
        }
    }
}
