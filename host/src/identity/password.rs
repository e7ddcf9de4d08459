//! Passwords: argon2id at OWASP's minimum (19 MiB of memory, 2 passes, 1 lane), hashed and checked on
//! tokio's blocking threads and at most `parallel` at a time, so a flood of sign-ins queues here instead of
//! stalling bookings or taking all the memory. An address nobody has is checked against a stand-in hash
//! with the same parameters, so unknown, wrong and disabled take the same time.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// OWASP Password Storage Cheat Sheet (2025): argon2id, m = 19 MiB, t = 2, p = 1 at the least.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("the password worker stopped: {0}")]
    Worker(String),
}

pub struct Passwords {
    permits: Arc<Semaphore>,
    /// A hash of a random password nobody knows: what an unknown address is checked against.
    stand_in: String,
}

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_now(password: &str) -> Result<String, PasswordError> {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(|e| PasswordError::Hash(e.to_string()))?;
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// A hash string of the shape `hash_now` writes, with a random salt and a random output: checking a
/// password against it costs one argon2id at the same parameters, and no password can match it. Written
/// out rather than hashed, so starting the server does not spend 19 MiB and tens of milliseconds on it.
fn stand_in() -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    let mut output = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut output);
    let bad = |e: argon2::password_hash::Error| PasswordError::Hash(e.to_string());
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(bad)?;
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(bad)?,
        salt: Some(salt.as_salt()),
        hash: Some(argon2::password_hash::Output::new(&output).map_err(bad)?),
    };
    Ok(hash.to_string())
}

/// The hash's own parameters decide the work, so hashes made with other parameters still verify.
fn verify_now(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

impl Passwords {
    /// `parallel`: how many hashes may run at once (at least one).
    pub async fn new(parallel: usize) -> Result<Passwords, PasswordError> {
        Ok(Passwords {
            permits: Arc::new(Semaphore::new(parallel.max(1))),
            stand_in: stand_in()?,
        })
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| PasswordError::Worker(e.to_string()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| PasswordError::Worker(e.to_string()))
    }

    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let password = password.to_string();
        self.run(move || hash_now(&password)).await?
    }

    /// Whether `password` matches `hash`; with no hash (an unknown address, an account without a password)
    /// the same work is done against the stand-in, and the answer is no.
    pub async fn verify(&self, hash: Option<&str>, password: &str) -> bool {
        let (hash, real) = match hash {
            Some(hash) => (hash.to_string(), true),
            None => (self.stand_in.clone(), false),
        };
        let password = password.to_string();
        self.run(move || verify_now(&hash, &password)).await.unwrap_or(false) && real
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_argon2id_at_owasps_minimum_and_verifies_only_its_password() {
        let passwords = Passwords::new(1).await.unwrap();
        let hash = passwords.hash("correct horse battery").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(passwords.verify(Some(&hash), "correct horse battery").await);
        assert!(!passwords.verify(Some(&hash), "correct horse batterY").await);
        assert!(!passwords.verify(None, "correct horse battery").await);
        assert!(!passwords.verify(Some("not a hash"), "x").await);
    }

    #[test]
    fn the_stand_in_is_a_real_hash_string_at_the_same_parameters() {
        let (real, stand_in) = (hash_now("a password").unwrap(), stand_in().unwrap());
        let (real, stand_in) = (PasswordHash::new(&real).unwrap(), PasswordHash::new(&stand_in).unwrap());
        assert_eq!(stand_in.algorithm, real.algorithm);
        assert_eq!(stand_in.version, real.version);
        assert_eq!(stand_in.params, real.params);
        assert_eq!(stand_in.salt.map(|s| s.len()), real.salt.map(|s| s.len()));
        assert_eq!(stand_in.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert_ne!(stand_in.salt, real.salt);
    }
}
