//! The one error of the workflows. Errors flow one way: the domain's refusals, the store's failures and
//! the sync path's answers come in (`From`), the adapters (api, cli) map this type out; nothing here maps
//! back into an inner error.

use crate::domain::DomainError;
use crate::store::StoreError;
use crate::sync::SyncError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No such booking link or manage link, or one that was revoked or has expired: always the same
    /// answer, so a guess learns nothing.
    #[error("this link is not valid (it may have been revoked or have expired); ask the clinic for a new one")]
    LinkNotFound,
    /// A booking link has taken its bookings for the clinic-local day.
    #[error("{0}")]
    LinkDailyCap(String),
    /// The request conflicts with what the clinic already has (a duplicate name, something still in use,
    /// appointments that pin its time zone).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The mail server refused a message sent while a person waits (`mail test`): its reply.
    #[error("the mail server did not take the message: {0}")]
    MailRefused(String),
    /// Who is asking could not be told: no credential, a wrong one, a session that ended.
    #[error("{message}")]
    Unauthenticated { code: &'static str, message: String },
    /// The asker may not do this: a role too small, a step of signing in still to come.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// Too many wrong passwords or codes from here or for this account: wait.
    #[error("too many wrong attempts; wait {wait_secs} s and try again")]
    Throttled { wait_secs: u64 },
    /// A single-use link that is not (or no longer) live: used, withdrawn, replaced, or never made. The
    /// same answer for each, as for every capability.
    #[error("{message}")]
    DeadLink { code: &'static str, message: String },
    /// A single-use link that was live and has passed its time.
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    #[error(transparent)]
    Password(#[from] crate::identity::password::PasswordError),
    #[error(transparent)]
    Passkey(#[from] crate::identity::passkeys::PasskeyError),
    #[error(transparent)]
    Totp(#[from] crate::identity::totp::TotpError),
    /// A sign-in through an OpenID Provider that did not prove anyone.
    #[error(transparent)]
    Sso(#[from] crate::identity::oidc::OidcError),
    /// The operating system's secure random generator failed, so no capability can be made. A fault of the
    /// machine, not of the request or the disk.
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
}

impl AppError {
    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }
}
