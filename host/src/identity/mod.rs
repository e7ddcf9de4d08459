//! Proving who someone is: passwords (argon2id, hashed off the async runtime), TOTP codes, passkeys
//! (WebAuthn), recovery codes, and the throttle on wrong passwords and codes. Mechanisms only: which factors
//! are enough, who may sign in and what a session may do are the sign-in workflows' (`app/sign_in.rs`,
//! `app/factors.rs`) and the domain's (`domain/people.rs`).

pub mod oidc;
mod oidc_error;
pub mod passkeys;
pub mod password;
pub mod recovery;
pub mod throttle;
pub mod totp;

use oidc::RelyingParty;
use passkeys::Passkeys;
use password::{PasswordError, Passwords};
use throttle::{Throttle, ThrottleConfig};

pub struct Identity {
    pub passwords: Passwords,
    pub passkeys: Passkeys,
    pub throttle: Throttle,
    /// Single sign-on through the owner's OpenID Providers.
    pub sso: RelyingParty,
}

impl Identity {
    /// `public_url`: where staff reach the admin page (the passkeys' relying party), if set; `base_url`: the
    /// same, or the listener's own address (redirect URIs of single sign-on); `parallel`: how many
    /// password hashes may run at once.
    pub async fn new(
        public_url: Option<&str>,
        base_url: &str,
        throttle: ThrottleConfig,
        parallel: usize,
    ) -> Result<Identity, PasswordError> {
        Ok(Identity {
            passwords: Passwords::new(parallel).await?,
            passkeys: Passkeys::new(public_url),
            throttle: Throttle::new(throttle),
            sso: RelyingParty::new(base_url),
        })
    }
}
