//! Single sign-on as repbook keeps it: the OpenID Providers an owner set up (Microsoft Entra ID, Google
//! Workspace, any certified provider), the link between a person and a provider's `(issuer, sub)`, the
//! host's sign-in policy (passwords allowed, or SSO only with one break-glass owner), and the pure rules:
//! which address a provider vouches for, and whether its `amr` says the person already did MFA there.
//! A provider proves who an existing person is; it never makes an account or gives a role.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{DomainError, normalize_email, refuse_controls, refuse_invisible, require_text};

/// Which claim says that the provider checked the address it sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailClaim {
    /// `email` with `email_verified: true` (Google, most providers).
    #[default]
    EmailVerified,
    /// Microsoft Entra ID: `email` with `xms_edov: true` (the address's domain is verified by the tenant
    /// that owns it). Entra's `email` alone can be any address a user typed in, so it is never trusted.
    #[serde(rename = "xms_edov")]
    XmsEdov,
    /// Microsoft Entra ID: the `upn` claim, the sign-in name, always in one of the tenant's verified domains.
    Upn,
}

impl EmailClaim {
    pub fn words(self) -> &'static str {
        match self {
            EmailClaim::EmailVerified => "email with email_verified",
            EmailClaim::XmsEdov => "email with xms_edov (Entra ID)",
            EmailClaim::Upn => "upn (Entra ID)",
        }
    }
}

/// An OpenID Provider the host signs in through. Its client secret is kept apart (`store/sso.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoProvider {
    pub id: String,
    /// What the button says: "Sign in with NAME".
    pub name: String,
    /// Exactly as the provider's discovery document and its tokens' `iss` spell it.
    pub issuer: String,
    pub client_id: String,
    #[serde(default)]
    pub email_claim: EmailClaim,
    pub created_at: Timestamp,
}

/// `POST /api/v1/sso/providers`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSsoProvider {
    /// "Microsoft 365", "Google": the sign-in button says "Sign in with" this.
    #[schema(min_length = 1, max_length = 60, pattern = "@line")]
    pub name: String,
    /// The issuer: `https://login.microsoftonline.com/TENANT-ID/v2.0`, `https://accounts.google.com`.
    #[schema(min_length = 1, max_length = 300, pattern = "@issuer")]
    pub issuer: String,
    /// The application (client) id the provider gave repbook.
    #[schema(min_length = 1, max_length = 200, pattern = "@line")]
    pub client_id: String,
    /// The client secret; kept apart and never shown again.
    #[schema(min_length = 1, max_length = 500, pattern = "@line")]
    pub client_secret: String,
    /// Which claim vouches for the address (default `email_verified`; Entra ID: `xms_edov` or `upn`).
    #[serde(default)]
    pub email_claim: EmailClaim,
}

/// A provider as the API shows it: never its secret.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SsoProviderView {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub email_claim: EmailClaim,
    /// The address to register at the provider as the redirect URI (the web platform's "Redirect URI").
    pub redirect_uri: String,
    /// Where the sign-in page's button starts.
    pub start_url: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl SsoProvider {
    /// A provider from an owner's request, checked; and its secret.
    pub fn from_request(
        request: NewSsoProvider,
        id: String,
        now: Timestamp,
    ) -> Result<(SsoProvider, String), DomainError> {
        let name = require_text("name", &request.name, 60)?;
        let issuer = check_issuer(request.issuer.trim())?;
        let client_id = require_text("client_id", &request.client_id, 200)?;
        let secret = require_text("client_secret", &request.client_secret, 500)?;
        Ok((
            SsoProvider {
                id,
                name,
                issuer,
                client_id,
                email_claim: request.email_claim,
                created_at: now,
            },
            secret,
        ))
    }

    pub fn view(&self, base_url: &str) -> SsoProviderView {
        let base = base_url.trim_end_matches('/');
        SsoProviderView {
            id: self.id.clone(),
            name: self.name.clone(),
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            email_claim: self.email_claim,
            redirect_uri: format!("{base}/sso/{}/callback", self.id),
            start_url: format!("{base}/sso/{}/start", self.id),
            created_at: self.created_at,
        }
    }
}

/// An issuer is an `https` URL without query or fragment (`http` only on this machine, for a test
/// provider); kept exactly as typed, since its tokens' `iss` must match it character for character.
fn check_issuer(issuer: &str) -> Result<String, DomainError> {
    let invalid = |message: String| DomainError::Invalid {
        field: "issuer",
        message,
    };
    refuse_controls("issuer", issuer, false)?;
    refuse_invisible("issuer", issuer)?;
    let url = url::Url::parse(issuer).map_err(|e| {
        invalid(format!(
            "issuer is not a URL ({e}): give the provider's issuer, such as https://login.microsoftonline.com/TENANT-ID/v2.0"
        ))
    })?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(invalid(
                "issuer must start with https:// (a provider's tokens are only trusted over TLS)".into(),
            ));
        }
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(invalid(
            "issuer must not carry a query, a fragment or a user name: give it as the provider's discovery document \
             spells it"
                .into(),
        ));
    }
    if issuer.len() > 300 {
        return Err(invalid("issuer is longer than 300 characters".into()));
    }
    Ok(issuer.to_string())
}

/// What a provider said about the person, from an ID token whose signature and claims were checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderClaims {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    /// Entra ID's optional claim: the address's domain is verified by the tenant that owns it.
    pub xms_edov: Option<bool>,
    pub upn: Option<String>,
    pub name: Option<String>,
    /// How the person proved who they were at the provider (RFC 8176).
    pub amr: Vec<String>,
}

/// Why a provider's answer does not sign anyone in: a code for the audit trail, words for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoRefusal {
    pub code: &'static str,
    pub why: String,
}

impl SsoRefusal {
    pub fn new(code: &'static str, why: impl Into<String>) -> SsoRefusal {
        SsoRefusal { code, why: why.into() }
    }
}

/// The address the provider vouches for under `rule`, normalised; refused when it does not vouch for one.
/// Only the first sign-in uses it (to find the invited person); afterwards `(issuer, sub)` alone counts.
pub fn vouched_address(rule: EmailClaim, claims: &ProviderClaims, provider: &str) -> Result<String, SsoRefusal> {
    let address = match rule {
        EmailClaim::EmailVerified => match (&claims.email, claims.email_verified) {
            (Some(email), Some(true)) => email,
            (Some(_), _) => {
                return Err(SsoRefusal::new(
                    "email_not_verified",
                    format!(
                        "{provider} does not say your email address is verified, so repbook cannot tell it is yours: \
                         verify it with {provider}, or ask your IT provider"
                    ),
                ));
            }
            (None, _) => return Err(no_address(provider, "email")),
        },
        EmailClaim::XmsEdov => match (&claims.email, claims.xms_edov) {
            (Some(email), Some(true)) => email,
            (Some(_), _) => {
                return Err(SsoRefusal::new(
                    "email_not_verified",
                    format!(
                        "{provider} does not say your address's domain is verified (xms_edov): ask your IT provider \
                         to add the xms_edov optional claim, or to sign in with your work address"
                    ),
                ));
            }
            (None, _) => return Err(no_address(provider, "email")),
        },
        EmailClaim::Upn => match &claims.upn {
            Some(upn) => upn,
            None => return Err(no_address(provider, "upn")),
        },
    };
    Ok(normalize_email(address))
}

fn no_address(provider: &str, claim: &str) -> SsoRefusal {
    SsoRefusal::new(
        "no_email",
        format!(
            "{provider} did not send your address (the {claim} claim): ask your IT provider to include it for repbook"
        ),
    )
}

/// Authentication methods (RFC 8176) that mean more than a password alone was used at the provider.
const STRONG_METHODS: [&str; 7] = ["mfa", "mca", "hwk", "swk", "otp", "sc", "fpt"];

/// Whether the provider says the person proved who they are with more than a password (Entra ID sends
/// `["pwd","mfa"]` after its MFA; a passkey shows as `hwk` or `swk`).
pub fn mfa_at_provider(amr: &[String]) -> bool {
    amr.iter().any(|method| STRONG_METHODS.contains(&method.as_str()))
}

/// A person's account, linked to a provider's subject at their first SSO sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoLink {
    pub id: String,
    pub issuer: String,
    pub subject: String,
    pub provider_id: String,
    pub person_id: String,
    /// The address the provider vouched for when the link was made (shown on My account).
    pub email_at_link: String,
    pub linked_at: Timestamp,
    pub last_used_at: Timestamp,
}

/// The store's key of a link: a provider's subjects are unique only within its issuer.
pub fn sso_link_key(issuer: &str, subject: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(issuer.len() + subject.len() + 1);
    key.extend_from_slice(issuer.as_bytes());
    key.push(0);
    key.extend_from_slice(subject.as_bytes());
    key
}

/// A linked sign-in as My account lists it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SsoLinkView {
    pub id: String,
    /// The provider's name (or its issuer, when the provider was removed since).
    pub provider: String,
    pub email_at_link: String,
    #[schema(value_type = String, format = DateTime)]
    pub linked_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub last_used_at: Timestamp,
}

/// How the host lets people sign in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SsoPolicy {
    /// `false`: single sign-on only; passwords (and passkeys alone) work for the break-glass owner only.
    pub password_sign_in: bool,
    /// The owner who may still sign in with a password and a passkey when the providers are down.
    #[serde(default)]
    pub break_glass: Option<String>,
}

impl Default for SsoPolicy {
    fn default() -> Self {
        SsoPolicy {
            password_sign_in: true,
            break_glass: None,
        }
    }
}

impl SsoPolicy {
    /// Whether `person_id` may sign in other than through a provider.
    pub fn allows_password(&self, person_id: &str) -> bool {
        self.password_sign_in || self.break_glass.as_deref() == Some(person_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(email: Option<&str>, verified: Option<bool>) -> ProviderClaims {
        ProviderClaims {
            issuer: "https://id.example".into(),
            subject: "abc".into(),
            email: email.map(str::to_string),
            email_verified: verified,
            ..Default::default()
        }
    }

    #[test]
    fn an_address_counts_only_when_the_chosen_claim_vouches_for_it() {
        let rule = EmailClaim::EmailVerified;
        assert_eq!(
            vouched_address(rule, &claims(Some("Ann@Clinic.test"), Some(true)), "X"),
            Ok("ann@clinic.test".into())
        );
        for verified in [Some(false), None] {
            let refused = vouched_address(rule, &claims(Some("ann@clinic.test"), verified), "X").unwrap_err();
            assert_eq!(refused.code, "email_not_verified");
        }
        assert_eq!(
            vouched_address(rule, &claims(None, Some(true)), "X").unwrap_err().code,
            "no_email"
        );
        // Entra's email_verified is not what xms_edov mode reads.
        let entra = claims(Some("ann@clinic.test"), Some(true));
        assert_eq!(
            vouched_address(EmailClaim::XmsEdov, &entra, "X").unwrap_err().code,
            "email_not_verified"
        );
        let edov = ProviderClaims {
            xms_edov: Some(true),
            ..entra.clone()
        };
        assert_eq!(
            vouched_address(EmailClaim::XmsEdov, &edov, "X"),
            Ok("ann@clinic.test".into())
        );
        let upn = ProviderClaims {
            upn: Some("Ann@Clinic.onmicrosoft.com".into()),
            ..claims(None, None)
        };
        assert_eq!(
            vouched_address(EmailClaim::Upn, &upn, "X"),
            Ok("ann@clinic.onmicrosoft.com".into())
        );
    }

    #[test]
    fn mfa_counts_only_for_methods_beyond_a_password() {
        let amr = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(mfa_at_provider(&amr(&["pwd", "mfa"])));
        assert!(mfa_at_provider(&amr(&["hwk"])));
        assert!(mfa_at_provider(&amr(&["otp"])));
        assert!(!mfa_at_provider(&amr(&["pwd"])));
        assert!(!mfa_at_provider(&amr(&[])));
        assert!(!mfa_at_provider(&amr(&["kba", "pwd"])));
    }

    #[test]
    fn issuers_are_https_or_this_machine() {
        assert!(check_issuer("https://login.microsoftonline.com/abc/v2.0").is_ok());
        assert!(check_issuer("http://127.0.0.1:4000").is_ok());
        assert!(check_issuer("http://localhost:4000/").is_ok());
        assert!(check_issuer("http://id.example.com").is_err());
        assert!(check_issuer("https://id.example.com/?tenant=x").is_err());
        assert!(check_issuer("not a url").is_err());
        assert!(check_issuer("ftp://id.example.com").is_err());
    }

    #[test]
    fn only_the_break_glass_owner_keeps_passwords_when_sso_is_the_only_way() {
        let policy = SsoPolicy {
            password_sign_in: false,
            break_glass: Some("owner".into()),
        };
        assert!(policy.allows_password("owner"));
        assert!(!policy.allows_password("manager"));
        assert!(SsoPolicy::default().allows_password("manager"));
    }
}
