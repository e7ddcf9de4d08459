//! Why a PMS action could not be done, and whether waiting helps.

use thiserror::Error;

use crate::domain::DomainError;
use crate::plugins::{CallError, ConnectorFailure, PluginError};
use crate::store::StoreError;

#[derive(Debug, Error)]
pub enum SyncError {
    #[error("{0}")]
    NotConfigured(String),
    /// The clinic's connector is not installed, or is installed but cannot load (the reason says which).
    #[error("{reason}")]
    NoConnector { name: String, reason: String },
    #[error("{0}")]
    NotValidated(String),
    #[error("{0}")]
    PractitionerNotMapped(String),
    /// A connector switch that did not happen, and why.
    #[error("{0}")]
    SwitchRefused(String),
    #[error(transparent)]
    Connector(ConnectorFailure),
    #[error(transparent)]
    Plugin(PluginError),
    /// A value the PMS settings refuse (a switch's new settings).
    #[error(transparent)]
    Invalid(DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CallError> for SyncError {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Connector(failure) => SyncError::Connector(failure),
            CallError::Runtime(error @ PluginError::NotInstalled(_)) => SyncError::no_connector(error),
            CallError::Runtime(other) => SyncError::Plugin(other),
        }
    }
}

impl SyncError {
    /// Why the clinic's connector cannot be called, from the registry's own answer.
    pub fn no_connector(error: PluginError) -> SyncError {
        let name = match &error {
            PluginError::NotInstalled(name) | PluginError::Unloadable { name, .. } => name.clone(),
            _ => String::new(),
        };
        SyncError::NoConnector {
            name,
            reason: error.to_string(),
        }
    }

    /// Whether a later attempt can succeed without a person changing anything.
    pub fn is_retryable(&self) -> bool {
        match self {
            SyncError::Connector(failure) => failure.is_retryable(),
            // A plugin that ran out of time or crashed may behave after an upgrade; keep trying, slowly.
            SyncError::Plugin(
                PluginError::Deadline { .. } | PluginError::Trapped { .. } | PluginError::MemoryLimit { .. },
            ) => true,
            SyncError::Store(_) => true,
            _ => false,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            SyncError::NotConfigured(_) => "pms_not_configured",
            SyncError::NoConnector { .. } => "no_connector",
            SyncError::NotValidated(_) => "site_not_validated",
            SyncError::PractitionerNotMapped(_) => "practitioner_not_mapped",
            SyncError::SwitchRefused(_) => "switch_refused",
            SyncError::Connector(failure) => failure.code(),
            SyncError::Invalid(error) => error.code(),
            SyncError::Plugin(_) => "plugin_failed",
            SyncError::Store(_) => "storage_error",
        }
    }
}
