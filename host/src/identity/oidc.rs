//! The OpenID Connect relying party (the `openidconnect` crate): discovery from the issuer, the
//! authorization code flow with PKCE (S256), `state` and `nonce`, and the ID token checked as OpenID
//! Connect Core §3.1.3.7 asks: signature against the provider's JWKS (asymmetric algorithms only; `none`
//! and HMAC never), `iss`, `aud`, `azp`, `exp` and `iat` within 60 s of repbook's clock, and the nonce.
//! Discovery and keys are cached per provider; an unknown `kid` refetches the keys once (at most once a
//! minute per provider, so forged tokens cannot make repbook hammer the provider). Attempts (the state,
//! nonce and PKCE verifier of a sign-in under way) are short-lived and kept in memory, each bound to the
//! browser that started it by a cookie. Mechanism only: whom a provider's answer signs in is
//! `app/sso.rs`'s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError, TokenResponse as _, reqwest,
};
use serde::Deserialize;
use subtle::ConstantTimeEq;

pub use super::oidc_error::OidcError;
use super::oidc_error::{describe_claims_error, describe_discovery_error, describe_exchange_error};
use crate::domain::{ProviderClaims, SsoProvider, digest};

/// How long a started sign-in may take at the provider.
pub const ATTEMPT_FOR: Duration = Duration::from_secs(10 * 60);
/// The most clocks may disagree by.
const SKEW: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);
/// Discovery is read again after this long (providers rotate keys and rarely move endpoints).
const DISCOVERY_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// An unknown `kid` refetches the keys at most this often per provider.
const REFETCH_EVERY: Duration = Duration::from_secs(60);
/// At most this many sign-ins under way at once (the oldest are forgotten first).
const MAX_ATTEMPTS: usize = 10_000;
const ASYMMETRIC: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// A sign-in sent to the provider: where the browser goes, and the cookie that binds the attempt to it.
pub struct Started {
    pub url: String,
    pub binding: String,
}

/// What `sso test` shows the owner.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DiscoveryReport {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    /// How many signing keys the provider publishes now.
    pub keys: usize,
    /// The ID token algorithms the provider offers that repbook accepts.
    pub algorithms: Vec<String>,
}

struct Attempt {
    provider_id: String,
    binding_sha256: String,
    nonce: String,
    pkce_verifier: String,
    started: Instant,
}

struct Discovered {
    metadata: CoreProviderMetadata,
    keys: CoreJsonWebKeySet,
    fetched: Instant,
    keys_refetched: Option<Instant>,
}

/// The relying party for every provider of the host.
pub struct RelyingParty {
    http: reqwest::Client,
    /// Where the admin page is reached: redirect URIs are `{base}/sso/{provider}/callback`.
    base_url: String,
    discovered: Mutex<HashMap<String, Arc<Discovered>>>,
    attempts: Mutex<HashMap<String, Attempt>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn random_secret() -> String {
    CsrfToken::new_random_len(32).secret().clone()
}

impl RelyingParty {
    pub fn new(base_url: &str) -> RelyingParty {
        let http = reqwest::Client::builder()
            // Following redirects would let a provider's answer send repbook elsewhere (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        RelyingParty {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            discovered: Mutex::new(HashMap::new()),
            attempts: Mutex::new(HashMap::new()),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn redirect_uri(&self, provider: &SsoProvider) -> Result<RedirectUrl, OidcError> {
        RedirectUrl::new(format!("{}/sso/{}/callback", self.base_url, provider.id))
            .map_err(|e| OidcError::Internal(format!("the redirect URI is not a URL: {e}")))
    }

    async fn fetch_discovery(&self, provider: &SsoProvider) -> Result<Discovered, OidcError> {
        let issuer = IssuerUrl::new(provider.issuer.clone()).map_err(|e| OidcError::Discovery {
            provider: provider.name.clone(),
            detail: e.to_string(),
        })?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| describe_discovery_error(provider, e))?;
        let keys = metadata.jwks().clone();
        Ok(Discovered {
            metadata,
            keys,
            fetched: Instant::now(),
            keys_refetched: None,
        })
    }

    /// The provider's discovery and keys, from the cache while fresh.
    async fn discovery(&self, provider: &SsoProvider) -> Result<Arc<Discovered>, OidcError> {
        let key = cache_key(provider);
        if let Some(found) = lock(&self.discovered).get(&key)
            && found.fetched.elapsed() < DISCOVERY_FOR
        {
            return Ok(found.clone());
        }
        let fresh = Arc::new(self.fetch_discovery(provider).await?);
        lock(&self.discovered).insert(key, fresh.clone());
        Ok(fresh)
    }

    /// Reads the provider's discovery document and keys afresh, for the owner's check.
    pub async fn test(&self, provider: &SsoProvider) -> Result<DiscoveryReport, OidcError> {
        let fresh = self.fetch_discovery(provider).await?;
        let report = DiscoveryReport {
            issuer: fresh.metadata.issuer().to_string(),
            authorization_endpoint: fresh.metadata.authorization_endpoint().to_string(),
            token_endpoint: fresh
                .metadata
                .token_endpoint()
                .map(|u| u.to_string())
                .unwrap_or_default(),
            jwks_uri: fresh.metadata.jwks_uri().to_string(),
            keys: fresh.keys.keys().len(),
            algorithms: accepted_algorithms(&fresh.metadata)
                .iter()
                .filter_map(|a| serde_json::to_value(a).ok())
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        };
        if report.token_endpoint.is_empty() {
            return Err(OidcError::Discovery {
                provider: provider.name.clone(),
                detail: "it names no token endpoint".into(),
            });
        }
        if report.algorithms.is_empty() {
            return Err(OidcError::Discovery {
                provider: provider.name.clone(),
                detail: "it signs ID tokens with no algorithm repbook accepts (RS256, PS256, ES256, EdDSA...)".into(),
            });
        }
        lock(&self.discovered).insert(cache_key(provider), Arc::new(fresh));
        Ok(report)
    }

    fn client(
        &self,
        provider: &SsoProvider,
        secret: &str,
        found: &Discovered,
    ) -> Result<
        openidconnect::core::CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        OidcError,
    > {
        Ok(CoreClient::from_provider_metadata(
            found.metadata.clone(),
            ClientId::new(provider.client_id.clone()),
            Some(ClientSecret::new(secret.to_string())),
        )
        .set_redirect_uri(self.redirect_uri(provider)?))
    }

    /// Starts a sign-in at `provider`: the authorization URL (code flow, PKCE S256, state, nonce).
    pub async fn start(&self, provider: &SsoProvider, secret: &str) -> Result<Started, OidcError> {
        let found = self.discovery(provider).await?;
        let client = self.client(provider, secret, &found)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let binding = random_secret();
        let mut attempts = lock(&self.attempts);
        attempts.retain(|_, a| a.started.elapsed() < ATTEMPT_FOR);
        if attempts.len() >= MAX_ATTEMPTS
            && let Some(oldest) = attempts.iter().min_by_key(|(_, a)| a.started).map(|(k, _)| k.clone())
        {
            attempts.remove(&oldest);
        }
        attempts.insert(
            state.secret().clone(),
            Attempt {
                provider_id: provider.id.clone(),
                binding_sha256: digest(&binding),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                started: Instant::now(),
            },
        );
        Ok(Started {
            url: url.to_string(),
            binding,
        })
    }

    /// Takes the attempt `state` names (it works once), checked against the browser's binding cookie.
    fn take_attempt(&self, provider: &SsoProvider, state: &str, binding: Option<&str>) -> Result<Attempt, OidcError> {
        let attempt = lock(&self.attempts)
            .remove(state)
            .filter(|a| a.started.elapsed() < ATTEMPT_FOR && a.provider_id == provider.id)
            .ok_or(OidcError::UnknownAttempt)?;
        let bound = binding.is_some_and(|b| bool::from(digest(b).as_bytes().ct_eq(attempt.binding_sha256.as_bytes())));
        if !bound {
            return Err(OidcError::OtherBrowser);
        }
        Ok(attempt)
    }

    /// The provider's answer at the redirect URI: the code exchanged (with the PKCE verifier) and the ID
    /// token checked at `now` (repbook's clock).
    pub async fn finish(
        &self,
        provider: &SsoProvider,
        secret: &str,
        callback: Callback<'_>,
        now: jiff::Timestamp,
    ) -> Result<ProviderClaims, OidcError> {
        let attempt = self.take_attempt(provider, callback.state, callback.binding)?;
        if let Some(error) = callback.error {
            return Err(OidcError::Refused {
                provider: provider.name.clone(),
                detail: match callback.error_description {
                    Some(d) => format!("{error}: {d}"),
                    None => error.to_string(),
                },
            });
        }
        let code = callback.code.ok_or_else(|| OidcError::Refused {
            provider: provider.name.clone(),
            detail: "its answer carried no code".into(),
        })?;
        let found = self.discovery(provider).await?;
        let client = self.client(provider, secret, &found)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Discovery {
                provider: provider.name.clone(),
                detail: e.to_string(),
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(attempt.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| describe_exchange_error(provider, e))?;
        let token = response.id_token().ok_or_else(|| OidcError::Token {
            provider: provider.name.clone(),
            code: "no_id_token",
            detail: "the token response had no ID token".into(),
        })?;
        let nonce = Nonce::new(attempt.nonce.clone());
        let verified = match self.verify(provider, secret, &found, &found.keys, token, &nonce, now) {
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                match self.refetch_keys(provider, &found).await? {
                    Some(keys) => self.verify(provider, secret, &found, &keys, token, &nonce, now),
                    None => Err(ClaimsVerificationError::SignatureVerification(
                        SignatureVerificationError::NoMatchingKey,
                    )),
                }
            }
            other => other,
        };
        verified.map_err(|e| describe_claims_error(provider, e))?;
        claims_of(provider, token)
    }

    #[allow(clippy::too_many_arguments)]
    fn verify(
        &self,
        provider: &SsoProvider,
        secret: &str,
        found: &Discovered,
        keys: &CoreJsonWebKeySet,
        token: &CoreIdToken,
        nonce: &Nonce,
        now: jiff::Timestamp,
    ) -> Result<(), ClaimsVerificationError> {
        let issuer = found.metadata.issuer().clone();
        // `exp` is checked against "now" less the skew; `iat` may be at most the skew ahead.
        let checked_at = to_chrono(now - SKEW);
        let latest_iat = to_chrono(now + SKEW);
        let verifier = CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(provider.client_id.clone()),
            ClientSecret::new(secret.to_string()),
            issuer,
            keys.clone(),
        )
        .set_allowed_algs(accepted_algorithms(&found.metadata))
        .set_time_fn(move || checked_at)
        .set_issue_time_verifier_fn(move |iat| {
            if iat > latest_iat {
                Err(format!("issued in the future ({iat})"))
            } else {
                Ok(())
            }
        });
        let claims = token.claims(&verifier, nonce)?;
        // OpenID Connect Core §3.1.3.7 items 4 and 5, which the crate leaves to its users.
        let audiences = claims.audiences();
        match claims.authorized_party() {
            Some(azp) if azp.as_str() != provider.client_id => {
                return Err(ClaimsVerificationError::InvalidAudience(format!(
                    "authorized party is `{}`, not this client",
                    azp.as_str()
                )));
            }
            None if audiences.len() > 1 => {
                return Err(ClaimsVerificationError::InvalidAudience(
                    "several audiences and no authorized party".into(),
                ));
            }
            _ => {}
        }
        if audiences.iter().any(|a| a.as_str() != provider.client_id) {
            return Err(ClaimsVerificationError::InvalidAudience(
                "the token is also meant for another application".into(),
            ));
        }
        Ok(())
    }

    /// The provider's keys fetched again (an unknown `kid`: keys rotated), unless fetched in the last minute.
    async fn refetch_keys(
        &self,
        provider: &SsoProvider,
        found: &Discovered,
    ) -> Result<Option<CoreJsonWebKeySet>, OidcError> {
        let key = cache_key(provider);
        let last = lock(&self.discovered)
            .get(&key)
            .and_then(|d| d.keys_refetched)
            .or(found.keys_refetched);
        if last.is_some_and(|at| at.elapsed() < REFETCH_EVERY) {
            return Ok(None);
        }
        let keys = CoreJsonWebKeySet::fetch_async(found.metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| OidcError::Unreachable {
                provider: provider.name.clone(),
                detail: format!("its signing keys: {e}"),
            })?;
        tracing::info!(provider = %provider.name, keys = keys.keys().len(), "an unknown signing key: the provider's keys fetched again");
        lock(&self.discovered).insert(
            key,
            Arc::new(Discovered {
                metadata: found.metadata.clone(),
                keys: keys.clone(),
                fetched: found.fetched,
                keys_refetched: Some(Instant::now()),
            }),
        );
        Ok(Some(keys))
    }

    /// Forgets a provider's cached discovery (it was changed or removed).
    pub fn forget(&self, provider: &SsoProvider) {
        lock(&self.discovered).remove(&cache_key(provider));
    }
}

/// What came back to the redirect URI.
pub struct Callback<'a> {
    pub state: &'a str,
    pub code: Option<&'a str>,
    pub error: Option<&'a str>,
    pub error_description: Option<&'a str>,
    /// The binding cookie the browser sent.
    pub binding: Option<&'a str>,
}

fn cache_key(provider: &SsoProvider) -> String {
    format!("{}\n{}\n{}", provider.id, provider.issuer, provider.client_id)
}

fn accepted_algorithms(metadata: &CoreProviderMetadata) -> Vec<CoreJwsSigningAlgorithm> {
    metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|a| ASYMMETRIC.contains(a))
        .cloned()
        .collect()
}

fn to_chrono(at: jiff::Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(at.as_second(), at.subsec_nanosecond().max(0) as u32).unwrap_or_default()
}

/// The claims repbook reads, from a token whose signature and claims were just checked. (Entra ID's
/// `xms_edov` and `upn` are not in the crate's standard set, so the verified payload is read as JSON.)
fn claims_of(provider: &SsoProvider, token: &CoreIdToken) -> Result<ProviderClaims, OidcError> {
    #[derive(Deserialize)]
    struct Payload {
        iss: String,
        sub: String,
        email: Option<String>,
        email_verified: Option<serde_json::Value>,
        xms_edov: Option<serde_json::Value>,
        upn: Option<String>,
        name: Option<String>,
        #[serde(default)]
        amr: Vec<String>,
    }
    let unreadable = |detail: String| OidcError::Token {
        provider: provider.name.clone(),
        code: "unreadable_token",
        detail,
    };
    let compact = token.to_string();
    let payload = compact
        .split('.')
        .nth(1)
        .ok_or_else(|| unreadable("not a compact JWT".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| unreadable(e.to_string()))?;
    let payload: Payload = serde_json::from_slice(&bytes).map_err(|e| unreadable(e.to_string()))?;
    // Entra sends some booleans as strings ("true").
    let truth = |v: Option<serde_json::Value>| match v {
        Some(serde_json::Value::Bool(b)) => Some(b),
        Some(serde_json::Value::String(s)) => Some(s.eq_ignore_ascii_case("true")),
        _ => None,
    };
    Ok(ProviderClaims {
        issuer: payload.iss,
        subject: payload.sub,
        email: payload.email,
        email_verified: truth(payload.email_verified),
        xms_edov: truth(payload.xms_edov),
        upn: payload.upn,
        name: payload.name,
        amr: payload.amr,
    })
}
