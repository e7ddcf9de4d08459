//! Why a PMS action could not be done, and whether waiting helps.

use thiserror::Error;

use crate::plugins::{CallError, ConnectorFailure, PluginError};
use crate::store::StoreError;

#[derive(Debug, Error)]
pub enum SyncError {
    #[error("{0}")]
    NotConfigured(String),
    #[error("no PMS connector named '{0}' is installed; install it with `repbook plugin install FILE.wasm`")]
    NoConnector(String),
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
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CallError> for SyncError {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Connector(failure) => SyncError::Connector(failure),
            CallError::Runtime(PluginError::NotInstalled(name)) => SyncError::NoConnector(name),
            CallError::Runtime(other) => SyncError::Plugin(other),
        }
    }
}

impl SyncError {
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
            SyncError::NoConnector(_) => "no_connector",
            SyncError::NotValidated(_) => "site_not_validated",
            SyncError::PractitionerNotMapped(_) => "practitioner_not_mapped",
            SyncError::SwitchRefused(_) => "switch_refused",
            SyncError::Connector(failure) => failure.code(),
            SyncError::Plugin(_) => "plugin_failed",
            SyncError::Store(_) => "storage_error",
        }
    }
}
