//! Why a sign-in through a provider failed, in words for the person and a code for the audit trail: the
//! relying party's errors, and how the `openidconnect` crate's answers map onto them.

use openidconnect::{ClaimsVerificationError, RequestTokenError, SignatureVerificationError};

use crate::domain::SsoProvider;

/// Why a sign-in through a provider did not get as far as a verified ID token. `code` goes into the audit
/// trail; the message is for the person (or their IT provider).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("cannot reach {provider} ({detail}); try again in a while, or sign in another way")]
    Unreachable { provider: String, detail: String },
    #[error("{provider}'s discovery document is not usable ({detail}); the owner can check it with `repbook sso test`")]
    Discovery { provider: String, detail: String },
    #[error("this sign-in attempt is unknown, was used already or took over 10 minutes: start again")]
    UnknownAttempt,
    #[error("this sign-in was started in another browser: start again here")]
    OtherBrowser,
    #[error("{provider} did not sign you in ({detail})")]
    Refused { provider: String, detail: String },
    #[error("{provider} would not exchange the sign-in code ({detail}): start again")]
    Exchange { provider: String, detail: String },
    #[error(
        "{provider}'s ID token was refused ({detail}): start again, and ask your IT provider if it keeps happening"
    )]
    Token {
        provider: String,
        code: &'static str,
        detail: String,
    },
    #[error("this server cannot start a sign-in ({0})")]
    Internal(String),
}

impl OidcError {
    /// The refusal's code, for the audit trail.
    pub fn code(&self) -> &'static str {
        match self {
            OidcError::Unreachable { .. } => "provider_unreachable",
            OidcError::Discovery { .. } => "provider_misconfigured",
            OidcError::UnknownAttempt => "unknown_state",
            OidcError::OtherBrowser => "other_browser",
            OidcError::Refused { .. } => "provider_refused",
            OidcError::Exchange { .. } => "code_refused",
            OidcError::Token { code, .. } => code,
            OidcError::Internal(_) => "internal",
        }
    }
}

pub(super) fn describe_discovery_error<E: std::error::Error>(
    provider: &SsoProvider,
    error: openidconnect::DiscoveryError<E>,
) -> OidcError {
    match error {
        openidconnect::DiscoveryError::Request(e) => OidcError::Unreachable {
            provider: provider.name.clone(),
            detail: format!("{}: {}", provider.issuer, chain(&e)),
        },
        // A provider (or the proxy in front of it) that answers 5xx is down, not misconfigured.
        openidconnect::DiscoveryError::Response(status, _, _) if status.is_server_error() => OidcError::Unreachable {
            provider: provider.name.clone(),
            detail: format!("{} answered {status}", provider.issuer),
        },
        other => OidcError::Discovery {
            provider: provider.name.clone(),
            detail: chain(&other),
        },
    }
}

pub(super) fn describe_exchange_error<RE: std::error::Error + 'static, T: openidconnect::ErrorResponse + 'static>(
    provider: &SsoProvider,
    error: RequestTokenError<RE, T>,
) -> OidcError {
    match error {
        RequestTokenError::ServerResponse(answer) => OidcError::Exchange {
            provider: provider.name.clone(),
            detail: answer.to_string(),
        },
        RequestTokenError::Request(e) => OidcError::Unreachable {
            provider: provider.name.clone(),
            detail: chain(&e),
        },
        RequestTokenError::Parse(e, _) => OidcError::Token {
            provider: provider.name.clone(),
            code: "unreadable_token",
            detail: e.to_string(),
        },
        other => OidcError::Exchange {
            provider: provider.name.clone(),
            detail: chain(&other),
        },
    }
}

pub(super) fn describe_claims_error(provider: &SsoProvider, error: ClaimsVerificationError) -> OidcError {
    let code = match &error {
        ClaimsVerificationError::Expired(_) => "token_expired",
        ClaimsVerificationError::InvalidAudience(_) => "wrong_audience",
        ClaimsVerificationError::InvalidIssuer(_) => "wrong_issuer",
        ClaimsVerificationError::InvalidNonce(_) => "wrong_nonce",
        ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey) => "unknown_key",
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::DisallowedAlg(_)
            | SignatureVerificationError::NoSignature
            | SignatureVerificationError::UnsupportedAlg(_),
        ) => "algorithm_refused",
        ClaimsVerificationError::SignatureVerification(_) => "bad_signature",
        _ => "token_refused",
    };
    let detail = match &error {
        ClaimsVerificationError::SignatureVerification(inner) => format!("its signature: {inner}"),
        other => other.to_string(),
    };
    OidcError::Token {
        provider: provider.name.clone(),
        code,
        detail,
    }
}

/// An error and its sources, in one line.
pub(super) fn chain(error: &dyn std::error::Error) -> String {
    let mut words = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let more = inner.to_string();
        if !words.contains(&more) {
            words.push_str(": ");
            words.push_str(&more);
        }
        source = inner.source();
    }
    words
}
